//! Reads the integer constants of kernels/*.cu and kernels/*.cuh, the
//! `#define SC_<NAME> <decimal integer>` lines, so that build.rs can export them to Rust
//! (`crate::kernels::consts`) and the launch code never keeps a copy of a tile size or an
//! activation code that could drift from the kernels.
//!
//! Every `#define SC_<NAME> <value>` must have a plain decimal `int` value (with an optional
//! minus sign), and a constant defined twice must have the same value; anything else fails
//! the build naming the file and line. Function-like `SC_` macros are not constants and are
//! skipped.

use std::path::Path;

/// One `SC_` integer constant of the kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    /// `SC_<NAME>`, also the Rust constant's name.
    pub name: String,
    /// Its value (C's `int`).
    pub value: i32,
    /// Where it is first defined: `kernels/conv2d.cu:9`.
    pub at: String,
}

/// The `SC_` constants of one file's `text`, named `file` in messages.
pub fn parse(file: &str, text: &str) -> Result<Vec<Define>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("#define ") else {
            continue;
        };
        let rest = rest.trim_start();
        if !rest.starts_with("SC_") {
            continue;
        }
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, value) = rest.split_at(name_len);
        if value.starts_with('(') {
            continue;
        }
        let at = format!("{file}:{}", i + 1);
        let value = value.split("//").next().unwrap_or_default().trim();
        let parsed = value
            .parse::<i32>()
            .ok()
            .filter(|_| value.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
        match parsed {
            Some(v) => out.push(Define {
                name: name.to_string(),
                value: v,
                at,
            }),
            None => {
                return Err(format!(
                    "{at}: {name} must be a plain decimal int (build.rs exports it to Rust), \
                     got `{value}`"
                ))
            }
        }
    }
    Ok(out)
}

/// The constants of every .cu and .cuh file of `dir` (named relative to `root`), each
/// once; a constant defined twice with different values is an error naming both places.
pub fn read_dir(root: &Path, dir: &Path) -> Result<Vec<Define>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cu" || e == "cuh"))
        .collect();
    paths.sort();
    let mut all: Vec<Define> = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let file = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        for d in parse(&file, &text)? {
            match all.iter().find(|a| a.name == d.name) {
                Some(a) if a.value != d.value => {
                    return Err(format!(
                        "{} is defined twice with different values: {} ({}) and {} ({})",
                        d.name, a.at, a.value, d.at, d.value
                    ))
                }
                Some(_) => {}
                None => all.push(d),
            }
        }
    }
    Ok(all)
}

/// The Rust module `consts`: one documented `pub const NAME: i32` per constant.
pub fn render(defines: &[Define]) -> String {
    let mut s = String::from(
        "/// The integer constants of kernels/*.cu and kernels/*.cuh (`#define SC_<NAME> <int>`),\n\
         /// read by build.rs: tile sizes, activation codes and the block-size limits the launch\n\
         /// code must agree with.\n\
         pub mod consts {\n",
    );
    for d in defines {
        s += &format!(
            "    /// `{}` of {}.\n    pub const {}: i32 = {};\n",
            d.name, d.at, d.name, d.value
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_defines_are_read_and_macros_skipped() {
        let text = "// tile\n#define SC_TILE 16\n  #define  SC_NEG -3 // note\n\
                    #define SC_F(x) (x)\n#define OTHER 5\n";
        let d = parse("k.cu", text).unwrap();
        let got: Vec<(&str, i32, &str)> = d
            .iter()
            .map(|d| (d.name.as_str(), d.value, d.at.as_str()))
            .collect();
        assert_eq!(got, [("SC_TILE", 16, "k.cu:2"), ("SC_NEG", -3, "k.cu:3")]);
        let rendered = render(&d);
        assert!(rendered.contains("/// `SC_TILE` of k.cu:2.\n    pub const SC_TILE: i32 = 16;"));
    }

    #[test]
    fn other_values_fail_naming_file_and_line() {
        for bad in ["8 * 2", "0x10", "16u", "", "1'000", "99999999999"] {
            let text = format!("\n#define SC_BAD {bad}\n");
            let e = parse("k.cu", &text).unwrap_err();
            assert!(e.starts_with("k.cu:2: SC_BAD must be"), "{bad}: {e}");
        }
    }
}
