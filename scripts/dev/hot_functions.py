#!/usr/bin/env python3
"""Writes nomad-muse-sys/link/hot_functions.txt: the functions of
libnomad_muse.so that C hosts run (load, parity check, bars, MIDI), which
build.rs packs together at the start of `.text`. The kernel maps a library's
code in 64 KB windows around each page touched, so 1.2 MB of functions spread
over 5.9 MB of `.text` kept 5.4 MB resident (README, "Memory").

Each host command runs under valgrind's callgrind twice (fp32 and int8
experts, NOMAD_MUSE_QUANTIZED=0/1); the names of the library's functions it
executed are written in their order in LIB. Dev-only; needs valgrind.

    scripts/dev/hot_functions.py target/release/libnomad_muse.so \\
        build/cpp_examples/generation_loop artifacts/onnx /tmp/g.mid 16 \\
        ';;' build/cpp_examples/follow_chords artifacts/onnx /tmp/f.mid
"""
import os
import re
import subprocess
import sys
import tempfile

OUT = os.path.join(os.path.dirname(__file__), "../../nomad-muse-sys/link/hot_functions.txt")
HEADER = """\
# Functions of libnomad_muse.so a C host runs, in library order: build.rs
# places them first in .text (exact names, then each name with its hash
# wildcarded, so a stale line still places its family). Written by
# scripts/dev/hot_functions.py; a line that matches nothing changes nothing.
"""
# Always packed, whatever ran under callgrind: the fused step's code for every
# instruction set (a host on another CPU runs other kernels; 73 KB in all).
ALWAYS = [
    "_ZN10nomad_muse7runtime5fused*",
    "*nomad_muse..runtime..fused*",
    "*core_arch3x86*avx512*",
]


def executed(callgrind_out, lib_name):
    """Names of the functions callgrind saw run inside `lib_name`."""
    names = {"ob": {}, "fn": {}}
    current, seen = None, set()
    for line in open(callgrind_out, errors="replace"):
        m = re.match(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        called, kind, ident, name = m.groups()
        if name:
            names[kind][ident] = name
        if called:
            continue
        if kind == "ob":
            current = names["ob"].get(ident, "")
        elif lib_name in (current or ""):
            seen.add(names["fn"].get(ident, ""))
    return seen


def text_symbols(lib):
    out = subprocess.run(["nm", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (l.split() for l in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    lib, commands = sys.argv[1], [[]]
    for arg in sys.argv[2:]:
        if arg == ";;":
            commands.append([])
        else:
            commands[-1].append(arg)
    lib_name = os.path.basename(lib).split(".so")[0]
    hot = set()
    with tempfile.TemporaryDirectory() as tmp:
        for i, command in enumerate(c for c in commands if c):
            for quantized in ("0", "1"):
                out = os.path.join(tmp, f"cg.{i}.{quantized}")
                env = dict(os.environ, NOMAD_MUSE_QUANTIZED=quantized)
                subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}"]
                               + command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                hot |= executed(out, lib_name)
    where = text_symbols(lib)
    # LLVM merges identical functions into aliases: the section is named
    # after one of the names at an address, callgrind may report another.
    at = {}
    for name, address in where.items():
        at.setdefault(address, set()).add(name)
    aliases = {alias for name in hot if name in where for alias in at[where[name]]}
    ordered = sorted(aliases, key=lambda n: (where[n], n))
    with open(OUT, "w") as f:
        f.write(HEADER)
        f.write("\n".join(ALWAYS + ordered) + "\n")
    missing = len(hot - set(where))
    print(f"{len(ordered)} names of {len(hot) - missing} functions ({missing} not in the symbol table) -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
