//! The report of a training-settings sweep (scripts/sweep.sh): a Markdown table of every
//! setting's held-out scores on stdout, and the scatter plot of PSNR against colorfulness.
//!
//! ```sh
//! cargo run --release --example sweep_report -- sweep docs/sweep.png
//! ```
//!
//! Every `DIR/NAME/quality.json` is one setting called NAME.

use satcolor::quality::sweep::{markdown_table, plot, read_point};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(png)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: sweep_report SWEEP_DIR OUT.png");
    };
    let mut points = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let json = e.path().join("quality.json");
        if json.is_file() {
            points.push(read_point(&e.file_name().to_string_lossy(), &json)?);
        }
    }
    print!("{}", markdown_table(&points));
    plot(&points, png.as_ref())?;
    eprintln!("{} settings; plot in {png}", points.len());
    Ok(())
}
