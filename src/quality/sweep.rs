//! A sweep of training settings on one benchmark task: each setting's `quality.json` read
//! back, a Markdown table of the scores, and a scatter plot of PSNR against colorfulness
//! (relative to the real imagery's), with the baselines drawn in; scripts/sweep.sh runs
//! the settings and `examples/sweep_report.rs` makes the table and the picture.

use crate::train::plot::{draw_err, font_loaded, FAMILY};
use crate::train::samples::write_png;
use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// One setting's scores on a task.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// The setting's name.
    pub name: String,
    /// Its `satcolor train` flags.
    pub flags: Vec<String>,
    /// Iterations trained.
    pub steps: u64,
    /// Wall time of training, in seconds.
    pub train_seconds: f64,
    /// Training throughput (median samples/s of the log's second half).
    pub samples_per_s: Option<f64>,
    /// Held-out PSNR of the model, dB.
    pub psnr_db: f64,
    /// Held-out SSIM.
    pub ssim: Option<f64>,
    /// Held-out mean CIEDE2000 ΔE.
    pub delta_e: Option<f64>,
    /// Held-out colorfulness over the real imagery's.
    pub colorfulness_ratio: Option<f64>,
    /// The linear and gray baselines' PSNR on the same task.
    pub baselines_db: (Option<f64>, Option<f64>),
}

/// Reads the first task of the `quality.json` at `path` as the point `name`.
pub fn read_point(name: &str, path: &Path) -> Result<SweepPoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let t = &v["tasks"][0];
    let o = &t["report"]["overall"];
    let num = |v: &Value| v.as_f64();
    let psnr_db =
        num(&o["model"]["psnr_db"]).ok_or_else(|| anyhow!("{}: no model PSNR", path.display()))?;
    let ratio = match (
        num(&o["model"]["colorfulness"]),
        num(&o["truth_colorfulness"]),
    ) {
        (Some(c), Some(r)) if r > 0.0 => Some(c / r),
        _ => None,
    };
    Ok(SweepPoint {
        name: name.to_string(),
        flags: t["train_flags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        steps: t["steps"].as_u64().unwrap_or(0),
        train_seconds: num(&t["train_seconds"]).unwrap_or(f64::NAN),
        samples_per_s: num(&t["samples_per_s"]),
        psnr_db,
        ssim: num(&o["model"]["ssim"]),
        delta_e: num(&o["model"]["delta_e"]),
        colorfulness_ratio: ratio,
        baselines_db: (num(&o["linear"]["psnr_db"]), num(&o["gray"]["psnr_db"])),
    })
}

/// The points as a Markdown table, best PSNR first.
pub fn markdown_table(points: &[SweepPoint]) -> String {
    let mut sorted: Vec<&SweepPoint> = points.iter().collect();
    sorted.sort_by(|a, b| b.psnr_db.total_cmp(&a.psnr_db));
    let opt = |v: Option<f64>, d: usize| v.map_or("–".into(), |v| format!("{v:.d$}"));
    let mut s = String::from(
        "| setting | flags | steps | PSNR dB | SSIM | ΔE00 | colorfulness / real |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for p in sorted {
        // The flags that set the model and training, not the schedule of checkpoints.
        let mut flags: Vec<&str> = Vec::new();
        let mut skip = false;
        for f in &p.flags {
            if std::mem::take(&mut skip) {
                continue;
            }
            skip = f == "--checkpoint-every";
            if !skip {
                flags.push(f);
            }
        }
        s += &format!(
            "| {} | `{}` | {} | {:.2} | {} | {} | {} |\n",
            p.name,
            flags.join(" "),
            p.steps,
            p.psnr_db,
            opt(p.ssim, 4),
            opt(p.delta_e, 2),
            opt(p.colorfulness_ratio, 2),
        );
    }
    s
}

/// Size of the scatter plot in pixels.
const SIZE: (u32, u32) = (1000, 700);

