//! G's output head (spec § Output head): the linear base map `A·x + b` and the sensor model
//! `M·y + m`, fitted by least squares on the training split, and the per-pixel affine map
//! they make of the residual r and the input x.
//!
//! ```text
//! ŷ    = A·x + b + r
//! G(x) = ŷ + P·(x − M·ŷ − m)        P = Mᵀ(M·Mᵀ + εI)⁻¹,  ε = 1e-6·trace(M·Mᵀ)/C_in
//!      = Q·r + K·x + c               Q = I − P·M,  K = Q·A + P,  c = Q·b − P·m
//! ```
//!
//! The second form is what the devices run: two 1×1 convolutions (weights Q and K, bias c)
//! and a sum. Q, K and c are computed here in f64 from the stored f32 tensors, so every
//! device runs the same f32 matrices. The backward pass to the residual is `∂r = Qᵀ·∂G`;
//! A, b, M and m are fitted once and never trained.

use super::config::{Head, ModelConfig};
use super::error::{config_err, ModelResult};
use super::param::{find_tensor, HostTensor};
use std::collections::BTreeMap;

/// Checkpoint name of A, `[C_out, C_in]`.
pub const BASE_WEIGHT: &str = "g.head.base_weight";
/// Checkpoint name of b, `[C_out]`.
pub const BASE_BIAS: &str = "g.head.base_bias";
/// Checkpoint name of M, `[C_in, C_out]`.
pub const SENSOR_WEIGHT: &str = "g.head.sensor_weight";
/// Checkpoint name of m, `[C_in]`.
pub const SENSOR_BIAS: &str = "g.head.sensor_bias";

/// The names and shapes of the head's tensors under `cfg` (none for the raw head).
pub fn tensor_specs(cfg: &ModelConfig) -> Vec<(&'static str, Vec<usize>)> {
    let (ci, co) = (cfg.in_bands, cfg.out_bands);
    match cfg.head {
        Head::Raw => Vec::new(),
        Head::Consistent => vec![
            (BASE_WEIGHT, vec![co, ci]),
            (BASE_BIAS, vec![co]),
            (SENSOR_WEIGHT, vec![ci, co]),
            (SENSOR_BIAS, vec![ci]),
        ],
    }
}

/// The fitted tensors of a consistent head, row-major f32 as stored in a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadTensors {
    /// C_in, input bands.
    pub in_bands: usize,
    /// C_out, output bands.
    pub out_bands: usize,
    /// A `[C_out, C_in]`: the linear baseline's weights.
    pub base_weight: Vec<f32>,
    /// b `[C_out]`.
    pub base_bias: Vec<f32>,
    /// M `[C_in, C_out]`: how the input bands arise from the output bands.
    pub sensor_weight: Vec<f32>,
    /// m `[C_in]`.
    pub sensor_bias: Vec<f32>,
}

/// The affine map of the head as the devices run it: `G = Q·r + K·x + c` per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadAffine {
    /// Q `[C_out, C_out]`.
    pub q: Vec<f32>,
    /// K `[C_out, C_in]`.
    pub k: Vec<f32>,
    /// c `[C_out]`.
    pub c: Vec<f32>,
}

impl HeadTensors {
    /// The head of an unfitted model: A averages the input bands into every output band,
    /// b = 0, and no sensor model (M = 0, m = 0: the projection is skipped). A run replaces
    /// it with [`PixelStats::fit`] of its training data.
    pub fn unfitted(in_bands: usize, out_bands: usize) -> Self {
        HeadTensors {
            in_bands,
            out_bands,
            base_weight: vec![(1.0 / in_bands as f64) as f32; out_bands * in_bands],
            base_bias: vec![0.0; out_bands],
            sensor_weight: vec![0.0; in_bands * out_bands],
            sensor_bias: vec![0.0; in_bands],
        }
    }

    /// The head tensors of `tensors` for the model `cfg` (consistent head), each checked
    /// for its shape and for finite values.
    pub fn from_tensors(
        tensors: &BTreeMap<String, HostTensor>,
        cfg: &ModelConfig,
    ) -> ModelResult<Self> {
        let specs = tensor_specs(cfg);
        if specs.is_empty() {
            return Err(config_err("the raw head has no head tensors"));
        }
        let get = |i: usize| -> ModelResult<Vec<f32>> {
            let (name, shape) = &specs[i];
            let t = find_tensor(tensors, name, shape)?;
            if t.data.iter().any(|v| !v.is_finite()) {
                return Err(config_err(format!("tensor {name} holds non-finite values")));
            }
            Ok(t.data.clone())
        };
        Ok(HeadTensors {
            in_bands: cfg.in_bands,
            out_bands: cfg.out_bands,
            base_weight: get(0)?,
            base_bias: get(1)?,
            sensor_weight: get(2)?,
            sensor_bias: get(3)?,
        })
    }

