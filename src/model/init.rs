//! Initial parameter values: constants where the spec fixes them (lift weight 1/C_in,
//! biases of the lift 0, θ 0), otherwise PyTorch's default `reset_parameters` — weights
//! Kaiming-uniform with a = √5 and biases U(±1/√fan_in), which both come to
//! U(−1/√fan_in, 1/√fan_in) — drawn from a seeded ChaCha8 stream.
//!
//! Kaiming-uniform: bound = gain·√(3/fan_in) with gain = √(2/(1 + a²)) = √(1/3), so
//! bound = 1/√fan_in. PyTorch's fan_in is `weight.size(1)·k·k`: `c_in·k·k` for a
//! convolution (`[c_out, c_in, k, k]`), but `c_out·k·k` for a transposed convolution,
//! whose weight is `[c_in, c_out, k, k]`; the bias uses the same fan_in as its weight.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a parameter tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every element equal to this value.
    Const(f32),
    /// Independent draws from U(−bound, bound).
    Uniform {
        /// Half-width of the interval.
        bound: f32,
    },
}

impl Init {
    /// PyTorch's default for a layer whose weight has `fan_in` as computed by
    /// `torch.nn.init._calculate_fan_in_and_fan_out`: U(±1/√fan_in).
    pub fn torch_default(fan_in: usize) -> Init {
        Init::Uniform {
            bound: (1.0 / (fan_in as f64).sqrt()) as f32,
        }
    }
}

/// Draws the initial values of tensors of the given lengths and inits, in order, from
/// the ChaCha8 stream `stream` of `seed` (G and D use different streams, so each
/// network's init depends only on the seed and its own shapes).
pub fn initial_values(tensors: &[(usize, Init)], seed: u64, stream: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    tensors
        .iter()
        .map(|&(len, init)| match init {
            Init::Const(v) => vec![v; len],
            Init::Uniform { bound } => (0..len).map(|_| rng.random_range(-bound..=bound)).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_bounded_and_spread() {
        let specs = [(4, Init::Const(0.25)), (10_000, Init::torch_default(25))];
        let a = initial_values(&specs, 7, 0);
        assert_eq!(a, initial_values(&specs, 7, 0));
        assert_ne!(a[1], initial_values(&specs, 8, 0)[1]);
        assert_ne!(a[1], initial_values(&specs, 7, 1)[1]);
        assert_eq!(a[0], vec![0.25; 4]);
        let (lo, hi) = a[1]
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(lo >= -0.2 && hi <= 0.2, "[{lo}, {hi}]");
        assert!(lo < -0.19 && hi > 0.19, "[{lo}, {hi}] should fill ±0.2");
        let mean = a[1].iter().sum::<f32>() / 10_000.0;
        assert!(mean.abs() < 0.01, "mean {mean}");
    }
}
