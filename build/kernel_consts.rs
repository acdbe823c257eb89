//! Reads the integer constants of kernels/*.cu and kernels/*.cuh, the
//! `#define SC_<NAME> <integer literal>` lines, so that build.rs can export them to Rust
//! (`crate::kernels::consts`) and the launch code never keeps a copy of a tile size or an
//! activation code that could drift from the kernels.
//!
//! Rules:
//! - an object-like `SC_` define whose value (after outer parentheses and a sign) starts
//!   with a digit is an integer define and must be a plain C integer literal: decimal,
//!   `0x` hex, `0` octal or `0b` binary, an optional `u`/`l`/`ll` suffix and an optional
//!   leading minus sign; anything else (`16x`, `8 * 2`, `1'000`, a line continuation) fails
//!   the build naming the file and line;
//! - other `SC_` defines (empty, function-like, or expressions that start with a name) are
//!   not exported;
//! - a constant defined more than once must have the same value and type everywhere,
//!   otherwise the build fails naming both definitions;
//! - each constant gets the Rust type of its C literal (`int` → `i32`, `unsigned int` →
//!   `u32`, `long` → `i64`, `unsigned long` → `u64`, by C's rules for the literal's
//!   magnitude, radix and suffix).

use std::fmt::Write as _;
use std::path::Path;

/// One place an `SC_` constant is defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The file, relative to the crate root (`kernels/conv2d.cu`).
    pub file: String,
    /// 1-based line of the `#define`.
    pub line: usize,
}

/// One integer constant of the kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelConst {
    /// The macro's name, `SC_...`, which is also the Rust constant's name.
    pub name: String,
    /// Its value.
    pub value: i128,
    /// The Rust type of its C literal: `i32`, `u32`, `i64` or `u64`.
    pub rust_type: &'static str,
    /// The literal as written (`16`, `0x10u`).
    pub literal: String,
    /// The `//` comment lines right above its first definition, joined by spaces (or the
    /// comment of the define on the line above, for a group of defines under one comment).
    pub doc: String,
    /// Every definition, in the order they were read.
    pub sites: Vec<Site>,
}

/// Removes `//` and `/* */` comments from one line; `in_block` carries an open block
/// comment from one line to the next. String and character literals are kept as they are.
fn strip_line_comments(line: &str, in_block: &mut bool) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if *in_block {
            if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                *in_block = false;
                out.push(' ');
                i += 2;
            } else {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            break;
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            *in_block = true;
            i += 2;
        } else if b[i] == b'"' || b[i] == b'\'' {
            let quote = b[i];
            let start = i;
            i += 1;
            while i < b.len() && b[i] != quote {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push_str(&line[start..i]);
        } else {
            let start = i;
            while i < b.len() && !matches!(b[i], b'/' | b'"' | b'\'') {
                i += 1;
            }
            if i == start {
                i += 1;
            }
            out.push_str(&line[start..i]);
        }
    }
    out
}

/// `s` without balanced outer parentheses and surrounding blanks.
fn strip_parens(mut s: &str) -> &str {
    s = s.trim();
    while s.len() >= 2 && s.starts_with('(') && s.ends_with(')') {
        s = s[1..s.len() - 1].trim();
    }
    s
}

/// Whether a define's value is meant as an integer: it starts with a digit once outer
/// parentheses and a sign are removed.
fn looks_like_integer(value: &str) -> bool {
    let v = strip_parens(value);
    let v = v.strip_prefix(['-', '+']).unwrap_or(v).trim_start();
    v.starts_with(|c: char| c.is_ascii_digit())
}