    /// Adds the four tensors to `out` under their checkpoint names.
    pub fn insert_into(&self, out: &mut BTreeMap<String, HostTensor>) {
        let (ci, co) = (self.in_bands, self.out_bands);
        for (name, shape, data) in [
            (BASE_WEIGHT, vec![co, ci], &self.base_weight),
            (BASE_BIAS, vec![co], &self.base_bias),
            (SENSOR_WEIGHT, vec![ci, co], &self.sensor_weight),
            (SENSOR_BIAS, vec![ci], &self.sensor_bias),
        ] {
            out.insert(
                name.to_string(),
                HostTensor {
                    shape,
                    data: data.clone(),
                },
            );
        }
    }

    /// Q, K and c (see the module docs), computed in f64 and rounded once.
    pub fn affine(&self) -> HeadAffine {
        let (ci, co) = (self.in_bands, self.out_bands);
        let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&a| f64::from(a)).collect() };
        let (a, b, m_w, m_b) = (
            f(&self.base_weight),
            f(&self.base_bias),
            f(&self.sensor_weight),
            f(&self.sensor_bias),
        );
        // M·Mᵀ [ci, ci].
        let mut mmt = vec![0.0; ci * ci];
        for i in 0..ci {
            for j in 0..ci {
                mmt[i * ci + j] = (0..co).map(|o| m_w[i * co + o] * m_w[j * co + o]).sum();
            }
        }
        let trace: f64 = (0..ci).map(|i| mmt[i * ci + i]).sum();
        // P [co, ci] = Mᵀ(M·Mᵀ + εI)⁻¹ = ((M·Mᵀ + εI)⁻¹·M)ᵀ, the system being symmetric.
        let mut p = vec![0.0; co * ci];
        if trace > 0.0 {
            let eps = 1e-6 * trace / ci as f64;
            for i in 0..ci {
                mmt[i * ci + i] += eps;
            }
            let mut z = m_w.clone();
            solve(&mut mmt, ci, &mut z, co);
            for o in 0..co {
                for i in 0..ci {
                    p[o * ci + i] = z[i * co + o];
                }
            }
        }
        // Q = I − P·M [co, co].
        let mut q = vec![0.0; co * co];
        for o in 0..co {
            for j in 0..co {
                let pm: f64 = (0..ci).map(|i| p[o * ci + i] * m_w[i * co + j]).sum();
                q[o * co + j] = f64::from(u8::from(o == j)) - pm;
            }
        }
        let mut k = vec![0.0; co * ci];
        let mut c = vec![0.0; co];
        for o in 0..co {
            for i in 0..ci {
                let qa: f64 = (0..co).map(|j| q[o * co + j] * a[j * ci + i]).sum();
                k[o * ci + i] = qa + p[o * ci + i];
            }
            let qb: f64 = (0..co).map(|j| q[o * co + j] * b[j]).sum();
            let pm: f64 = (0..ci).map(|i| p[o * ci + i] * m_b[i]).sum();
            c[o] = qb - pm;
        }
        let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        HeadAffine {
            q: f32s(q),
            k: f32s(k),
            c: f32s(c),
        }
    }
}

/// Sums over pixels of the input bands x and the target bands y, in f64, from which the
/// least-squares fits of the head follow: the count, `Σ z` and `Σ z·zᵀ` for `z = [x; y]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelStats {
    in_bands: usize,
    out_bands: usize,
    count: u64,
    sum: Vec<f64>,
    cross: Vec<f64>,
}

impl PixelStats {
    /// No pixels yet, for `in_bands` inputs and `out_bands` targets.
    pub fn new(in_bands: usize, out_bands: usize) -> Self {
        let d = in_bands + out_bands;
        PixelStats {
            in_bands,
            out_bands,
            count: 0,
            sum: vec![0.0; d],
            cross: vec![0.0; d * d],
        }
    }

