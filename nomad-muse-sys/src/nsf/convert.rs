//! MIDI bytes → NSF: timing, grid quantization, classification, chords, key.

use super::chords::{weighted_notes, ChordAnalysis, ChordExtractor};
use super::classify::{
    assign_part_roles, mean_polyphony_trimmed, TrackClassifier, CHORDAL_POLYPHONY,
};
use super::key::{final_bass, first_bass, modulating_key, KeyDetector, KeyRun, TonicEvidence};
use super::metre::infer_metre;
use super::*;
use crate::midi::{
    bar_lines, read_midi, tick_to_step, BarLine, MidiError, MidiSong, MidiTrackData, TempoMap,
};
use crate::theory::{ChordLabel, Key};

#[derive(Debug, thiserror::Error)]
pub enum NsfError {
    #[error(transparent)]
    Midi(#[from] MidiError),
    #[error("song is too long: more than {0} bars")]
    TooLong(u64),
}

/// Songs longer than this many bars are rejected (a corrupt tempo/metre).
pub const MAX_BARS: u64 = 4096;

/// How a MIDI file is read into NSF.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Classify tracks from their notes alone, as if the file named none
    /// (names are often missing or wrong in users' files).
    pub ignore_track_names: bool,
    /// Keep the file's declared time signatures even where the music's
    /// periodicity contradicts them (see [`super::metre`]).
    pub keep_declared_metre: bool,
}

/// Converts a MIDI file to NSF. `source_file` is recorded in the metadata.
pub fn midi_to_nsf(bytes: &[u8], source_file: &str) -> Result<Nsf, NsfError> {
    midi_to_nsf_with(bytes, source_file, &ConvertOptions::default())
}

/// [`midi_to_nsf`] with options.
pub fn midi_to_nsf_with(
    bytes: &[u8],
    source_file: &str,
    options: &ConvertOptions,
) -> Result<Nsf, NsfError> {
    let mut song = read_midi(bytes)?;
    if options.ignore_track_names {
        for t in &mut song.tracks {
            t.name.clear();
        }
    }
    let ppq = song.ppq;
    let tempo = TempoMap::new(ppq, &song.tempo_changes);
    let declared = bar_lines(ppq, &song.time_signatures, song.end_tick, MAX_BARS as usize);
    let (lines, metre) = choose_bar_lines(&song, declared, options.keep_declared_metre)?;
    let global = global_info(&lines, &tempo, song.end_tick);
    let classifier = TrackClassifier::new().with_ppq(ppq);
    let mut tracks: Vec<NsfTrack> = song
        .tracks
        .iter()
        .enumerate()
        .map(|(id, t)| NsfTrack {
            id: id as u32,
            name: t.name.clone(),
            is_drum: t.channel == 9,
            channel: t.channel,
            program: t.program.unwrap_or(0),
            classification: classifier.classify(t),
            events: note_events(t, &tempo, &global),
        })
        .collect();
    let polyphony: Vec<f32> = song
        .tracks
        .iter()
        .map(|t| mean_polyphony_trimmed(t, ppq as u64 / 8))
        .collect();
    assign_part_roles(&song.tracks, &mut tracks, &polyphony, ppq);
    let chordal: Vec<bool> = polyphony.iter().map(|p| *p >= CHORDAL_POLYPHONY).collect();
    let harmony = analyse_harmony(&tracks, &chordal, &global, &tempo);
    let mut nsf = Nsf {
        global,
        tracks,
        chords: harmony.chords,
        key: harmony.key,
        key_segments: harmony.key_segments,
        metadata: Metadata {
            source_file: source_file.to_string(),
            quantization_grid: "16th".into(),
            harmony_sounds: harmony.sounds,
            metre,
        },
        form: None,
    };
    nsf.form = super::form::analyse_form(&nsf);
    Ok(nsf)
}

