//! The raster a scene is painted on (linear RGB in [0, 255] plus a land-cover label per
//! pixel) and the rotated rectangles buildings and their shadows are made of.

/// Land cover of a pixel: what later layers may be placed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cover {
    /// Grass, fields, bare soil: free for buildings and trees.
    Ground,
    /// Lakes and rivers.
    Water,
    /// Roads and their shoulders or sidewalks.
    Road,
    /// Building footprints.
    Building,
}

/// A scene being painted.
pub(crate) struct Canvas {
    /// Width and height in pixels (square scenes).
    pub size: usize,
    /// Color per pixel, row-major.
    pub rgb: Vec<[f32; 3]>,
    /// Land cover per pixel, row-major.
    pub cover: Vec<Cover>,
}

impl Canvas {
    /// A black canvas of `size`×`size` ground pixels.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size,
            rgb: vec![[0.0; 3]; size * size],
            cover: vec![Cover::Ground; size * size],
        }
    }

    /// Mixes `color` into pixel `i` with weight `alpha` in [0, 1].
    pub(crate) fn blend(&mut self, i: usize, color: [f32; 3], alpha: f32) {
        let p = &mut self.rgb[i];
        for c in 0..3 {
            p[c] += (color[c] - p[c]) * alpha;
        }
    }

    /// Multiplies pixel `i` by `factor` per channel, weighted by `alpha` in [0, 1].
    pub(crate) fn darken(&mut self, i: usize, factor: [f32; 3], alpha: f32) {
        let p = &mut self.rgb[i];
        for c in 0..3 {
            p[c] *= 1.0 + (factor[c] - 1.0) * alpha;
        }
    }

    /// The pixel rows and columns covering the box from `(x0, y0)` to `(x1, y1)`, clipped to the
    /// canvas; `None` when nothing is left.
    pub(crate) fn clip(
        &self,
        (x0, y0): (f32, f32),
        (x1, y1): (f32, f32),
    ) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        let n = self.size as f32;
        let (xa, xb) = (x0.floor().max(0.0), (x1.ceil() + 1.0).min(n));
        let (ya, yb) = (y0.floor().max(0.0), (y1.ceil() + 1.0).min(n));
        (xa < xb && ya < yb).then_some((ya as usize..yb as usize, xa as usize..xb as usize))
    }
}

/// A rectangle rotated by an angle: center, unit axis `u` (the long side's direction) and half
/// extents along `u` and along its normal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rect {
    /// Center in pixels.
    pub center: (f32, f32),
    /// Unit vector of the first axis.
    pub u: (f32, f32),
    /// Half extents along `u` and along its normal (-u.1, u.0).
    pub half: (f32, f32),
}

impl Rect {
    /// Coordinates of point `p` along the rectangle's two axes, relative to its center.
    pub(crate) fn local(&self, p: (f32, f32)) -> (f32, f32) {
        self.vector((p.0 - self.center.0, p.1 - self.center.1))
    }

    /// A vector expressed along the rectangle's axes.
    pub(crate) fn vector(&self, d: (f32, f32)) -> (f32, f32) {
        (
            d.0 * self.u.0 + d.1 * self.u.1,
            -d.0 * self.u.1 + d.1 * self.u.0,
        )
    }

    /// The axis-aligned bounding box, grown by `margin` pixels.
    pub(crate) fn bounds(&self, margin: f32) -> ((f32, f32), (f32, f32)) {
        let ex = self.half.0 * self.u.0.abs() + self.half.1 * self.u.1.abs() + margin;
        let ey = self.half.0 * self.u.1.abs() + self.half.1 * self.u.0.abs() + margin;
        (
            (self.center.0 - ex, self.center.1 - ey),
            (self.center.0 + ex, self.center.1 + ey),
        )
    }

    /// Anti-aliased coverage of the pixel centered at `p` (1 inside, 0 outside, a ramp one
    /// pixel wide across the border).
    pub(crate) fn coverage(&self, p: (f32, f32)) -> f32 {
        let (a, b) = self.local(p);
        let d = (a.abs() - self.half.0).max(b.abs() - self.half.1);
        (0.5 - d).clamp(0.0, 1.0)
    }

    /// Whether the segment from `p` to `p - v` (in pixels) meets the rectangle grown by `grow`:
    /// `p` lies in the shadow the rectangle casts along `v`.
    pub(crate) fn swept_hit(&self, p: (f32, f32), v: (f32, f32), grow: f32) -> bool {
        let q = self.local(p);
        let w = self.vector(v);
        let (mut t0, mut t1) = (0.0f32, 1.0f32);
        for (qa, wa, h) in [
            (q.0, w.0, self.half.0 + grow),
            (q.1, w.1, self.half.1 + grow),
        ] {
            // |qa - t·wa| <= h
            if wa.abs() < 1e-6 {
                if qa.abs() > h {
                    return false;
                }
            } else {
                let (ta, tb) = ((qa - h) / wa, (qa + h) / wa);
                t0 = t0.max(ta.min(tb));
                t1 = t1.min(ta.max(tb));
            }
        }
        t0 <= t1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_coverage_and_shadow_sweep() {
        let angle = 0.3f32;
        let r = Rect {
            center: (10.0, 20.0),
            u: (angle.cos(), angle.sin()),
            half: (4.0, 2.0),
        };
        assert_eq!(r.coverage((10.0, 20.0)), 1.0);
        assert_eq!(r.coverage((30.0, 20.0)), 0.0);
        // A point 3 px along the normal beyond the long side is shadowed by a sweep of 5 px
        // along the normal, not by one of 0.5 px, nor by a sweep pointing the other way.
        let n = (-angle.sin(), angle.cos());
        let p = (10.0 + 5.0 * n.0, 20.0 + 5.0 * n.1);
        assert!(r.swept_hit(p, (5.0 * n.0, 5.0 * n.1), 0.0));
        assert!(!r.swept_hit(p, (0.5 * n.0, 0.5 * n.1), 0.0));
        assert!(!r.swept_hit(p, (-5.0 * n.0, -5.0 * n.1), 0.0));
    }
}