    /// Adds one pixel: its `in_bands` input values and `out_bands` target values.
    pub fn add(&mut self, x: &[f32], y: &[f32]) {
        debug_assert_eq!((x.len(), y.len()), (self.in_bands, self.out_bands));
        let d = self.sum.len();
        self.count += 1;
        for (i, &zi) in x.iter().chain(y).enumerate() {
            let zi = f64::from(zi);
            self.sum[i] += zi;
            let row = &mut self.cross[i * d..(i + 1) * d];
            for (j, &zj) in x.iter().chain(y).enumerate().skip(i) {
                row[j] += zi * f64::from(zj);
            }
        }
    }

    /// Pixels added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean of each target band.
    pub fn target_mean(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.sum[self.in_bands..].iter().map(|s| s / n).collect()
    }

    /// The covariance of z's entries `i` and `j`.
    fn cov(&self, i: usize, j: usize) -> f64 {
        let d = self.sum.len();
        let n = self.count as f64;
        let (i, j) = (i.min(j), i.max(j));
        (self.cross[i * d + j] - self.sum[i] * self.sum[j] / n) / n
    }

    /// The least-squares regression of z's entries `outs` on z's entries `ins`: weights
    /// `[outs.len(), ins.len()]` and biases. An input that does not vary (variance at most
    /// 1e-12 of the largest) gets weight 0.
    fn regress(&self, ins: &[usize], outs: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let n = self.count as f64;
        let var: Vec<f64> = ins.iter().map(|&i| self.cov(i, i)).collect();
        let top = var.iter().fold(0.0f64, |m, &v| m.max(v));
        let live: Vec<usize> = (0..ins.len())
            .filter(|&k| top > 0.0 && var[k] > 1e-12 * top)
            .collect();
        let l = live.len();
        let mut weights = vec![0.0; outs.len() * ins.len()];
        if l > 0 {
            let mut cxx = vec![0.0; l * l];
            for (a, &ka) in live.iter().enumerate() {
                for (b, &kb) in live.iter().enumerate() {
                    cxx[a * l + b] = self.cov(ins[ka], ins[kb]);
                }
            }
            // Right-hand sides: Cov(x_live, y_o) for every output o, [l, outs].
            let mut rhs = vec![0.0; l * outs.len()];
            for (a, &ka) in live.iter().enumerate() {
                for (o, &y) in outs.iter().enumerate() {
                    rhs[a * outs.len() + o] = self.cov(ins[ka], y);
                }
            }
            solve(&mut cxx, l, &mut rhs, outs.len());
            for (a, &ka) in live.iter().enumerate() {
                for o in 0..outs.len() {
                    weights[o * ins.len() + ka] = rhs[a * outs.len() + o];
                }
            }
        }
        let bias = outs
            .iter()
            .enumerate()
            .map(|(o, &y)| {
                let wx: f64 = ins
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| weights[o * ins.len() + k] * self.sum[i] / n)
                    .sum();
                self.sum[y] / n - wx
            })
            .collect();
        (weights, bias)
    }

    /// The head fitted to these pixels (spec § Output head): A, b by least squares of the
    /// targets on the inputs, M, m of the inputs on the targets. Errors when no pixel was
    /// added.
    pub fn fit(&self) -> ModelResult<HeadTensors> {
        if self.count == 0 {
            return Err(config_err(
                "cannot fit the output head: the training data has no valid pixel",
            ));
        }
        let xs: Vec<usize> = (0..self.in_bands).collect();
        let ys: Vec<usize> = (self.in_bands..self.in_bands + self.out_bands).collect();
        let (a, b) = self.regress(&xs, &ys);
        let (m_w, m_b) = self.regress(&ys, &xs);
        let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        Ok(HeadTensors {
            in_bands: self.in_bands,
            out_bands: self.out_bands,
            base_weight: f32s(a),
            base_bias: f32s(b),
            sensor_weight: f32s(m_w),
            sensor_bias: f32s(m_b),
        })
    }
}

