//! Writes songs as SMF type 1 (a conductor track plus one track per part).

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::MidiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MidiNote {
    pub tick: u64,
    pub duration: u64,
    pub pitch: u8,
    pub velocity: u8,
    pub channel: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MidiTrackSpec {
    pub name: String,
    pub channel: u8,
    pub program: Option<u8>,
    pub notes: Vec<MidiNote>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MidiSongSpec {
    pub ppq: u16,
    /// `(tick, bpm)`.
    pub tempo_changes: Vec<(u64, f64)>,
    /// `(tick, numerator, denominator)`.
    pub time_signatures: Vec<(u64, u8, u8)>,
    pub tracks: Vec<MidiTrackSpec>,
}

fn to_track(
    mut timed: Vec<(u64, u8, TrackEventKind<'_>)>,
) -> Result<Vec<TrackEvent<'_>>, MidiError> {
    // Order by time, then note-offs (0) before metas/program (1) before note-ons (2).
    timed.sort_by_key(|(t, order, _)| (*t, *order));
    let mut now = 0u64;
    let mut out = Vec::with_capacity(timed.len() + 1);
    for (t, _, kind) in timed {
        let delta = t - now;
        if delta > u28::max_value().as_int() as u64 {
            return Err(MidiError::Write(format!(
                "event at tick {t} is too far from the previous one"
            )));
        }
        out.push(TrackEvent {
            delta: u28::new(delta as u32),
            kind,
        });
        now = t;
    }
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    Ok(out)
}

/// Serialises `song`; note pitches/velocities/channels are clamped to MIDI ranges.
pub fn write_smf(song: &MidiSongSpec) -> Result<Vec<u8>, MidiError> {
    write_smf_with_keys(song, &[])
}

/// [`write_smf`] plus key-signature events in the conductor track:
/// `(tick, sharps, minor)`, sharps in -7..=7 (negative: flats), as
/// [`crate::theory::Key::signature_sharps`] gives them.
pub fn write_smf_with_keys(
    song: &MidiSongSpec,
    key_signatures: &[(u64, i8, bool)],
) -> Result<Vec<u8>, MidiError> {
    if song.ppq == 0 || song.ppq > 0x7fff {
        return Err(MidiError::Write(format!(
            "ppq {} out of range 1..=32767",
            song.ppq
        )));
    }
    let mut conductor = Vec::new();
    for (tick, bpm) in &song.tempo_changes {
        if !(bpm.is_finite() && *bpm > 3.6) {
            return Err(MidiError::Write(format!("tempo {bpm} bpm out of range")));
        }
        let us = (60e6 / bpm)
            .round()
            .clamp(1.0, u24::max_value().as_int() as f64) as u32;
        conductor.push((
            *tick,
            1,
            TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us))),
        ));
    }
    for (tick, num, den) in &song.time_signatures {
        if *num == 0 || !den.is_power_of_two() {
            return Err(MidiError::Write(format!(
                "time signature {num}/{den} is invalid"
            )));
        }
        let pow = den.trailing_zeros() as u8;
        conductor.push((
            *tick,
            1,
            TrackEventKind::Meta(MetaMessage::TimeSignature(*num, pow, 24, 8)),
        ));
    }
    for (tick, sharps, minor) in key_signatures {
        if !(-7..=7).contains(sharps) {
            return Err(MidiError::Write(format!(
                "key signature with {sharps} sharps is invalid"
            )));
        }
        conductor.push((
            *tick,
            1,
            TrackEventKind::Meta(MetaMessage::KeySignature(*sharps, *minor)),
        ));
    }
    let mut tracks = vec![to_track(conductor)?];
    for spec in &song.tracks {
        let channel = u4::new(spec.channel.min(15));
        let mut events = vec![(
            0u64,
            1u8,
            TrackEventKind::Meta(MetaMessage::TrackName(spec.name.as_bytes())),
        )];
        if let Some(p) = spec.program {
            let message = MidiMessage::ProgramChange {
                program: u7::new(p.min(127)),
            };
            events.push((0, 1, TrackEventKind::Midi { channel, message }));
        }
        for n in &spec.notes {
            let ch = u4::new(n.channel.min(15));
            let key = u7::new(n.pitch.min(127));
            let vel = u7::new(n.velocity.clamp(1, 127));
            events.push((
                n.tick,
                2,
                TrackEventKind::Midi {
                    channel: ch,
                    message: MidiMessage::NoteOn { key, vel },
                },
            ));
            let off = MidiMessage::NoteOff {
                key,
                vel: u7::new(0),
            };
            events.push((
                n.tick.saturating_add(n.duration.max(1)),
                0,
                TrackEventKind::Midi {
                    channel: ch,
                    message: off,
                },
            ));
        }
        tracks.push(to_track(events)?);
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(song.ppq))),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .map_err(|e| MidiError::Write(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::read_midi;

    fn song(notes: Vec<MidiNote>) -> MidiSongSpec {
        MidiSongSpec {
            ppq: 96,
            tempo_changes: vec![(0, 120.0)],
            time_signatures: vec![(0, 4, 4)],
            tracks: vec![MidiTrackSpec {
                name: "Lead".into(),
                channel: 0,
                program: Some(73),
                notes,
            }],
        }
    }

    fn note(tick: u64, duration: u64, pitch: u8) -> MidiNote {
        MidiNote {
            tick,
            duration,
            pitch,
            velocity: 100,
            channel: 0,
        }
    }

    #[test]
    fn back_to_back_repeated_notes_stay_separate() {
        // The second C4 starts where the first ends: its note-off must come first.
        let bytes = write_smf(&song(vec![
            note(96, 96, 60),
            note(0, 96, 60),
            note(192, 0, 62),
        ]))
        .unwrap();
        let read = read_midi(&bytes).unwrap();
        let spans: Vec<(u64, u64, u8)> = read.tracks[0]
            .notes
            .iter()
            .map(|n| (n.start_tick, n.end_tick, n.pitch))
            .collect();
        assert_eq!(spans, vec![(0, 96, 60), (96, 192, 60), (192, 193, 62)]);
        assert_eq!(read.tracks[0].program, Some(73));
        assert_eq!(
            &bytes[8..14],
            &[0, 1, 0, 2, 0, 96],
            "type 1, conductor + 1 track, 96 ppq"
        );
    }

    /// The conductor track's meta events, in file order.
    fn conductor_metas(bytes: &[u8]) -> Vec<MetaMessage<'_>> {
        let smf = Smf::parse(bytes).unwrap();
        smf.tracks[0]
            .iter()
            .filter_map(|e| match e.kind {
                TrackEventKind::Meta(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn conductor_carries_tempo_metre_and_key() {
        let mut spec = song(vec![note(0, 96, 60)]);
        spec.tempo_changes = vec![(0, 90.0)];
        spec.time_signatures = vec![(0, 6, 8)];
        let bytes = write_smf_with_keys(&spec, &[(0, -3, true), (384, 2, false)]).unwrap();
        let metas = conductor_metas(&bytes);
        assert!(metas.contains(&MetaMessage::Tempo(u24::new(666_667))));
        assert!(metas.contains(&MetaMessage::TimeSignature(6, 3, 24, 8)));
        let keys: Vec<_> = metas
            .iter()
            .filter(|m| matches!(m, MetaMessage::KeySignature(..)))
            .collect();
        assert_eq!(
            keys,
            vec![
                &MetaMessage::KeySignature(-3, true),
                &MetaMessage::KeySignature(2, false)
            ]
        );
        // Without keys the file has no key-signature event.
        let plain = write_smf(&spec).unwrap();
        assert!(!conductor_metas(&plain)
            .iter()
            .any(|m| matches!(m, MetaMessage::KeySignature(..))));
        assert!(matches!(
            write_smf_with_keys(&spec, &[(0, 8, false)]),
            Err(MidiError::Write(m)) if m.contains("8 sharps")
        ));
    }

    #[test]
    fn invalid_specs_are_errors() {
        let mut bad_ppq = song(vec![]);
        bad_ppq.ppq = 0;
        assert!(matches!(write_smf(&bad_ppq), Err(MidiError::Write(m)) if m.contains("ppq")));
        let mut bad_tempo = song(vec![]);
        bad_tempo.tempo_changes = vec![(0, f64::NAN)];
        assert!(matches!(write_smf(&bad_tempo), Err(MidiError::Write(m)) if m.contains("tempo")));
        let mut bad_metre = song(vec![]);
        bad_metre.time_signatures = vec![(0, 3, 5)];
        assert!(matches!(write_smf(&bad_metre), Err(MidiError::Write(m)) if m.contains("3/5")));
        let far = song(vec![note(u64::MAX - 1, 10, 60)]);
        assert!(matches!(write_smf(&far), Err(MidiError::Write(_))));
    }
}
