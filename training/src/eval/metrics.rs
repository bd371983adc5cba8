//! The report card's metrics, each a plain function over decoded events or
//! token ids, with its formula in its doc comment.

use std::collections::{HashMap, HashSet};

use nomad_muse::runtime::TimeSignature;
use nomad_muse::theory::{ChordLabel, Key};
use nomad_muse::tokenizers::{duration_from_bin, ChordEvent, DrumHit, MelodyNote};

/// Steps of a 4/4 bar on the 16th grid.
const BAR_STEPS: usize = 16;

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Onset grid (16 steps) of every bar `0..bars`.
fn onset_grids(hits: &[DrumHit], bars: u32) -> Vec<[bool; BAR_STEPS]> {
    let mut grids = vec![[false; BAR_STEPS]; bars as usize];
    for h in hits {
        let step = (h.beat * 4 + h.substep) as usize;
        if let (Some(g), true) = (grids.get_mut(h.bar as usize), step < BAR_STEPS) {
            g[step] = true;
        }
    }
    grids
}

/// Groove consistency (muspy): 1 − mean over consecutive bar pairs of the
/// Hamming distance between their 16-step onset grids, divided by 16.
pub fn groove_consistency(hits: &[DrumHit], bars: u32) -> f64 {
    let grids = onset_grids(hits, bars);
    let d: Vec<f64> = grids
        .windows(2)
        .map(|w| w[0].iter().zip(&w[1]).filter(|(a, b)| a != b).count() as f64 / BAR_STEPS as f64)
        .collect();
    if d.is_empty() {
        1.0
    } else {
        1.0 - mean(&d)
    }
}

/// GM drum pitch → instrument class.
pub fn drum_class(pitch: u8) -> &'static str {
    match pitch {
        35 | 36 => "kick",
        37..=40 => "snare",
        42 | 44 | 46 => "hats",
        41 | 43 | 45 | 47 | 48 | 50 => "toms",
        49 | 51 | 52 | 53 | 55 | 57 | 59 => "cymbals",
        _ => "other",
    }
}

/// Hit density: hits per bar of each instrument class.
pub fn hit_density(hits: &[DrumHit], bars: u32) -> HashMap<&'static str, f64> {
    let mut d: HashMap<&'static str, f64> = HashMap::new();
    for h in hits {
        *d.entry(drum_class(h.pitch)).or_default() += 1.0 / bars.max(1) as f64;
    }
    d
}

/// Repetition: share of bars (after the first) whose hits equal the
/// previous bar's exactly (pitch and position).
pub fn repetition_share(hits: &[DrumHit], bars: u32) -> f64 {
    let mut per_bar: Vec<Vec<(u32, u32, u8)>> = vec![vec![]; bars as usize];
    for h in hits {
        if let Some(b) = per_bar.get_mut(h.bar as usize) {
            b.push((h.beat, h.substep, h.pitch));
        }
    }
    per_bar.iter_mut().for_each(|b| b.sort_unstable());
    if bars < 2 {
        return 0.0;
    }
    per_bar.windows(2).filter(|w| w[0] == w[1]).count() as f64 / (bars - 1) as f64
}

/// Fills per 8 bars: bars containing a hit inside FILL_START…FILL_END, × 8 / bars.
pub fn fills_per_8_bars(hits: &[DrumHit], bars: u32) -> f64 {
    let fill_bars: HashSet<u32> = hits.iter().filter(|h| h.in_fill).map(|h| h.bar).collect();
    fill_bars.len() as f64 * 8.0 / bars.max(1) as f64
}

/// Add-k chord bigram model over dense chord ids (133 labels).
pub struct ChordBigrams {
    counts: HashMap<(u32, u32), f64>,
    totals: HashMap<u32, f64>,
    k: f64,
}

impl ChordBigrams {
    /// Fits on chord sequences (changes only).
    pub fn fit(songs: &[Vec<ChordLabel>], k: f64) -> Self {
        let (mut counts, mut totals) = (HashMap::new(), HashMap::new());
        for s in songs {
            for w in s.windows(2) {
                *counts
                    .entry((w[0].dense_index(), w[1].dense_index()))
                    .or_insert(0.0) += 1.0;
                *totals.entry(w[0].dense_index()).or_insert(0.0) += 1.0;
            }
        }
        ChordBigrams { counts, totals, k }
    }