/// Reads a C integer literal (with an optional sign and outer parentheses): its value and
/// the Rust type of its C type.
pub fn parse_literal(text: &str) -> Result<(i128, &'static str), String> {
    let t = strip_parens(text);
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t.strip_prefix('+').unwrap_or(t).trim_start()),
    };
    let num_len = body.trim_end_matches(['u', 'U', 'l', 'L']).len();
    let (num, suffix) = body.split_at(num_len);
    let unsigned = suffix.contains(['u', 'U']);
    let long_part: String = suffix.chars().filter(|c| !matches!(c, 'u' | 'U')).collect();
    let suffix_ok = suffix.chars().filter(|c| matches!(c, 'u' | 'U')).count() <= 1
        && (!unsigned || suffix.starts_with(['u', 'U']) || suffix.ends_with(['u', 'U']))
        && matches!(long_part.as_str(), "" | "l" | "L" | "ll" | "LL");
    if !suffix_ok {
        return Err(format!("`{suffix}` is not an integer suffix"));
    }
    let long = !long_part.is_empty();
    let (radix, digits) = if let Some(d) = num.strip_prefix("0x").or(num.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = num.strip_prefix("0b").or(num.strip_prefix("0B")) {
        (2, d)
    } else if num.len() > 1 && num.starts_with('0') {
        (8, &num[1..])
    } else {
        (10, num)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("`{num}` is not a base-{radix} number"));
    }
    let magnitude = u128::from_str_radix(digits, radix).map_err(|e| format!("`{num}`: {e}"))?;
    // C's candidate types for the literal, in order (LP64: long is 64 bits).
    let candidates: &[&'static str] = match (unsigned, long, radix == 10) {
        (false, false, true) => &["i32", "i64"],
        (false, false, false) => &["i32", "u32", "i64", "u64"],
        (false, true, true) => &["i64"],
        (false, true, false) => &["i64", "u64"],
        (true, false, _) => &["u32", "u64"],
        (true, true, _) => &["u64"],
    };
    let max = |ty: &str| -> u128 {
        match ty {
            "i32" => i32::MAX as u128,
            "u32" => u32::MAX as u128,
            "i64" => i64::MAX as u128,
            _ => u64::MAX as u128,
        }
    };
    // A negated literal may reach the type's minimum (`-2147483648` is `-(2147483648L)`
    // in C, but its value fits an i64 either way).
    let rust_type = candidates
        .iter()
        .copied()
        .find(|ty| magnitude <= max(ty))
        .ok_or_else(|| format!("`{num}` does not fit 64 bits"))?;
    if neg && rust_type.starts_with('u') {
        return Err(format!(
            "`{t}` negates an unsigned literal (its C value wraps around)"
        ));
    }
    let value = if neg {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    Ok((value, rust_type))
}

/// The `SC_` integer defines of one file's text, in order; `file` names it in errors.
pub fn parse_text(file: &str, text: &str) -> Result<Vec<KernelConst>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut continued = false;
    for (idx, raw) in lines.iter().enumerate() {
        let code = strip_line_comments(raw, &mut in_block);
        let code = code.trim();
        let is_continuation = continued;
        continued = code.ends_with('\\');
        if is_continuation {
            continue;
        }
        let Some(directive) = code.strip_prefix('#') else {
            continue;
        };
        let Some(rest) = directive.trim_start().strip_prefix("define") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let rest = rest.trim_start();
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, value) = rest.split_at(name_len);
        if !name.starts_with("SC_") || name.len() == 3 || value.starts_with('(') {
            continue;
        }
        let value = value.trim();
        let line = idx + 1;
        let value_text = value.trim_end_matches('\\').trim();
        if !looks_like_integer(value_text) {
            continue;
        }
        let bad = |why: String| {
            format!(
                "{file}:{line}: cannot read `#define {name} {value}` as an integer constant: \
                 {why}. An SC_ define whose value starts with a digit is exported to Rust \
                 (crate::kernels::consts) by build.rs and must be one integer literal on one \
                 line: decimal, 0x hex, 0 octal or 0b binary, an optional u/l/ll suffix and \
                 an optional leading minus sign."
            )
        };
        if value.ends_with('\\') {
            return Err(bad("the value continues on the next line".into()));
        }
        let (v, rust_type) = parse_literal(value).map_err(bad)?;
        let mut doc: Vec<&str> = Vec::new();
        for prev in lines[..idx].iter().rev() {
            match prev.trim().strip_prefix("//") {
                Some(c) => doc.push(c.trim_start_matches('/').trim()),
                None => break,
            }
        }
        doc.reverse();
        let mut doc = doc.join(" ").trim().to_string();
        // A define right below another one without a comment of its own shares the
        // comment of its group (`// Activation codes.` above three defines).
        if doc.is_empty() {
            if let Some(last) = out
                .last()
                .filter(|c: &&KernelConst| c.sites[0].line + 1 == line)
            {
                doc = last.doc.clone();
            }
        }
        out.push(KernelConst {
            name: name.to_string(),
            value: v,
            rust_type,
            literal: value.to_string(),
            doc,
            sites: vec![Site {
                file: file.to_string(),
                line,
            }],
        });
    }
    Ok(out)
}

