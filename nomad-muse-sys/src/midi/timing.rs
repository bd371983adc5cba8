//! Tick → seconds through a tempo map, and bar lines from a metre map.

/// Piecewise-constant tempo built from `(tick, bpm)` changes.
#[derive(Debug, Clone)]
pub struct TempoMap {
    ppq: u16,
    /// `(tick, seconds at tick, bpm)`, sorted, first at tick 0.
    segments: Vec<(u64, f64, f64)>,
}

/// Default MIDI tempo.
pub const DEFAULT_BPM: f64 = 120.0;

impl TempoMap {
    /// `changes` are `(tick, bpm)` in any order; later entries win on equal
    /// ticks. Non-finite or non-positive tempos are ignored.
    pub fn new(ppq: u16, changes: &[(u64, f64)]) -> Self {
        let mut sorted: Vec<(u64, f64)> = changes
            .iter()
            .copied()
            .filter(|(_, bpm)| bpm.is_finite() && *bpm > 0.0)
            .collect();
        sorted.sort_by_key(|c| c.0);
        let mut segments: Vec<(u64, f64, f64)> = vec![(0, 0.0, DEFAULT_BPM)];
        for (tick, bpm) in sorted {
            let seconds = Self::seconds_in(&segments, ppq, tick);
            match segments.last_mut() {
                Some(last) if last.0 == tick => last.2 = bpm,
                _ => segments.push((tick, seconds, bpm)),
            }
        }
        TempoMap { ppq, segments }
    }

    fn seconds_in(segments: &[(u64, f64, f64)], ppq: u16, tick: u64) -> f64 {
        let i = segments.partition_point(|s| s.0 <= tick).saturating_sub(1);
        let (t0, s0, bpm) = segments.get(i).copied().unwrap_or((0, 0.0, DEFAULT_BPM));
        s0 + tick.saturating_sub(t0) as f64 * 60.0 / bpm / ppq.max(1) as f64
    }

    pub fn ppq(&self) -> u16 {
        self.ppq
    }

    /// Seconds from the start of the song to `tick`.
    pub fn seconds_at(&self, tick: u64) -> f64 {
        Self::seconds_in(&self.segments, self.ppq, tick)
    }

    /// `(seconds, bpm)` for each tempo segment, first at 0 s.
    pub fn bpm_map(&self) -> Vec<(f64, f64)> {
        self.segments.iter().map(|(_, s, bpm)| (*s, *bpm)).collect()
    }
}

/// One bar line: where a bar starts and the metre it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarLine {
    pub tick: u64,
    /// 16th-grid step (1 step = ppq/4 ticks), rounded to the nearest.
    pub step: u32,
    pub numerator: u8,
    pub denominator: u8,
}

/// The nearest 16th-grid step of `tick`, saturating at `u32::MAX`.
pub fn tick_to_step(tick: u64, ppq: u16) -> u32 {
    let ppq = ppq.max(1) as u64;
    let step = tick.saturating_mul(4).saturating_add(ppq / 2) / ppq;
    u32::try_from(step).unwrap_or(u32::MAX)
}

/// Bar lines from `(tick, numerator, denominator)` changes (4/4 before the
/// first), from tick 0 until the first bar line at or after `end_tick`, which
/// closes the song (so there are always at least two). A metre change takes
/// effect at the next bar line at or after it; a bar lasts
/// `ppq * 4 * num / den` ticks = `num * 16 / den` steps.
/// `None` when more than `max_bars` bars would be needed.
pub fn bar_lines(
    ppq: u16,
    time_signatures: &[(u64, u8, u8)],
    end_tick: u64,
    max_bars: usize,
) -> Option<Vec<BarLine>> {
    let mut sigs: Vec<(u64, u8, u8)> = time_signatures
        .iter()
        .copied()
        .filter(|(_, num, den)| *num > 0 && den.is_power_of_two())
        .collect();
    sigs.sort_by_key(|s| s.0);
    if sigs.first().is_none_or(|s| s.0 > 0) {
        sigs.insert(0, (0, 4, 4));
    }
    let mut bars = Vec::new();
    let (mut tick, mut i) = (0u64, 0usize);
    loop {
        while sigs.get(i + 1).is_some_and(|s| s.0 <= tick) {
            i += 1;
        }
        let (_, numerator, denominator) = sigs[i];
        bars.push(BarLine {
            tick,
            step: tick_to_step(tick, ppq),
            numerator,
            denominator,
        });
        if tick >= end_tick && bars.len() > 1 {
            return Some(bars);
        }
        if bars.len() > max_bars {
            return None;
        }
        let len = ppq as u64 * 4 * numerator as u64 / denominator as u64;
        tick = tick.saturating_add(len.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_follow_tempo_changes() {
        // 120 bpm for one bar (4 quarters = 2 s), then 60 bpm.
        let map = TempoMap::new(480, &[(0, 120.0), (1920, 60.0)]);
        assert!((map.seconds_at(1920) - 2.0).abs() < 1e-9);
        assert!((map.seconds_at(1920 + 480) - 3.0).abs() < 1e-9);
        assert!((map.seconds_at(960) - 1.0).abs() < 1e-9);
        assert_eq!(map.bpm_map(), vec![(0.0, 120.0), (2.0, 60.0)]);
    }

    #[test]
    fn default_tempo_applies_before_the_first_change() {
        // 120 bpm until tick 96 (0.5 s at 96 ppq), then 240 bpm.
        let map = TempoMap::new(96, &[(96, 240.0), (0, f64::NAN)]);
        assert!((map.seconds_at(192) - 0.75).abs() < 1e-9);
        assert_eq!(map.bpm_map(), vec![(0.0, 120.0), (0.5, 240.0)]);
    }

    #[test]
    fn three_four_bars_are_twelve_steps() {
        let bars = bar_lines(960, &[(0, 3, 4)], 960 * 7, 100).unwrap();
        let steps: Vec<u32> = bars.iter().map(|b| b.step).collect();
        let ticks: Vec<u64> = bars.iter().map(|b| b.tick).collect();
        assert_eq!(steps, vec![0, 12, 24, 36]);
        assert_eq!(ticks, vec![0, 2880, 5760, 8640]);
        assert!(bars.iter().all(|b| (b.numerator, b.denominator) == (3, 4)));
    }

    #[test]
    fn metre_changes_apply_at_the_next_bar_line() {
        // 96 ppq, 4/4, then 6/8 from tick 400 (inside bar 1: applies from bar 2).
        let bars = bar_lines(96, &[(400, 6, 8)], 768 + 288 * 2, 100).unwrap();
        let steps: Vec<u32> = bars.iter().map(|b| b.step).collect();
        assert_eq!(steps, vec![0, 16, 32, 44, 56]);
        assert_eq!((bars[0].numerator, bars[0].denominator), (4, 4));
        assert_eq!((bars[1].numerator, bars[1].denominator), (4, 4));
        assert_eq!((bars[2].numerator, bars[2].denominator), (6, 8));
    }

    #[test]
    fn too_many_bars_is_refused() {
        assert!(bar_lines(480, &[], 1920 * 50, 10).is_none());
        assert_eq!(
            bar_lines(480, &[], 1920 * 10, 10).map(|b| b.len()),
            Some(11)
        );
        assert_eq!(tick_to_step(u64::MAX, 1), u32::MAX);
        assert_eq!(tick_to_step(60, 480), 1);
    }
}
