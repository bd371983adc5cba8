//! Per-frame pitch-class profiles on the music's own beat: the beat phase is
//! found from the onsets (a file's grid may be offset from the music by a
//! constant), then one linear sweep over note starts and ends fills every
//! frame's duration-weighted profile and its bass (lowest sounding pitch).

/// A note as the chord analysis sees it.
#[derive(Debug, Clone, Copy)]
pub struct WeightedNote {
    pub start_tick: u64,
    pub end_tick: u64,
    pub pitch: u8,
    /// Scales the note's duration (melody lines carry passing tones).
    pub weight: f32,
}

/// Frames of `len` ticks whose boundaries lie at `phase + k * len`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameGrid {
    /// Offset of the music's beats from the file's grid, in ticks, in
    /// `(-ppq/2, ppq/2]`.
    pub phase: i64,
    pub len: i64,
    /// Index of the first frame: frame `i` starts at `phase + (first + i) * len`.
    pub first: i64,
    pub count: usize,
    /// Frames per quarter-note beat.
    pub per_beat: i64,
}

impl FrameGrid {
    /// Frames covering `[0, end_tick)` at `per_beat` frames per quarter.
    pub fn new(ppq: u16, phase: i64, end_tick: u64, per_beat: i64) -> Self {
        let len = (ppq as i64 / per_beat).max(1);
        let first = (-phase).div_euclid(len);
        let last = (end_tick as i64 - phase + len - 1).div_euclid(len);
        FrameGrid {
            phase,
            len,
            first,
            count: (last - first).max(0) as usize,
            per_beat,
        }
    }

    pub fn start(&self, i: usize) -> i64 {
        self.phase + (self.first + i as i64) * self.len
    }

    /// The file tick of frame `i`'s start, clamped at 0.
    pub fn start_tick(&self, i: usize) -> u64 {
        self.start(i).max(0) as u64
    }
}

/// Duration-weighted pitch classes and bass per frame.
#[derive(Debug, Clone, Default)]
pub struct FrameProfiles {
    pub pcs: Vec<[f32; 12]>,
    /// Ticks during which each pitch class was the lowest sounding note.
    pub bass: Vec<[f32; 12]>,
    /// Ticks during which at least two distinct pitch classes sound.
    pub polyphonic: Vec<f32>,
    /// Ticks during which anything sounds.
    pub sounding: Vec<f32>,
}

/// Onset histogram bins per quarter note for the beat-phase search.
const PHASE_BINS: usize = 24;

/// The offset of the music's beats from the file's quarter grid. Onsets are
/// weighted by their length (long notes and bass notes fall on beats more
/// than passing notes); the file's own grid is kept unless another phase
/// carries clearly more weight.
pub fn beat_phase(notes: &[WeightedNote], ppq: u16) -> i64 {
    let ppq = ppq.max(1) as u64;
    let mut hist = [0f64; PHASE_BINS];
    for n in notes {
        let len = (n.end_tick - n.start_tick).min(2 * ppq) as f64 / ppq as f64;
        let bass = if n.pitch < 55 { 1.0 } else { 0.0 };
        let bin = ((n.start_tick % ppq) * PHASE_BINS as u64 / ppq) as usize;
        hist[bin.min(PHASE_BINS - 1)] += 0.25 + len + bass;
    }
    // Tolerate onsets a bin either side of the beat (human timing).
    let smoothed: Vec<f64> = (0..PHASE_BINS)
        .map(|b| {
            let at = |d: isize| hist[(b as isize + d).rem_euclid(PHASE_BINS as isize) as usize];
            at(0) + 0.5 * (at(-1) + at(1))
        })
        .collect();
    let best = (0..PHASE_BINS)
        .max_by(|a, b| smoothed[*a].total_cmp(&smoothed[*b]).then(b.cmp(a)))
        .unwrap_or(0);
    if best == 0 || smoothed[best] < 1.25 * smoothed[0] {
        return 0;
    }
    let ticks = (best as u64 * ppq / PHASE_BINS as u64) as i64;
    if ticks > ppq as i64 / 2 {
        ticks - ppq as i64
    } else {
        ticks
    }
}

/// Active notes during the sweep.
struct Sounding {
    count: [u32; 128],
    weight: [f32; 12],
    pcs: [u32; 12],
    /// Bit p set while pitch p sounds.
    mask: u128,
}

