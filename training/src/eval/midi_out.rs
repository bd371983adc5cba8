//! Sampled pieces as playable MIDI files (4/4, 110 bpm, the band's channels
//! and chord voicings), so the report card's samples can be listened to.

use nomad_muse::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
use nomad_muse::runtime::{voice_chord, TICKS_PER_QUARTER};
use nomad_muse::tokenizers::{duration_from_bin, velocity_from_bin, HarmonyDecoded, SUBSTEPS};

use super::{Decoded, Piece};

const TICKS_PER_STEP: u64 = (TICKS_PER_QUARTER / SUBSTEPS) as u64;
const TICKS_PER_BAR: u64 = TICKS_PER_QUARTER as u64 * 4;

fn chords_track(h: &HarmonyDecoded) -> MidiTrackSpec {
    let notes = h
        .chords
        .iter()
        .filter(|c| !c.chord.is_none())
        .flat_map(|c| {
            voice_chord(c.chord).into_iter().map(move |pitch| MidiNote {
                tick: c.bar as u64 * TICKS_PER_BAR + c.beat as u64 * TICKS_PER_QUARTER as u64,
                duration: c.hold_beats.max(1) as u64 * TICKS_PER_QUARTER as u64,
                pitch,
                velocity: 72,
                channel: 1,
            })
        })
        .collect();
    MidiTrackSpec {
        name: "chords".into(),
        channel: 1,
        program: Some(0),
        notes,
    }
}

/// The piece as a type-1 SMF.
pub fn piece_midi(piece: &Piece) -> anyhow::Result<Vec<u8>> {
    let at = |bar: u32, beat: u32, substep: u32| {
        bar as u64 * TICKS_PER_BAR + (beat * SUBSTEPS + substep) as u64 * TICKS_PER_STEP
    };
    let tracks = match &piece.decoded {
        Decoded::Drums(hits) => vec![MidiTrackSpec {
            name: "drums".into(),
            channel: 9,
            program: None,
            notes: hits
                .iter()
                .map(|h| MidiNote {
                    tick: at(h.bar, h.beat, h.substep),
                    duration: TICKS_PER_STEP,
                    pitch: h.pitch,
                    velocity: velocity_from_bin(h.velocity_bin).max(1),
                    channel: 9,
                })
                .collect(),
        }],
        Decoded::Harmony(h) => vec![chords_track(h)],
        Decoded::Conductor(_) => anyhow::bail!("a conductor plan has no notes"),
        Decoded::Melody { notes, harmony } => vec![
            MidiTrackSpec {
                name: "melody".into(),
                channel: 0,
                program: Some(73),
                notes: notes
                    .iter()
                    .map(|n| MidiNote {
                        tick: at(n.bar, n.beat, n.substep),
                        duration: duration_from_bin(n.duration_bin).max(1) as u64 * TICKS_PER_STEP,
                        pitch: n.pitch,
                        velocity: velocity_from_bin(n.velocity_bin).max(1),
                        channel: 0,
                    })
                    .collect(),
            },
            chords_track(harmony),
        ],
    };
    Ok(write_smf(&MidiSongSpec {
        ppq: TICKS_PER_QUARTER as u16,
        tempo_changes: vec![(0, 110.0)],
        time_signatures: vec![(0, 4, 4)],
        tracks,
    })?)
}