/// The declared bar lines, or the music's own where the declaration is
/// impossible (a bar shorter than two quarters: POP909's 1/4) or clearly
/// contradicted by the music; with what was declared and the evidence.
fn choose_bar_lines(
    song: &MidiSong,
    declared: Option<Vec<BarLine>>,
    keep_declared: bool,
) -> Result<(Vec<BarLine>, MetreInfo), NsfError> {
    let declared_sigs: Vec<(u8, u8)> = declared
        .iter()
        .flatten()
        .map(|l| (l.numerator, l.denominator))
        .fold(Vec::new(), |mut v, s| {
            if v.last() != Some(&s) {
                v.push(s);
            }
            v
        });
    let evidence = infer_metre(song);
    // A bar under two quarters is a beat, not a bar.
    let impossible = declared_sigs.iter().any(|(n, d)| 2 * *n < *d);
    let contradicted = match (declared_sigs.as_slice(), &evidence) {
        ([(n, 4)], Some(e)) if (2..=4).contains(n) => e.contradicts(*n as u32),
        _ => false,
    };
    let infer = !keep_declared && (impossible || contradicted || declared.is_none());
    let lines = if infer {
        let (beats, offset, phase) = evidence.as_ref().map_or((4, 0, 0), |e| {
            (e.beats_per_bar, e.downbeat_offset, e.beat_phase_ticks)
        });
        inferred_lines(song.ppq, beats, offset, phase, song.end_tick)
    } else {
        declared
    }
    .ok_or(NsfError::TooLong(MAX_BARS))?;
    let used = lines
        .first()
        .map_or((4, 4), |l| (l.numerator, l.denominator));
    let metre = MetreInfo {
        declared: declared_sigs,
        used,
        inferred: infer,
        evidence,
    };
    Ok((lines, metre))
}

/// Bars of `beats` quarters whose first downbeat lies `offset` quarters
/// (plus the music's `phase` in ticks) into the song, after a pickup bar,
/// until the first line at or after `end_tick`.
fn inferred_lines(
    ppq: u16,
    beats: u32,
    offset: u32,
    phase: i64,
    end_tick: u64,
) -> Option<Vec<BarLine>> {
    let q = ppq.max(1) as i64;
    let bar = beats as i64 * q;
    let mut ticks: Vec<u64> = vec![0];
    let mut t = offset as i64 * q + phase;
    // A pickup shorter than half a beat joins the first bar.
    while t < q / 2 {
        t += bar;
    }
    while ticks.len() < 2 || *ticks.last()? < end_tick {
        if ticks.len() > MAX_BARS as usize {
            return None;
        }
        ticks.push(t as u64);
        t += bar;
    }
    let line = |tick| BarLine {
        tick,
        step: tick_to_step(tick, ppq),
        numerator: beats as u8,
        denominator: 4,
    };
    Some(ticks.into_iter().map(line).collect())
}

fn global_info(lines: &[BarLine], tempo: &TempoMap, end_tick: u64) -> GlobalInfo {
    // The last line closes the song; it does not start a metre.
    let mut time_signature_map: Vec<(f64, (u8, u8))> = Vec::new();
    for line in &lines[..lines.len().saturating_sub(1)] {
        let sig = (line.numerator, line.denominator);
        if time_signature_map
            .last()
            .is_none_or(|(_, last)| *last != sig)
        {
            time_signature_map.push((tempo.seconds_at(line.tick), sig));
        }
    }
    GlobalInfo {
        tempo_map: tempo.bpm_map(),
        time_signature_map,
        ppq: tempo.ppq(),
        duration_seconds: tempo.seconds_at(end_tick),
        bar_starts: lines.iter().map(|l| l.step).collect(),
    }
}

/// Share of the sounding time with two or more pitch classes at once above
/// which a song has harmony of its own.
const HARMONY_SOUNDING_SHARE: f32 = 0.2;
/// Over a chordal accompaniment, a melody line carries passing tones: it
/// counts this much in chord frames. In a texture of lines alone (a
/// chorale) every voice is harmony and counts fully.
const MELODY_OVER_CHORDS_WEIGHT: f32 = 0.35;

struct Harmony {
    chords: Vec<ChordSpan>,
    key: KeyInfo,
    key_segments: Vec<KeySegment>,
    sounds: bool,
}

