//! Disassembles the compiled kernels and counts their instructions per loop: the cubin of
//! every arch is extracted from each module's fatbin (`cuobjdump -xelf all`), disassembled
//! with `nvdisasm -c -g -ndf` (code only, source lines from nvcc's `-lineinfo`, no dataflow
//! pass: its labels are not needed), and parsed here into per-function instruction lists;
//! [`analyze`] finds the loops (backward branches), nests them, and counts each loop's
//! instruction mix exclusive of its inner loops, plus the straight-line code outside every
//! loop. [`render`] writes the `SASS` table of `crate::kernels`.
//!
//! Missing tools are not an error (the table is then empty); output that cannot be parsed
//! is, since it means this parser no longer matches the disassembler.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Instruction classes, in the order of [`Mix`]'s counts and of `InstrMix`'s fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// FFMA and other fused fp32 multiply-adds (FFMA32I, FFMA2).
    Ffma,
    /// Other fp32 arithmetic: FADD, FMUL, FMNMX, FSETP, FSEL, MUFU, F2F, …
    Fp32Other,
    /// Integer arithmetic and logic (vector and uniform datapath): IMAD, IADD3, LEA, ISETP,
    /// LOP3, SHF, IABS, SEL, I2F/F2I, …
    Int,
    /// Shared-memory loads (LDS, LDSM).
    Lds,
    /// Shared-memory stores (STS).
    Sts,
    /// Global loads: LDG, generic LD (the kernels' generic pointers are global), LDGSTS.
    Ldg,
    /// Global stores: STG, generic ST.
    Stg,
    /// Warp shuffles (SHFL).
    Shfl,
    /// Barriers (BAR).
    Bar,
    /// Tensor-core matrix multiply-accumulates (HMMA, IMMA, DMMA, HGMMA).
    Mma,
    /// Control flow: BRA, BSSY, BSYNC, EXIT, CALL, RET, …
    Branch,
    /// Everything else: moves, constant loads, special registers, fp16, NOP, …
    Other,
}

/// Field names of `InstrMix`, in [`Class`] order.
pub const CLASS_NAMES: [&str; 12] = [
    "ffma",
    "fp32_other",
    "int",
    "lds",
    "sts",
    "ldg",
    "stg",
    "shfl",
    "bar",
    "mma",
    "branch",
    "other",
];

/// Integer opcodes; a `U` in front of one is its uniform-datapath twin (UIMAD, ULEA, …).
const INT_OPS: &[&str] = &[
    "IMAD",
    "IMAD32I",
    "IMADSP",
    "IMUL",
    "IMUL32I",
    "IADD",
    "IADD3",
    "IADD32I",
    "VIADD",
    "VIADDMNMX",
    "IMNMX",
    "VIMNMX",
    "VIMNMX3",
    "IABS",
    "LEA",
    "ISCADD",
    "ISETP",
    "ISET",
    "LOP",
    "LOP3",
    "LOP32I",
    "SHF",
    "SHL",
    "SHR",
    "SEL",
    "PRMT",
    "POPC",
    "FLO",
    "BREV",
    "BMSK",
    "SGXT",
    "IDP",
    "I2F",
    "I2FP",
    "F2I",
    "F2IP",
    "I2I",
    "I2IP",
];

const BRANCH_OPS: &[&str] = &[
    "BRA",
    "BRX",
    "BRXU",
    "JMP",
    "JMX",
    "JMXU",
    "CALL",
    "RET",
    "EXIT",
    "BSSY",
    "BSYNC",
    "BREAK",
    "BPT",
    "KILL",
    "ENDCOLLECTIVE",
];