/// Merges the defines of several files (`(file, text)` pairs) into one list, in order of
/// first definition; fails when a name is defined with two different values or types.
pub fn merge(files: &[(String, String)]) -> Result<Vec<KernelConst>, String> {
    let mut all: Vec<KernelConst> = Vec::new();
    for (file, text) in files {
        for c in parse_text(file, text)? {
            match all.iter_mut().find(|a| a.name == c.name) {
                None => all.push(c),
                Some(a) if a.value == c.value && a.rust_type == c.rust_type => {
                    if a.doc.is_empty() {
                        a.doc = c.doc;
                    }
                    a.sites.extend(c.sites);
                }
                Some(a) => {
                    let (first, second) = (&a.sites[0], &c.sites[0]);
                    return Err(format!(
                        "{name} is defined twice with different values: {}:{} has `{}` \
                         ({} {}) and {}:{} has `{}` ({} {}). Define each SC_ constant once \
                         (build.rs exports it to Rust as crate::kernels::consts::{name}).",
                        first.file,
                        first.line,
                        a.literal,
                        a.rust_type,
                        a.value,
                        second.file,
                        second.line,
                        c.literal,
                        c.rust_type,
                        c.value,
                        name = c.name
                    ));
                }
            }
        }
    }
    Ok(all)
}

/// Reads the `.cu` and `.cuh` files of `dir` (sorted by name) and merges their defines;
/// files are named relative to `root` in the result and in errors.
pub fn read_dir(root: &Path, dir: &Path) -> Result<Vec<KernelConst>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cu" || e == "cuh"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let name = p.strip_prefix(root).unwrap_or(&p);
        let name = name.to_string_lossy().replace('\\', "/");
        files.push((name, text));
    }
    merge(&files)
}

/// The files that define `c`, each once, in order.
fn files_of(c: &KernelConst) -> Vec<&str> {
    let mut files: Vec<&str> = Vec::new();
    for site in &c.sites {
        if !files.contains(&site.file.as_str()) {
            files.push(&site.file);
        }
    }
    files
}