/// Chords, global key and key segments of the pitched tracks.
fn analyse_harmony(
    tracks: &[NsfTrack],
    chordal: &[bool],
    global: &GlobalInfo,
    tempo: &TempoMap,
) -> Harmony {
    let pitched = || {
        tracks
            .iter()
            .filter(|t| !t.is_drum && t.classification.kind != TrackType::Drums)
    };
    let accompanied = pitched().any(|t| {
        t.classification.kind == TrackType::Harmony && chordal.get(t.id as usize) == Some(&true)
    });
    let weighted: Vec<(&NoteEvent, f32)> = pitched()
        .flat_map(|t| {
            let w = if accompanied && t.classification.kind == TrackType::Melody {
                MELODY_OVER_CHORDS_WEIGHT
            } else {
                1.0
            };
            t.events.iter().map(move |e| (e, w))
        })
        .collect();
    let extractor = ChordExtractor::new();
    let analysis = extractor.frames(&weighted_notes(&weighted), global);
    let detector = KeyDetector::new();
    let all: Vec<NoteEvent> = pitched().flat_map(|t| t.events.iter().cloned()).collect();
    let profile = detector.profile(&all);
    let (mut key, mut confidence) = detector.detect_profile(&profile);
    let (mut runs, mut chords) = chords_in_key(&extractor, &analysis, global, key);
    // The chords tell relative keys apart.
    let mut chord_time = vec![0f64; ChordLabel::DENSE_COUNT as usize];
    for c in &chords {
        chord_time[c.chord.label().dense_index() as usize] += c.duration_steps as f64;
    }
    let melody: Vec<NoteEvent> = pitched()
        .filter(|t| t.classification.kind == TrackType::Melody)
        .flat_map(|t| t.events.iter().cloned())
        .collect();
    let sounding: f32 = analysis.profiles.sounding.iter().sum();
    let polyphonic: f32 = analysis.profiles.polyphonic.iter().sum();
    let chordal_part = pitched().any(|t| t.classification.kind == TrackType::Harmony);
    let sounds = chordal_part || polyphonic > HARMONY_SOUNDING_SHARE * sounding;
    let evidence = TonicEvidence {
        final_bass: final_bass(&all),
        first_bass: first_bass(&all),
        // A lone line is the whole profile already.
        melody_profile: accompanied.then(|| detector.profile(&melody)),
        final_is_tonic: !sounds,
        ..TonicEvidence::default()
    };
    let (refined, refined_confidence) =
        detector.detect_with_tonic_chords(&profile, &chord_time, evidence);
    let profile_key = key;
    if refined != key {
        (key, confidence) = (refined, refined_confidence);
    }
    // Local keys from every note at full weight (the melody too: the
    // accompaniment alone reads a fifth flat on short windows).
    let plain = accompanied.then(|| {
        let notes: Vec<(&NoteEvent, f32)> = weighted.iter().map(|(n, _)| (*n, 1.0)).collect();
        extractor.frames(&weighted_notes(&notes), global)
    });
    let frames = &plain.as_ref().unwrap_or(&analysis).profiles;
    let local = detector.segments(&frames.pcs, &frames.bass, None);
    if let Some(settled) = modulating_key(&local, key) {
        key = settled;
    }
    // A changed key re-reads the chords (once, with the key it settled on).
    if key != profile_key {
        (runs, chords) = chords_in_key(&extractor, &analysis, global, key);
    }
    let ppq = global.ppq as u64;
    for c in &mut chords {
        c.time_start = tempo.seconds_at(c.step_start as u64 * ppq / 4);
    }
    let key_segments = runs
        .iter()
        .filter_map(|r| {
            let step_start = tick_to_step(analysis.grid.start_tick(r.start), global.ppq);
            let step_end = tick_to_step(analysis.grid.start_tick(r.end), global.ppq);
            (step_end > step_start).then(|| KeySegment {
                time_start: tempo.seconds_at(step_start as u64 * ppq / 4),
                bar_start: global.position_of(step_start).bar,
                step_start,
                duration_steps: step_end - step_start,
                key: KeyInfo::from_key(r.key, r.confidence),
            })
        })
        .collect();
    Harmony {
        chords,
        key: KeyInfo::from_key(key, confidence),
        key_segments,
        sounds,
    }
}

/// Key segments around `key`, then the chords with each frame's key prior.
fn chords_in_key(
    extractor: &ChordExtractor,
    analysis: &ChordAnalysis,
    global: &GlobalInfo,
    key: Key,
) -> (Vec<KeyRun>, Vec<ChordSpan>) {
    let runs =
        KeyDetector::new().segments(&analysis.profiles.pcs, &analysis.profiles.bass, Some(key));
    let key_at = |f: usize| {
        runs.iter()
            .find(|r| r.start <= f && f < r.end)
            .map(|r| r.key)
    };
    let chords = extractor.segment(analysis, global, key_at);
    (runs, chords)
}

