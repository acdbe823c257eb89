//! Polylines (roads, rivers) and the per-pixel distance to the nearest of them.

use super::canvas::Canvas;

/// A polyline in pixel coordinates, sampled finely enough that its segments follow curves.
#[derive(Clone, Debug)]
pub(crate) struct Polyline {
    /// The vertices.
    pub points: Vec<(f32, f32)>,
}

impl Polyline {
    /// The straight line through `p` with direction angle `angle`, long enough to cross a
    /// scene of `size` pixels, in pieces of about 16 pixels.
    pub(crate) fn line(p: (f32, f32), angle: f32, size: f32) -> Self {
        let (dx, dy) = (angle.cos(), angle.sin());
        let n = (4.0 * size / 16.0).ceil() as usize;
        let points = (0..=n)
            .map(|i| {
                let t = -2.0 * size + 4.0 * size * i as f32 / n as f32;
                (p.0 + t * dx, p.1 + t * dy)
            })
            .collect();
        Self { points }
    }

    /// The cubic Bézier curve with control points `c`, in 64 pieces.
    pub(crate) fn bezier(c: [(f32, f32); 4]) -> Self {
        let points = (0..=64)
            .map(|i| {
                let t = i as f32 / 64.0;
                let s = 1.0 - t;
                let w = [s * s * s, 3.0 * s * s * t, 3.0 * s * t * t, t * t * t];
                (
                    w.iter().zip(&c).map(|(w, p)| w * p.0).sum(),
                    w.iter().zip(&c).map(|(w, p)| w * p.1).sum(),
                )
            })
            .collect();
        Self { points }
    }

    /// The point at fraction `f` in [0, 1] of the vertex sequence and the unit tangent there.
    pub(crate) fn at(&self, f: f32) -> ((f32, f32), (f32, f32)) {
        let segs = self.points.len() - 1;
        let x = f.clamp(0.0, 1.0) * segs as f32;
        let i = (x as usize).min(segs - 1);
        let (a, b) = (self.points[i], self.points[i + 1]);
        let t = x - i as f32;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        ((a.0 + t * dx, a.1 + t * dy), (dx / len, dy / len))
    }
}

/// The nearest polyline of a pixel: distance, arc length along it, and its index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nearest {
    /// Distance in pixels to the polyline.
    pub dist: f32,
    /// Arc length in pixels from the polyline's start to the closest point.
    pub along: f32,
    /// Index of the polyline.
    pub index: usize,
}

/// For each pixel of `canvas`, the nearest of `lines` if one lies within `reach[i]` pixels of
/// polyline `i` (row-major).
pub(crate) fn nearest_field(
    canvas: &Canvas,
    lines: &[Polyline],
    reach: &[f32],
) -> Vec<Option<Nearest>> {
    let mut field: Vec<Option<Nearest>> = vec![None; canvas.size * canvas.size];
    for (index, (line, &r)) in lines.iter().zip(reach).enumerate() {
        let mut start = 0.0f32;
        for w in line.points.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = (dx * dx + dy * dy).max(1e-12);
            let len = len2.sqrt();
            let lo = (a.0.min(b.0) - r, a.1.min(b.1) - r);
            let hi = (a.0.max(b.0) + r, a.1.max(b.1) + r);
            if let Some((rows, cols)) = canvas.clip(lo, hi) {
                for y in rows {
                    for x in cols.clone() {
                        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                        let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
                        let (ex, ey) = (px - a.0 - t * dx, py - a.1 - t * dy);
                        let dist = (ex * ex + ey * ey).sqrt();
                        let slot = &mut field[y * canvas.size + x];
                        if dist <= r && slot.is_none_or(|n| dist < n.dist) {
                            *slot = Some(Nearest {
                                dist,
                                along: start + t * len,
                                index,
                            });
                        }
                    }
                }
            }
            start += len;
        }
    }
    field
}
