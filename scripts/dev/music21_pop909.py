#!/usr/bin/env python3
"""Dev-only: music21's chordify root and key finding on POP909 songs (001-809 only;
810-909 are held out), scored per labelled beat exactly as the `ears` example scores
ours, so the two can be printed side by side:

    python3 scripts/dev/music21_pop909.py ~/POP909 --every 16
    cargo run --release -p nomad-muse-sys --example ears -- --pop909 ~/POP909 --every 16
"""
import sys, os, warnings
warnings.filterwarnings("ignore")
from music21 import converter, chord

NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def pc(name):
    v = NAMES[name[0]]
    for c in name[1:]:
        v += 1 if c == "#" else -1 if c == "b" else 0
    return v % 12


def triad(q):
    if q.startswith(("maj", "7", "9", "11", "13")) or q == "":
        return "maj"
    if q.startswith("min"):
        return "min"
    return "other"


def rows(path):
    return [l.split() for l in open(path) if l.strip()]


def main():
    root, every = sys.argv[1], int(sys.argv[sys.argv.index("--every") + 1]) if "--every" in sys.argv else 1
    tot = rr = mm = mmr = keys = keyr = 0
    for i in range(1, 810, every):
        d = os.path.join(root, f"{i:03d}")
        s = converter.parse(os.path.join(d, f"{i:03d}.mid"))
        tempo = s.metronomeMarkBoundaries()
        secs = []  # (offset seconds start, quarter start, seconds per quarter)
        for a, b, mm_ in tempo:
            secs.append((a, mm_.secondsPerQuarter()))
        def to_q(t):
            q, acc = 0.0, 0.0
            for j, (a, spq) in enumerate(secs):
                end = secs[j + 1][0] if j + 1 < len(secs) else float("inf")
                span = (end - a) * spq
                if acc + span >= t:
                    return a + (t - acc) / spq
                acc += span
            return q
        slices = [(float(c.offset), float(c.offset + c.quarterLength), c) for c in s.chordify().flatten().notes]
        chords = [(float(r[0]), float(r[1]), r[2]) for r in rows(os.path.join(d, "chord_midi.txt"))]
        beats = [float(r[0]) for r in rows(os.path.join(d, "beat_midi.txt"))]
        j = 0
        for a, b in zip(beats, beats[1:]):
            t = 0.5 * (a + b)
            lab = next((c for c in chords if c[0] <= t < c[1]), None)
            if lab is None or lab[2] == "N" or ":" not in lab[2]:
                continue
            r, q = lab[2].split(":")
            q = q.split("/")[0].split("(")[0]
            want_root, want_triad = pc(r), triad(q)
            qn = to_q(t)
            while j < len(slices) and slices[j][1] <= qn:
                j += 1
            got = slices[j][2] if j < len(slices) and slices[j][0] <= qn else None
            tot += 1
            ok = False
            if isinstance(got, chord.Chord) and got.pitches:
                groot = got.root().pitchClass
                ok = groot == want_root
                rr += ok
                gq = got.quality
                gt = {"major": "maj", "minor": "min"}.get(gq, "other")
            if want_triad in ("maj", "min"):
                mm += 1
                mmr += ok and gt == want_triad
        key_rows = rows(os.path.join(d, "key_audio.txt"))
        best = max(key_rows, key=lambda r: float(r[1]) - float(r[0]))
        kr, kq = best[2].split(":")
        k = s.analyze("key")
        keys += 1
        keyr += k.tonic.pitchClass == pc(kr) and (k.mode == "minor") == kq.startswith("min")
        print(f"{i:03d} beats {tot} root {rr / max(tot, 1):.3f}", file=sys.stderr)
    print(f"music21 on POP909 every {every}: root {rr / tot:.3f} maj/min triad {mmr / mm:.3f} key {keyr / keys:.3f} ({keyr}/{keys}), {tot} beats")


if __name__ == "__main__":
    main()
