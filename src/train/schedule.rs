//! The weight of the generator's MSE term over training (spec § Losses):
//! `λ_G(t) = λ_end + (λ_start − λ_end) · exp(−t / τ)`.

use crate::model::LossConfig;

/// `λ_G(t)` at step `t` (the number of iterations done before this one; 0 for the first),
/// computed in f64 and rounded to f32.
pub fn lambda_g(loss: &LossConfig, t: u64) -> f32 {
    let (start, end, tau) = (
        loss.lambda_start as f64,
        loss.lambda_end as f64,
        loss.tau as f64,
    );
    (end + (start - end) * (-(t as f64) / tau).exp()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_from_start_to_end_with_time_constant_tau() {
        let l = LossConfig::write_up();
        assert_eq!(lambda_g(&l, 0), 100.0);
        // One τ later, (start − end) has shrunk by e.
        let at_tau = lambda_g(&l, 20000) as f64;
        assert!(
            (at_tau - (1.0 + 99.0 / std::f64::consts::E)).abs() < 1e-5,
            "{at_tau}"
        );
        assert!((lambda_g(&l, 10_000_000) - 1.0).abs() < 1e-6);
        let rising = LossConfig {
            lambda_start: 1.0,
            lambda_end: 3.0,
            tau: 2.0,
            ..l
        };
        assert!((lambda_g(&rising, 2) as f64 - (3.0 - 2.0 / std::f64::consts::E)).abs() < 1e-6);
    }
}
