#!/usr/bin/env python3
"""How far can cues we measure tell a key from its relative? Reads the
per-song evidence `key_features` dumps for POP909 001-809, keeps the songs
whose label and our key share a scale (the relative-key question), and fits
a logistic regression on the cues (10-fold cross-validation, 5 shuffles),
beside the detector's own accuracy on the same question. Dev-only (numpy).

    target/release/examples/key_features <POP909> > /tmp/key_features.jsonl
    python3 scripts/dev/key_relative_cv.py /tmp/key_features.jsonl
"""
import json
import sys

import numpy as np

AS_MAJ = [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
AS_MIN = [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]
NAMES = ["profile", "tonic chord", "bass", "final bass", "first bass", "melody last", "melody phrase ends",
         "leading tone", "minor's major V", "root time", "first chord", "last chord", "melody tonic",
         "V-i minus V-I", "V of major to minor tonic"]


def corr(p, template, tonic):
    rotated = [template[(i - tonic) % 12] for i in range(12)]
    return np.corrcoef(p, rotated)[0, 1] if np.std(p) > 0 else 0.0


def cues(s, major, minor):
    p, b = np.array(s["profile"], float), np.array(s["bass"], float)
    mel, ends = np.array(s["melody"], float), np.array(s["melody_ends"], float)
    ch = s["chords"]
    tot = sum(c[2] for c in ch) or 1
    share = lambda root, q: sum(c[2] for c in ch if c[0] == root and c[1] in q) / tot
    root_share = lambda root: sum(c[2] for c in ch if c[0] == root) / tot
    side = lambda v: (v == minor) - (v == major)
    steps = list(zip(ch, ch[1:]))
    cad_major = sum(1 for a, c in steps if a[0] == (major + 7) % 12 and c[0] == major and c[1] in ("maj", "maj7"))
    cad_minor = sum(1 for a, c in steps if a[0] == (minor + 7) % 12 and c[0] == minor and c[1] in ("min", "min7"))
    deceptive = sum(1 for a, c in steps if a[0] == (major + 7) % 12 and c[0] == minor and c[1] in ("min", "min7"))
    n = len(ch) or 1
    return [
        corr(p, AS_MIN, minor) - corr(p, AS_MAJ, major),
        share(minor, ("min", "min7")) - share(major, ("maj", "maj7")),
        (b[minor] - b[major]) / (b.sum() or 1),
        side(s["final_bass"]), side(s["first_bass"]), side(s["melody_last"]),
        (ends[minor] - ends[major]) / (ends.sum() or 1),
        p[(minor + 11) % 12] / (p.sum() or 1),
        share((minor + 7) % 12, ("maj", "dom7", "maj7")),
        root_share(minor) - root_share(major),
        side(ch[0][0]) if ch else 0, side(ch[-1][0]) if ch else 0,
        (mel[minor] - mel[major]) / (mel.sum() or 1),
        10 * (cad_minor - cad_major) / n, 10 * deceptive / n,
    ]


def fit(x, y, l2=1.0, steps=3000, rate=0.5):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w, b0 = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        g = 1 / (1 + np.exp(-(z @ w + b0))) - y
        w -= rate * (z.T @ g / len(y) + l2 * w / len(y))
        b0 -= rate * g.mean()
    return lambda xs: ((xs - mu) / sd @ w + b0) > 0


def main():
    rows = []
    for line in open(sys.argv[1]):
        s = json.loads(line)
        (lt, lmin), (ot, omin) = s["label"], s["ours"]
        major = ot if not omin else (ot + 3) % 12
        if (lt if not lmin else (lt + 3) % 12) != major:
            continue  # not a question of a key and its relative
        rows.append((int(lmin), int(omin), cues(s, major, (major + 9) % 12)))
    y = np.array([r[0] for r in rows])
    ours = np.array([r[1] for r in rows])
    x = np.array([r[2] for r in rows])
    print(f"{len(y)} songs ask key or relative ({y.sum()} labelled minor); the detector: {(ours == y).mean():.3f}")
    rng = np.random.default_rng(0)
    for cols in [list(range(len(NAMES))), [0, 1], [0, 1, 8]]:
        accs = []
        for _ in range(5):
            perm = rng.permutation(len(y))
            right = 0
            for fold in np.array_split(perm, 10):
                train = np.setdiff1d(perm, fold)
                predict = fit(x[train][:, cols], y[train])
                right += (predict(x[fold][:, cols]) == y[fold]).sum()
            accs.append(right / len(y))
        print(f"logistic on {', '.join(NAMES[c] for c in cols)}: {np.mean(accs):.3f} (cross-validated)")


if __name__ == "__main__":
    main()
