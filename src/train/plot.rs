//! The loss plot `RUNDIR/loss.png`: the curves of a training log against the step.
//!
//! Panels share the step axis: the top one shows L_D and L_G, the next the MSE between G(x)
//! and the truth (the quantity a reader of a colorizer cares about, on its own scale). When
//! the log holds held-out scores (runs with held-out data, at each checkpoint), a bottom row
//! shows the held-out PSNR beside the gray and linear baselines', and the held-out
//! colorfulness beside the real imagery's: whether training still helps. A panel uses a
//! logarithmic y axis when all its values are positive and span more than a factor of 3, a
//! linear one otherwise (L_G is negative with the saturating loss). Non-finite values are
//! left out.
//!
//! Text (axis labels, legend) needs a font: DejaVu Sans is read at run time from the
//! locations of Debian's `fonts-dejavu-core` package (installed by scripts/setup.sh), or
//! from the file named by `SATCOLOR_FONT`. Without one the plot is drawn without text.

use super::log::LogRecord;
use super::samples::write_png;
use anyhow::{anyhow, bail};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

/// Size of the picture in pixels, without and with the held-out row.
const SIZE: (u32, u32) = (1000, 720);
const SIZE_WITH_VAL: (u32, u32) = (1000, 1000);

/// The font family name the plot registers its font under.
pub(crate) const FAMILY: &str = "sans-serif";

/// Where the font is looked for, in order (after `SATCOLOR_FONT`).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Colors of the D loss, G loss and MSE curves.
const D_COLOR: RGBColor = RGBColor(31, 119, 180);
const G_COLOR: RGBColor = RGBColor(214, 39, 40);
const MSE_COLOR: RGBColor = RGBColor(44, 160, 44);
/// Colors of the held-out curves: the model, the gray and linear baselines, the truth.
const MODEL_COLOR: RGBColor = RGBColor(148, 103, 189);
const GRAY_COLOR: RGBColor = RGBColor(127, 127, 127);
const LINEAR_COLOR: RGBColor = RGBColor(255, 127, 14);
const REAL_COLOR: RGBColor = RGBColor(23, 190, 207);

/// Plots the D loss, G loss and MSE of `records` against the step into the PNG `path`,
/// written atomically. Records are taken in step order; when a step appears more than once
/// (a run resumed from an earlier checkpoint logs those steps again) the last record wins.
/// Errors when there is no record or the file cannot be written.
pub fn plot_losses(records: &[LogRecord], path: &Path) -> anyhow::Result<()> {
    let img = render(records, font_loaded())?;
    write_png(path, &img)
}

/// One curve: its name, color and finite (step, value) points.
struct Curve {
    name: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// Draws the plot into an RGB image, with text when `text`.
fn render(records: &[LogRecord], text: bool) -> anyhow::Result<image::RgbImage> {
    if records.is_empty() {
        bail!("loss plot: the log has no records");
    }
    let by_step: BTreeMap<u64, &LogRecord> = records.iter().map(|r| (r.step, r)).collect();
    let curve = |name, color, f: fn(&LogRecord) -> Option<f32>| Curve {
        name,
        color,
        points: by_step
            .iter()
            .filter_map(|(&s, r)| Some((s as f64, f64::from(f(r)?))))
            .filter(|p| p.1.is_finite())
            .collect(),
    };
    let losses = [
        curve("D loss", D_COLOR, |r| Some(r.d_loss)),
        curve("G loss", G_COLOR, |r| Some(r.g_loss)),
    ];
    let mse = [curve("MSE", MSE_COLOR, |r| Some(r.mse))];
    let psnr = [
        curve("model", MODEL_COLOR, |r| Some(r.val?.psnr_db)),
        curve("linear baseline", LINEAR_COLOR, |r| {
            Some(r.val?.linear_psnr_db)
        }),
        curve("gray baseline", GRAY_COLOR, |r| r.val?.gray_psnr_db),
    ];
    let colorfulness = [
        curve("model", MODEL_COLOR, |r| r.val?.colorfulness),
        curve("real", REAL_COLOR, |r| r.val?.real_colorfulness),
    ];
    let with_val = !psnr[0].points.is_empty();
    let first = *by_step.keys().next().expect("not empty") as f64;
    let last = *by_step.keys().next_back().expect("not empty") as f64;
    let steps = if last > first {
        first..last
    } else {
        first - 1.0..first + 1.0
    };

    let size = if with_val { SIZE_WITH_VAL } else { SIZE };
    let (w, h) = size;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (curves, val_row) = root.split_vertically(SIZE.1);
        let (top, bottom) = curves.split_vertically(SIZE.1 * 11 / 20);
        let upper = || SeriesLabelPosition::UpperRight;
        let top_names = (
            "Adversarial losses (G loss includes λ_G·MSE)",
            "loss",
            upper(),
        );
        panel(&top, steps.clone(), &losses, top_names, text)?;
        let names = ("MSE of G(x) against the truth", "MSE", upper());
        panel(&bottom, steps.clone(), &mse, names, text)?;
        if with_val {
            // Legends where the curves are not: the model's PSNR rises above the
            // baselines', its colorfulness stays under the real one.
            let (left, right) = val_row.split_horizontally(w / 2);
            let names = ("Held-out PSNR", "dB", SeriesLabelPosition::MiddleRight);
            panel(&left, steps.clone(), &psnr, names, text)?;
            let names = (
                "Held-out colorfulness",
                "colorfulness",
                SeriesLabelPosition::LowerRight,
            );
            panel(&right, steps, &colorfulness, names, text)?;
        }
        root.present().map_err(draw_err)?;
    }
    image::RgbImage::from_raw(w, h, buf).ok_or_else(|| anyhow!("loss plot: bad buffer size"))
}

