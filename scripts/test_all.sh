#!/usr/bin/env bash
# Every test: the Rust workspace (unit, property, fuzz, training, export,
# runtime and end-to-end tests), then the C++ side through CMake/CTest
# (C ABI error paths, a hostile host, the C header, generation_loop writing
# MIDI; then the C/C++ tests again under ASan + UBSan), then the
# onnxruntime compatibility check when Python's onnxruntime is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# CMake builds libnomad_muse out of source, into its build folder, unless
# CARGO_TARGET_DIR says where: point it at the folder `cargo test` fills so the
# CMake builds reuse those artefacts (tract and candle are compiled once).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo test --release --workspace

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
ctest --test-dir build --output-on-failure

# The C/C++ tests again, built with AddressSanitizer + UBSan (the test
# programs are instrumented; the Rust library is the same cargo build).
if echo 'int main(){}' | c++ -fsanitize=address,undefined -x c++ - -o /dev/null 2>/dev/null; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOMAD_MUSE_SANITIZE=ON
    cmake --build build-asan -j2
    ctest --test-dir build-asan --output-on-failure
else
    echo "the C++ compiler has no ASan/UBSan: skipping the sanitizer run of the C/C++ tests"
fi

if python3 -c "import onnxruntime, numpy" >/dev/null 2>&1; then
    python3 tests/python/check_onnxruntime.py build/fixtures --steps 50
else
    echo "onnxruntime (Python) not installed: skipping the onnxruntime check (pip install onnxruntime numpy)"
fi
