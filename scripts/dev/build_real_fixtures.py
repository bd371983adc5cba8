#!/usr/bin/env python3
"""Dev-only: builds the labelled real-music fixtures in tests/fixtures/real/ from
public-domain scores bundled with the music21 pip package (pip install music21).

- chorales/: J. S. Bach four-part chorales (public domain) with the Roman-numeral
  analyses of music21's corpus/bach/choraleAnalyses (riemenschneider*.rntxt,
  analysts named in each file: A. Jones, D. Tymoczko, H. Robb et al.).
- madrigals/: Monteverdi madrigals (public domain) with music21's
  corpus/monteverdi/*.rntxt analyses (D. Tymoczko et al.).
- folk/: single-line folk tunes of the Essen folksong collection (abc files in
  music21's corpus/essenFolksong), labelled with the key their abc header gives.

Each piece is written as MIDI at a fixed 120 quarter notes per minute, so a label
at quarter q lies at q / 2 seconds. labels.json holds, per piece: the key, the
melody track (the top voice), and the chord sounding at every labelled beat.
It also records music21's own answers on the same MIDI files (chordify + root,
Krumhansl key finding) so the Rust report (`cargo run --release -p nomad-muse-sys
--example ears`) can print ours beside music21's.
"""
import json, os, sys, glob, warnings
warnings.filterwarnings("ignore")
from music21 import bar, repeat, corpus, converter, tempo, key as m21key, roman, stream, chord, note

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "real")
QUALITY = {(0, 4, 7): "maj", (0, 3, 7): "min", (0, 3, 6): "dim", (0, 4, 8): "aug",
           (0, 4, 7, 10): "dom7", (0, 4, 7, 11): "maj7", (0, 3, 7, 10): "min7",
           (0, 3, 6, 10): "hdim7", (0, 3, 6, 9): "dim7", (0, 2, 7): "sus2", (0, 5, 7): "sus4"}


def quality_of(root_pc, pcs):
    ivs = tuple(sorted({(p - root_pc) % 12 for p in pcs}))
    if ivs in QUALITY:
        return QUALITY[ivs]
    # Other sonorities (augmented sixths, added tones): the triad they contain.
    s = set(ivs)
    third = 4 if 4 in s else (3 if 3 in s else None)
    fifth = 7 if 7 in s else (6 if 6 in s else (8 if 8 in s else None))
    return {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug", (4, 6): "maj",
            (4, None): "maj", (3, None): "min"}.get((third, fifth), "other")


def key_json(k):
    return {"tonic": k.tonic.pitchClass, "mode": "minor" if k.mode == "minor" else "major"}


def write_midi(score, path):
    s = score
    for mm in list(s.recurse().getElementsByClass(tempo.MetronomeMark)):
        mm.activeSite.remove(mm)
    s.parts[0].insert(0, tempo.MetronomeMark(number=120))
    # The labels follow the written score once through: no repeat expansion.
    for m in s.recurse().getElementsByClass(stream.Measure):
        if isinstance(m.leftBarline, bar.Repeat):
            m.leftBarline = None
        if isinstance(m.rightBarline, bar.Repeat):
            m.rightBarline = None
    for r in list(s.recurse().getElementsByClass(repeat.RepeatExpression)):
        r.activeSite.remove(r)
    s.write("midi", fp=path)


def m21_answers(midi_path, samples):
    """music21 on the MIDI file we wrote: chordify root/quality per sample, key."""
    s = converter.parse(midi_path, quantizePost=False)
    ch = s.chordify().flatten().notes
    slices = [(float(c.offset), float(c.offset + c.quarterLength), c) for c in ch]
    out, j = [], 0
    for q in samples:
        hit = None
        for (a, b, c) in slices:
            if a <= q < b:
                hit = c
                break
        if hit is None or not isinstance(hit, chord.Chord) or len(hit.pitches) == 0:
            out.append(None)
            continue
        r = hit.root().pitchClass
        out.append([r, quality_of(r, [p.pitchClass for p in hit.pitches])])
    k = s.analyze("key")
    return out, key_json(k)


def rn_labels(score, analysis):
    """(quarter offset, root pc, quality) per Roman numeral, on the score's time line."""
    part = score.parts[0]
    starts = {}
    for m in part.getElementsByClass(stream.Measure):
        starts.setdefault(m.number, (float(m.offset), float(m.paddingLeft)))
    labels = []
    for m in analysis.recurse().getElementsByClass(stream.Measure):
        if m.number not in starts:
            continue
        m_off, pad = starts[m.number]
        for rn in m.getElementsByClass(roman.RomanNumeral):
            q = m_off + float(rn.offset) - pad
            r = rn.root().pitchClass
            labels.append((q, r, quality_of(r, [p.pitchClass for p in rn.pitches]), key_json(rn.key)))
    labels.sort(key=lambda x: x[0])
    return labels


def beat_samples(labels, end_q):
    """Mid-beat sample points (quarters) and the label sounding at each."""
    out = []
    b = 0.0
    while b < end_q:
        q = b + 0.5
        cur = None
        for lab in labels:
            if lab[0] <= q + 1e-6:
                cur = lab
            else:
                break
        if cur is not None:
            out.append((q, cur))
        b += 1.0
    return out


def soprano_index(score):
    """The part carrying the chorale tune: the one named Soprano, else the first."""
    for i, p in enumerate(score.parts):
        if (p.partName or "").lower().startswith("soprano"):
            return i
    return 0


