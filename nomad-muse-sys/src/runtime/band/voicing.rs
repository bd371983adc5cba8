//! Decoded events → notes: chord voicing, swing, intensity. Pure functions
//! of the event and the part's controls; no allocation.

use crate::theory::ChordLabel;
use crate::tokenizers::{duration_from_bin, velocity_from_bin, DecodedEvent, SUBSTEPS};

use super::{BandNote, Part, PartControls, TimeSignature, TICKS_PER_QUARTER};

const TICKS_PER_STEP: u32 = TICKS_PER_QUARTER / SUBSTEPS;
/// Velocity of the chords part at neutral intensity.
const CHORD_VELOCITY: f32 = 72.0;

/// Close-position voicing from C3: the chord's pitches and how many there are.
pub fn voice_chord_into(chord: ChordLabel) -> ([u8; 4], usize) {
    let mut out = [0u8; 4];
    let intervals = chord.quality.intervals();
    for (slot, i) in out.iter_mut().zip(intervals) {
        *slot = 48 + chord.root + i;
    }
    (out, intervals.len().min(4))
}

/// [`voice_chord_into`] as a vector (off the real-time path).
pub fn voice_chord(chord: ChordLabel) -> Vec<u8> {
    let (p, n) = voice_chord_into(chord);
    p[..n].to_vec()
}

/// Tick within the bar of 16th `step`, with swing: inside each pair of
/// `unit`-step cells the first is stretched and the second shortened.
pub fn swung_tick(step: u32, controls: &PartControls) -> u32 {
    let tick = step * TICKS_PER_STEP;
    if controls.swing <= 0.0 {
        return tick;
    }
    let unit = controls.swing_unit_steps * TICKS_PER_STEP;
    let (pair_start, pos) = (tick - tick % (2 * unit), tick % (2 * unit));
    let s = 0.5 * controls.swing;
    let within = if pos < unit {
        pos as f32 * (1.0 + s)
    } else {
        unit as f32 * (1.0 + s) + (pos - unit) as f32 * (1.0 - s)
    };
    pair_start + within.round() as u32
}

fn velocity(base: f32, controls: &PartControls) -> u8 {
    (base * controls.velocity_scale()).round().clamp(1.0, 127.0) as u8
}

/// Calls `emit` with every note `event` sounds in bar `bar`.
pub fn render(
    event: DecodedEvent,
    part: Part,
    bar: u32,
    controls: &PartControls,
    metre: TimeSignature,
    mut emit: impl FnMut(BandNote),
) {
    let base = bar * metre.ticks_per_bar();
    let channel = part.channel();
    match event {
        DecodedEvent::Chord(c) if !c.chord.is_none() => {
            let beats = c
                .hold_beats
                .min(metre.beats_per_bar().saturating_sub(c.beat));
            let (pitches, n) = voice_chord_into(c.chord);
            for pitch in &pitches[..n] {
                emit(BandNote {
                    tick: base + c.beat * TICKS_PER_QUARTER,
                    duration: beats.max(1) * TICKS_PER_QUARTER,
                    pitch: *pitch,
                    velocity: velocity(CHORD_VELOCITY, controls),
                    channel,
                });
            }
        }
        DecodedEvent::Note(n) => emit(BandNote {
            tick: base + swung_tick(n.beat * SUBSTEPS + n.substep, controls),
            duration: duration_from_bin(n.duration_bin) * TICKS_PER_STEP,
            pitch: n.pitch,
            velocity: velocity(velocity_from_bin(n.velocity_bin) as f32, controls),
            channel,
        }),
        DecodedEvent::Hit(h) => emit(BandNote {
            tick: base + swung_tick(h.beat * SUBSTEPS + h.substep, controls),
            duration: TICKS_PER_STEP / 2,
            pitch: h.pitch,
            velocity: velocity(velocity_from_bin(h.velocity_bin) as f32, controls),
            channel,
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swing_delays_offbeats_and_keeps_downbeats() {
        let mut c = PartControls::default();
        assert_eq!(swung_tick(2, &c), 240);
        c.swing = 1.0;
        assert_eq!(swung_tick(0, &c), 0);
        assert_eq!(swung_tick(2, &c), 360);
        assert_eq!(swung_tick(4, &c), 480);
        c.swing = 2.0 / 3.0;
        assert_eq!(swung_tick(6, &c), 480 + 320);
        c.swing_unit_steps = 1;
        c.swing = 1.0;
        assert_eq!(swung_tick(1, &c), 180);
        assert_eq!(swung_tick(2, &c), 240);
    }
}