    /// Progression plausibility: mean log P(c_i | c_{i−1}) with
    /// P = (count + k) / (total + 133 k).
    pub fn mean_log_likelihood(&self, chords: &[ChordLabel]) -> f64 {
        let n = ChordLabel::DENSE_COUNT as f64;
        let lls: Vec<f64> = chords
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0].dense_index(), w[1].dense_index());
                let c = self.counts.get(&(a, b)).copied().unwrap_or(0.0);
                let t = self.totals.get(&a).copied().unwrap_or(0.0);
                ((c + self.k) / (t + n * self.k)).ln()
            })
            .collect();
        mean(&lls)
    }
}

/// Chord changes of a decoded harmony (consecutive repeats merged).
pub fn chord_changes(chords: &[ChordEvent]) -> Vec<ChordLabel> {
    let mut out: Vec<ChordLabel> = Vec::new();
    for c in chords.iter().filter(|c| !c.chord.is_none()) {
        if out.last() != Some(&c.chord) {
            out.push(c.chord);
        }
    }
    out
}

/// Common progressions as scale-degree roots (semitones above the tonic).
const COMMON_MAJOR: [[u8; 4]; 5] = [
    [0, 7, 9, 5],
    [2, 7, 0, 0],
    [0, 9, 5, 7],
    [9, 5, 0, 7],
    [0, 5, 7, 0],
];
const COMMON_MINOR: [[u8; 4]; 4] = [[0, 8, 3, 10], [0, 5, 7, 0], [0, 10, 8, 7], [0, 5, 10, 3]];

/// Share of 4-chord windows (of chord changes) whose roots, relative to the
/// key's tonic, form a common progression (I–V–vi–IV, ii–V–I, I–vi–IV–V,
/// vi–IV–I–V, I–IV–V–I; i–VI–III–VII, i–iv–V–i, …; ii–V–I counts on its
/// first three chords).
pub fn common_progression_share(changes: &[ChordLabel], key: Key) -> f64 {
    let rel: Vec<u8> = changes
        .iter()
        .map(|c| (c.root + 12 - key.tonic) % 12)
        .collect();
    if rel.len() < 4 {
        return 0.0;
    }
    let patterns: &[[u8; 4]] = match key.mode {
        nomad_muse::theory::Mode::Major => &COMMON_MAJOR,
        nomad_muse::theory::Mode::Minor => &COMMON_MINOR,
    };
    let hits = rel
        .windows(4)
        .filter(|w| {
            patterns
                .iter()
                .any(|p| p == *w || (p[3] == p[2] && p[..3] == w[..3]))
        })
        .count();
    hits as f64 / (rel.len() - 3) as f64
}

/// Key consistency: share of chord beats whose chord is diatonic to the key.
pub fn key_consistency(chords: &[ChordEvent], key: Key) -> f64 {
    let (mut ok, mut all) = (0u32, 0u32);
    for c in chords.iter().filter(|c| !c.chord.is_none()) {
        all += c.hold_beats;
        if key.is_diatonic(&c.chord) {
            ok += c.hold_beats;
        }
    }
    if all == 0 {
        0.0
    } else {
        ok as f64 / all as f64
    }
}

/// Harmonic rhythm: histogram of chord durations in beats (1..=8, longer in 8),
/// over chord runs merged across bar lines.
pub fn harmonic_rhythm(chords: &[ChordEvent]) -> Vec<f64> {
    let mut hist = vec![0.0; 8];
    let mut run: Option<(ChordLabel, u32)> = None;
    for c in chords {
        match run {
            Some((label, len)) if label == c.chord => run = Some((label, len + c.hold_beats)),
            Some((_, len)) => {
                hist[(len.clamp(1, 8) - 1) as usize] += 1.0;
                run = Some((c.chord, c.hold_beats));
            }
            None => run = Some((c.chord, c.hold_beats)),
        }
    }
    if let Some((_, len)) = run {
        hist[(len.clamp(1, 8) - 1) as usize] += 1.0;
    }
    normalise(hist)
}