/// A track's notes in seconds, ticks and grid positions, sorted by
/// (onset_step, pitch).
fn note_events(track: &MidiTrackData, tempo: &TempoMap, global: &GlobalInfo) -> Vec<NoteEvent> {
    let ppq = tempo.ppq();
    let mut events: Vec<NoteEvent> = track
        .notes
        .iter()
        .map(|n| {
            let onset_step = tick_to_step(n.start_tick, ppq);
            let pos = global.position_of(onset_step);
            let start_s = tempo.seconds_at(n.start_tick);
            let duration_ticks = n.end_tick - n.start_tick;
            NoteEvent {
                onset_seconds: start_s,
                duration_seconds: tempo.seconds_at(n.end_tick) - start_s,
                onset_tick: n.start_tick,
                duration_ticks,
                onset_step,
                duration_steps: tick_to_step(duration_ticks, ppq).max(1),
                bar: pos.bar,
                beat: pos.beat,
                substep: pos.substep,
                pitch: n.pitch,
                velocity: n.velocity,
            }
        })
        .collect();
    events.sort_by_key(|e| (e.onset_step, e.pitch));
    events
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
                .map(|i| MidiNote {
                    tick: bar * 4 * q,
                    duration: 4 * q,
                    pitch: 60 + root + i,
                    velocity: 80,
                    channel: 2,
                })
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
                        .map(|i| MidiNote {
                            tick: i * q,
                            duration: q / 4,
                            pitch: 36,
                            velocity: 100,
                            channel: 9,
                        })
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
        let bytes =
            write_smf(&spec(96, vec![(0, 4, 4)], vec![(0, 120.0), (96 * 8, 60.0)])).unwrap();
        let nsf = midi_to_nsf(&bytes, "song.mid").unwrap();
        assert_eq!(nsf.global.ppq, 96);
        assert_eq!(nsf.global.bar_starts[..5], [0, 16, 32, 48, 64]);
        // Tempo halves after 2 bars (4 s): bar 3 starts at 4 s + 4 beats at 1 s.
        let keys = nsf.tracks.iter().find(|t| t.name == "Keys").unwrap();
        assert_eq!(keys.classification.kind, TrackType::Harmony);
        let last = keys.events.last().unwrap();
        assert!(
            (last.onset_seconds - 8.0).abs() < 1e-9,
            "{}",
            last.onset_seconds
        );
        assert_eq!(
            (last.bar, last.beat, last.substep, last.onset_step),
            (3, 0, 0, 48)
        );
        let drums = nsf.tracks.iter().find(|t| t.is_drum).unwrap();
        assert_eq!(drums.classification.kind, TrackType::Drums);
        let labels: Vec<String> = nsf
            .chords
            .iter()
            .map(|c| c.chord.label().token_name())
            .collect();
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

    #[test]
    fn notes_carry_ticks_seconds_and_grid_steps() {
        let bytes =
            write_smf(&spec(96, vec![(0, 4, 4)], vec![(0, 120.0), (96 * 8, 60.0)])).unwrap();
        let nsf = midi_to_nsf(&bytes, "dir/song.mid").unwrap();
        assert_eq!(nsf.metadata.source_file, "dir/song.mid");
        assert_eq!(nsf.metadata.quantization_grid, "16th");
        assert_eq!(nsf.global.tempo_map, vec![(0.0, 120.0), (4.0, 60.0)]);
        // Four 4/4 bars: two at 120 bpm (4 s) and two at 60 bpm (8 s).
        assert!((nsf.global.duration_seconds - 12.0).abs() < 1e-9);
        assert_eq!(nsf.global.bar_starts, vec![0, 16, 32, 48, 64]);
        let drums = nsf.tracks.iter().find(|t| t.is_drum).unwrap();
        // 16 kicks a quarter apart, each a 16th (24 ticks) long.
        assert_eq!(drums.events.len(), 16);
        let e = &drums.events[9];
        assert_eq!(
            (
                e.onset_tick,
                e.duration_ticks,
                e.onset_step,
                e.duration_steps
            ),
            (864, 24, 36, 1)
        );
        assert_eq!((e.bar, e.beat, e.substep), (2, 1, 0));
        assert!((e.onset_seconds - 5.0).abs() < 1e-9 && (e.duration_seconds - 0.25).abs() < 1e-9);
        let keys = nsf.tracks.iter().find(|t| t.name == "Keys").unwrap();
        let order: Vec<(u32, u8)> = keys
            .events
            .iter()
            .map(|e| (e.onset_step, e.pitch))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert!(keys.events.iter().all(|e| e.duration_steps == 16));
    }

    #[test]
    fn absurdly_long_and_empty_songs_are_errors() {
        // At 1 ppq, a note at tick 20,000 lies past bar 4096 of 4/4.
        let mut long = spec(4, vec![(0, 4, 4)], vec![(0, 120.0)]);
        long.ppq = 1;
        long.tracks[0].notes[0].tick = 20_000;
        let err = midi_to_nsf(&write_smf(&long).unwrap(), "long.mid").unwrap_err();
        assert!(matches!(err, NsfError::TooLong(MAX_BARS)), "{err}");
        let mut empty = spec(96, vec![], vec![]);
        empty.tracks.clear();
        let err = midi_to_nsf(&write_smf(&empty).unwrap(), "empty.mid").unwrap_err();
        assert!(matches!(err, NsfError::Midi(MidiError::Empty(_))), "{err}");
        assert!(err.to_string().contains("no notes"));
    }
}