/// `text` with the characters Markdown would read as markup escaped, for a doc comment.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Rust module `consts` (inside the kernel table, next to `KernelConst`): one documented
/// `pub const` per constant, and `ALL`, every constant with its value and files.
pub fn render(consts: &[KernelConst]) -> String {
    let mut s = String::new();
    s.push_str(
        "/// The integer constants of kernels/*.cu and kernels/*.cuh (`#define SC_<NAME> <integer>`),\n\
         /// read by build.rs: tile sizes, activation codes and the block-size limits the launch\n\
         /// code must agree with. Each has the Rust type of its C literal (`int` is `i32`).\n\
         #[allow(non_upper_case_globals)]\n\
         pub mod consts {\n    use super::KernelConst;\n",
    );
    for c in consts {
        let files = files_of(c);
        let mut doc = format!("{} from {}.", escape_markdown(&c.name), files.join(", "));
        if !c.doc.is_empty() {
            write!(doc, " {}", escape_markdown(&c.doc)).unwrap();
        }
        writeln!(
            s,
            "    /// {doc}\n    pub const {}: {} = {};",
            c.name, c.rust_type, c.value
        )
        .unwrap();
    }
    s.push_str("    /// Every constant of this module: name, value and the files that define it.\n    pub static ALL: &[KernelConst] = &[\n");
    for c in consts {
        let files: Vec<String> = files_of(c).iter().map(|f| format!("{f:?}")).collect();
        writeln!(
            s,
            "        KernelConst {{ name: {:?}, value: {}, files: &[{}] }},",
            c.name,
            c.value,
            files.join(", ")
        )
        .unwrap();
    }
    s.push_str("    ];\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::{merge, parse_literal, parse_text, render};

    fn one(text: &str) -> Result<Vec<super::KernelConst>, String> {
        parse_text("kernels/t.cu", text)
    }

    #[test]
    fn literals_get_c_values_and_types() {
        assert_eq!(parse_literal("16"), Ok((16, "i32")));
        assert_eq!(parse_literal("(-1)"), Ok((-1, "i32")));
        assert_eq!(parse_literal("0x10"), Ok((16, "i32")));
        assert_eq!(parse_literal("010"), Ok((8, "i32")));
        assert_eq!(parse_literal("0b101"), Ok((5, "i32")));
        assert_eq!(parse_literal("0"), Ok((0, "i32")));
        assert_eq!(parse_literal("8u"), Ok((8, "u32")));
        assert_eq!(parse_literal("8UL"), Ok((8, "u64")));
        assert_eq!(parse_literal("8llu"), Ok((8, "u64")));
        assert_eq!(parse_literal("8L"), Ok((8, "i64")));
        assert_eq!(parse_literal("2147483648"), Ok((2147483648, "i64")));
        assert_eq!(parse_literal("0xffffffff"), Ok((0xffff_ffff, "u32")));
        assert_eq!(parse_literal("-2147483648"), Ok((-2147483648, "i64")));
        for bad in [
            "16x",
            "0x",
            "09",
            "8 * 2",
            "1'000",
            "8lul",
            "8lL",
            "-1u",
            "99999999999999999999999",
        ] {
            assert!(parse_literal(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn reads_sc_defines_with_their_comments() {
        let text = "#include \"common.cuh\"\n\
                    // Output tile side.\n\
                    // The block is [TILE x TILE].\n\
                    #define SC_TILE 16 // trailing\n\
                    #  define SC_COB (8) /* block */\n\
                    \n\
                    #define SC_LONE 0x10u\n\
                    #define OTHER 3\n\
                    #define SC_FN(x) (x)\n\
                    #define SC_EXPR (SC_TILE * 2)\n\
                    #define SC_FLAG\n\
                    /*\n#define SC_COMMENTED 1\n*/\n\
                    #ifndef SC_TILE\n";
        let c = one(text).unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["SC_TILE", "SC_COB", "SC_LONE"]);
        assert_eq!(
            (c[0].value, c[0].rust_type, c[0].sites[0].line),
            (16, "i32", 4)
        );
        assert_eq!(c[0].doc, "Output tile side. The block is [TILE x TILE].");
        assert_eq!((c[1].value, c[1].doc.as_str()), (8, c[0].doc.as_str()));
        assert_eq!(
            (c[2].value, c[2].rust_type, c[2].doc.as_str()),
            (16, "u32", "")
        );
    }

    #[test]
    fn malformed_integer_defines_name_file_and_line() {
        for (text, line) in [
            ("#define SC_A 16\n#define SC_B 16x\n", 2),
            ("\n\n#define SC_C 8 * 2\n", 3),
            ("#define SC_D -0x\n", 1),
            ("#define SC_E 16 \\\n  + 1\n", 1),
        ] {
            let e = one(text).unwrap_err();
            assert!(e.starts_with(&format!("kernels/t.cu:{line}: ")), "{e}");
            assert!(e.contains("integer constant"), "{e}");
        }
    }

    #[test]
    fn duplicates_must_agree() {
        let files = |a: &str, b: &str| {
            vec![
                ("kernels/a.cu".to_string(), a.to_string()),
                ("kernels/b.cuh".to_string(), b.to_string()),
            ]
        };
        let ok = merge(&files("#define SC_X 8\n", "\n#define SC_X 0x8\n")).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].sites.len(), 2);
        let e = merge(&files("#define SC_X 8\n", "\n#define SC_X 16\n")).unwrap_err();
        for needle in ["SC_X", "kernels/a.cu:1", "kernels/b.cuh:2", "`8`", "`16`"] {
            assert!(e.contains(needle), "{needle} missing: {e}");
        }
        let e = merge(&files("#define SC_X 8\n", "#define SC_X 8u\n")).unwrap_err();
        assert!(e.contains("different values"), "{e}");
    }

    #[test]
    fn rendered_module_documents_every_constant() {
        let c = merge(&[(
            "kernels/a.cu".to_string(),
            "// Tile <side> *here*.\n#define SC_T 16\n#define SC_N -3L\n".to_string(),
        )])
        .unwrap();
        let r = render(&c);
        assert!(
            r.contains("    /// SC\\_T from kernels/a.cu. Tile \\<side\\> \\*here\\*.\n    pub const SC_T: i32 = 16;"),
            "{r}"
        );
        assert!(r.contains("pub const SC_N: i64 = -3;"), "{r}");
        assert!(
            r.contains("KernelConst { name: \"SC_N\", value: -3, files: &[\"kernels/a.cu\"] }"),
            "{r}"
        );
    }
}
