//! Per-bar storage, all allocated when the band is made: each part's tokens
//! and every note of each bar in fixed slots, and at every bar line a
//! snapshot of the band (RNG, key, each part's model state, grammar and
//! decoder). Re-rolling restores a snapshot; writing a bar fills its slots;
//! nothing here allocates after construction.

use crate::runtime::realtime_alloc::touch_pages;
use crate::theory::Key;
use crate::tokenizers::{EventDecoder, GrammarState};

use super::{BandNote, Part};

/// Token slots per bar of melody and drums; a bar is closed well before (see
/// `schedule::NOTE_CAP`), so the slot never overflows.
pub const MAX_TOKENS_PER_BAR: usize = 400;
/// Harmony's token slots per bar: its grammar allows at most `BAR` and, for
/// each of `MAX_BEATS` beats, `BEAT CHORD HOLD` (25 tokens), and every
/// stored token passed the grammar (`PartRunner::feed`).
pub const HARMONY_TOKENS_PER_BAR: usize = 64;
const _: () = assert!(3 * (crate::tokenizers::MAX_BEATS as usize) < HARMONY_TOKENS_PER_BAR);

/// Token slots per bar of `part` (harmony's grammar bounds its bars).
const fn token_slots(part: Part) -> usize {
    match part {
        Part::Harmony => HARMONY_TOKENS_PER_BAR,
        Part::Melody | Part::Drums => MAX_TOKENS_PER_BAR,
    }
}

/// Notes per bar of all parts together.
pub const MAX_NOTES_PER_BAR: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartMark {
    pub grammar: GrammarState,
    pub decoder: EventDecoder,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BarMark {
    pub rng: u64,
    pub key: Option<Key>,
    pub parts: [Option<PartMark>; 3],
}

#[derive(Debug)]
pub(crate) struct SongStore {
    pub max_bars: usize,
    /// Where each part's model state starts within a bar's state block.
    state_offsets: [usize; 4],
    /// Each bar's model states in half precision: a GRU's state lies in
    /// (-1, 1), where f16 keeps 11 significant bits; it halves the store's
    /// largest part (256 bars x 800 floats of the main job's experts).
    model_states: Vec<half::f16>,
    marks: Vec<Option<BarMark>>,
    tokens: [Vec<u16>; 3],
    token_counts: [Vec<u16>; 3],
    notes: Vec<PackedNote>,
    note_counts: Vec<u16>,
}

/// A stored note in 8 bytes instead of `BandNote`'s 12 (the store keeps
/// `MAX_NOTES_PER_BAR` slots for each of its bars, all resident): the tick
/// in full, then MIDI's own ranges (pitch and velocity 7 bits, channel 4)
/// and the duration in 14 bits (34 quarter notes; longer is held at that).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PackedNote(u64);

const DURATION_BITS: u32 = 14;
const MAX_DURATION: u32 = (1 << DURATION_BITS) - 1;

impl PackedNote {
    /// None when a field is outside MIDI's range.
    fn new(n: &BandNote) -> Option<Self> {
        if n.pitch > 127 || n.velocity > 127 || n.channel > 15 {
            return None;
        }
        let small = u64::from(n.duration.min(MAX_DURATION))
            | u64::from(n.pitch) << DURATION_BITS
            | u64::from(n.velocity) << (DURATION_BITS + 7)
            | u64::from(n.channel) << (DURATION_BITS + 14);
        Some(PackedNote(u64::from(n.tick) << 32 | small))
    }

    fn note(self) -> BandNote {
        let field = |shift: u32, bits: u32| ((self.0 >> shift) & ((1 << bits) - 1)) as u32;
        BandNote {
            tick: (self.0 >> 32) as u32,
            duration: field(0, DURATION_BITS),
            pitch: field(DURATION_BITS, 7) as u8,
            velocity: field(DURATION_BITS + 7, 7) as u8,
            channel: field(DURATION_BITS + 14, 4) as u8,
        }
    }

    /// The order a bar's notes are read in: tick, channel, pitch.
    fn order(self) -> (u32, u8, u8) {
        let n = self.note();
        (n.tick, n.channel, n.pitch)
    }
}

/// A bar's notes, read from the store.
#[derive(Debug, Clone)]
pub struct BarNotes<'a>(std::slice::Iter<'a, PackedNote>);

impl Iterator for BarNotes<'_> {
    type Item = BandNote;
    fn next(&mut self) -> Option<BandNote> {
        self.0.next().map(|p| p.note())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for BarNotes<'_> {}

impl BarNotes<'_> {
    /// No notes (a bar not generated).
    pub fn empty() -> BarNotes<'static> {
        BarNotes([].iter())
    }
}

impl SongStore {
    pub fn new(max_bars: usize, state_lens: [usize; 3]) -> Self {
        let mut offsets = [0; 4];
        for i in 0..3 {
            offsets[i + 1] = offsets[i] + state_lens[i];
        }
        let mut store = SongStore {
            max_bars,
            state_offsets: offsets,
            model_states: vec![half::f16::ZERO; max_bars * offsets[3]],
            marks: vec![None; max_bars],
            tokens: Part::ALL.map(|part| vec![0; max_bars * token_slots(part)]),
            token_counts: std::array::from_fn(|_| vec![0; max_bars]),
            notes: vec![PackedNote::default(); max_bars * MAX_NOTES_PER_BAR],
            note_counts: vec![0; max_bars],
        };
        // Zeroed buffers may be mapped lazily: fault them in at load, not
        // in a later bar on the audio thread.
        touch_pages(&mut store.model_states);
        for part in &mut store.tokens {
            touch_pages(part);
        }
        for counts in &mut store.token_counts {
            touch_pages(counts);
        }
        touch_pages(&mut store.notes);
        touch_pages(&mut store.note_counts);
        store
    }