impl Sounding {
    fn apply(&mut self, pitch: u8, weight: f32, on: bool) {
        let p = (pitch & 127) as usize;
        let pc = p % 12;
        if on {
            self.count[p] += 1;
            self.pcs[pc] += 1;
            self.weight[pc] += weight;
            self.mask |= 1u128 << p;
        } else {
            self.count[p] = self.count[p].saturating_sub(1);
            self.pcs[pc] = self.pcs[pc].saturating_sub(1);
            self.weight[pc] = (self.weight[pc] - weight).max(0.0);
            if self.count[p] == 0 {
                self.mask &= !(1u128 << p);
            }
        }
    }

    /// Adds `d` ticks of the current sound to frame `f`.
    fn accumulate(&self, out: &mut FrameProfiles, f: usize, d: f32) {
        if self.mask == 0 || d <= 0.0 {
            return;
        }
        for pc in 0..12 {
            out.pcs[f][pc] += d * self.weight[pc];
        }
        let lowest = self.mask.trailing_zeros() as usize;
        out.bass[f][lowest % 12] += d;
        out.sounding[f] += d;
        if self.pcs.iter().filter(|c| **c > 0).count() >= 2 {
            out.polyphonic[f] += d;
        }
    }
}

/// Fills every frame's profile in one pass: O(notes log notes + frames).
pub fn frame_profiles(notes: &[WeightedNote], grid: &FrameGrid) -> FrameProfiles {
    let mut out = FrameProfiles {
        pcs: vec![[0.0; 12]; grid.count],
        bass: vec![[0.0; 12]; grid.count],
        polyphonic: vec![0.0; grid.count],
        sounding: vec![0.0; grid.count],
    };
    if grid.count == 0 {
        return out;
    }
    // (tick, is_start, note index); ends sort before starts at equal ticks.
    let mut events: Vec<(i64, bool, u32)> = Vec::with_capacity(notes.len() * 2);
    for (i, n) in notes.iter().enumerate() {
        if n.end_tick > n.start_tick {
            events.push((n.start_tick as i64, true, i as u32));
            events.push((n.end_tick as i64, false, i as u32));
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.1));
    let mut sound = Sounding {
        count: [0; 128],
        weight: [0.0; 12],
        pcs: [0; 12],
        mask: 0,
    };
    let (mut f, mut t) = (0usize, grid.start(0));
    for (tick, is_start, i) in events {
        while f < grid.count && tick >= grid.start(f + 1) {
            let end = grid.start(f + 1);
            sound.accumulate(&mut out, f, (end - t) as f32);
            (f, t) = (f + 1, end);
        }
        if f >= grid.count {
            break;
        }
        sound.accumulate(&mut out, f, (tick - t) as f32);
        t = tick;
        let n = &notes[i as usize];
        sound.apply(n.pitch, n.weight, is_start);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: u64, end: u64, pitch: u8) -> WeightedNote {
        WeightedNote {
            start_tick: start,
            end_tick: end,
            pitch,
            weight: 1.0,
        }
    }

    #[test]
    fn profiles_split_notes_across_frames_and_track_the_bass() {
        // 480 ppq, eighth frames of 240 ticks; a C held 1.5 frames under an E.
        let notes = [note(0, 360, 48), note(0, 480, 64)];
        let grid = FrameGrid::new(480, 0, 480, 2);
        assert_eq!(grid.count, 2);
        let p = frame_profiles(&notes, &grid);
        assert_eq!(p.pcs[0][0], 240.0);
        assert_eq!(p.pcs[1][0], 120.0);
        assert_eq!(p.pcs[1][4], 240.0);
        // The E is the bass once the C has ended.
        assert_eq!(p.bass[1][0], 120.0);
        assert_eq!(p.bass[1][4], 120.0);
        assert_eq!(p.polyphonic[1], 120.0);
        assert_eq!(p.sounding[1], 240.0);
    }

    #[test]
    fn the_beat_phase_follows_the_onsets() {
        // Every note starts a dotted eighth (360 ticks) after the file's beat.
        let notes: Vec<WeightedNote> = (0..32)
            .map(|i| note(i * 480 + 360, i * 480 + 360 + 400, 60))
            .collect();
        assert_eq!(beat_phase(&notes, 480), -120);
        let on_grid: Vec<WeightedNote> =
            (0..32).map(|i| note(i * 480, i * 480 + 400, 60)).collect();
        assert_eq!(beat_phase(&on_grid, 480), 0);
        let grid = FrameGrid::new(480, -120, 32 * 480, 2);
        assert_eq!(grid.start(0), -120);
        assert!(grid.start(grid.count - 1) < 32 * 480);
    }
}
