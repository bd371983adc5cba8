//! Reads SMF type 0/1/2 files into plain notes with tick times.

use std::collections::{BTreeMap, HashMap, VecDeque};

use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

use super::MidiError;

/// One note with tick times (`end_tick > start_tick`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawNote {
    pub channel: u8,
    pub pitch: u8,
    pub velocity: u8,
    pub start_tick: u64,
    pub end_tick: u64,
}

/// The notes of one channel of one file track.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiTrackData {
    pub name: String,
    pub channel: u8,
    /// First program change on the channel, if any.
    pub program: Option<u8>,
    pub notes: Vec<RawNote>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MidiSong {
    pub ppq: u16,
    /// `(tick, µs per quarter)`.
    pub tempo_changes: Vec<(u64, f64)>,
    /// `(tick, numerator, denominator)`.
    pub time_signatures: Vec<(u64, u8, u8)>,
    pub tracks: Vec<MidiTrackData>,
    pub end_tick: u64,
}

/// Ticks beyond this are treated as corrupt (about 4.5 hours at 960 ppq, 120 bpm)
/// so that absurd deltas cannot blow up later arithmetic.
const MAX_TICK: u64 = 1 << 32;

/// Parses a MIDI file. Never panics; every failure is a [`MidiError`].
pub fn read_midi(bytes: &[u8]) -> Result<MidiSong, MidiError> {
    if bytes.is_empty() {
        return Err(MidiError::Empty("file has 0 bytes".into()));
    }
    check_chunks(bytes)?;
    let smf = Smf::parse(bytes).map_err(|e| MidiError::Corrupt(e.to_string()))?;
    let (ppq, tick_scale) = match smf.header.timing {
        Timing::Metrical(t) if t.as_int() > 0 => (t.as_int(), 1.0),
        Timing::Metrical(_) => return Err(MidiError::Corrupt("ppq is 0".into())),
        // SMPTE: ticks are fractions of a second. Express them at 480 ppq and
        // 120 bpm (a quarter = 0.5 s) so the rest of the pipeline is metrical.
        Timing::Timecode(fps, sub) => {
            let per_second = fps.as_f32() as f64 * sub.max(1) as f64;
            (480, 960.0 / per_second)
        }
    };
    let sequential = smf.header.format == Format::Sequential;
    let mut tempo_changes = Vec::new();
    let mut time_signatures = Vec::new();
    let mut tracks = Vec::new();
    let mut offset = 0u64;
    let mut end_tick = 0u64;
    for (index, events) in smf.tracks.iter().enumerate() {
        let mut now = 0u64;
        let mut name = String::new();
        let mut programs: HashMap<u8, u8> = HashMap::new();
        let mut open: HashMap<(u8, u8), VecDeque<(u64, u8)>> = HashMap::new();
        let mut notes: BTreeMap<u8, Vec<RawNote>> = BTreeMap::new();
        for ev in events {
            now += (ev.delta.as_int() as f64 * tick_scale).round() as u64;
            if now > MAX_TICK {
                return Err(MidiError::Corrupt(format!("track {index} runs past tick {MAX_TICK}")));
            }
            let t = offset + now;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(us)) if us.as_int() > 0 => {
                    tempo_changes.push((t, us.as_int() as f64));
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(num, pow, _, _)) if num > 0 && pow <= 6 => {
                    time_signatures.push((t, num, 1u8 << pow));
                }
                TrackEventKind::Meta(MetaMessage::TrackName(n)) if name.is_empty() => {
                    name = String::from_utf8_lossy(n).trim().to_string();
                }
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            open.entry((ch, key.as_int())).or_default().push_back((t, vel.as_int()));
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            // FIFO pairing: overlapping notes of one pitch end in order.
                            if let Some((start, vel)) = open.get_mut(&(ch, key.as_int())).and_then(|q| q.pop_front()) {
                                push_note(&mut notes, ch, key.as_int(), vel, start, t);
                            }
                        }
                        MidiMessage::ProgramChange { program } => {
                            programs.entry(ch).or_insert(program.as_int());
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        let track_end = offset + now;
        // Notes never released end with their track.
        for ((ch, pitch), queue) in open {
            for (start, vel) in queue {
                push_note(&mut notes, ch, pitch, vel, start, track_end.max(start + 1));
            }
        }
        end_tick = end_tick.max(track_end);
        for (channel, mut ns) in notes {
            ns.sort_by_key(|n| (n.start_tick, n.pitch));
            let name = if name.is_empty() { format!("Track {index} ch{}", channel + 1) } else { name.clone() };
            end_tick = end_tick.max(ns.iter().map(|n| n.end_tick).max().unwrap_or(0));
            tracks.push(MidiTrackData { name, channel, program: programs.get(&channel).copied(), notes: ns });
        }
        if sequential {
            offset = track_end;
        }
    }
    if tracks.is_empty() {
        return Err(MidiError::Empty("no notes".into()));
    }
    tempo_changes.sort_by_key(|c| c.0);
    time_signatures.sort_by_key(|c| c.0);
    Ok(MidiSong { ppq, tempo_changes, time_signatures, tracks, end_tick })
}

