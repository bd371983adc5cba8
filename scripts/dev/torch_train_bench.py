#!/usr/bin/env python3
"""Training throughput, candle (target/release/train_bench, fused GRU) vs
PyTorch on the same shapes: embedding (+ chord and key embeddings for the
conditioned experts) -> GRU stack -> head, cross-entropy, AdamW, one thread
each, random tokens. Rounds alternate candle, PyTorch, candle, ... per expert
and the medians are printed with their ratio.

    python3 -m venv /tmp/venv_torch
    /tmp/venv_torch/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    cargo build --release --workspace
    /tmp/venv_torch/bin/python scripts/dev/torch_train_bench.py [--steps 20] [--rounds 5] [--batch N]
"""
import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


class Expert(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embed = torch.nn.Embedding(s["vocab"], s["embed_dim"])
        self.conditioned = s["conditioned"]
        if self.conditioned:
            self.chord = torch.nn.Embedding(s["chord_conditions"], s["embed_dim"])
            self.key = torch.nn.Embedding(s["key_conditions"], s["embed_dim"])
        self.gru = torch.nn.GRU(s["embed_dim"], s["hidden"], s["layers"], batch_first=True)
        self.head = torch.nn.Linear(s["hidden"], s["vocab"])

    def forward(self, tokens, chord, key):
        x = self.embed(tokens)
        if self.conditioned:
            x = x + self.chord(chord) + self.key(key)
        out, _ = self.gru(x)
        return self.head(out)


def torch_rate(s, steps, seed):
    torch.manual_seed(seed)
    model = Expert(s)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    b, t = s["batch"], s["seq_len"]

    def batch():
        return (
            torch.randint(0, s["vocab"], (b, t)),
            torch.randint(0, s["chord_conditions"], (b, t)),
            torch.randint(0, s["key_conditions"], (b, t)),
            torch.randint(0, s["vocab"], (b, t)),
        )

    batches = [batch() for _ in range(steps + 1)]
    start = None
    for i, (tokens, chord, key, targets) in enumerate(batches):
        if i == 1:
            start = time.perf_counter()
        logits = model(tokens, chord, key)
        loss = torch.nn.functional.cross_entropy(logits.reshape(b * t, -1), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * b * t / (time.perf_counter() - start)


def candle_rate(expert, steps, batch):
    cmd = [str(ROOT / "target/release/train_bench"), "--expert", expert, "--contenders", "fused",
           "--threads", "1", "--rounds", "1", "--steps", str(steps), "--json"]
    if batch:
        cmd += ["--batch", str(batch)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--experts", default="drums,harmony,melody")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    print(f"torch {torch.__version__}; {a.steps} steps x {a.rounds} rounds, candle and PyTorch alternating, "
          "one thread each, median tokens/s")
    print(f"{'expert':<8} {'batch':>5} {'seq':>4} {'candle':>9} {'pytorch':>9} {'candle/pytorch':>15}")
    for expert in a.experts.split(","):
        candle, pytorch = [], []
        for r in range(a.rounds):
            s = candle_rate(expert, a.steps, a.batch)
            candle.append(s["tokens_per_s"])
            pytorch.append(torch_rate(s, a.steps, 7 + r))
        c, p = statistics.median(candle), statistics.median(pytorch)
        print(f"{expert:<8} {s['batch']:>5} {s['seq_len']:>4} {c:>9.0f} {p:>9.0f} {c / p:>15.2f}")


if __name__ == "__main__":
    main()
