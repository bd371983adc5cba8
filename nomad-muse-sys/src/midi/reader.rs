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

/// The notes of one channel of one file track (a logical track: a type-0
/// file or a track mixing channels is split so drums stand apart).
#[derive(Debug, Clone, PartialEq)]
pub struct MidiTrackData {
    pub name: String,
    pub channel: u8,
    /// First program change on the channel, if any.
    pub program: Option<u8>,
    /// Sorted by (start_tick, pitch).
    pub notes: Vec<RawNote>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MidiSong {
    pub ppq: u16,
    /// `(tick, bpm)`, sorted by tick.
    pub tempo_changes: Vec<(u64, f64)>,
    /// `(tick, numerator, denominator)`, sorted by tick.
    pub time_signatures: Vec<(u64, u8, u8)>,
    pub tracks: Vec<MidiTrackData>,
    pub end_tick: u64,
}

/// Ticks beyond this are treated as corrupt (about 4.5 hours at 960 ppq, 120 bpm)
/// so that absurd deltas cannot blow up later arithmetic.
pub const MAX_TICK: u64 = 1 << 32;

/// Tempos are clamped to this range; MIDI allows up to 60 million bpm.
pub const MIN_BPM: f64 = 1.0;
pub const MAX_BPM: f64 = 1000.0;

/// SMPTE files are re-expressed at this resolution (and 120 bpm).
const SMPTE_PPQ: u16 = 480;

/// Parses a MIDI file. Never panics; every failure is a [`MidiError`].
pub fn read_midi(bytes: &[u8]) -> Result<MidiSong, MidiError> {
    if bytes.is_empty() {
        return Err(MidiError::Empty("file has 0 bytes".into()));
    }
    check_chunks(bytes)?;
    let smf = Smf::parse(bytes).map_err(|e| MidiError::Corrupt(e.to_string()))?;
    let (ppq, ticks_per_raw) = match smf.header.timing {
        Timing::Metrical(t) if t.as_int() > 0 => (t.as_int(), None),
        Timing::Metrical(_) => return Err(MidiError::Corrupt("ppq is 0".into())),
        // SMPTE: ticks are fractions of a second. Express them at 480 ppq and
        // 120 bpm (a quarter = 0.5 s) so the rest of the pipeline is metrical.
        Timing::Timecode(fps, sub) => {
            let raw_per_second = fps.as_f32() as f64 * sub as f64;
            if raw_per_second <= 0.0 {
                return Err(MidiError::Unsupported(
                    "SMPTE timing with 0 ticks per frame".into(),
                ));
            }
            (SMPTE_PPQ, Some(2.0 * SMPTE_PPQ as f64 / raw_per_second))
        }
    };
    // Raw (file) ticks → metrical ticks; SMPTE scales the absolute time so
    // rounding never accumulates.
    let to_ticks = |raw: u64| match ticks_per_raw {
        None => raw,
        Some(scale) => (raw as f64 * scale).round() as u64,
    };
    let sequential = smf.header.format == Format::Sequential;
    let mut tempo_changes = Vec::new();
    let mut time_signatures = Vec::new();
    let mut tracks = Vec::new();
    let mut offset = 0u64;
    let mut end_tick = 0u64;
    for (index, events) in smf.tracks.iter().enumerate() {
        let mut raw_now = 0u64;
        let mut now = 0u64;
        let mut name = String::new();
        let mut programs: HashMap<u8, u8> = HashMap::new();
        let mut open: HashMap<(u8, u8), VecDeque<(u64, u8)>> = HashMap::new();
        // Note-offs that found nothing sounding, by key: the tick they came at.
        let mut orphan_off: HashMap<(u8, u8), u64> = HashMap::new();
        let mut notes: BTreeMap<u8, Vec<RawNote>> = BTreeMap::new();
        for ev in events {
            raw_now += ev.delta.as_int() as u64;
            now = to_ticks(raw_now);
            let t = offset + now;
            if t > MAX_TICK {
                return Err(MidiError::Corrupt(format!(
                    "track {index} runs past tick {MAX_TICK}"
                )));
            }
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(us)) if us.as_int() > 0 => {
                    let bpm = (60e6 / us.as_int() as f64).clamp(MIN_BPM, MAX_BPM);
                    tempo_changes.push((t, bpm));
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(num, pow, _, _))
                    if num > 0 && pow <= 6 =>
                {
                    time_signatures.push((t, num, 1u8 << pow));
                }
                TrackEventKind::Meta(MetaMessage::TrackName(n)) if name.is_empty() => {
                    name = String::from_utf8_lossy(n).trim().to_string();
                }
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            // An off written just before its own on, at the same
                            // tick, ends it there: a zero-length note (music21
                            // writes them so), not one held to the track's end.
                            if orphan_off.remove(&(ch, key.as_int())) == Some(t) {
                                continue;
                            }
                            open.entry((ch, key.as_int()))
                                .or_default()
                                .push_back((t, vel.as_int()));
                        }
                        // Note-on with velocity 0 is a note-off.
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            // FIFO pairing: overlapping notes of one pitch end in order.
                            let started = open
                                .get_mut(&(ch, key.as_int()))
                                .and_then(|q| q.pop_front());
                            match started {
                                Some((start, vel)) => {
                                    push_note(&mut notes, ch, key.as_int(), vel, start, t)
                                }
                                None => {
                                    orphan_off.insert((ch, key.as_int()), t);
                                }
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
        let channels = notes.len();
        for (channel, mut ns) in notes {
            ns.sort_by_key(|n| (n.start_tick, n.pitch, n.end_tick));
            // One pitch started twice at one tick on one channel sounds as one
            // note: exported files often write every note two or three times
            // (POP909 802's MELODY, read as a 2.3-voice chord part).
            ns.dedup_by(|later, kept| {
                let same = later.start_tick == kept.start_tick && later.pitch == kept.pitch;
                if same {
                    kept.end_tick = kept.end_tick.max(later.end_tick);
                    kept.velocity = kept.velocity.max(later.velocity);
                }
                same
            });
            let name = match (name.is_empty(), channels > 1) {
                (true, _) => format!("Track {index} ch{}", channel + 1),
                (false, true) => format!("{name} ch{}", channel + 1),
                (false, false) => name.clone(),
            };
            end_tick = end_tick.max(ns.iter().map(|n| n.end_tick).max().unwrap_or(0));
            tracks.push(MidiTrackData {
                name,
                channel,
                program: programs.get(&channel).copied(),
                notes: ns,
            });
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
    Ok(MidiSong {
        ppq,
        tempo_changes,
        time_signatures,
        tracks,
        end_tick,
    })
}

/// midly forgives a truncated last track; a file cut short must be reported
/// instead, so the chunk lengths and the header's track count are checked.
fn check_chunks(bytes: &[u8]) -> Result<(), MidiError> {
    let read_u32 = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bytes.get(0..4) != Some(b"MThd") {
        return Err(MidiError::Corrupt("missing MThd header".into()));
    }
    let truncated_header = || MidiError::Corrupt("truncated: header is cut short".into());
    let header_len = read_u32(4).ok_or_else(truncated_header)?;
    let declared_tracks = bytes
        .get(10..12)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or_else(truncated_header)?;
    // SMPTE division with frame byte 0x80 (-128 fps): midly negates it as an
    // i8, which overflows (a panic in debug builds). No such frame rate exists.
    if bytes.get(12) == Some(&0x80) {
        return Err(MidiError::Corrupt("invalid SMPTE frame rate (-128)".into()));
    }
    let mut at = 8usize.saturating_add(header_len);
    let mut tracks = 0usize;
    while at < bytes.len() {
        let len = read_u32(at.saturating_add(4)).ok_or_else(|| {
            MidiError::Corrupt(format!("truncated: chunk header at byte {at} is cut short"))
        })?;
        let end = at.saturating_add(8).saturating_add(len);
        if end > bytes.len() {
            return Err(MidiError::Corrupt(format!(
                "truncated: chunk at byte {at} declares {len} bytes, only {} remain",
                bytes.len() - at.saturating_add(8).min(bytes.len())
            )));
        }
        if bytes.get(at..at + 4) == Some(b"MTrk") {
            tracks += 1;
        }
        at = end;
    }
    if tracks < declared_tracks {
        return Err(MidiError::Corrupt(format!(
            "truncated: header declares {declared_tracks} tracks, found {tracks}"
        )));
    }
    Ok(())
}

fn push_note(
    notes: &mut BTreeMap<u8, Vec<RawNote>>,
    channel: u8,
    pitch: u8,
    velocity: u8,
    start: u64,
    end: u64,
) {
    if end > start {
        notes.entry(channel).or_default().push(RawNote {
            channel,
            pitch,
            velocity,
            start_tick: start,
            end_tick: end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
    use midly::num::{u15, u24, u28, u4, u7};
    use midly::{Fps, Header, TrackEvent};

    fn midi(delta: u32, channel: u8, message: MidiMessage) -> TrackEvent<'static> {
        TrackEvent {
            delta: u28::new(delta),
            kind: TrackEventKind::Midi {
                channel: u4::new(channel),
                message,
            },
        }
    }

    fn on(delta: u32, channel: u8, key: u8, vel: u8) -> TrackEvent<'static> {
        let (key, vel) = (u7::new(key), u7::new(vel));
        midi(delta, channel, MidiMessage::NoteOn { key, vel })
    }

    fn off(delta: u32, channel: u8, key: u8) -> TrackEvent<'static> {
        let (key, vel) = (u7::new(key), u7::new(0));
        midi(delta, channel, MidiMessage::NoteOff { key, vel })
    }

    fn meta(delta: u32, m: MetaMessage<'static>) -> TrackEvent<'static> {
        TrackEvent {
            delta: u28::new(delta),
            kind: TrackEventKind::Meta(m),
        }
    }

    fn smf_bytes(format: Format, timing: Timing, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
        let smf = Smf {
            header: Header::new(format, timing),
            tracks,
        };
        let mut out = Vec::new();
        smf.write_std(&mut out).expect("test file serialises");
        out
    }

    fn ppq(n: u16) -> Timing {
        Timing::Metrical(u15::new(n))
    }

    /// (start, end, pitch) of a track's notes.
    fn spans(t: &MidiTrackData) -> Vec<(u64, u64, u8)> {
        t.notes
            .iter()
            .map(|n| (n.start_tick, n.end_tick, n.pitch))
            .collect()
    }

    #[test]
    fn zero_velocity_note_on_ends_a_note() {
        let events = vec![on(0, 0, 60, 100), on(96, 0, 60, 0)];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        assert_eq!(song.ppq, 96);
        assert_eq!(spans(&song.tracks[0]), vec![(0, 96, 60)]);
        assert_eq!(song.end_tick, 96);
    }

    #[test]
    fn overlapping_same_pitch_notes_pair_first_in_first_out() {
        // Two overlapping C4s: on@0, on@10, off@20, off@30.
        let events = vec![
            on(0, 0, 60, 100),
            on(10, 0, 60, 90),
            on(10, 0, 60, 0),
            off(10, 0, 60),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        let n = &song.tracks[0].notes;
        assert_eq!(
            (n[0].start_tick, n[0].end_tick, n[0].velocity),
            (0, 20, 100)
        );
        assert_eq!(
            (n[1].start_tick, n[1].end_tick, n[1].velocity),
            (10, 30, 90)
        );
    }

    #[test]
    fn an_off_just_before_its_own_on_is_a_zero_length_note_not_a_stuck_one() {
        // off C3 @0 then on C3 @0 (zero length, as music21 writes it), then a
        // real C3 from 10 to 20 and a stray off at 30 with nothing after it.
        let events = vec![
            off(0, 0, 48),
            on(0, 0, 48, 90),
            on(10, 0, 48, 80),
            off(10, 0, 48),
            off(10, 0, 48),
            on(5, 0, 50, 70),
            off(5, 0, 50),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        let got: Vec<_> = song.tracks[0]
            .notes
            .iter()
            .map(|n| (n.start_tick, n.end_tick, n.pitch))
            .collect();
        assert_eq!(got, vec![(10, 20, 48), (35, 40, 50)]);
    }

    #[test]
    fn a_note_written_twice_at_one_tick_is_one_note() {
        // C4 three times at 0 (ends 20, 30, 25) and once more at 40.
        let events = vec![
            on(0, 0, 60, 80),
            on(0, 0, 60, 100),
            on(0, 0, 60, 90),
            off(20, 0, 60),
            off(5, 0, 60),
            off(5, 0, 60),
            on(10, 0, 60, 70),
            off(10, 0, 60),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        let n = &song.tracks[0].notes;
        let got: Vec<_> = n
            .iter()
            .map(|n| (n.start_tick, n.end_tick, n.velocity))
            .collect();
        assert_eq!(got, vec![(0, 30, 100), (40, 50, 70)]);
    }

    #[test]
    fn unterminated_notes_end_at_track_end() {
        let events = vec![
            on(0, 0, 60, 100),
            on(0, 0, 64, 100),
            off(100, 0, 64),
            meta(50, MetaMessage::EndOfTrack),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        assert_eq!(spans(&song.tracks[0]), vec![(0, 150, 60), (0, 100, 64)]);
    }

    #[test]
    fn running_status_is_understood() {
        // Hand-made type-0 file: one status byte 0x90 then three running-status
        // events (on 60, on 64, then 60 and 64 off via velocity 0).
        let track: &[u8] = &[
            0x00, 0x90, 60, 100, // on C4
            0x00, 64, 90, // running status: on E4
            0x60, 60, 0, // +96: C4 off
            0x00, 64, 0, // E4 off
            0x00, 0xff, 0x2f, 0x00,
        ];
        let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
        bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
        bytes.extend_from_slice(track);
        let song = read_midi(&bytes).unwrap();
        assert_eq!(song.ppq, 96);
        assert_eq!(spans(&song.tracks[0]), vec![(0, 96, 60), (0, 96, 64)]);
        assert_eq!(song.tracks[0].notes[1].velocity, 90);
    }

    #[test]
    fn type_0_file_is_split_per_channel_with_drums_apart() {
        let events = vec![
            meta(0, MetaMessage::TrackName(b"Song")),
            meta(0, MetaMessage::Tempo(u24::new(400_000))),
            midi(
                0,
                1,
                MidiMessage::ProgramChange {
                    program: u7::new(33),
                },
            ),
            on(0, 9, 36, 100),
            on(0, 1, 40, 80),
            off(240, 9, 36),
            off(240, 1, 40),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(480), vec![events])).unwrap();
        assert_eq!(song.tracks.len(), 2);
        let (bass, drums) = (&song.tracks[0], &song.tracks[1]);
        assert_eq!(
            (bass.channel, bass.program, bass.name.as_str()),
            (1, Some(33), "Song ch2")
        );
        assert_eq!(
            (drums.channel, drums.program, drums.name.as_str()),
            (9, None, "Song ch10")
        );
        assert_eq!(spans(drums), vec![(0, 240, 36)]);
        assert_eq!(spans(bass), vec![(0, 480, 40)]);
        assert_eq!(song.tempo_changes, vec![(0, 150.0)]);
    }

    #[test]
    fn type_1_file_from_the_writer_reads_back_at_960_ppq() {
        let spec = MidiSongSpec {
            ppq: 960,
            tempo_changes: vec![(0, 100.0), (1920, 140.0)],
            time_signatures: vec![(0, 3, 4)],
            tracks: vec![
                MidiTrackSpec {
                    name: "Drums".into(),
                    channel: 9,
                    program: None,
                    notes: vec![MidiNote {
                        tick: 0,
                        duration: 100,
                        pitch: 36,
                        velocity: 100,
                        channel: 9,
                    }],
                },
                MidiTrackSpec {
                    name: "Bass".into(),
                    channel: 1,
                    program: Some(33),
                    notes: vec![MidiNote {
                        tick: 960,
                        duration: 960,
                        pitch: 40,
                        velocity: 80,
                        channel: 1,
                    }],
                },
            ],
        };
        let song = read_midi(&write_smf(&spec).unwrap()).unwrap();
        assert_eq!(song.ppq, 960);
        assert_eq!(song.time_signatures, vec![(0, 3, 4)]);
        assert_eq!(song.tempo_changes.len(), 2);
        assert!((song.tempo_changes[0].1 - 100.0).abs() < 1e-3);
        assert!((song.tempo_changes[1].1 - 140.0).abs() < 1e-3);
        assert_eq!(song.tempo_changes[1].0, 1920);
        assert_eq!(song.tracks.len(), 2);
        assert_eq!(
            (song.tracks[0].name.as_str(), song.tracks[0].channel),
            ("Drums", 9)
        );
        assert_eq!(song.tracks[1].program, Some(33));
        assert_eq!(spans(&song.tracks[1]), vec![(960, 1920, 40)]);
        assert_eq!(song.end_tick, 1920);
    }

    #[test]
    fn type_2_tracks_play_one_after_another() {
        let pattern = || {
            vec![
                on(0, 0, 60, 100),
                off(96, 0, 60),
                meta(0, MetaMessage::EndOfTrack),
            ]
        };
        let bytes = smf_bytes(Format::Sequential, ppq(96), vec![pattern(), pattern()]);
        let song = read_midi(&bytes).unwrap();
        let starts: Vec<u64> = song.tracks.iter().map(|t| t.notes[0].start_tick).collect();
        assert_eq!(starts, vec![0, 96]);
        assert_eq!(song.end_tick, 192);
    }

    #[test]
    fn smpte_timing_becomes_480_ppq_at_120_bpm() {
        // 25 fps × 40 = 1000 ticks per second: a note at 1 s lasting 0.5 s.
        let events = vec![on(1000, 0, 60, 100), off(500, 0, 60)];
        let bytes = smf_bytes(
            Format::SingleTrack,
            Timing::Timecode(Fps::Fps25, 40),
            vec![events],
        );
        let song = read_midi(&bytes).unwrap();
        assert_eq!(song.ppq, 480);
        // 1 s at 120 bpm = 2 quarters = 960 ticks.
        assert_eq!(spans(&song.tracks[0]), vec![(960, 1440, 60)]);
    }

    #[test]
    fn absurd_tempos_are_clamped() {
        let events = vec![
            meta(0, MetaMessage::Tempo(u24::new(1))),
            on(0, 0, 60, 100),
            off(96, 0, 60),
        ];
        let song = read_midi(&smf_bytes(Format::SingleTrack, ppq(96), vec![events])).unwrap();
        assert_eq!(song.tempo_changes, vec![(0, MAX_BPM)]);
    }

    #[test]
    fn bad_inputs_are_errors_with_reasons() {
        assert!(matches!(read_midi(&[]), Err(MidiError::Empty(_))));
        assert!(matches!(
            read_midi(b"MThd garbage"),
            Err(MidiError::Corrupt(_))
        ));
        assert!(
            matches!(read_midi(b"RIFF\0\0\0\0"), Err(MidiError::Corrupt(m)) if m.contains("MThd"))
        );
        let file = smf_bytes(
            Format::SingleTrack,
            ppq(480),
            vec![vec![on(0, 0, 60, 100), on(480, 0, 60, 0)]],
        );
        let cut = read_midi(&file[..file.len() - 3]);
        assert!(
            matches!(&cut, Err(MidiError::Corrupt(m)) if m.starts_with("truncated")),
            "{cut:?}"
        );
        let no_notes = smf_bytes(Format::SingleTrack, ppq(480), vec![vec![]]);
        assert!(matches!(read_midi(&no_notes), Err(MidiError::Empty(_))));
        let zero_ppq = smf_bytes(Format::SingleTrack, ppq(0), vec![vec![on(0, 0, 60, 100)]]);
        assert!(matches!(read_midi(&zero_ppq), Err(MidiError::Corrupt(m)) if m.contains("ppq")));
        let far = vec![
            on(0, 0, 60, 100),
            off(0x0fff_ffff, 0, 60),
            off(0x0fff_ffff, 0, 61),
        ];
        let mut far_tracks = vec![far];
        far_tracks.extend((0..20).map(|_| vec![off(0x0fff_ffff, 0, 61)]));
        let huge = smf_bytes(Format::Sequential, ppq(1), far_tracks);
        let too_long = read_midi(&huge);
        assert!(
            matches!(&too_long, Err(MidiError::Corrupt(m)) if m.contains("past tick")),
            "{too_long:?}"
        );
    }
}