/// midly forgives a truncated last track; a file cut short must be reported
/// instead, so the chunk lengths and the header's track count are checked.
fn check_chunks(bytes: &[u8]) -> Result<(), MidiError> {
    let read_u32 = |at: usize| -> Option<usize> {
        bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bytes.get(0..4) != Some(b"MThd") {
        return Err(MidiError::Corrupt("missing MThd header".into()));
    }
    let header_len = read_u32(4).ok_or_else(|| MidiError::Corrupt("truncated header".into()))?;
    let declared_tracks = bytes
        .get(10..12)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or_else(|| MidiError::Corrupt("truncated header".into()))?;
    let mut at = 8usize.saturating_add(header_len);
    let mut tracks = 0usize;
    while at < bytes.len() {
        let len = read_u32(at + 4)
            .ok_or_else(|| MidiError::Corrupt(format!("truncated: chunk header at byte {at} is cut short")))?;
        let end = at.saturating_add(8).saturating_add(len);
        if end > bytes.len() {
            return Err(MidiError::Corrupt(format!(
                "truncated: chunk at byte {at} declares {len} bytes, only {} remain",
                bytes.len() - (at + 8).min(bytes.len())
            )));
        }
        if bytes.get(at..at + 4) == Some(b"MTrk") {
            tracks += 1;
        }
        at = end;
    }
    if tracks < declared_tracks {
        return Err(MidiError::Corrupt(format!("truncated: header declares {declared_tracks} tracks, found {tracks}")));
    }
    Ok(())
}

fn push_note(notes: &mut BTreeMap<u8, Vec<RawNote>>, channel: u8, pitch: u8, velocity: u8, start: u64, end: u64) {
    if end > start {
        notes.entry(channel).or_default().push(RawNote { channel, pitch, velocity, start_tick: start, end_tick: end });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
    use midly::num::{u15, u28, u4, u7};
    use midly::{Header, TrackEvent};

    fn note_on(delta: u32, key: u8, vel: u8) -> TrackEvent<'static> {
        TrackEvent {
            delta: u28::new(delta),
            kind: TrackEventKind::Midi {
                channel: u4::new(0),
                message: MidiMessage::NoteOn { key: u7::new(key), vel: u7::new(vel) },
            },
        }
    }

    fn smf_bytes(format: Format, ppq: u16, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
        let smf = Smf { header: Header::new(format, Timing::Metrical(u15::new(ppq))), tracks };
        let mut out = Vec::new();
        smf.write_std(&mut out).unwrap();
        out
    }

    #[test]
    fn zero_velocity_note_on_ends_a_note_and_overlaps_pair_fifo() {
        // Two overlapping C4s: on@0, on@10, off(vel 0)@20, off@30.
        let events = vec![note_on(0, 60, 100), note_on(10, 60, 90), note_on(10, 60, 0), note_on(10, 60, 0)];
        let song = read_midi(&smf_bytes(Format::SingleTrack, 96, vec![events])).unwrap();
        assert_eq!(song.ppq, 96);
        let n = &song.tracks[0].notes;
        assert_eq!((n[0].start_tick, n[0].end_tick, n[0].velocity), (0, 20, 100));
        assert_eq!((n[1].start_tick, n[1].end_tick, n[1].velocity), (10, 30, 90));
    }

    #[test]
    fn written_files_read_back() {
        let spec = MidiSongSpec {
            ppq: 960,
            tempo_changes: vec![(0, 100.0)],
            time_signatures: vec![(0, 3, 4)],
            tracks: vec![
                MidiTrackSpec {
                    name: "Drums".into(),
                    channel: 9,
                    program: None,
                    notes: vec![MidiNote { tick: 0, duration: 100, pitch: 36, velocity: 100, channel: 9 }],
                },
                MidiTrackSpec {
                    name: "Bass".into(),
                    channel: 1,
                    program: Some(33),
                    notes: vec![MidiNote { tick: 960, duration: 960, pitch: 40, velocity: 80, channel: 1 }],
                },
            ],
        };
        let song = read_midi(&write_smf(&spec).unwrap()).unwrap();
        assert_eq!(song.ppq, 960);
        assert_eq!(song.time_signatures, vec![(0, 3, 4)]);
        assert!((song.tempo_changes[0].1 - 600_000.0).abs() < 1.0);
        assert_eq!(song.tracks.len(), 2);
        assert_eq!(song.tracks[0].channel, 9);
        assert_eq!(song.tracks[1].program, Some(33));
        assert_eq!(song.tracks[1].notes[0].end_tick, 1920);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(read_midi(&[]), Err(MidiError::Empty(_))));
        assert!(matches!(read_midi(b"MThd garbage"), Err(MidiError::Corrupt(_))));
        let file = smf_bytes(Format::SingleTrack, 480, vec![vec![note_on(0, 60, 100), note_on(480, 60, 0)]]);
        let cut = read_midi(&file[..file.len() - 3]);
        assert!(matches!(&cut, Err(MidiError::Corrupt(m)) if m.starts_with("truncated")), "{cut:?}");
        let no_notes = smf_bytes(Format::SingleTrack, 480, vec![vec![]]);
        assert!(matches!(read_midi(&no_notes), Err(MidiError::Empty(_))));
    }
}