/// Solves `a·X = rhs` in place for a symmetric positive (semi)definite `a` `[n, n]` and
/// `nrhs` right-hand sides (`rhs` `[n, nrhs]`, overwritten by X), by Gaussian elimination
/// with partial pivoting. A pivot that vanishes (a singular system) gives 0 for that unknown.
fn solve(a: &mut [f64], n: usize, rhs: &mut [f64], nrhs: usize) {
    let scale = (0..n).fold(0.0f64, |m, i| m.max(a[i * n + i].abs()));
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .expect("col < n");
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            for k in 0..nrhs {
                rhs.swap(col * nrhs + k, pivot * nrhs + k);
            }
        }
        let p = a[col * n + col];
        if p.abs() <= 1e-14 * scale {
            a[col * n + col] = 0.0;
            continue;
        }
        for row in 0..n {
            if row == col {
                continue;
            }
            let f = a[row * n + col] / p;
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            for k in 0..nrhs {
                rhs[row * nrhs + k] -= f * rhs[col * nrhs + k];
            }
        }
    }
    for row in 0..n {
        let p = a[row * n + row];
        for k in 0..nrhs {
            rhs[row * nrhs + k] = if p == 0.0 {
                0.0
            } else {
                rhs[row * nrhs + k] / p
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels where y = A·x + b exactly (and x varies in both bands).
    fn exact_stats() -> (PixelStats, [[f64; 2]; 3], [f64; 3]) {
        let a = [[0.5, 0.25], [-0.3, 0.9], [0.1, 0.1]];
        let b = [0.05, 0.2, -0.1];
        let mut s = PixelStats::new(2, 3);
        for i in 0..50 {
            let x = [(i as f32 * 0.37).sin().abs(), ((i * i) % 7) as f32 / 7.0];
            let y: Vec<f32> = (0..3)
                .map(|o| (a[o][0] * x[0] as f64 + a[o][1] * x[1] as f64 + b[o]) as f32)
                .collect();
            s.add(&x, &y);
        }
        (s, a, b)
    }

    #[test]
    fn an_exact_linear_relation_is_recovered() {
        let (s, a, b) = exact_stats();
        let h = s.fit().unwrap();
        for (o, row) in a.iter().enumerate() {
            for (i, want) in row.iter().enumerate() {
                assert!((h.base_weight[o * 2 + i] as f64 - want).abs() < 1e-5);
            }
            assert!((h.base_bias[o] as f64 - b[o]).abs() < 1e-5);
        }
        assert_eq!(s.count(), 50);
    }

    #[test]
    fn luma_gray_gives_the_luma_weights_as_sensor_model() {
        let mut s = PixelStats::new(1, 3);
        for i in 0..200 {
            let rgb = [
                ((i * 13) % 17) as f32 / 17.0,
                ((i * 7) % 11) as f32 / 11.0,
                ((i * 5) % 23) as f32 / 23.0,
            ];
            let gray = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            s.add(&[gray], &rgb);
        }
        let h = s.fit().unwrap();
        for (got, want) in h.sensor_weight.iter().zip([0.299, 0.587, 0.114]) {
            assert!((got - want).abs() < 1e-5, "{:?}", h.sensor_weight);
        }
        assert!(h.sensor_bias[0].abs() < 1e-5);
        // The projection then keeps the input's luma: M·(Q·r + K·x + c) + m = x.
        let aff = h.affine();
        let (x, r) = (0.4f64, [0.3f64, -0.2, 0.5]);
        let g: Vec<f64> = (0..3)
            .map(|o| {
                (0..3).map(|j| aff.q[o * 3 + j] as f64 * r[j]).sum::<f64>()
                    + aff.k[o] as f64 * x
                    + aff.c[o] as f64
            })
            .collect();
        let back: f64 = (0..3)
            .map(|o| h.sensor_weight[o] as f64 * g[o])
            .sum::<f64>()
            + h.sensor_bias[0] as f64;
        assert!((back - x).abs() < 1e-5, "{back} vs {x}");
    }

    #[test]
    fn a_constant_input_band_gets_no_weight() {
        let mut s = PixelStats::new(2, 1);
        for i in 0..30 {
            let x = [(i as f32) / 30.0, 0.7];
            s.add(&x, &[2.0 * x[0] + 0.1]);
        }
        let h = s.fit().unwrap();
        assert!((h.base_weight[0] - 2.0).abs() < 1e-5, "{:?}", h.base_weight);
        assert_eq!(h.base_weight[1], 0.0);
        assert!((h.base_bias[0] - 0.1).abs() < 1e-5);
        assert!(PixelStats::new(1, 3).fit().is_err());
    }

    #[test]
    fn no_sensor_model_skips_the_projection() {
        let h = HeadTensors::unfitted(2, 3);
        let aff = h.affine();
        assert_eq!(aff.q, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(aff.k, vec![0.5; 6]);
        assert_eq!(aff.c, vec![0.0; 3]);
    }
}