def folk_key(score):
    """Folk tunes end on their tonic; the mode is the third above it that
    sounds longer (the Essen K: field gives the final's letter, not the mode)."""
    notes = list(score.flatten().notes)
    tonic = notes[-1].pitch.pitchClass
    third = {3: 0.0, 4: 0.0}
    for n in notes:
        iv = (n.pitch.pitchClass - tonic) % 12
        if iv in third:
            third[iv] += float(n.quarterLength)
    return {"tonic": tonic, "mode": "minor" if third[3] > third[4] else "major"}


def piece_entry(score, analysis, rel, folder):
    path = os.path.join(OUT, folder, rel)
    write_midi(score, path)
    labels = rn_labels(score, analysis)
    if not labels:
        return None
    end_q = float(score.highestTime)
    samples = beat_samples(labels, end_q)
    m21_chords, m21_key = m21_answers(path, [q for q, _ in samples])
    first_key = labels[0][3]
    return {
        "file": f"{folder}/{rel}",
        "key": first_key,
        "melody_part": soprano_index(score),
        "voices": len(score.parts),
        "beats": [[q / 2.0, lab[1], lab[2]] for q, lab in samples],
        "music21": {"key": m21_key, "beats": m21_chords},
    }


def chorales():
    out = []
    base = os.path.join(os.path.dirname(corpus.__file__), "bach", "choraleAnalyses")
    for rn_path in sorted(glob.glob(os.path.join(base, "*.rntxt"))):
        bwv = next(l.split(":", 1)[1].strip() for l in open(rn_path) if l.startswith("BWV"))
        name = "bwv" + bwv.replace("(2)", "").rstrip("s")
        try:
            score = corpus.parse("bach/" + name)
        except Exception as e:  # noqa: BLE001 - some catalogue names differ
            print("skip", name, e, file=sys.stderr)
            continue
        analysis = converter.parse(rn_path, format="romantext")
        try:
            e = piece_entry(score, analysis, name + ".mid", "chorales")
        except Exception as err:  # noqa: BLE001
            print("skip", name, err, file=sys.stderr)
            continue
        if e:
            out.append(e)
            print("chorale", name, len(e["beats"]), file=sys.stderr)
    return out


def madrigals(limit):
    out = []
    base = os.path.join(os.path.dirname(corpus.__file__), "monteverdi")
    for rn_path in sorted(glob.glob(os.path.join(base, "*.rntxt")))[:limit]:
        mxl = rn_path[:-6] + ".mxl"
        if not os.path.exists(mxl):
            continue
        score = converter.parse(mxl)
        analysis = converter.parse(rn_path, format="romantext")
        name = os.path.basename(rn_path)[:-6] + ".mid"
        try:
            e = piece_entry(score, analysis, name, "madrigals")
        except Exception as err:  # noqa: BLE001
            print("skip", name, err, file=sys.stderr)
            continue
        if e:
            out.append(e)
            print("madrigal", name, len(e["beats"]), file=sys.stderr)
    return out


def folk(limit):
    out = []
    base = os.path.join(os.path.dirname(corpus.__file__), "essenFolksong")
    n_minor = 0
    for abc in sorted(glob.glob(os.path.join(base, "*.abc"))):
        opus = converter.parse(abc)
        for i, score in enumerate(opus.scores):
            if len(score.flatten().notes) < 16:
                continue
            k = folk_key(score)
            minor = k["mode"] == "minor"
            # Keep the set balanced: minor tunes are the hard case.
            if not minor and len(out) - n_minor >= limit // 2:
                continue
            if minor and n_minor >= limit // 2:
                continue
            name = f"{os.path.basename(abc)[:-4]}_{i:03d}.mid"
            path = os.path.join(OUT, "folk", name)
            try:
                write_midi(score, path)
                _, m21_key = m21_answers(path, [])
            except Exception as e:  # noqa: BLE001
                print("skip", name, e, file=sys.stderr)
                continue
            n_minor += minor
            out.append({"file": f"folk/{name}", "key": k, "voices": 1,
                        "melody_part": 0, "beats": [],
                        "music21": {"key": m21_key, "beats": []}})
            if len(out) >= limit:
                return out
    return out


def aligned(piece):
    """Whether the analysis fits the score we wrote all the way through: some
    editions are transposed or numbered differently from the analysed one.
    Judged by music21's chordify (not by the analysis under test): its root
    must agree with the labels on at least half the beats of every quarter."""
    pairs = list(zip(piece["beats"], piece["music21"]["beats"]))
    if not pairs:
        return True
    q = max(len(pairs) // 4, 1)
    for i in range(0, len(pairs), q):
        part = pairs[i:i + q]
        if sum(1 for b, m in part if m and m[0] == b[1]) < 0.5 * len(part):
            return False
    return True


def main():
    for d in ["chorales", "madrigals", "folk"]:
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    pieces = chorales() + madrigals(int(os.environ.get("MADRIGALS", "16"))) + folk(int(os.environ.get("FOLK", "40")))
    kept = []
    for p in pieces:
        if aligned(p):
            kept.append(p)
        else:
            print("dropped (analysis does not fit the score)", p["file"], file=sys.stderr)
            os.remove(os.path.join(OUT, p["file"]))
    pieces = kept
    with open(os.path.join(OUT, "labels.json"), "w") as f:
        json.dump({"time_unit": "seconds", "pieces": pieces}, f, indent=0)
    print(len(pieces), "pieces", file=sys.stderr)


if __name__ == "__main__":
    main()