fn normalise(mut h: Vec<f64>) -> Vec<f64> {
    let t: f64 = h.iter().sum();
    if t > 0.0 {
        h.iter_mut().for_each(|x| *x /= t);
    }
    h
}

/// Chord-tone ratio: Σ over notes of the 16th steps it sounds while its
/// pitch class is in the chord sounding at that step, ÷ Σ of steps sounded
/// under any chord. `chord_at(bar, step)` gives the chord; bars are
/// `steps_per_bar` 16ths long (the piece's metre).
pub fn chord_tone_ratio(
    notes: &[MelodyNote],
    steps_per_bar: u32,
    chord_at: impl Fn(u32, u32) -> ChordLabel,
) -> f64 {
    let bar_steps = steps_per_bar.max(1);
    let (mut inside, mut total) = (0u64, 0u64);
    for n in notes {
        let start = n.beat * 4 + n.substep;
        for s in start..start + duration_from_bin(n.duration_bin) {
            let (bar, step) = (n.bar + s / bar_steps, s % bar_steps);
            let chord = chord_at(bar, step);
            if chord.is_none() {
                continue;
            }
            total += 1;
            inside += chord.contains_pitch_class(n.pitch % 12) as u64;
        }
    }
    if total == 0 {
        0.0
    } else {
        inside as f64 / total as f64
    }
}

/// Share of the notes starting on a strong beat of the metre (4/4: beats
/// 1 and 3) under a chord whose pitch is a chord tone; `None` without such notes.
pub fn strong_beat_chord_tone_share(
    notes: &[MelodyNote],
    metre: TimeSignature,
    chord_at: impl Fn(u32, u32) -> ChordLabel,
) -> Option<f64> {
    let (mut inside, mut total) = (0u64, 0u64);
    for n in notes {
        let step = n.beat * 4 + n.substep;
        let chord = chord_at(n.bar, step);
        if !metre.is_strong(step) || chord.is_none() {
            continue;
        }
        total += 1;
        inside += chord.contains_pitch_class(n.pitch % 12) as u64;
    }
    (total > 0).then(|| inside as f64 / total as f64)
}

/// Share of notes in the key's scale (or in the chord sounding under them,
/// so the raised leading tone over a minor key's V counts as in the song).
pub fn in_key_share(
    notes: &[MelodyNote],
    key: Key,
    chord_at: impl Fn(u32, u32) -> ChordLabel,
) -> f64 {
    if notes.is_empty() {
        return 0.0;
    }
    let inside = notes
        .iter()
        .filter(|n| {
            let pc = n.pitch % 12;
            key.contains_pitch_class(pc)
                || chord_at(n.bar, n.beat * 4 + n.substep).contains_pitch_class(pc)
        })
        .count();
    inside as f64 / notes.len() as f64
}

/// Successive melodic intervals in semitones.
pub fn intervals(notes: &[MelodyNote]) -> Vec<i32> {
    notes
        .windows(2)
        .map(|w| w[1].pitch as i32 - w[0].pitch as i32)
        .collect()
}

/// Interval histogram over −12..=12 (clamped), normalised.
pub fn interval_histogram(notes: &[MelodyNote]) -> Vec<f64> {
    let mut h = vec![0.0; 25];
    for i in intervals(notes) {
        h[(i.clamp(-12, 12) + 12) as usize] += 1.0;
    }
    normalise(h)
}

/// Step/leap ratio: steps (|i| ≤ 2) ÷ all intervals.
pub fn step_share(notes: &[MelodyNote]) -> f64 {
    let iv = intervals(notes);
    if iv.is_empty() {
        0.0
    } else {
        iv.iter().filter(|i| i.abs() <= 2).count() as f64 / iv.len() as f64
    }
}

/// Pitch range in semitones.
pub fn pitch_range(notes: &[MelodyNote]) -> f64 {
    match (
        notes.iter().map(|n| n.pitch).min(),
        notes.iter().map(|n| n.pitch).max(),
    ) {
        (Some(lo), Some(hi)) => (hi - lo) as f64,
        _ => 0.0,
    }
}

