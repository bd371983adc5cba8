#!/usr/bin/env python3
"""onnxruntime on the same exported experts as the latency bench: one
thread, sequential execution, the hidden state carried through IOBinding
(OrtValues stay on the session side). Prints the median µs per token for
the model alone and with softmax sampling over the vocabulary (numpy).

    python3 scripts/dev/onnxruntime_bench.py ONNX_DIR [--steps N]

With --serve FILE it loads one expert and answers the latency bench, which
interleaves it with its own contenders: each line "N" on stdin runs N
tokens with sampling and prints the µs per token (timed here, so the pipe
costs nothing).
"""
import os
import sys
import time

import numpy as np
import onnxruntime as ort


class Stepper:
    """One expert's session, its hidden state and its next token."""

    def __init__(self, path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.sess.get_modelmeta().custom_metadata_map
        layers, hidden = int(meta["nomad.num_layers"]), int(meta["nomad.hidden_size"])
        self.vocab = int(meta["nomad.vocab_size"])
        self.names = [i.name for i in self.sess.get_inputs()]
        self.rng = np.random.default_rng(7)
        self.token = np.zeros(1, dtype=np.int64)
        self.state = ort.OrtValue.ortvalue_from_numpy(np.zeros((layers, 1, hidden), dtype=np.float32))
        self.binding = self.sess.io_binding()
        self.conditioning = np.zeros(1, dtype=np.int64)

    def step(self):
        b = self.binding
        b.bind_cpu_input("token", self.token)
        b.bind_ortvalue_input("hidden", self.state)
        if "chord" in self.names:
            b.bind_cpu_input("chord", self.conditioning)
            b.bind_cpu_input("key", self.conditioning)
        b.bind_output("logits")
        b.bind_output("hidden_out")
        if len(self.sess.get_outputs()) > 2:
            b.bind_output("groove")
        self.sess.run_with_iobinding(b)
        outs = b.get_outputs()
        self.state = outs[1]
        logits = outs[0].numpy()[0]
        p = np.exp(logits - logits.max())
        self.token[0] = min(np.searchsorted(np.cumsum(p), self.rng.random() * p.sum()), self.vocab - 1)


def serve(path):
    stepper = Stepper(path)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            stepper.step()
        print(f"{(time.perf_counter() - t0) * 1e6 / n:.3f}", flush=True)


def bench(path, steps):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    layers, hidden, vocab = (int(meta[k]) for k in ("nomad.num_layers", "nomad.hidden_size", "nomad.vocab_size"))
    names = [i.name for i in sess.get_inputs()]
    rng = np.random.default_rng(7)
    token = np.zeros(1, dtype=np.int64)
    state = ort.OrtValue.ortvalue_from_numpy(np.zeros((layers, 1, hidden), dtype=np.float32))
    binding = sess.io_binding()
    conditioning = np.zeros(1, dtype=np.int64)
    results = {}
    for sampling in (False, True):
        times = []
        for i in range(steps):
            t0 = time.perf_counter()
            binding.bind_cpu_input("token", token)
            binding.bind_ortvalue_input("hidden", state)
            if "chord" in names:
                binding.bind_cpu_input("chord", conditioning)
                binding.bind_cpu_input("key", conditioning)
            binding.bind_output("logits")
            binding.bind_output("hidden_out")
            if len(sess.get_outputs()) > 2:
                binding.bind_output("groove")
            sess.run_with_iobinding(binding)
            outs = binding.get_outputs()
            state = outs[1]
            if sampling:
                logits = outs[0].numpy()[0]
                p = np.exp(logits - logits.max())
                token[0] = np.searchsorted(np.cumsum(p), rng.random() * p.sum())
                token[0] = min(token[0], vocab - 1)
            else:
                token[0] = i % vocab
            times.append(time.perf_counter() - t0)
        results[sampling] = np.median(np.array(times[20:])) * 1e6
    return meta["nomad.expert"], results[False], results[True]


def main():
    if "--serve" in sys.argv:
        ort.set_default_logger_severity(3)
        serve(sys.argv[sys.argv.index("--serve") + 1])
        return 0
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 2000
    folder = args[0]
    ort.set_default_logger_severity(3)
    print(f"onnxruntime {ort.__version__}, 1 thread, IOBinding, median µs per token over {steps} steps:")
    for expert in ("drums", "harmony", "melody"):
        for suffix in ("", "_quantized"):
            path = os.path.join(folder, f"{expert}{suffix}.onnx")
            if os.path.exists(path):
                _, alone, sampled = bench(path, steps)
                print(f"  {expert}{suffix:<11} model {alone:7.1f}   with sampling {sampled:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
