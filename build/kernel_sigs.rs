//! Reads the `extern "C" __global__ void name(params)` signatures of a .cu file, so that
//! build.rs can write the Rust kernel table and the emulator's launch trampolines from the
//! one source of truth, the kernels themselves.

use std::path::Path;

/// Kind of one kernel parameter, as the Rust launch code passes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `const float*`
    ConstF32Ptr,
    /// `float*`
    MutF32Ptr,
    /// `const unsigned short*` (16-bit storage: bf16 or fp16 bits)
    ConstU16Ptr,
    /// `unsigned short*`
    MutU16Ptr,
    /// `int*` (counters, e.g. the split-K fold's tickets)
    MutI32Ptr,
    /// `int`
    I32,
    /// `float`
    F32,
}

impl ParamKind {
    /// The variant's name in `crate::kernels::ParamKind`.
    pub fn rust_name(self) -> &'static str {
        match self {
            ParamKind::ConstF32Ptr => "ConstF32Ptr",
            ParamKind::MutF32Ptr => "MutF32Ptr",
            ParamKind::ConstU16Ptr => "ConstU16Ptr",
            ParamKind::MutU16Ptr => "MutU16Ptr",
            ParamKind::MutI32Ptr => "MutI32Ptr",
            ParamKind::I32 => "I32",
            ParamKind::F32 => "F32",
        }
    }
    /// The C++ type the emulator's trampoline casts the argument to.
    pub fn cpp_type(self) -> &'static str {
        match self {
            ParamKind::ConstF32Ptr => "const float*",
            ParamKind::MutF32Ptr => "float*",
            ParamKind::ConstU16Ptr => "const unsigned short*",
            ParamKind::MutU16Ptr => "unsigned short*",
            ParamKind::MutI32Ptr => "int*",
            ParamKind::I32 => "int",
            ParamKind::F32 => "float",
        }
    }
}

/// One parameter of a kernel's signature.
#[derive(Clone, Debug)]
pub struct ParamSig {
    /// The parameter's name as written in the .cu signature (`c_in` of `int c_in`).
    pub name: String,
    /// Its kind.
    pub kind: ParamKind,
}

/// One kernel's signature.
#[derive(Clone, Debug)]
pub struct KernelSig {
    /// File stem of the .cu file (the CUDA module).
    pub module: String,
    /// The kernel's (unmangled) name.
    pub name: String,
    /// Its parameters in order.
    pub params: Vec<ParamSig>,
}

/// Strips `//` and `/* */` comments.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Whether `w` is a C identifier (and not one of the type words a parameter may use, so
/// that an unnamed `unsigned int` is not read as a parameter named `int`).
fn is_ident(w: &str) -> bool {
    if matches!(w, "int" | "unsigned" | "float" | "const" | "signed") {
        return false;
    }
    let mut chars = w.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads one parameter declaration (`const float* __restrict__ x`, `int c_in`): its kind
/// and its name.
fn classify(param: &str, file: &Path, kernel: &str) -> Result<ParamSig, String> {
    let words: Vec<&str> = param
        .split(|c: char| c.is_whitespace() || c == '*')
        .filter(|w| !w.is_empty() && *w != "__restrict__" && *w != "restrict")
        .collect();
    let is_ptr = param.contains('*');
    let is_const = words.contains(&"const");
    let non_const: Vec<&str> = words.iter().copied().filter(|w| *w != "const").collect();
    let ty: Vec<&str> = non_const[..non_const.len().saturating_sub(1)].to_vec();
    let ty = ty.join(" ");
    let name = non_const.last().copied().unwrap_or_default();
    let kind = match (is_ptr, is_const, ty.as_str()) {
        (true, true, "float") => ParamKind::ConstF32Ptr,
        (true, false, "float") => ParamKind::MutF32Ptr,
        (true, true, "unsigned short") => ParamKind::ConstU16Ptr,
        (true, false, "unsigned short") => ParamKind::MutU16Ptr,
        (true, false, "int") => ParamKind::MutI32Ptr,
        (false, _, "int") => ParamKind::I32,
        (false, _, "float") => ParamKind::F32,
        _ => {
            return Err(format!(
                "{}: kernel {kernel}: parameter '{param}' has a type the launch code does not \
                 support (use const float*, float*, const unsigned short*, unsigned short*, int*, int or float)",
                file.display()
            ))
        }
    };
    if !is_ident(name) {
        return Err(format!(
            "{}: kernel {kernel}: parameter '{param}' has no name the launch code can check \
             (write `type name`)",
            file.display()
        ));
    }
    Ok(ParamSig {
        name: name.to_string(),
        kind,
    })
}

/// Parses every `extern "C" __global__ void` kernel of `file`.
pub fn parse_file(file: &Path) -> Result<Vec<KernelSig>, String> {
    let src = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let src = strip_comments(&src);
    let module = file.file_stem().unwrap().to_string_lossy().to_string();
    let mut out = Vec::new();
    let mut rest = src.as_str();
    while let Some(pos) = rest.find("__global__") {
        let before = &rest[..pos];
        let decl = &rest[pos + "__global__".len()..];
        let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
        let prefix = &before[line_start..];
        // `void __launch_bounds__(threads, blocks) name(`: the bounds are an attribute of
        // the kernel, not its parameter list.
        let (bounded, after) = match decl.trim_start().strip_prefix("void") {
            Some(v) if v.trim_start().starts_with("__launch_bounds__") => {
                let close = v
                    .find(')')
                    .ok_or_else(|| format!("{}: unterminated __launch_bounds__", file.display()))?;
                (true, &v[close + 1..])
            }
            _ => (false, decl),
        };
        let open = after
            .find('(')
            .ok_or_else(|| format!("{}: bad kernel", file.display()))?;
        let mut head: Vec<&str> = after[..open].split_whitespace().collect();
        if bounded {
            head.insert(0, "void");
        }
        let name = head.last().copied().unwrap_or_default().to_string();
        if head.first() != Some(&"void") {
            return Err(format!(
                "{}: kernel {name} must return void",
                file.display()
            ));
        }
        if !prefix.contains("extern \"C\"") {
            return Err(format!(
                "{}: kernel {name} must be declared extern \"C\" __global__ void on one line",
                file.display()
            ));
        }
        let close = after[open..]
            .find(')')
            .ok_or_else(|| format!("{}: unterminated parameters of {name}", file.display()))?;
        let list = &after[open + 1..open + close];
        let mut params: Vec<ParamSig> = Vec::new();
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let param = classify(p, file, &name)?;
            if params.iter().any(|q| q.name == param.name) {
                return Err(format!(
                    "{}: kernel {name}: parameter name '{}' appears twice",
                    file.display(),
                    param.name
                ));
            }
            params.push(param);
        }
        out.push(KernelSig {
            module: module.clone(),
            name,
            params,
        });
        rest = &after[open + close..];
    }
    Ok(out)
}