/// Phrase coherence: share of non-empty bars whose motif (onset positions and
/// intervals from the bar's first note) appears in another bar of the piece.
pub fn motif_repetition(notes: &[MelodyNote]) -> f64 {
    let mut bars: HashMap<u32, Vec<&MelodyNote>> = HashMap::new();
    for n in notes {
        bars.entry(n.bar).or_default().push(n);
    }
    let motifs: Vec<Vec<(u32, i32)>> = bars
        .values()
        .map(|ns| {
            let first = ns[0].pitch as i32;
            ns.iter()
                .map(|n| (n.beat * 4 + n.substep, n.pitch as i32 - first))
                .collect()
        })
        .collect();
    if motifs.is_empty() {
        return 0.0;
    }
    let repeated = (0..motifs.len())
        .filter(|i| {
            motifs
                .iter()
                .enumerate()
                .any(|(j, m)| j != *i && *m == motifs[*i])
        })
        .count();
    repeated as f64 / motifs.len() as f64
}

/// All n-grams of a token sequence.
fn ngrams(seq: &[u32], n: usize) -> impl Iterator<Item = &[u32]> {
    seq.windows(n.max(1))
}

/// Polynomial rolling hashes of every prefix, so any window's hash is O(1):
/// `h(i, n) = P[i + n] − P[i]·Bⁿ` (wrapping u64 arithmetic).
struct PrefixHashes {
    prefix: Vec<u64>,
}

const HASH_BASE: u64 = 0x100_0000_01b3;

impl PrefixHashes {
    fn new(seq: &[u32]) -> Self {
        let mut prefix = Vec::with_capacity(seq.len() + 1);
        prefix.push(0u64);
        for t in seq {
            let last = *prefix.last().unwrap_or(&0);
            prefix.push(last.wrapping_mul(HASH_BASE).wrapping_add(*t as u64 + 1));
        }
        PrefixHashes { prefix }
    }

    fn len(&self) -> usize {
        self.prefix.len() - 1
    }

    /// Hashes of all windows of length `n` (`pow` = Bⁿ).
    fn windows(&self, n: usize, pow: u64) -> impl Iterator<Item = u64> + '_ {
        (0..(self.len() + 1).saturating_sub(n))
            .map(move |i| self.prefix[i + n].wrapping_sub(self.prefix[i].wrapping_mul(pow)))
    }
}

fn base_pow(n: usize) -> u64 {
    (0..n).fold(1u64, |p, _| p.wrapping_mul(HASH_BASE))
}

/// Training sequences indexed for memorization checks (n-grams compared by
/// 64-bit rolling hash; a false match needs a hash collision).
pub struct NgramIndex {
    training: Vec<PrefixHashes>,
    sets: HashMap<usize, HashSet<u64>>,
}

impl NgramIndex {
    pub fn new(training: &[Vec<u32>]) -> Self {
        NgramIndex {
            training: training.iter().map(|s| PrefixHashes::new(s)).collect(),
            sets: HashMap::new(),
        }
    }

    /// Share of the sequence's n-grams that occur in some training sequence.
    pub fn copied_share(&mut self, seq: &[u32], n: usize) -> f64 {
        if n == 0 || seq.len() < n {
            return 0.0;
        }
        let pow = base_pow(n);
        let training = &self.training;
        let set = self
            .sets
            .entry(n)
            .or_insert_with(|| training.iter().flat_map(|t| t.windows(n, pow)).collect());
        let query = PrefixHashes::new(seq);
        let grams: Vec<u64> = query.windows(n, pow).collect();
        grams.iter().filter(|g| set.contains(g)).count() as f64 / grams.len() as f64
    }

    /// Whether some n-gram of `query` occurs in training.
    fn shares_ngram(&self, query: &PrefixHashes, n: usize) -> bool {
        let pow = base_pow(n);
        let mine: HashSet<u64> = query.windows(n, pow).collect();
        self.training
            .iter()
            .any(|t| t.windows(n, pow).any(|h| mine.contains(&h)))
    }

