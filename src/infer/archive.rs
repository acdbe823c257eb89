//! Colorizing whole archives as sharded jobs (`satcolor colorize --inputs LIST --out-dir DIR
//! --shard I/N`): the list of inputs, the share of one shard, the output of each input, and
//! whether an output is already complete (so a rerun resumes). Shards need no coordinator:
//! shard I of N takes every N-th input of the same sorted list, so a Slurm job array, a
//! Kubernetes Indexed Job or `mpirun` spreads an archive over machines by index alone.

use crate::geo::Raster;
use crate::Error;
use anyhow::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File extensions (lower case) taken as rasters when a directory is listed.
pub const RASTER_EXTENSIONS: [&str; 5] = ["tif", "tiff", "jp2", "vrt", "img"];

/// Shard `index` of `count` (`--shard I/N`, I from 0): inputs `index`, `index + count`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Input(format!(
                "--shard {s}: expected I/N with 0 <= I < N (e.g. 0/4 for the first of four)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// Whether input number `i` of the list is this shard's.
    pub fn takes(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// The rasters `spec` names: a directory (searched recursively for files with a
/// [`RASTER_EXTENSIONS`] extension, hidden ones skipped) or a text file with one path per
/// line (blank lines and `#` comments skipped; relative paths are relative to the list's
/// directory). Sorted by path, so every shard sees the same order. Errors for an empty list,
/// a missing `spec`, or a listed file that does not exist.
pub fn list_inputs(spec: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(spec)
        .map_err(|e| Error::Input(format!("--inputs {}: {e}", spec.display())))?;
    let mut inputs = if meta.is_dir() {
        let mut found = Vec::new();
        walk(spec, &mut found)?;
        found
    } else {
        let text = std::fs::read_to_string(spec).map_err(|e| {
            Error::Input(format!(
                "--inputs {}: cannot read the list ({e})",
                spec.display()
            ))
        })?;
        let base = spec.parent().unwrap_or(Path::new("."));
        let mut listed = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let path = base.join(line);
            if !path.is_file() {
                return Err(Error::Input(format!(
                    "--inputs {}: line {}: {} is not a file",
                    spec.display(),
                    n + 1,
                    path.display()
                ))
                .into());
            }
            listed.push(path);
        }
        listed
    };
    inputs.sort();
    inputs.dedup();
    if inputs.is_empty() {
        return Err(Error::Input(format!(
            "--inputs {}: no rasters ({})",
            spec.display(),
            if meta.is_dir() {
                format!("no .{} files", RASTER_EXTENSIONS.join(", ."))
            } else {
                "an empty list".to_string()
            }
        ))
        .into());
    }
    Ok(inputs)
}

/// Adds the rasters under `dir` to `found`.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Input(format!("--inputs {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::Input(format!("--inputs {}: {e}", dir.display())))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| RASTER_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// One input and its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The input raster.
    pub input: PathBuf,
    /// `OUT_DIR/STEM.tif`.
    pub output: PathBuf,
}

/// The items of `shard`: each input of the whole list with its output `out_dir/STEM.tif`.
/// Errors when two inputs of the whole list (not only of this shard, so that every shard
/// agrees) would write the same output.
pub fn plan(inputs: &[PathBuf], out_dir: &Path, shard: Shard) -> Result<Vec<Item>> {
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut items = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let stem = input
            .file_stem()
            .ok_or_else(|| Error::Input(format!("{}: not a file name", input.display())))?;
        let mut name = stem.to_os_string();
        name.push(".tif");
        let output = out_dir.join(name);
        if let Some(first) = seen.insert(output.clone(), input) {
            return Err(Error::Input(format!(
                "{} and {} would both be written to {}: give the inputs distinct names",
                first.display(),
                input.display(),
                output.display()
            ))
            .into());
        }
        if shard.takes(i) {
            items.push(Item {
                input: input.clone(),
                output,
            });
        }
    }
    Ok(items)
}

/// Whether `output` is a finished colorization of a `size` raster into `bands` bands:
/// outputs appear only when complete (they are renamed into place), so one that GDAL opens
/// with that size and band count is done; anything else is redone.
pub fn is_complete(output: &Path, size: (usize, usize), bands: usize) -> bool {
    output.is_file()
        && Raster::open(output)
            .is_ok_and(|r| (r.width(), r.height()) == size && r.bands().len() == bands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_the_list() {
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(i)).count(), 1);
        }
        assert!(shards[1].takes(4) && shards[1].takes(7) && !shards[1].takes(5));
    }

    #[test]
    fn plans_name_outputs_by_stem_and_refuse_collisions() {
        let inputs: Vec<PathBuf> = ["a/x.tif", "b/y.jp2", "c/z.tiff"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let all = plan(&inputs, Path::new("out"), Shard::default()).unwrap();
        let outs: Vec<_> = all.iter().map(|i| i.output.clone()).collect();
        assert_eq!(
            outs,
            ["out/x.tif", "out/y.tif", "out/z.tif"].map(PathBuf::from)
        );
        let second = plan(&inputs, Path::new("out"), Shard { index: 1, count: 2 }).unwrap();
        assert_eq!(second, vec![all[1].clone()]);
        let clash = [PathBuf::from("a/x.tif"), PathBuf::from("b/x.jp2")];
        let e = plan(&clash, Path::new("out"), Shard { index: 1, count: 2 }).unwrap_err();
        assert!(
            e.to_string().contains("would both be written to out/x.tif"),
            "{e}"
        );
    }
}
