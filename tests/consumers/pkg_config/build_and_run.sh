#!/bin/sh
# A non-CMake host: compile one_bar.c with the flags pkg-config gives for an
# installed nomad_muse, then run it (the shared library has no RPATH, so the
# loader is told where the prefix is).
#   build_and_run.sh <prefix> <libdir> <work_dir> <onnx_dir> <expected_version>
set -eu
prefix=$1 libdir=$2 work=$3 onnx=$4 version=$5
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
test "$(pkg-config --modversion nomad_muse)" = "$version"
# --- as in the README ---
"${CC:-cc}" "$here/../one_bar.c" $(pkg-config --cflags --libs nomad_muse) -o "$work/one_bar"
# ------------------------
LD_LIBRARY_PATH="$prefix/$libdir" "$work/one_bar" "$onnx" "$version"