impl Class {
    /// The class of an opcode without predicate or modifiers (`FFMA`, not `FFMA.FTZ`).
    pub fn of(op: &str) -> Class {
        match op {
            "FFMA" | "FFMA32I" | "FFMA2" => Class::Ffma,
            "FADD" | "FADD32I" | "FADD2" | "FMUL" | "FMUL32I" | "FMUL2" | "FMNMX" | "FMNMX3"
            | "FSETP" | "FSET" | "FSEL" | "FCHK" | "FRND" | "FSWZADD" | "MUFU" | "F2F" => {
                Class::Fp32Other
            }
            "LDS" | "LDSM" => Class::Lds,
            "STS" => Class::Sts,
            "LDG" | "LD" | "LDGSTS" => Class::Ldg,
            "STG" | "ST" => Class::Stg,
            "SHFL" => Class::Shfl,
            "BAR" => Class::Bar,
            "HMMA" | "IMMA" | "DMMA" | "HGMMA" => Class::Mma,
            _ if INT_OPS.contains(&op)
                || op.strip_prefix('U').is_some_and(|o| INT_OPS.contains(&o)) =>
            {
                Class::Int
            }
            _ if BRANCH_OPS.contains(&op) => Class::Branch,
            _ => Class::Other,
        }
    }

    /// LDS, STS, LDG or STG (the classes whose source lines a loop lists).
    pub fn is_memory(self) -> bool {
        matches!(self, Class::Lds | Class::Sts | Class::Ldg | Class::Stg)
    }
}

/// Instruction counts per [`Class`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mix(pub [u32; CLASS_NAMES.len()]);

impl Mix {
    pub fn add(&mut self, c: Class) {
        self.0[c as usize] += 1;
    }
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }
}

/// One disassembled instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instr {
    /// Byte offset in its function.
    pub offset: u32,
    /// Guard predicate without the `@` (`!P0`), if any.
    pub predicate: Option<String>,
    /// Opcode without modifiers (`ISETP` of `ISETP.NE.AND`).
    pub opcode: String,
    /// The modifiers (`["NE", "AND"]`).
    pub modifiers: Vec<String>,
    /// Source file name (no directories) and line, from the line info before it.
    pub source: Option<(String, u32)>,
    /// A BRA's target offset.
    pub target: Option<u32>,
}

/// One function (kernel or non-inlined device function) of a cubin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Its name: the `.text.<name>` section's.
    pub name: String,
    pub instrs: Vec<Instr>,
}

/// A loop: the code from a backward branch's target to the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loop {
    /// 1 for an outermost loop.
    pub depth: u8,
    /// Offset of its first instruction (the branch target).
    pub start: u32,
    /// Offset of its last instruction (the backward branch).
    pub end: u32,
    /// Instructions in it but in none of its inner loops.
    pub mix: Mix,
    /// (file, line, count) of those of them that access memory (LDS/STS/LDG/STG), sorted;
    /// ("", 0) for ones without line info.
    pub mem_lines: Vec<(String, u32, u32)>,
}

/// The instruction counts of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    pub kernel: String,
    /// Every instruction of the function (including the trailing self-branch and padding).
    pub instructions: u32,
    /// Instructions outside every loop.
    pub straight: Mix,
    /// Its loops in order of start offset (an outer loop before its inner ones).
    pub loops: Vec<Loop>,
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `//## File "<path>", line <n>` (anything after the number is ignored).
fn parse_line_info(rest: &str) -> Option<(String, u32)> {
    let rest = rest.strip_prefix('"')?;
    let (path, rest) = rest.split_once('"')?;
    let rest = rest.trim_start().strip_prefix(',')?.trim_start();
    let num = rest.strip_prefix("line")?.trim_start();
    let end = num.find(|c: char| !c.is_ascii_digit()).unwrap_or(num.len());
    let line = num[..end].parse().ok()?;
    Some((basename(path).to_string(), line))
}

