#!/usr/bin/env bash
# Every test: the Rust workspace (unit, property, fuzz, training, export,
# runtime and end-to-end tests), then the C++ side through CMake/CTest
# (C ABI error paths, the C header, generation_loop writing MIDI), then the
# onnxruntime compatibility check when Python's onnxruntime is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release --workspace

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
ctest --test-dir build --output-on-failure

if python3 -c "import onnxruntime, numpy" >/dev/null 2>&1; then
    python3 tests/python/check_onnxruntime.py build/fixtures --steps 50
else
    echo "onnxruntime (Python) not installed: skipping the onnxruntime check (pip install onnxruntime numpy)"
fi