/// A panel's caption, y axis name and legend position.
type Names<'a> = (&'a str, &'a str, SeriesLabelPosition);

/// Draws one panel of `curves` on a log y axis when every value is positive, else linear.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    steps: Range<f64>,
    curves: &[Curve],
    names: Names<'_>,
    text: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        // No finite value at all: an empty panel with a unit axis.
        return draw_panel(area, steps, 0.0..1.0, curves, names, text);
    }
    if lo > 0.0 && hi > 3.0 * lo {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        let range = (lo / 1.2..hi * 1.2).log_scale();
        draw_panel(area, steps, range, curves, names, text)
    } else {
        let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
        draw_panel(area, steps, lo - pad..hi + pad, curves, names, text)
    }
}

/// Draws the axes, grid, curves and (with text) labels and legend of one panel.
fn draw_panel<DB, Y>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    steps: Range<f64>,
    y: Y,
    curves: &[Curve],
    (caption, y_name, legend): Names<'_>,
    text: bool,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(area);
    builder.margin(16);
    if text {
        builder.caption(caption, (FAMILY, 20));
        builder.x_label_area_size(46).y_label_area_size(76);
    }
    let mut chart = builder.build_cartesian_2d(steps, y).map_err(draw_err)?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(200, 200, 200))
        .max_light_lines(4);
    if text {
        mesh.x_desc("step")
            .y_desc(y_name)
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| tick(*v));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(draw_err)?;
    for c in curves {
        let style = c.color.stroke_width(2);
        let series = chart
            .draw_series(LineSeries::new(c.points.iter().copied(), style))
            .map_err(draw_err)?;
        if text {
            let color = c.color;
            series.label(c.name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(legend)
            .label_font((FAMILY, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

/// A y tick label: three significant digits, trailing zeros dropped (0.05, 1.25, 300).
fn tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A drawing error as an `anyhow::Error`.
pub(crate) fn draw_err<E: std::error::Error + Send + Sync + 'static>(
    e: plotters::drawing::DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing the loss plot: {e}")
}

/// Whether a font is registered for the plot's text: loads it on the first call.
pub(crate) fn font_loaded() -> bool {
    static LOADED: OnceLock<bool> = OnceLock::new();
    *LOADED.get_or_init(|| {
        let env = std::env::var_os("SATCOLOR_FONT").map(std::path::PathBuf::from);
        let candidates = env
            .into_iter()
            .chain(FONT_PATHS.iter().map(std::path::PathBuf::from));
        for p in candidates {
            if let Ok(bytes) = std::fs::read(&p) {
                // The font table wants 'static data: the bytes are kept for the process's
                // life (once; a few hundred kilobytes).
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::log::ValScores;

    fn record(step: u64, d_loss: f32, g_loss: f32, mse: f32) -> LogRecord {
        LogRecord {
            step,
            d_loss,
            g_loss,
            mse,
            lambda_g: 1.0,
            samples_per_s: 1.0,
            val: None,
            precision: None,
            graphs: false,
        }
    }

    /// Without a font registered (this test binary never loads one) the text-free plot still
    /// draws the curves: pixels of the three curve colors are present.
    #[test]
    fn draws_without_text() {
        let records: Vec<_> = (1..=50)
            .map(|s| record(s, 1.4, 5.0 - s as f32 * 0.05, 0.1 / s as f32))
            .collect();
        let img = render(&records, false).unwrap();
        assert_eq!(img.dimensions(), SIZE);
        for color in [D_COLOR, G_COLOR, MSE_COLOR] {
            assert!(has(&img, color), "no pixel of {color:?}");
        }
        assert!(!has(&img, MODEL_COLOR));
    }

    fn has(img: &image::RgbImage, RGBColor(r, g, b): RGBColor) -> bool {
        img.pixels().any(|p| p.0 == [r, g, b])
    }

    /// Held-out scores at some steps add the bottom row with its five curves.
    #[test]
    fn held_out_scores_add_a_row() {
        let records: Vec<_> = (1..=50)
            .map(|s| LogRecord {
                val: (s % 10 == 0).then_some(ValScores {
                    psnr_db: 25.0 + s as f32 / 10.0,
                    colorfulness: Some(5.0 + s as f32 / 5.0),
                    real_colorfulness: Some(20.0),
                    gray_psnr_db: Some(24.0),
                    linear_psnr_db: 26.0,
                }),
                ..record(s, 1.4, 2.0, 0.1 / s as f32)
            })
            .collect();
        let img = render(&records, false).unwrap();
        assert_eq!(img.dimensions(), SIZE_WITH_VAL);
        for color in [MODEL_COLOR, GRAY_COLOR, LINEAR_COLOR, REAL_COLOR, MSE_COLOR] {
            assert!(has(&img, color), "no pixel of {color:?}");
        }
    }
}
