//! Output files: what may be written over, and the temporary names of atomic writes.
//!
//! Every file satcolor writes appears complete or not at all: it is written under a
//! temporary name beside the target, synced, and renamed over it. The temporary name is
//! short whatever the target's: `.sc-HASH-PID.tmp`, with a 16-digit hash of the target's
//! file name, so a legal long file name stays legal, and the PID tells a later run whether
//! the writer is gone (its leftovers may be removed).

use crate::Error;
use std::path::{Path, PathBuf};

/// Checks that `path` can be an output: a file name that is UTF-8 (GDAL takes text paths)
/// where `text` is set, and nothing there but a regular file (or a link to one). A device,
/// a FIFO or a directory is refused: the rename would replace it.
pub fn check_output(path: &Path, text: bool) -> Result<(), Error> {
    if path.file_name().is_none() {
        return Err(Error::Input(format!("{}: not a file path", path.display())));
    }
    if text && path.to_str().is_none() {
        return Err(Error::Input(format!(
            "{}: the output's name is not UTF-8, which GDAL cannot create; choose another",
            path.display()
        )));
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(Error::Input(format!(
            "{}: exists and is not a regular file ({}); choose another output",
            path.display(),
            kind(&m)
        ))),
        _ => Ok(()),
    }
}

/// Whether a failed file operation is the user's doing: a path that does not exist, is not
/// allowed, is read-only or is not a directory where one is needed (exit 2), rather than a
/// failure while doing a good request, such as a full disk or an I/O error (exit 1).
pub fn is_bad_path(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::NotFound
            | K::PermissionDenied
            | K::ReadOnlyFilesystem
            | K::NotADirectory
            | K::IsADirectory
            | K::InvalidFilename
            | K::AlreadyExists
            | K::DirectoryNotEmpty
    )
}

/// What a file that is not a regular one is, in words.
fn kind(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// The temporary file of this process's atomic write of `path`, beside it.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = temporary_prefix(path);
    name.push_str(&format!("{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// A second temporary file of the same write (`.sc-HASH-PID.STAGE.tmp`), for writes made
/// in two steps (a GeoTIFF converted into a Cloud Optimized GeoTIFF); cleaned up as the
/// first one is. `stage` is ASCII letters.
pub fn temporary_path_stage(path: &Path, stage: &str) -> PathBuf {
    let mut name = temporary_prefix(path);
    name.push_str(&format!("{}.{stage}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// The start of the temporary names of every writer of `path`: `.sc-HASH-`.
pub fn temporary_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default();
    format!(".sc-{:016x}-", fnv1a(name.as_encoded_bytes()))
}

/// The 64-bit FNV-1a hash: fixed across runs and versions (unlike std's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The PID in a temporary name `.sc-HASH-PID.tmp` or `.sc-HASH-PID.STAGE.tmp`, if `name`
/// is one.
fn temporary_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".sc-")?.strip_suffix(".tmp")?;
    let (hash, pid) = rest.split_once('-')?;
    let pid = match pid.split_once('.') {
        Some((pid, stage))
            if !stage.is_empty() && stage.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            pid
        }
        Some(_) => return None,
        None => pid,
    };
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Removes temporary files in `dir` whose writer is gone (Linux: no `/proc/PID`), all of
/// them or only those of the target `only`: a killed writer has no chance to clean up,
/// the next one does. Does nothing where `/proc` is not there to ask.
pub fn remove_stale_temporaries(dir: &Path, only: Option<&Path>) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = only.map(temporary_prefix);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(name) = file.to_str() else { continue };
        if prefix
            .as_ref()
            .is_some_and(|p| !name.starts_with(p.as_str()))
        {
            continue;
        }
        let dead = temporary_pid(name)
            .is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists());
        if dead {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_short_and_name_their_writer() {
        let long = "x".repeat(250) + ".tif";
        let tmp = temporary_path(&Path::new("/data").join(&long));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 40, "{name}");
        assert_eq!(tmp.parent(), Some(Path::new("/data")));
        assert_eq!(temporary_pid(name), Some(std::process::id()));
        assert!(name.starts_with(&temporary_prefix(Path::new(&long))));
        assert_ne!(
            temporary_prefix(Path::new("a.tif")),
            temporary_prefix(Path::new("b.tif"))
        );
        assert_eq!(temporary_pid(".sc-0123-5.tmp"), None);
        let cog = temporary_path_stage(Path::new("/data/a.tif"), "cog");
        let cog = cog.file_name().unwrap().to_str().unwrap();
        assert!(cog.starts_with(&temporary_prefix(Path::new("a.tif"))));
        assert_eq!(temporary_pid(cog), Some(std::process::id()));
        assert_eq!(temporary_pid(".sc-0123456789abcdef-12.c0g.tmp"), None);
        assert_eq!(temporary_pid(".sc-0123456789abcdef-12..tmp"), None);
        assert_eq!(temporary_pid("out.tif"), None);
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn only_regular_files_may_be_replaced() {
        assert!(check_output(Path::new("/dev/null"), false)
            .unwrap_err()
            .to_string()
            .contains("a device"));
        assert!(check_output(Path::new("/tmp"), false)
            .unwrap_err()
            .to_string()
            .contains("a directory"));
        assert!(check_output(Path::new("/nonexistent-dir-xyz/new.tif"), true).is_ok());
    }
}