fn is_opcode(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Parses `nvdisasm -c -g` text into functions. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<Function>, String> {
    struct Open {
        f: Function,
        labels: BTreeMap<String, u32>,
        pending: Vec<String>,
        branches: Vec<(usize, String)>,
    }
    fn close(o: Open) -> Result<Function, String> {
        let mut o = o;
        let end = o.f.instrs.last().map_or(0, |i| i.offset + 16);
        for l in o.pending.drain(..) {
            o.labels.insert(l, end);
        }
        for (i, label) in &o.branches {
            let t = o.labels.get(label).ok_or_else(|| {
                format!(
                    "{}: branch at {:#x} to `{label}`, which is not a label of the function",
                    o.f.name, o.f.instrs[*i].offset
                )
            })?;
            o.f.instrs[*i].target = Some(*t);
        }
        Ok(o.f)
    }
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    let mut source: Option<(String, u32)> = None;
    for (n, raw) in text.lines().enumerate() {
        let err = |what: &str| format!("line {}: {what}: {}", n + 1, raw.trim());
        let line = raw.trim();
        if let Some(rest) = line
            .strip_prefix(".section")
            .filter(|r| r.starts_with(char::is_whitespace))
        {
            if let Some(o) = open.take() {
                out.push(close(o)?);
            }
            source = None;
            let name = rest.trim().split(',').next().unwrap_or_default();
            if let Some(f) = name.strip_prefix(".text.") {
                open = Some(Open {
                    f: Function {
                        name: f.to_string(),
                        instrs: Vec::new(),
                    },
                    labels: BTreeMap::new(),
                    pending: Vec::new(),
                    branches: Vec::new(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("//## File") {
            source = Some(parse_line_info(rest.trim()).ok_or_else(|| err("bad line info"))?);
        } else if let Some(rest) = line.strip_prefix("/*") {
            let (off, rest) = rest
                .split_once("*/")
                .ok_or_else(|| err("unterminated offset"))?;
            let offset =
                u32::from_str_radix(off.trim(), 16).map_err(|_| err("offset is not hex"))?;
            let o = open
                .as_mut()
                .ok_or_else(|| err("instruction outside a .text section"))?;
            let (body, _) = rest
                .split_once(';')
                .ok_or_else(|| err("instruction without ';'"))?;
            let mut body = body.trim();
            let mut predicate = None;
            if let Some(p) = body.strip_prefix('@') {
                let (p, r) = p
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| err("predicate without instruction"))?;
                predicate = Some(p.to_string());
                body = r.trim_start();
            }
            let (op, operands) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
            let mut parts = op.split('.');
            let opcode = parts.next().unwrap_or_default().to_string();
            if !is_opcode(&opcode) {
                return Err(err("no opcode"));
            }
            if opcode == "BRA" {
                let label = operands
                    .split_once("`(")
                    .and_then(|(_, r)| r.split_once(')'))
                    .map(|(l, _)| l.to_string())
                    .ok_or_else(|| err("branch target is not a label"))?;
                o.branches.push((o.f.instrs.len(), label));
            }
            for l in o.pending.drain(..) {
                o.labels.insert(l, offset);
            }
            if o.f.instrs.last().is_some_and(|i| i.offset >= offset) {
                return Err(err("offsets out of order"));
            }
            o.f.instrs.push(Instr {
                offset,
                predicate,
                opcode,
                modifiers: parts.map(str::to_string).collect(),
                source: source.clone(),
                target: None,
            });
        } else if let Some(label) = line.strip_suffix(':') {
            if label.is_empty() || label.contains(char::is_whitespace) {
                return Err(err("unrecognised line"));
            }
            if let Some(o) = open.as_mut() {
                o.pending.push(label.to_string());
            }
        } else if !(line.is_empty() || line.starts_with('.') || line.starts_with("//")) {
            return Err(err("unrecognised line"));
        }
    }
    if let Some(o) = open.take() {
        out.push(close(o)?);
    }
    Ok(out)
}

/// Finds a function's loops and counts its instructions.
///
/// A BRA (predicated or not) whose target is at or before it closes a loop [target, BRA];
/// branches to the same target make one loop, up to the last of them; a branch to itself
/// (the trap after a kernel's last EXIT) is not a loop. Loops that partly overlap (not
/// produced by structured code) are merged into one. Nesting is by containment; every
/// instruction counts in the innermost loop that holds it, or in the straight-line mix.
pub fn analyze(f: &Function) -> Analysis {
    let mut spans: BTreeMap<u32, u32> = BTreeMap::new();
    for i in &f.instrs {
        if let Some(t) = i.target.filter(|&t| t < i.offset) {
            let e = spans.entry(t).or_insert(i.offset);
            *e = (*e).max(i.offset);
        }
    }
    let mut spans: Vec<(u32, u32)> = spans.into_iter().collect();
    // Merge partial overlaps until the spans are nested or disjoint.
    'merge: loop {
        for a in 0..spans.len() {
            for b in 0..spans.len() {
                let ((s1, e1), (s2, e2)) = (spans[a], spans[b]);
                if s1 < s2 && s2 <= e1 && e1 < e2 {
                    spans[a] = (s1, e2);
                    spans.remove(b);
                    continue 'merge;
                }
            }
        }
        break;
    }
    spans.sort_by_key(|&(s, e)| (s, std::cmp::Reverse(e)));
    let contains = |(s, e): (u32, u32), off: u32| s <= off && off <= e;
    let mut loops: Vec<Loop> = spans
        .iter()
        .map(|&(start, end)| Loop {
            depth: spans
                .iter()
                .filter(|&&o| contains(o, start) && contains(o, end))
                .count() as u8,
            start,
            end,
            mix: Mix::default(),
            mem_lines: Vec::new(),
        })
        .collect();
    let mut straight = Mix::default();
    let mut lines: Vec<BTreeMap<(String, u32), u32>> = vec![BTreeMap::new(); loops.len()];
    for i in &f.instrs {
        let class = Class::of(&i.opcode);
        let inner = (0..loops.len())
            .filter(|&l| contains((loops[l].start, loops[l].end), i.offset))
            .max_by_key(|&l| loops[l].depth);
        match inner {
            Some(l) => {
                loops[l].mix.add(class);
                if class.is_memory() {
                    let key = i.source.clone().unwrap_or_default();
                    *lines[l].entry(key).or_default() += 1;
                }
            }
            None => straight.add(class),
        }
    }
    for (l, m) in loops.iter_mut().zip(lines) {
        l.mem_lines = m.into_iter().map(|((f, n), c)| (f, n, c)).collect();
    }
    let a = Analysis {
        kernel: f.name.clone(),
        instructions: f.instrs.len() as u32,
        straight,
        loops,
    };
    let counted = a.straight.total() + a.loops.iter().map(|l| l.mix.total()).sum::<u32>();
    assert_eq!(counted, a.instructions, "{}: instructions lost", a.kernel);
    a
}

/// The disassembly tools.
pub struct Tools {
    pub cuobjdump: PathBuf,
    pub nvdisasm: PathBuf,
}

/// Looks for cuobjdump and nvdisasm beside nvcc (a toolkit's bin, or the local install of
/// scripts/install-nvcc.sh), then on PATH, and checks that they run. Asks Cargo to rerun
/// when nvcc's folder changes, so that installing them later takes effect. The error says
/// which is missing or does not run.
pub fn find_tools(nvcc: &Path) -> Result<Tools, String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = nvcc.parent().filter(|d| d.is_dir()) {
        println!("cargo:rerun-if-changed={}", d.display());
        dirs.push(d.to_path_buf());
    }
    if let Some(paths) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&paths));
    }
    let find = |name: &str| -> Result<PathBuf, String> {
        let p = dirs
            .iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{name} not found beside nvcc or on PATH"))?;
        run(Command::new(&p).arg("--version"), name)?;
        Ok(p)
    };
    Ok(Tools {
        cuobjdump: find("cuobjdump")?,
        nvdisasm: find("nvdisasm")?,
    })
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    stdout_of(out, what)
}

