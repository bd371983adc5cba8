//! MIDI bytes → NSF: timing, grid quantization, classification, chords, key.

use super::chords::ChordExtractor;
use super::classify::TrackClassifier;
use super::key::KeyDetector;
use super::*;
use crate::midi::{read_midi, MidiError, MidiSong, TempoMap};

#[derive(Debug, thiserror::Error)]
pub enum NsfError {
    #[error(transparent)]
    Midi(#[from] MidiError),
    #[error("song is too long: {0} bars")]
    TooLong(u64),
}

/// Songs longer than this many bars are rejected (a corrupt tempo/metre).
pub const MAX_BARS: u64 = 4096;

/// Bar lines in ticks from the time-signature map, up to `end_tick`.
/// A metre change takes effect at the next bar line at or after it.
fn bar_lines(song: &MidiSong) -> Result<Vec<(u64, u8, u8)>, NsfError> {
    let ppq = song.ppq as u64;
    let mut sigs: Vec<(u64, u8, u8)> = song.time_signatures.clone();
    if sigs.first().is_none_or(|s| s.0 > 0) {
        sigs.insert(0, (0, 4, 4));
    }
    let mut bars = Vec::new();
    let (mut tick, mut i) = (0u64, 0usize);
    loop {
        while i + 1 < sigs.len() && sigs[i + 1].0 <= tick {
            i += 1;
        }
        let (_, num, den) = sigs[i];
        bars.push((tick, num, den));
        if tick >= song.end_tick && bars.len() > 1 {
            break;
        }
        let len = (ppq * 4 * num as u64 / den.max(1) as u64).max(1);
        tick += len;
        if bars.len() as u64 > MAX_BARS {
            return Err(NsfError::TooLong(bars.len() as u64));
        }
    }
    Ok(bars)
}

/// Converts a MIDI file to NSF. `source_file` is recorded in the metadata.
pub fn midi_to_nsf(bytes: &[u8], source_file: &str) -> Result<Nsf, NsfError> {
    let song = read_midi(bytes)?;
    let tempo = TempoMap::new(song.ppq, &song.tempo_changes);
    let ppq = song.ppq as u64;
    // Tick → 16th step, rounded to the nearest.
    let step_of = |tick: u64| ((tick * 4 + ppq / 2) / ppq) as u32;
    let lines = bar_lines(&song)?;
    let bar_starts: Vec<u32> = lines.iter().map(|(t, _, _)| step_of(*t)).collect();
    let mut time_signature_map: Vec<(f64, (u8, u8))> = Vec::new();
    for (t, num, den) in &lines[..lines.len() - 1] {
        if time_signature_map.last().is_none_or(|(_, sig)| *sig != (*num, *den)) {
            time_signature_map.push((tempo.seconds_at(*t), (*num, *den)));
        }
    }
    let global = GlobalInfo {
        tempo_map: tempo.bpm_map(),
        time_signature_map,
        ppq: song.ppq,
        duration_seconds: tempo.seconds_at(song.end_tick),
        bar_starts,
    };
    let classifier = TrackClassifier::new();
    let tracks: Vec<NsfTrack> = song
        .tracks
        .iter()
        .enumerate()
        .map(|(id, t)| {
            let mut events: Vec<NoteEvent> = t
                .notes
                .iter()
                .map(|n| {
                    let onset_step = step_of(n.start_tick);
                    let pos = global.position_of(onset_step);
                    let start_s = tempo.seconds_at(n.start_tick);
                    NoteEvent {
                        onset_seconds: start_s,
                        duration_seconds: tempo.seconds_at(n.end_tick) - start_s,
                        onset_tick: n.start_tick,
                        duration_ticks: n.end_tick - n.start_tick,
                        onset_step,
                        duration_steps: step_of(n.end_tick).saturating_sub(onset_step).max(1),
                        bar: pos.bar,
                        beat: pos.beat,
                        substep: pos.substep,
                        pitch: n.pitch,
                        velocity: n.velocity,
                    }
                })
                .collect();
            events.sort_by_key(|e| (e.onset_step, e.pitch));
            NsfTrack {
                id: id as u32,
                name: t.name.clone(),
                is_drum: t.channel == 9,
                channel: t.channel,
                program: t.program.unwrap_or(0),
                classification: classifier.classify(t),
                events,
            }
        })
        .collect();
    let pitched: Vec<NoteEvent> =
        tracks.iter().filter(|t| !t.is_drum).flat_map(|t| t.events.iter().cloned()).collect();
    // Melody lines carry passing tones: they count a third in chord windows.
    let weighted: Vec<(&NoteEvent, f32)> = tracks
        .iter()
        .filter(|t| !t.is_drum)
        .flat_map(|t| {
            let w = if t.classification.kind == TrackType::Melody { 0.35 } else { 1.0 };
            t.events.iter().map(move |e| (e, w))
        })
        .collect();
    let step_seconds = |step: u32| tempo.seconds_at(step as u64 * ppq / 4);
    let mut chords = ChordExtractor::new().extract_weighted(&weighted, &global);
    for c in &mut chords {
        c.time_start = step_seconds(c.step_start);
    }
    let (key, confidence) = KeyDetector::new().detect_with_chords(&pitched, &chords);
    Ok(Nsf {
        global,
        tracks,
        chords,
        key: KeyInfo::from_key(key, confidence),
        metadata: Metadata { source_file: source_file.to_string(), quantization_grid: "16th".into() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};

    fn spec(ppq: u16, sigs: Vec<(u64, u8, u8)>, tempos: Vec<(u64, f64)>) -> MidiSongSpec {
        let q = ppq as u64;
        let chord = |bar: u64, root: u8| -> Vec<MidiNote> {
            [0u8, 4, 7]
                .iter()
                .map(|i| MidiNote { tick: bar * 4 * q, duration: 4 * q, pitch: 60 + root + i, velocity: 80, channel: 2 })
                .collect()
        };
        MidiSongSpec {
            ppq,
            tempo_changes: tempos,
            time_signatures: sigs,
            tracks: vec![
                MidiTrackSpec {
                    name: "Drums".into(),
                    channel: 9,
                    program: None,
                    notes: (0..16)
                        .map(|i| MidiNote { tick: i * q, duration: q / 4, pitch: 36, velocity: 100, channel: 9 })
                        .collect(),
                },
                MidiTrackSpec {
                    name: "Keys".into(),
                    channel: 2,
                    program: Some(0),
                    notes: [chord(0, 0), chord(1, 5), chord(2, 7), chord(3, 0)].concat(),
                },
            ],
        }
    }

    #[test]
    fn converts_timing_grid_tracks_and_chords() {
        let bytes = write_smf(&spec(96, vec![(0, 4, 4)], vec![(0, 120.0), (96 * 8, 60.0)])).unwrap();
        let nsf = midi_to_nsf(&bytes, "song.mid").unwrap();
        assert_eq!(nsf.global.ppq, 96);
        assert_eq!(nsf.global.bar_starts[..5], [0, 16, 32, 48, 64]);
        // Tempo halves after 2 bars (4 s): bar 3 starts at 4 s + 4 beats at 1 s.
        let keys = nsf.tracks.iter().find(|t| t.name == "Keys").unwrap();
        assert_eq!(keys.classification.kind, TrackType::Harmony);
        let last = keys.events.last().unwrap();
        assert!((last.onset_seconds - 8.0).abs() < 1e-9, "{}", last.onset_seconds);
        assert_eq!((last.bar, last.beat, last.substep, last.onset_step), (3, 0, 0, 48));
        let drums = nsf.tracks.iter().find(|t| t.is_drum).unwrap();
        assert_eq!(drums.classification.kind, TrackType::Drums);
        let labels: Vec<String> = nsf.chords.iter().map(|c| c.chord.label().token_name()).collect();
        assert_eq!(labels[..4], ["C_maj", "F_maj", "G_maj", "C_maj"]);
        assert_eq!(nsf.key.root, "C");
        // JSON round trip.
        assert_eq!(Nsf::from_json(&nsf.to_json().unwrap()).unwrap(), nsf);
    }

    #[test]
    fn three_four_bar_lines() {
        let bytes = write_smf(&spec(960, vec![(0, 3, 4)], vec![(0, 100.0)])).unwrap();
        let nsf = midi_to_nsf(&bytes, "waltz.mid").unwrap();
        assert_eq!(nsf.global.bar_starts[..4], [0, 12, 24, 36]);
        assert_eq!(nsf.global.time_signature_map[0].1, (3, 4));
        let keys = nsf.tracks.iter().find(|t| t.name == "Keys").unwrap();
        // The second chord starts at quarter 4 = bar 1, beat 1 in 3/4.
        let e = keys.events.iter().find(|e| e.onset_step == 16).unwrap();
        assert_eq!((e.bar, e.beat), (1, 1));
    }
}