    /// Length of the longest token run shared with any training sequence:
    /// binary search on n (a shared n-gram implies a shared (n−1)-gram).
    pub fn longest_common(&self, seq: &[u32]) -> usize {
        let query = PrefixHashes::new(seq);
        let (mut lo, mut hi) = (0usize, seq.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.shares_ngram(&query, mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }
}

/// MinHash signature (64 hashes) of a sequence's 4-gram shingles.
pub fn minhash(seq: &[u32]) -> Vec<u64> {
    (0..64u64)
        .map(|i| {
            ngrams(seq, 4)
                .map(|g| {
                    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    for t in g {
                        h = (h ^ *t as u64).wrapping_mul(0x0000_0100_0000_01b3);
                    }
                    h ^ (h >> 29)
                })
                .min()
                .unwrap_or(u64::MAX)
        })
        .collect()
}

/// Estimated Jaccard similarity of two MinHash signatures.
pub fn minhash_jaccard(a: &[u64], b: &[u64]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
}

/// Distinct-n: distinct n-grams ÷ all n-grams over all samples.
pub fn distinct_n(samples: &[Vec<u32>], n: usize) -> f64 {
    let all: Vec<&[u32]> = samples.iter().flat_map(|s| ngrams(s, n)).collect();
    if all.is_empty() {
        return 0.0;
    }
    all.iter().collect::<HashSet<_>>().len() as f64 / all.len() as f64
}

/// Overlap area (Yang & Lerch 2018) of two samples of a per-piece metric:
/// Gaussian KDEs with Silverman bandwidths (the generated side's at least the
/// real side's), ∫ min(p, q) on a 512-point grid.
pub fn overlap_area(real: &[f64], generated: &[f64]) -> f64 {
    if real.is_empty() || generated.is_empty() {
        return 0.0;
    }
    let bandwidth = |xs: &[f64]| {
        let m = mean(xs);
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        (1.06 * sd * (xs.len() as f64).powf(-0.2)).max(1e-3)
    };
    // The generated side is never smoothed more finely than the real one:
    // a sample narrower than the reference can resolve (every piece 1.000
    // in key) would otherwise be a spike of the floor's width, and the
    // overlap would measure that floor, not the music.
    let hr = bandwidth(real);
    let hg = bandwidth(generated).max(hr);
    let lo = real
        .iter()
        .chain(generated)
        .cloned()
        .fold(f64::INFINITY, f64::min)
        - 4.0 * hr.max(hg);
    let hi = real
        .iter()
        .chain(generated)
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max)
        + 4.0 * hr.max(hg);
    let kde = |xs: &[f64], h: f64, x: f64| {
        xs.iter()
            .map(|v| (-0.5 * ((x - v) / h).powi(2)).exp())
            .sum::<f64>()
            / (xs.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt())
    };
    let n = 512;
    let dx = (hi - lo) / n as f64;
    (0..n)
        .map(|i| lo + (i as f64 + 0.5) * dx)
        .map(|x| kde(real, hr, x).min(kde(generated, hg, x)) * dx)
        .sum::<f64>()
        .min(1.0)
}

/// Histogram intersection Σ min(p_i, q_i) of two normalised histograms.
pub fn histogram_intersection(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| a.min(*b)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_muse::theory::{ChordQuality, Mode};

    fn hit(bar: u32, step: u32, pitch: u8) -> DrumHit {
        DrumHit {
            bar,
            beat: step / 4,
            substep: step % 4,
            pitch,
            velocity_bin: 5,
            in_fill: false,
        }
    }

    #[test]
    fn four_on_the_floor_is_perfectly_consistent_and_repetitive() {
        let hits: Vec<DrumHit> = (0..8)
            .flat_map(|b| (0..4).map(move |q| hit(b, q * 4, 36)))
            .collect();
        assert_eq!(groove_consistency(&hits, 8), 1.0);
        assert_eq!(repetition_share(&hits, 8), 1.0);
        assert_eq!(hit_density(&hits, 8)["kick"], 4.0);
        // Move one kick: consecutive-bar distance 2/16 twice over 7 pairs.
        let mut varied = hits.clone();
        varied[4 * 3] = hit(3, 2, 36);
        assert!((groove_consistency(&varied, 8) - (1.0 - 4.0 / 16.0 / 7.0)).abs() < 1e-12);
    }

    #[test]
    fn chord_tone_ratio_counts_note_steps() {
        let c = ChordLabel::new(0, ChordQuality::Maj);
        let note = |bar, step: u32, pitch| MelodyNote {
            bar,
            beat: step / 4,
            substep: step % 4,
            pitch,
            velocity_bin: 4,
            duration_bin: 3,
        };
        let chord_tones = [note(0, 0, 60), note(0, 4, 64), note(0, 8, 67)];
        assert_eq!(chord_tone_ratio(&chord_tones, 16, |_, _| c), 1.0);
        let half = [note(0, 0, 60), note(0, 4, 62)];
        assert_eq!(chord_tone_ratio(&half, 16, |_, _| c), 0.5);
        // A note held over a 3/4 bar line sounds over the next bar's chord.
        let g = ChordLabel::new(7, ChordQuality::Maj);
        let over_the_line = [MelodyNote {
            duration_bin: 5,
            ..note(0, 8, 67)
        }];
        let steps = duration_from_bin(5);
        assert!(steps > 4, "the note must cross the bar line");
        let chord_at = |bar: u32, _| if bar == 0 { c } else { g };
        let in_three = chord_tone_ratio(&over_the_line, 12, chord_at);
        assert_eq!(in_three, 1.0, "G over C then G chords");
        let am = ChordLabel::new(9, ChordQuality::Min);
        let in_three_am = chord_tone_ratio(
            &over_the_line,
            12,
            |bar: u32, _| if bar == 0 { c } else { am },
        );
        assert!(
            (in_three_am - 4.0 / steps as f64).abs() < 1e-12,
            "{in_three_am}"
        );
    }

    #[test]
    fn copied_training_sequences_are_detected() {
        let train = vec![(0..50).collect::<Vec<u32>>(), (100..150).collect()];
        let mut idx = NgramIndex::new(&train);
        let copy: Vec<u32> = (10..40).collect();
        assert_eq!(idx.copied_share(&copy, 8), 1.0);
        assert_eq!(idx.longest_common(&copy), 30);
        let novel: Vec<u32> = (0..30).map(|i| 1000 + i * 7 % 13).collect();
        assert_eq!(idx.copied_share(&novel, 8), 0.0);
        assert_eq!(minhash_jaccard(&minhash(&copy), &minhash(&copy)), 1.0);
        assert!(minhash_jaccard(&minhash(&copy), &minhash(&novel)) < 0.2);
    }

    #[test]
    fn diversity_overlap_and_key_consistency() {
        let same = vec![vec![1, 2, 3, 4], vec![1, 2, 3, 4]];
        assert_eq!(distinct_n(&same, 4), 0.5);
        assert!(distinct_n(&[vec![1, 2, 3, 4], vec![5, 6, 7, 8]], 4) == 1.0);
        let a: Vec<f64> = (0..40).map(|i| i as f64 / 40.0).collect();
        assert!(overlap_area(&a, &a) > 0.95);
        let far: Vec<f64> = a.iter().map(|x| x + 100.0).collect();
        assert!(overlap_area(&a, &far) < 0.01);
        let key = Key::new(0, Mode::Major);
        let ev = |root, q, hold| ChordEvent {
            bar: 0,
            beat: 0,
            chord: ChordLabel::new(root, q),
            hold_beats: hold,
        };
        let diatonic = [
            ev(0, ChordQuality::Maj, 4),
            ev(7, ChordQuality::Dom7, 4),
            ev(9, ChordQuality::Min, 4),
        ];
        assert_eq!(key_consistency(&diatonic, key), 1.0);
        assert_eq!(
            key_consistency(
                &[ev(1, ChordQuality::Maj, 4), ev(0, ChordQuality::Maj, 4)],
                key
            ),
            0.5
        );
        let prog: Vec<ChordLabel> = [
            (0, ChordQuality::Maj),
            (7, ChordQuality::Maj),
            (9, ChordQuality::Min),
            (5, ChordQuality::Maj),
        ]
        .iter()
        .map(|(r, q)| ChordLabel::new(*r, *q))
        .collect();
        assert_eq!(common_progression_share(&prog, key), 1.0);
    }
}