/// A finished tool's stdout, or an error with its status and stderr.
fn stdout_of(out: std::process::Output, what: &str) -> Result<String, String> {
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{what}: output is not UTF-8"))
}

/// The analyses of every function of a module for every arch: extracts the cubins of
/// `fatbin` into `work` (emptied first), disassembles each, checks that each of `archs` is
/// there once. Errors name the module and arch.
pub fn disassemble_module(
    tools: &Tools,
    module: &str,
    fatbin: &Path,
    work: &Path,
    archs: &[String],
) -> Result<Vec<(String, Vec<Analysis>)>, String> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    run(
        Command::new(&tools.cuobjdump)
            .current_dir(work)
            .arg("-xelf")
            .arg("all")
            .arg(fatbin),
        &format!("cuobjdump on module {module}"),
    )?;
    // Extracted as <name>[.<n>].<arch>.cubin.
    let mut cubins: Vec<(String, PathBuf)> = Vec::new();
    for e in std::fs::read_dir(work).map_err(|e| format!("{}: {e}", work.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "cubin") {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let arch = stem.rsplit('.').next().unwrap_or_default().to_string();
            if !arch.starts_with("sm_") {
                return Err(format!(
                    "module {module}: cannot tell the arch of {}",
                    p.display()
                ));
            }
            cubins.push((arch, p));
        }
    }
    cubins.sort();
    let found: Vec<&String> = cubins.iter().map(|(a, _)| a).collect();
    let wanted: Vec<&String> = archs.iter().collect();
    if found != wanted {
        return Err(format!(
            "module {module}: cuobjdump extracted cubins for {found:?}, expected {wanted:?}"
        ));
    }
    // One nvdisasm per cubin, all at once (each spends most of its time starting up).
    let children: Vec<_> = cubins
        .iter()
        .map(|(arch, p)| {
            Command::new(&tools.nvdisasm)
                .args(["-c", "-g", "-ndf"])
                .arg(p)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run nvdisasm on module {module} {arch}: {e}"))
        })
        .collect();
    let mut out = Vec::new();
    for ((arch, _), child) in cubins.iter().zip(children) {
        let what = format!("nvdisasm on module {module} {arch}");
        let o = child?
            .wait_with_output()
            .map_err(|e| format!("{what}: {e}"))?;
        let text = stdout_of(o, &what)?;
        let funcs = parse(&text).map_err(|e| {
            format!("cannot parse the disassembly of module {module} for {arch}: {e}")
        })?;
        if funcs.is_empty() {
            return Err(format!("{what}: no function found"));
        }
        out.push((arch.clone(), funcs.iter().map(analyze).collect()));
    }
    Ok(out)
}

