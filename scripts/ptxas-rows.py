#!/usr/bin/env python3
"""Rewrites the ptxas table of docs/kernels.md from the kernel table build.rs generated
(crate::kernels::RESOURCES): one row per kernel, registers for sm_80 / 86 / 89 / 90, static
shared memory, stack, spills and barriers. Rows keep their order; a kernel missing from the
docs is appended, a row whose kernel no longer exists is dropped.

Usage: scripts/ptxas-rows.py [path/to/kernel_table.rs]  (default: the newest under target/)
"""
import glob
import os
import re
import sys

ARCHS = ["sm_80", "sm_86", "sm_89", "sm_90"]
DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "kernels.md")
ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([a-z0-9_]+\.cu) \| [0-9 /]+ \|")


def newest_table():
    """The newest kernel table with ptxas figures (a build with the cuda feature)."""
    tables = [
        t
        for t in glob.glob("target/*/build/satcolor-*/out/kernel_table.rs")
        if "KernelResources {" in open(t).read()
    ]
    if not tables:
        sys.exit("no kernel_table.rs with ptxas figures under target/: build with --features cuda")
    return max(tables, key=os.path.getmtime)


def read(table):
    src = open(table).read()
    pairs = re.findall(r'Kernel \{ module: "([a-z0-9_]+)", name: "([a-z0-9_]+)"', src)
    modules = {name: module for module, name in pairs}
    res = {}
    for m in re.finditer(
        r'KernelResources \{ kernel: "([a-z0-9_]+)", arch: "(sm_\d+)", registers: (\d+), '
        r"shared_bytes: (\d+), stack_bytes: (\d+), spill_stores: (\d+), spill_loads: (\d+), "
        r"barriers: (\d+) \}",
        src,
    ):
        k, arch, regs, smem, stack, st, ld, bar = m.groups()
        r = res.setdefault(k, {"regs": {}, "rest": (smem, stack, st, ld, bar)})
        r["regs"][arch] = regs
    return modules, res


def row(name, module, r):
    regs = " / ".join(r["regs"].get(a, "?") for a in ARCHS)
    smem, stack, st, ld, bar = r["rest"]
    return f"| `{name}` | {module}.cu | {regs} | {smem} | {stack} | {st}/{ld} | {bar} |"


def main():
    table = sys.argv[1] if len(sys.argv) > 1 else newest_table()
    modules, res = read(table)
    lines = open(DOC).read().split("\n")
    out, seen, last_row = [], set(), None
    for line in lines:
        m = ROW.match(line)
        if m:
            name = m.group(1)
            if name in res:
                out.append(row(name, modules[name], res[name]))
                seen.add(name)
            last_row = len(out)
            continue
        out.append(line)
    missing = [row(k, modules[k], res[k]) for k in res if k not in seen]
    if missing and last_row is not None:
        out[last_row:last_row] = missing
    open(DOC, "w").write("\n".join(out))
    print(f"{len(seen)} rows updated, {len(missing)} added, from {table}")


if __name__ == "__main__":
    main()