/// Draws the points (PSNR against colorfulness ratio, each labelled with its name) with
/// the linear and gray baselines' PSNR as horizontal lines and the goal's colorfulness
/// band (0.8–1.2 of the real) shaded, into the PNG `path`. Errors without points.
pub fn plot(points: &[SweepPoint], path: &Path) -> Result<()> {
    let pts: Vec<(f64, f64, &str)> = points
        .iter()
        .filter_map(|p| Some((p.colorfulness_ratio?, p.psnr_db, p.name.as_str())))
        .collect();
    if pts.is_empty() {
        bail!("sweep plot: no point with a colorfulness");
    }
    let text = font_loaded();
    let (linear, gray) = points[0].baselines_db;
    let ys = pts
        .iter()
        .map(|p| p.1)
        .chain(linear)
        .chain(gray)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let x_hi = pts.iter().map(|p| p.0).fold(1.3f64, f64::max) * 1.05;
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if text {
            builder
                .caption("Held-out PSNR against colorfulness", (FAMILY, 22))
                .x_label_area_size(50)
                .y_label_area_size(70);
        }
        let mut chart = builder
            .build_cartesian_2d(0.0..x_hi, (ys.0 - 0.5)..(ys.1 + 0.5))
            .map_err(draw_err)?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(RGBColor(235, 235, 235));
        if text {
            mesh.x_desc("colorfulness / real colorfulness")
                .y_desc("PSNR (dB)")
                .label_style((FAMILY, 16))
                .axis_desc_style((FAMILY, 18));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.8, ys.0 - 0.5), (1.2, ys.1 + 0.5)],
                RGBColor(220, 240, 220).filled(),
            )))
            .map_err(draw_err)?;
        for (y, color, name) in [
            (linear, RGBColor(255, 127, 14), "linear baseline"),
            (gray, RGBColor(127, 127, 127), "gray baseline"),
        ] {
            let Some(y) = y else { continue };
            let series = chart
                .draw_series(LineSeries::new(
                    [(0.0, y), (x_hi, y)],
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?;
            if text {
                series
                    .label(name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color));
            }
        }
        let dot = RGBColor(31, 119, 180);
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, y, _)| Circle::new((x, y), 5, dot.filled())),
            )
            .map_err(draw_err)?;
        if text {
            let dots: Vec<(i32, i32)> = pts
                .iter()
                .map(|&(x, y, _)| chart.backend_coord(&(x, y)))
                .collect();
            let font = (FAMILY, 14).into_font();
            let leader = RGBColor(150, 150, 150);
            for ((b, &(_, _, name)), &(x, y)) in place_labels(&dots, &pts, (w, h))
                .into_iter()
                .zip(&pts)
                .zip(&dots)
            {
                // A thin line from the dot to its name when the name sits apart from it.
                let near = (x.clamp(b.0, b.0 + b.2), y.clamp(b.1, b.1 + b.3));
                if (near.0 - x).pow(2) + (near.1 - y).pow(2) > 8 * 8 {
                    root.draw(&PathElement::new(vec![(x, y), near], leader))
                        .map_err(draw_err)?;
                }
                root.draw(&Text::new(name.to_string(), (b.0, b.1), font.clone()))
                    .map_err(draw_err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font((FAMILY, 16))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    let img =
        image::RgbImage::from_raw(w, h, buf).ok_or_else(|| anyhow!("sweep plot: bad buffer"))?;
    write_png(path, &img)
}

/// Width of one character of the points' names in the scatter plot (14 px font), pixels.
const LABEL_CHAR_W: i32 = 8;
/// Height of a name's box, pixels.
const LABEL_H: i32 = 18;

/// A name's box in the scatter plot: left, top, width, height in pixels.
type LabelBox = (i32, i32, i32, i32);

/// Where to write each point's name: its box (the text's top-left corner and the size
/// estimated from the name's length at the 14 px font), given the points' pixel positions
/// `dots`. Greedily, in the order of the points, the first of the places around the dot
/// (right, left or centred; just above or below, then farther out) that stays inside the
/// picture of size `size`, overlaps no name placed before and no dot, and is no nearer
/// another dot than its own (it would be read as that dot's name); when none qualifies, the
/// place that breaks these least.
fn place_labels(dots: &[(i32, i32)], pts: &[(f64, f64, &str)], size: (u32, u32)) -> Vec<LabelBox> {
    const DOT_R: i32 = 6;
    let overlap = |a: &LabelBox, b: &LabelBox| {
        let w = (a.0 + a.2).min(b.0 + b.2) - a.0.max(b.0);
        let h = (a.1 + a.3).min(b.1 + b.3) - a.1.max(b.1);
        w.max(0) * h.max(0)
    };
    let dot_boxes: Vec<LabelBox> = dots
        .iter()
        .map(|&(x, y)| (x - DOT_R, y - DOT_R, 2 * DOT_R, 2 * DOT_R))
        .collect();
    let mut placed: Vec<LabelBox> = Vec::with_capacity(dots.len());
    for (&(x, y), &(_, _, name)) in dots.iter().zip(pts) {
        let w = LABEL_CHAR_W * name.chars().count() as i32;
        let cost = |b: &LabelBox| {
            let outside =
                b.0 < 0 || b.1 < 0 || b.0 + b.2 > size.0 as i32 || b.1 + b.3 > size.1 as i32;
            let covered: i32 = placed.iter().chain(&dot_boxes).map(|p| overlap(p, b)).sum();
            let dist = |&(px, py): &(i32, i32)| {
                let (nx, ny) = (px.clamp(b.0, b.0 + b.2), py.clamp(b.1, b.1 + b.3));
                (nx - px).pow(2) + (ny - py).pow(2)
            };
            let own = dist(&(x, y));
            let misleading = dots
                .iter()
                .filter(|d| **d != (x, y) && dist(d) < own)
                .count();
            let covered = covered + 10_000 * misleading as i32;
            if outside {
                i32::MAX
            } else {
                covered
            }
        };
        let mut best: Option<(i32, LabelBox)> = None;
        'search: for dy in [
            -LABEL_H - 4,
            4,
            -2 * LABEL_H - 6,
            LABEL_H + 6,
            -3 * LABEL_H - 8,
            2 * LABEL_H + 8,
        ] {
            for dx in [8, -8 - w, -w / 2] {
                let b = (x + dx, y + dy, w, LABEL_H);
                let c = cost(&b);
                if best.is_none_or(|(bc, _)| c < bc) {
                    best = Some((c, b));
                }
                if c == 0 {
                    break 'search;
                }
            }
        }
        let (_, chosen) = best.expect("at least one place is tried");
        placed.push(chosen);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: LabelBox, b: LabelBox) -> bool {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    }

    /// A cluster of dots a few pixels apart (as the sweep's best settings are): no two names
    /// overlap, no name covers a dot, every name is inside the picture and nearer its own dot
    /// than any other.
    #[test]
    fn names_of_a_cluster_do_not_collide() {
        let dots = [(500, 300), (500, 306), (470, 310), (520, 296), (505, 280)];
        let names = [
            "unet",
            "unet-lambda1e5",
            "lr1e-3",
            "unet-window32",
            "lr5e-4",
        ];
        let pts: Vec<(f64, f64, &str)> = names.iter().map(|&n| (0.0, 0.0, n)).collect();
        let boxes = place_labels(&dots, &pts, (1000, 700));
        for (i, b) in boxes.iter().enumerate() {
            assert!(b.0 >= 0 && b.1 >= 0 && b.0 + b.2 <= 1000 && b.1 + b.3 <= 700);
            for (j, c) in boxes.iter().enumerate().filter(|(j, _)| *j != i) {
                assert!(!overlap(*b, *c), "{} and {} overlap", names[i], names[j]);
            }
            for &(x, y) in &dots {
                assert!(
                    !overlap(*b, (x - 6, y - 6, 12, 12)),
                    "{} covers a dot",
                    names[i]
                );
            }
            let d = |(x, y): (i32, i32)| {
                let (nx, ny) = (x.clamp(b.0, b.0 + b.2), y.clamp(b.1, b.1 + b.3));
                (nx - x).pow(2) + (ny - y).pow(2)
            };
            assert!(
                dots.iter().all(|&o| d(dots[i]) <= d(o)),
                "{} strays",
                names[i]
            );
        }
    }

    /// A dot at the picture's right edge gets its name on the left, inside the picture.
    #[test]
    fn names_stay_inside() {
        let pts = [(0.0, 0.0, "unet-lambda1e4-to-1e2")];
        let b = place_labels(&[(990, 5)], &pts, (1000, 700))[0];
        assert_eq!(b.2, LABEL_CHAR_W * 21);
        assert!(b.0 >= 0 && b.0 + b.2 <= 1000 && b.1 >= 0, "{b:?}");
    }
}