fn mix_lit(m: &Mix) -> String {
    let fields: Vec<String> = CLASS_NAMES
        .iter()
        .zip(m.0)
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    format!("InstrMix {{ {} }}", fields.join(", "))
}

/// The `SASS` table: one `SassKernel` per (function, arch).
pub fn render(rows: &[(String, Analysis)]) -> String {
    let mut t = String::from(
        "/// Instruction counts of every kernel per arch, from its SASS (empty without the \
         `cuda` feature or without cuobjdump and nvdisasm).\npub static SASS: &[SassKernel] = &[\n",
    );
    for (arch, a) in rows {
        writeln!(
            t,
            "    SassKernel {{ kernel: {:?}, arch: {arch:?}, instructions: {}, straight: {}, loops: &[",
            a.kernel,
            a.instructions,
            mix_lit(&a.straight)
        )
        .unwrap();
        for l in &a.loops {
            let lines: Vec<String> = l
                .mem_lines
                .iter()
                .map(|(f, n, c)| format!("MemLine {{ file: {f:?}, line: {n}, count: {c} }}"))
                .collect();
            writeln!(
                t,
                "        SassLoop {{ depth: {}, start: {}, end: {}, mix: {}, mem_lines: &[{}] }},",
                l.depth,
                l.start,
                l.end,
                mix_lit(&l.mix),
                lines.join(", ")
            )
            .unwrap();
        }
        t.push_str("    ] },\n");
    }
    t.push_str("];\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outer loop over a global load whose body holds an inner loop over shared memory,
    /// with line info, a kernel's closing EXIT, self-branch trap and padding, as
    /// `nvdisasm -c -g` prints them (sm_90).
    const NESTED: &str = "\
\t.target\tsm_90

\t.elftype\t@\"ET_EXEC\"


//--------------------- .text.nested               --------------------------
\t.section\t.text.nested,\"ax\",@progbits
\t.sectioninfo\t@\"SHI_REGISTERS=10\"
\t.align\t128
        .global         nested
        .type           nested,@function
        .size           nested,(.L_x_9 - nested)
        .other          nested,@\"STO_CUDA_ENTRY STV_DEFAULT\"
nested:
.text.nested:
\t//## File \"/src/kernels/nest.cu\", line 10
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   MOV R2, RZ ;
.L_x_0:
\t//## File \"/src/kernels/nest.cu\", line 12
        /*0020*/                   LDG.E R4, desc[UR4][R6.64] ;
        /*0030*/                   MOV R3, RZ ;
.L_x_1:
\t//## File \"/src/kernels/nest.cu\", line 14
        /*0040*/                   LDS R5, [R3] ;
        /*0050*/                   FFMA R2, R4, R5, R2 ;
        /*0060*/                   IADD3 R3, R3, 0x4, RZ ;
        /*0070*/                   ISETP.NE.AND P0, PT, R3, 0x40, PT ;
        /*0080*/               @P0 BRA `(.L_x_1) ;
\t//## File \"/src/kernels/nest.cu\", line 12
        /*0090*/                   IADD3 R6, R6, 0x4, RZ ;
        /*00a0*/                   ISETP.NE.AND P1, PT, R6, R7, PT ;
        /*00b0*/              @!P1 BRA `(.L_x_0) ;
\t//## File \"/src/kernels/nest.cu\", line 16
        /*00c0*/                   STG.E desc[UR4][R8.64], R2 ;
        /*00d0*/                   EXIT ;
.L_x_2:
        /*00e0*/                   BRA `(.L_x_2);
        /*00f0*/                   NOP;
.L_x_9:


//--------------------- SYMBOLS --------------------------

\t.type\t\tnested,@function
";

    fn mix(pairs: &[(Class, u32)]) -> Mix {
        let mut m = Mix::default();
        for &(c, n) in pairs {
            m.0[c as usize] = n;
        }
        m
    }

    #[test]
    fn instructions_are_split_into_predicate_opcode_modifiers_and_source() {
        let f = parse(NESTED).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "nested");
        let i = &f[0].instrs;
        assert_eq!(i.len(), 16);
        assert_eq!(i[0].offset, 0);
        assert_eq!(i[0].opcode, "S2R");
        assert_eq!(i[0].source, Some(("nest.cu".to_string(), 10)));
        assert_eq!(i[1].source, Some(("nest.cu".to_string(), 10)), "inherited");
        let isetp = &i[7];
        assert_eq!(isetp.offset, 0x70);
        assert_eq!(
            (isetp.opcode.as_str(), isetp.predicate.as_deref()),
            ("ISETP", None)
        );
        assert_eq!(isetp.modifiers, ["NE", "AND"]);
        assert_eq!(i[8].predicate.as_deref(), Some("P0"));
        assert_eq!(i[8].target, Some(0x40));
        assert_eq!(i[11].predicate.as_deref(), Some("!P1"));
        assert_eq!(i[11].target, Some(0x20));
        assert_eq!(i[11].source, Some(("nest.cu".to_string(), 12)));
        assert_eq!(i[14].target, Some(0xe0), "the trap branches to itself");
        assert_eq!(
            (i[2].opcode.as_str(), &i[2].modifiers[..]),
            ("LDG", &["E".to_string()][..])
        );
    }

    #[test]
    fn nested_loops_count_exclusively() {
        let a = analyze(&parse(NESTED).unwrap()[0]);
        assert_eq!(a.kernel, "nested");
        assert_eq!(a.instructions, 16);
        assert_eq!(a.loops.len(), 2, "{:?}", a.loops);
        let (outer, inner) = (&a.loops[0], &a.loops[1]);
        assert_eq!((outer.depth, outer.start, outer.end), (1, 0x20, 0xb0));
        assert_eq!((inner.depth, inner.start, inner.end), (2, 0x40, 0x80));
        use Class::*;
        assert_eq!(
            inner.mix,
            mix(&[(Lds, 1), (Ffma, 1), (Int, 2), (Branch, 1)])
        );
        assert_eq!(
            outer.mix,
            mix(&[(Ldg, 1), (Other, 1), (Int, 2), (Branch, 1)])
        );
        assert_eq!(
            a.straight,
            mix(&[(Other, 3), (Stg, 1), (Branch, 2)]),
            "S2R, MOV, NOP; STG; EXIT and the trap"
        );
        assert_eq!(inner.mem_lines, [("nest.cu".to_string(), 14, 1)]);
        assert_eq!(outer.mem_lines, [("nest.cu".to_string(), 12, 1)]);
        let sum: u32 = a.straight.total() + a.loops.iter().map(|l| l.mix.total()).sum::<u32>();
        assert_eq!(sum, a.instructions);
    }

    /// An unrolled dot product: one loop with 4 FFMAs, a vector LDS, uniform integer ops, a
    /// forward branch that skips a block inside the loop, and two backward branches to the
    /// same head (a `continue`); then a shuffle and a barrier after it. No line info.
    const UNROLLED: &str = "\
\t.section\t.text.dot4,\"ax\",@progbits
dot4:
.text.dot4:
        /*0000*/                   CS2R R8, SRZ ;
.L_x_3:
        /*0010*/                   LDS.128 R4, [R2] ;
        /*0020*/                   LDS.128 R12, [R3] ;
        /*0030*/                   UIADD3 UR4, UR4, 0x1, URZ ;
        /*0040*/                   FFMA R8, R4, R12, R8 ;
        /*0050*/                   FFMA R8, R5, R13, R8 ;
        /*0060*/                   FFMA R8, R6, R14, R8 ;
        /*0070*/                   FFMA R8, R7, R15, R8 ;
        /*0080*/                   ISETP.NE.U32.AND P0, PT, R9, RZ, PT ;
        /*0090*/               @P0 BRA `(.L_x_4) ;
        /*00a0*/                   FADD R8, R8, R9 ;
        /*00b0*/              @!P1 BRA `(.L_x_3) ;
.L_x_4:
        /*00c0*/                   UISETP.NE.AND UP0, UPT, UR4, UR5, UPT ;
        /*00d0*/                   BRA.U UP0, `(.L_x_3) ;
        /*00e0*/                   SHFL.BFLY PT, R9, R8, 0x10, 0x1f ;
        /*00f0*/                   FMNMX R8, R8, R9, !PT ;
        /*0100*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*0110*/                   EXIT ;
";

    #[test]
    fn an_unrolled_loop_with_two_back_edges_is_one_loop() {
        let f = parse(UNROLLED).unwrap();
        assert!(f[0].instrs.iter().all(|i| i.source.is_none()));
        assert_eq!(f[0].instrs[9].target, Some(0xc0), "forward branch");
        assert_eq!(f[0].instrs[13].target, Some(0x10));
        let a = analyze(&f[0]);
        assert_eq!(a.loops.len(), 1);
        let l = &a.loops[0];
        assert_eq!((l.depth, l.start, l.end), (1, 0x10, 0xd0));
        use Class::*;
        assert_eq!(
            l.mix,
            mix(&[(Lds, 2), (Int, 3), (Ffma, 4), (Branch, 3), (Fp32Other, 1)])
        );
        assert_eq!(l.mem_lines, [(String::new(), 0, 2)], "no line info");
        assert_eq!(
            a.straight,
            mix(&[(Other, 1), (Shfl, 1), (Fp32Other, 1), (Bar, 1), (Branch, 1)])
        );
    }

    #[test]
    fn functions_end_at_the_next_section() {
        let two = format!(
            "{}{}",
            UNROLLED,
            NESTED
                .replace(".L_x_0", ".L_x_20")
                .replace(".L_x_1", ".L_x_21")
        );
        let f = parse(&two).unwrap();
        assert_eq!(
            f.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["dot4", "nested"]
        );
        assert_eq!((f[0].instrs.len(), f[1].instrs.len()), (18, 16));
        assert_eq!(analyze(&f[1]).loops.len(), 2);
    }

    #[test]
    fn partly_overlapping_loops_are_merged() {
        let text = "\
\t.section\t.text.odd,\"ax\",@progbits
.L_x_0:
        /*0000*/                   IADD3 R0, R0, 0x1, RZ ;
.L_x_1:
        /*0010*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0020*/              @P0 BRA `(.L_x_0) ;
        /*0030*/              @P1 BRA `(.L_x_1) ;
        /*0040*/                   EXIT ;
";
        let a = analyze(&parse(text).unwrap()[0]);
        assert_eq!(a.loops.len(), 1);
        assert_eq!((a.loops[0].start, a.loops[0].end), (0, 0x30));
        assert_eq!(a.loops[0].mix.total(), 4);
    }

    #[test]
    fn unparseable_output_is_an_error_naming_the_line() {
        let sec = "\t.section\t.text.k,\"ax\",@progbits\n";
        for (text, what) in [
            ("        /*0000*/  EXIT ;\n".to_string(), "outside a .text"),
            (format!("{sec}        /*00g0*/  EXIT ;\n"), "not hex"),
            (format!("{sec}        /*0000*/  EXIT\n"), "without ';'"),
            (format!("{sec}        /*0000*/  @P0 ;\n"), "predicate"),
            (format!("{sec}        /*0000*/  0x12 ;\n"), "no opcode"),
            (
                format!("{sec}        /*0000*/  BRA 0x10 ;\n"),
                "not a label",
            ),
            (
                format!("{sec}        /*0000*/  BRA `(.L_x_7) ;\n"),
                "not a label of",
            ),
            (
                format!("{sec}        /*0010*/  NOP ;\n        /*0000*/  NOP ;\n"),
                "out of order",
            ),
            (format!("{sec}\t//## File \"a.cu\", col 3\n"), "line info"),
            (format!("{sec}        garbage here\n"), "unrecognised"),
        ] {
            let e = parse(&text).expect_err(what);
            assert!(e.contains(what), "{what}: {e}");
        }
    }

    #[test]
    fn opcodes_are_classified() {
        use Class::*;
        for (op, c) in [
            ("FFMA", Ffma),
            ("FFMA32I", Ffma),
            ("FADD", Fp32Other),
            ("MUFU", Fp32Other),
            ("FSETP", Fp32Other),
            ("IMAD", Int),
            ("UIMAD", Int),
            ("ULEA", Int),
            ("I2F", Int),
            ("F2I", Int),
            ("LOP3", Int),
            ("LDS", Lds),
            ("STS", Sts),
            ("LDG", Ldg),
            ("LD", Ldg),
            ("STG", Stg),
            ("SHFL", Shfl),
            ("BAR", Bar),
            ("BSSY", Branch),
            ("EXIT", Branch),
            ("MOV", Other),
            ("UMOV", Other),
            ("ULDC", Other),
            ("HFMA2", Other),
            ("LDC", Other),
        ] {
            assert_eq!(Class::of(op), c, "{op}");
        }
        assert_eq!(CLASS_NAMES.len(), Class::Other as usize + 1);
    }
}
