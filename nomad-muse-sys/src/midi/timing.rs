//! Tick ↔ seconds through a tempo map.

/// Piecewise-constant tempo: `(tick, microseconds per quarter)` segments.
#[derive(Debug, Clone)]
pub struct TempoMap {
    ppq: u16,
    /// `(tick, seconds at tick, µs per quarter)`, sorted, first at tick 0.
    segments: Vec<(u64, f64, f64)>,
}

/// Default MIDI tempo, 120 bpm.
pub const DEFAULT_US_PER_QUARTER: f64 = 500_000.0;

impl TempoMap {
    /// `changes` are `(tick, µs per quarter)` in any order; later entries win
    /// on equal ticks.
    pub fn new(ppq: u16, changes: &[(u64, f64)]) -> Self {
        let mut sorted: Vec<(u64, f64)> = changes.to_vec();
        sorted.sort_by_key(|c| c.0);
        let mut segments: Vec<(u64, f64, f64)> = vec![(0, 0.0, DEFAULT_US_PER_QUARTER)];
        for (tick, us) in sorted {
            let seconds = Self::seconds_in(&segments, ppq, tick);
            if let Some(last) = segments.last_mut().filter(|s| s.0 == tick) {
                last.2 = us;
            } else {
                segments.push((tick, seconds, us));
            }
        }
        TempoMap { ppq, segments }
    }

    fn seconds_in(segments: &[(u64, f64, f64)], ppq: u16, tick: u64) -> f64 {
        let i = segments.partition_point(|s| s.0 <= tick).saturating_sub(1);
        let (t0, s0, us) = segments[i];
        s0 + (tick - t0) as f64 * us / 1e6 / ppq.max(1) as f64
    }

    pub fn seconds_at(&self, tick: u64) -> f64 {
        Self::seconds_in(&self.segments, self.ppq, tick)
    }

    /// `(seconds, bpm)` for each tempo segment.
    pub fn bpm_map(&self) -> Vec<(f64, f64)> {
        self.segments.iter().map(|(_, s, us)| (*s, 60e6 / us)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_follow_tempo_changes() {
        // 120 bpm for one bar (4 quarters = 2 s), then 60 bpm.
        let map = TempoMap::new(480, &[(0, 500_000.0), (1920, 1_000_000.0)]);
        assert!((map.seconds_at(1920) - 2.0).abs() < 1e-9);
        assert!((map.seconds_at(1920 + 480) - 3.0).abs() < 1e-9);
        assert_eq!(map.bpm_map(), vec![(0.0, 120.0), (2.0, 60.0)]);
    }
}
