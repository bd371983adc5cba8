#!/usr/bin/env python3
"""Loads exported Nomad Muse experts with the official onnxruntime package,
runs steps carrying the hidden state, checks shapes and values, and reports
per-token latency (median, p99) so the benchmark can compare with tract.

    python3 tests/python/check_onnxruntime.py DIR_OR_FILES... [--steps N]

Exits non-zero on any failure.
"""
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def check(path, steps):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    expert = meta["nomad.expert"]
    layers, hidden_size, vocab = int(meta["nomad.num_layers"]), int(meta["nomad.hidden_size"]), int(meta["nomad.vocab_size"])
    tokens = json.loads(meta["nomad.vocab"])["tokens"]
    assert len(tokens) == vocab, f"{path}: vocabulary size mismatch"
    names = [i.name for i in sess.get_inputs()]
    hidden = np.zeros((layers, 1, hidden_size), dtype=np.float32)
    rng = np.random.default_rng(7)
    times = []
    for _ in range(steps):
        feed = {"token": np.array([rng.integers(vocab)], dtype=np.int64), "hidden": hidden}
        if "chord" in names:
            feed["chord"] = np.array([rng.integers(133)], dtype=np.int64)
            feed["key"] = np.array([rng.integers(24)], dtype=np.int64)
        t0 = time.perf_counter()
        out = sess.run(None, feed)
        times.append(time.perf_counter() - t0)
        logits, hidden = out[0], out[1]
        assert logits.shape == (1, vocab), f"{path}: logits shape {logits.shape}"
        assert hidden.shape == (layers, 1, hidden_size), f"{path}: hidden shape {hidden.shape}"
        assert np.isfinite(logits).all() and np.isfinite(hidden).all(), f"{path}: non-finite output"
    times_us = np.array(times[5:]) * 1e6
    print(f"onnxruntime {expert:<8} {os.path.basename(path):<26} median {np.median(times_us):7.1f} us  "
          f"p99 {np.percentile(times_us, 99):7.1f} us  ({steps} steps)")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    steps = 200
    if "--steps" in sys.argv:
        steps = int(sys.argv[sys.argv.index("--steps") + 1])
        args = [a for a in args if a != str(steps)]
    files = []
    for a in args:
        if os.path.isdir(a):
            files += sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith(".onnx"))
        else:
            files.append(a)
    if not files:
        print("no .onnx files given", file=sys.stderr)
        return 2
    ort.set_default_logger_severity(3)
    for f in files:
        check(f, steps)
    print(f"{len(files)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
