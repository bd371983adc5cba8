//! Repetition → sections → labels.
//!
//! 1. Repeat runs: for every lag L ≥ [`MIN_LAG`] bars, the stretches where
//!    bar j matches bar j−L (similarity ≥ [`REPEAT_SIMILARITY`]) for at
//!    least [`MIN_RUN`] bars, one unmatched bar tolerated inside (a varied
//!    bar or a fill) — the stripes of the bar self-similarity matrix.
//! 2. Each bar repeats the source of the longest run covering it (ties: the
//!    earliest source).
//! 3. Section boundaries at both ends of every run that won a bar, on the
//!    repeated and on the source side; pieces shorter than
//!    [`MIN_SECTION_BARS`] join the one before, pieces longer than
//!    [`MAX_SECTION_BARS`] are cut every [`SPLIT_BARS`].
//! 4. A section takes the label of the earlier section it matches best
//!    (mean bar similarity at equal offsets ≥ [`REPEAT_SIMILARITY`]), else a
//!    new letter; a repeat below [`LITERAL_SIMILARITY`] or of another length
//!    is a variant (A′).

use super::bars::{bar_similarity, BarNotes};
use super::{FormSection, MAX_SECTION_BARS, SPLIT_BARS};

/// A drum groove repeating under a new melody (half the onsets equal) is
/// no repeat; a repeated verse with drums added (two thirds) is one.
pub const REPEAT_SIMILARITY: f32 = 0.6;
pub const MIN_LAG: usize = 4;
pub const MIN_RUN: usize = 4;
const MIN_SECTION_BARS: u32 = 2;
const LITERAL_SIMILARITY: f32 = 0.9;

/// Bars `start..start + len` repeat bars `start - lag ..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: usize,
    pub len: usize,
    pub lag: usize,
}

pub(crate) fn repeat_runs(bars: &[BarNotes]) -> Vec<Run> {
    let n = bars.len();
    let mut runs = Vec::new();
    for lag in MIN_LAG..n {
        // (start, last matching bar) of the run being followed.
        let mut open: Option<(usize, usize)> = None;
        for j in lag..n {
            let hit = bar_similarity(&bars[j - lag], &bars[j]) >= REPEAT_SIMILARITY;
            open = match (open, hit) {
                (None, true) => Some((j, j)),
                (Some((s, _)), true) => Some((s, j)),
                // One unmatched bar may sit inside a run.
                (Some((s, last)), false) if j - last < 2 => Some((s, last)),
                (Some((s, last)), false) => {
                    push_run(&mut runs, s, last, lag);
                    None
                }
                (None, false) => None,
            };
        }
        if let Some((s, last)) = open {
            push_run(&mut runs, s, last, lag);
        }
    }
    runs
}

fn push_run(runs: &mut Vec<Run>, start: usize, last: usize, lag: usize) {
    let len = last + 1 - start;
    if len >= MIN_RUN {
        runs.push(Run { start, len, lag });
    }
}

/// The run each bar takes its source from (longest, then earliest source).
fn winning_runs(n: usize, runs: &[Run]) -> Vec<Option<usize>> {
    let mut best: Vec<Option<usize>> = vec![None; n];
    for (i, r) in runs.iter().enumerate() {
        for slot in &mut best[r.start..r.start + r.len] {
            let better = match *slot {
                None => true,
                Some(k) => (r.len, r.lag) > (runs[k].len, runs[k].lag),
            };
            if better {
                *slot = Some(i);
            }
        }
    }
    best
}

/// Per bar, the earlier bar it repeats (a bar inside a run that does not
/// itself match repeats nothing).
pub(crate) fn bar_sources(bars: &[BarNotes], runs: &[Run]) -> Vec<Option<u32>> {
    winning_runs(bars.len(), runs)
        .iter()
        .enumerate()
        .map(|(j, w)| {
            let lag = runs[(*w)?].lag;
            (bar_similarity(&bars[j - lag], &bars[j]) >= REPEAT_SIMILARITY)
                .then_some((j - lag) as u32)
        })
        .collect()
}

/// Section boundaries (sorted bar indices, first 0, last `n`).
fn boundaries(n: usize, runs: &[Run]) -> Vec<u32> {
    let mut cuts = vec![0, n as u32];
    let mut used: Vec<usize> = winning_runs(n, runs).into_iter().flatten().collect();
    used.sort_unstable();
    used.dedup();
    for r in used.into_iter().map(|i| runs[i]) {
        let end = r.start + r.len;
        cuts.extend([r.start, end, r.start - r.lag, end - r.lag].map(|c| c as u32));
    }
    cuts.sort_unstable();
    cuts.dedup();
    // A short piece joins the piece before it (the first, the one after).
    let mut kept: Vec<u32> = vec![0];
    for &c in &cuts[1..] {
        let last = *kept.last().unwrap_or(&0);
        if c - last >= MIN_SECTION_BARS {
            kept.push(c);
        } else if last != 0 {
            kept.pop();
            kept.push(c);
        }
    }
    if kept.last() != Some(&(n as u32)) {
        kept.push(n as u32);
    }
    // Long pieces are cut.
    let mut out = vec![0];
    for w in kept.windows(2) {
        let mut s = w[0];
        while w[1] - s > MAX_SECTION_BARS {
            s += SPLIT_BARS;
            out.push(s);
        }
        out.push(w[1]);
    }
    out
}

/// Mean similarity of two sections' bars at equal offsets.
fn section_similarity(bars: &[BarNotes], a: (u32, u32), b: (u32, u32)) -> f32 {
    let len = a.1.min(b.1);
    if len == 0 {
        return 0.0;
    }
    let total: f32 = (0..len)
        .map(|o| bar_similarity(&bars[(a.0 + o) as usize], &bars[(b.0 + o) as usize]))
        .sum();
    total / len as f32
}

pub(crate) fn sections(bars: &[BarNotes], runs: &[Run]) -> Vec<FormSection> {
    let cuts = boundaries(bars.len(), runs);
    let mut out: Vec<FormSection> = Vec::with_capacity(cuts.len());
    let mut labels = 0u8;
    for w in cuts.windows(2) {
        let me = (w[0], w[1] - w[0]);
        let best = out
            .iter()
            .enumerate()
            .map(|(i, s)| (i, section_similarity(bars, me, (s.start_bar, s.bars))))
            .filter(|(_, sim)| *sim >= REPEAT_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let section = match best {
            Some((i, sim)) => FormSection {
                start_bar: me.0,
                bars: me.1,
                label: out[i].label,
                repeat_of: Some(i as u32),
                variant: sim < LITERAL_SIMILARITY || out[i].bars != me.1,
            },
            None => {
                labels = labels.saturating_add(1);
                FormSection {
                    start_bar: me.0,
                    bars: me.1,
                    label: labels - 1,
                    repeat_of: None,
                    variant: false,
                }
            }
        };
        out.push(section);
    }
    out
}
