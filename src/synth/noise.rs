//! Seeded value noise and fractal sums of it: the textures and land-cover fields of a scene.

/// A 2-D value-noise field: smooth, deterministic in its seed, values in [-1, 1].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Noise {
    seed: u32,
}

/// An integer hash of a lattice point (a few multiply-xorshift rounds).
fn hash(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^ (h >> 15)
}

/// The lattice value of a point, in [-1, 1].
fn lattice(x: i32, y: i32, seed: u32) -> f32 {
    (hash(x, y, seed) >> 8) as f32 * (2.0 / (1u32 << 24) as f32) - 1.0
}

impl Noise {
    /// The field of `seed`.
    pub(crate) fn new(seed: u32) -> Self {
        Self { seed }
    }

    /// Noise with features about one unit apart, at (`x`, `y`).
    pub(crate) fn value(self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x.floor(), y.floor());
        let (ix, iy) = (fx as i32, fy as i32);
        let (tx, ty) = (x - fx, y - fy);
        // Smoothstep weights: continuous first derivative across cells.
        let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let a = lattice(ix, iy, self.seed);
        let b = lattice(ix + 1, iy, self.seed);
        let c = lattice(ix, iy + 1, self.seed);
        let d = lattice(ix + 1, iy + 1, self.seed);
        let top = a + (b - a) * sx;
        let bottom = c + (d - c) * sx;
        top + (bottom - top) * sy
    }

    /// A fractal sum of `octaves` octaves (each twice the frequency and half the amplitude of
    /// the last) at (`x`, `y`) / `scale`, normalized to about [-1, 1].
    pub(crate) fn fbm(self, x: f32, y: f32, scale: f32, octaves: u32) -> f32 {
        let (mut sum, mut amp, mut norm, mut f) = (0.0, 1.0, 0.0, 1.0 / scale);
        for o in 0..octaves {
            let n = Noise::new(self.seed.wrapping_add(o.wrapping_mul(0x9e37_79b9)));
            sum += amp * n.value(x * f, y * f);
            norm += amp;
            amp *= 0.5;
            f *= 2.0;
        }
        sum / norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_continuous_and_seeded() {
        let (a, b) = (Noise::new(1), Noise::new(2));
        let mut differs = false;
        for i in 0..2000 {
            let (x, y) = (i as f32 * 0.173, i as f32 * 0.071);
            let v = a.value(x, y);
            assert!((-1.0..=1.0).contains(&v));
            // Lipschitz: the smoothstep blend of values in [-1, 1] moves at most 3 per unit.
            assert!((a.value(x + 1e-3, y) - v).abs() <= 3.0 * 1e-3 + 1e-5);
            differs |= (b.value(x, y) - v).abs() > 0.1;
        }
        assert!(differs);
        // Lattice points take their hashed value exactly.
        assert_eq!(a.value(3.0, -4.0), lattice(3, -4, 1));
    }
}