    fn state_range(&self, bar: usize, part: Part) -> std::ops::Range<usize> {
        let base = bar * self.state_offsets[3];
        base + self.state_offsets[part.index()]..base + self.state_offsets[part.index() + 1]
    }

    /// Keeps `state` as `part`'s model state at bar line `bar`.
    pub fn save_state(&mut self, bar: usize, part: Part, state: &[f32]) {
        let r = self.state_range(bar, part);
        for (kept, x) in self.model_states[r].iter_mut().zip(state) {
            *kept = half::f16::from_f32(*x);
        }
    }

    /// `part`'s model state at bar line `bar`, into `out`.
    pub fn load_state(&self, bar: usize, part: Part, out: &mut [f32]) {
        for (x, kept) in out
            .iter_mut()
            .zip(&self.model_states[self.state_range(bar, part)])
        {
            *x = kept.to_f32();
        }
    }

    pub fn set_mark(&mut self, bar: usize, mark: BarMark) {
        self.marks[bar] = Some(mark);
    }

    pub fn mark(&self, bar: usize) -> Option<BarMark> {
        self.marks.get(bar).copied().flatten()
    }

    pub fn bar_tokens(&self, bar: usize, part: Part) -> &[u16] {
        let start = bar * token_slots(part);
        let n = self.token_counts[part.index()][bar] as usize;
        &self.tokens[part.index()][start..start + n]
    }

    pub fn clear_bar(&mut self, bar: usize, part: Part) {
        self.token_counts[part.index()][bar] = 0;
    }

    /// Appends a token to the bar's slot; false when it is full.
    pub fn push_token(&mut self, bar: usize, part: Part, id: u32) -> bool {
        let count = &mut self.token_counts[part.index()][bar];
        if *count as usize >= token_slots(part) {
            return false;
        }
        self.tokens[part.index()][bar * token_slots(part) + *count as usize] = id as u16;
        *count += 1;
        true
    }

    pub fn tokens_in_bar(&self, bar: usize, part: Part) -> usize {
        self.token_counts[part.index()][bar] as usize
    }

    pub fn bar_notes(&self, bar: usize) -> BarNotes<'_> {
        let start = bar * MAX_NOTES_PER_BAR;
        BarNotes(self.notes[start..start + self.note_counts[bar] as usize].iter())
    }

    pub fn clear_notes(&mut self, bar: usize) {
        self.note_counts[bar] = 0;
    }

    /// Appends a note to the bar; false when the bar is full (or the note
    /// is outside MIDI's ranges).
    pub fn push_note(&mut self, bar: usize, note: BandNote) -> bool {
        let n = self.note_counts[bar] as usize;
        let Some(packed) = PackedNote::new(&note).filter(|_| n < MAX_NOTES_PER_BAR) else {
            return false;
        };
        self.notes[bar * MAX_NOTES_PER_BAR + n] = packed;
        self.note_counts[bar] += 1;
        true
    }

    /// Sorts the bar's notes by (tick, channel, pitch) in place.
    pub fn sort_bar(&mut self, bar: usize) {
        let start = bar * MAX_NOTES_PER_BAR;
        let n = self.note_counts[bar] as usize;
        self.notes[start..start + n].sort_unstable_by_key(|n| n.order());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_note_is_the_note_within_midi_ranges() {
        let note = |tick, duration, pitch, velocity, channel| BandNote {
            tick,
            duration,
            pitch,
            velocity,
            channel,
        };
        for n in [
            note(0, 0, 0, 0, 0),
            note(u32::MAX, MAX_DURATION, 127, 127, 15),
            note(983_040, 1440, 60, 90, 9),
        ] {
            assert_eq!(PackedNote::new(&n).map(PackedNote::note), Some(n));
        }
        let long = PackedNote::new(&note(480, 100_000, 60, 90, 0)).map(PackedNote::note);
        assert_eq!(long.map(|n| n.duration), Some(MAX_DURATION));
        for bad in [
            note(0, 1, 128, 1, 0),
            note(0, 1, 1, 128, 0),
            note(0, 1, 1, 1, 16),
        ] {
            assert_eq!(PackedNote::new(&bad), None);
        }
    }

    #[test]
    fn a_bar_line_snapshot_keeps_the_state_to_half_precision() {
        let mut store = SongStore::new(4, [3, 2, 0]);
        let state = [0.731_f32, -0.000_12, 0.999_9];
        store.save_state(2, Part::Harmony, &state);
        store.save_state(2, Part::Melody, &[-0.5, 0.25]);
        let mut back = [0.0; 3];
        store.load_state(2, Part::Harmony, &mut back);
        for (a, b) in state.iter().zip(back) {
            assert!((a - b).abs() <= a.abs() / 2048.0, "{a} came back as {b}");
        }
        let mut melody = [0.0; 2];
        store.load_state(2, Part::Melody, &mut melody);
        assert_eq!(melody, [-0.5, 0.25]);
    }
}
