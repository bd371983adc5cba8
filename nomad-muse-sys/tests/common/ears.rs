//! Scores the analysis (chords, key, melody part) against labelled real music:
//! the fixtures in `tests/fixtures/real` (Bach chorales, Monteverdi madrigals,
//! Essen folk tunes; labels built by `scripts/dev/build_real_fixtures.py`) and
//! POP909 song folders (chord_midi.txt, beat_midi.txt, key_audio.txt).
//! Shared by the `real_music` test and the `ears` example.
#![allow(dead_code)]

use std::path::Path;

use nomad_muse::nsf::key::{final_bass, first_bass, KeyDetector, KeyProfile, TonicEvidence};
use nomad_muse::nsf::{midi_to_nsf_with, ConvertOptions, GlobalInfo, Nsf};
use nomad_muse::theory::{parse_pitch_class, ChordLabel, ChordQuality, Key, Mode};
use nomad_muse::tokenizers::melody_track;
use serde_json::Value;

/// Triad family of a chord quality, for "root + maj/min/dim/aug" scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triad {
    Maj,
    Min,
    Dim,
    Aug,
    Sus,
    Other,
}

pub fn triad_of_name(q: &str) -> Triad {
    match q {
        "maj" | "dom7" | "maj7" | "7" | "maj6" | "9" | "maj9" | "11" | "13" => Triad::Maj,
        "min" | "min7" | "min6" | "min9" | "minmaj7" | "min11" => Triad::Min,
        "dim" | "dim7" | "hdim7" => Triad::Dim,
        "aug" => Triad::Aug,
        "sus2" | "sus4" => Triad::Sus,
        _ => Triad::Other,
    }
}

pub fn triad_of(q: ChordQuality) -> Triad {
    triad_of_name(q.name())
}

/// One labelled beat: the sample time (seconds) and the expected chord.
#[derive(Debug, Clone)]
pub struct LabelledBeat {
    pub seconds: f64,
    pub root: u8,
    pub triad: Triad,
}

#[derive(Debug, Clone)]
pub struct Piece {
    pub name: String,
    pub group: String,
    pub midi: Vec<u8>,
    pub key: Option<Key>,
    pub beats: Vec<LabelledBeat>,
    /// The track that carries the melody: by its name in the file, or by
    /// its index among the file's note tracks.
    pub melody_track_name: Option<String>,
    pub melody_track_index: Option<u32>,
    /// music21's answers on the same file, where the labels carry them.
    pub m21_key: Option<Key>,
    pub m21_beats: Vec<Option<(u8, Triad)>>,
    pub monophonic: bool,
}

/// Tally of one group of pieces.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub pieces: usize,
    pub beats: usize,
    pub root_right: usize,
    /// Beats whose label is a major or minor triad family.
    pub majmin_beats: usize,
    pub triad_right: usize,
    /// Beats whose label is maj/min/dim/aug (any triad family).
    pub triad_beats: usize,
    pub triad_any_right: usize,
    pub keyed: usize,
    pub key_right: usize,
    pub melody_pieces: usize,
    pub melody_right: usize,
    pub melody_right_unnamed: usize,
    pub m21_root_right: usize,
    pub m21_triad_any_right: usize,
    pub m21_majmin_right: usize,
    pub m21_key_right: usize,
    pub m21_keyed: usize,
    /// Monophonic pieces and how many of them gave harmony tokens.
    pub monophonic: usize,
    pub monophonic_with_harmony: usize,
    pub key_errors: Vec<String>,
    pub melody_errors: Vec<String>,
    /// Key accuracy of every (profile, bass weight) variant, for choosing.
    pub key_variants: Vec<(String, usize)>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

impl Score {
    pub fn root(&self) -> f64 {
        ratio(self.root_right, self.beats)
    }
    pub fn triad(&self) -> f64 {
        ratio(self.triad_any_right, self.triad_beats)
    }
    pub fn majmin(&self) -> f64 {
        ratio(self.triad_right, self.majmin_beats)
    }
    pub fn key(&self) -> f64 {
        ratio(self.key_right, self.keyed)
    }
    pub fn melody(&self) -> f64 {
        ratio(self.melody_right, self.melody_pieces)
    }
    pub fn melody_unnamed(&self) -> f64 {
        ratio(self.melody_right_unnamed, self.melody_pieces)
    }
    pub fn m21_root(&self) -> f64 {
        ratio(self.m21_root_right, self.beats)
    }
    pub fn m21_triad(&self) -> f64 {
        ratio(self.m21_triad_any_right, self.triad_beats)
    }
    pub fn m21_majmin(&self) -> f64 {
        ratio(self.m21_majmin_right, self.majmin_beats)
    }
    pub fn m21_key(&self) -> f64 {
        ratio(self.m21_key_right, self.m21_keyed)
    }
}

fn key_from_json(v: &Value) -> Option<Key> {
    let tonic = v.get("tonic")?.as_u64()? as u8;
    let mode = match v.get("mode")?.as_str()? {
        "minor" => Mode::Minor,
        _ => Mode::Major,
    };
    Some(Key::new(tonic, mode))
}

/// Reads `labels.json` and the MIDI files beside it.
pub fn load_fixtures(dir: &Path) -> Result<Vec<Piece>, String> {
    let text = std::fs::read_to_string(dir.join("labels.json")).map_err(|e| e.to_string())?;
    let json: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let pieces = json["pieces"].as_array().ok_or("no pieces")?;
    let mut out = Vec::new();
    for p in pieces {
        let file = p["file"].as_str().ok_or("piece without file")?;
        let midi = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let beats = p["beats"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter_map(|x| {
                        Some(LabelledBeat {
                            seconds: x.get(0)?.as_f64()?,
                            root: x.get(1)?.as_u64()? as u8,
                            triad: triad_of_name(x.get(2)?.as_str()?),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let m21_beats = p["music21"]["beats"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|x| {
                        Some((
                            x.get(0)?.as_u64()? as u8,
                            triad_of_name(x.get(1)?.as_str()?),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Piece {
            name: file.to_string(),
            group: file.split('/').next().unwrap_or("").to_string(),
            midi,
            key: key_from_json(&p["key"]),
            beats,
            melody_track_name: None,
            melody_track_index: p["melody_part"].as_u64().map(|i| i as u32),
            m21_key: key_from_json(&p["music21"]["key"]),
            m21_beats,
            monophonic: p["voices"].as_u64() == Some(1),
        });
    }
    Ok(out)
}

/// "C#:min7/b3" → (root, quality text); "N" → None.
fn parse_harte(label: &str) -> Option<(u8, String)> {
    let (root, rest) = label.split_once(':')?;
    let root = parse_pitch_class(root).or_else(|| flat_name(root))?;
    let quality = rest.split(['/', '(']).next().unwrap_or("maj");
    let quality = if rest.starts_with("sus4(b7") {
        "sus4".to_string()
    } else {
        quality.to_string()
    };
    Some((root, quality))
}

fn flat_name(name: &str) -> Option<u8> {
    let mut chars = name.chars();
    let letter = chars.next()?;
    let base = match letter {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let shift: i32 = chars
        .map(|c| match c {
            '#' => 1,
            'b' => -1,
            _ => 0,
        })
        .sum();
    Some(((base + shift).rem_euclid(12)) as u8)
}

fn read_table(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .filter(|v: &Vec<String>| !v.is_empty())
        .collect()
}

/// `(start seconds, end seconds, chord)`; `None` for "N".
type LabelledSpan = (f64, f64, Option<(u8, String)>);

/// One POP909 song folder (e.g. `POP909/001`). Songs 810–909 are held out
/// and refused.
pub fn load_pop909_song(dir: &Path) -> Result<Piece, String> {
    let id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("bad folder")?
        .to_string();
    if id.parse::<u32>().map_err(|e| e.to_string())? >= 810 {
        return Err(format!("POP909 song {id} is held out"));
    }
    let midi = std::fs::read(dir.join(format!("{id}.mid"))).map_err(|e| e.to_string())?;
    let chords: Vec<LabelledSpan> = read_table(&dir.join("chord_midi.txt"))
        .into_iter()
        .filter_map(|r| {
            Some((
                r.first()?.parse().ok()?,
                r.get(1)?.parse().ok()?,
                parse_harte(r.get(2)?),
            ))
        })
        .collect();
    let beat_times: Vec<f64> = read_table(&dir.join("beat_midi.txt"))
        .iter()
        .filter_map(|r| r.first()?.parse().ok())
        .collect();
    let mut beats = Vec::new();
    for w in beat_times.windows(2) {
        let t = 0.5 * (w[0] + w[1]);
        if let Some((_, _, Some((root, q)))) = chords.iter().find(|(a, b, _)| *a <= t && t < *b) {
            beats.push(LabelledBeat {
                seconds: t,
                root: *root,
                triad: triad_of_name(q),
            });
        }
    }
    // The key sounding longest.
    let mut key_time: Vec<(Key, f64)> = Vec::new();
    for r in read_table(&dir.join("key_audio.txt")) {
        let (Some(a), Some(b), Some(label)) = (r.first(), r.get(1), r.get(2)) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.parse::<f64>(), b.parse::<f64>()) else {
            continue;
        };
        let Some((tonic, q)) = parse_harte(label) else {
            continue;
        };
        let key = Key::new(
            tonic,
            if q.starts_with("min") {
                Mode::Minor
            } else {
                Mode::Major
            },
        );
        match key_time.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 += b - a,
            None => key_time.push((key, b - a)),
        }
    }
    let key = key_time
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|k| k.0);
    Ok(Piece {
        name: format!("pop909/{id}"),
        group: "pop909".into(),
        midi,
        key,
        beats,
        melody_track_name: Some("MELODY".into()),
        melody_track_index: None,
        m21_key: None,
        m21_beats: vec![],
        monophonic: false,
    })
}

/// Seconds of absolute 16th step `step` on the song's tempo map.
pub fn step_seconds(global: &GlobalInfo, step: u32) -> f64 {
    let q = step as f64 / 4.0;
    let (mut seg_s, mut seg_q, mut bpm) =
        (0.0, 0.0, global.tempo_map.first().map_or(120.0, |t| t.1));
    for &(s, b) in global.tempo_map.iter().skip(1) {
        let q_at = seg_q + (s - seg_s) * bpm / 60.0;
        if q_at > q {
            break;
        }
        (seg_s, seg_q, bpm) = (s, q_at, b);
    }
    seg_s + (q - seg_q) * 60.0 / bpm
}

/// The chord our analysis puts at `seconds`.
pub fn chord_at_seconds(nsf: &Nsf, spans_end: &[f64], seconds: f64) -> ChordLabel {
    let i = nsf
        .chords
        .partition_point(|c| c.time_start <= seconds + 1e-9);
    if i == 0 {
        return ChordLabel::NONE;
    }
    if seconds < spans_end[i - 1] {
        nsf.chords[i - 1].chord.label()
    } else {
        ChordLabel::NONE
    }
}

/// Track `id` as `analysed` classified it, under its name in `named` (the
/// same file read with names kept), for a melody error.
fn describe_track(named: &Nsf, analysed: &Nsf, id: Option<u32>) -> String {
    id.and_then(|i| analysed.tracks.get(i as usize))
        .map_or("none".to_string(), |t| {
            format!(
                "{} {:?} {:?}",
                named
                    .tracks
                    .get(t.id as usize)
                    .map_or("?", |n| n.name.as_str()),
                t.classification.kind,
                t.classification.reasons
            )
        })
}

/// Analyses one piece and adds it to `score`.
pub fn score_piece(piece: &Piece, score: &mut Score) -> Result<(), String> {
    let nsf = midi_to_nsf_with(&piece.midi, &piece.name, &ConvertOptions::default())
        .map_err(|e| format!("{}: {e}", piece.name))?;
    score.pieces += 1;
    let ends: Vec<f64> = nsf
        .chords
        .iter()
        .map(|c| step_seconds(&nsf.global, c.step_start + c.duration_steps))
        .collect();
    for (i, beat) in piece.beats.iter().enumerate() {
        let ours = chord_at_seconds(&nsf, &ends, beat.seconds);
        score.beats += 1;
        let root_ok = !ours.is_none() && ours.root == beat.root;
        if !root_ok && std::env::var_os("EARS_DUMP").is_some() {
            let rel = if ours.is_none() {
                99
            } else {
                (ours.root + 12 - beat.root) % 12
            };
            println!(
                "ROOTMISS {} {:.2} want {} {:?} got {} rel {}",
                piece.name,
                beat.seconds,
                beat.root,
                beat.triad,
                ours.token_name(),
                rel
            );
        }
        score.root_right += root_ok as usize;
        let ours_triad = if ours.is_none() {
            Triad::Other
        } else {
            triad_of(ours.quality)
        };
        if matches!(
            beat.triad,
            Triad::Maj | Triad::Min | Triad::Dim | Triad::Aug
        ) {
            score.triad_beats += 1;
            score.triad_any_right += (root_ok && ours_triad == beat.triad) as usize;
        }
        let m21 = piece.m21_beats.get(i).copied().flatten();
        let m21_root_ok = m21.is_some_and(|(r, _)| r == beat.root);
        score.m21_root_right += m21_root_ok as usize;
        if matches!(
            beat.triad,
            Triad::Maj | Triad::Min | Triad::Dim | Triad::Aug
        ) {
            score.m21_triad_any_right +=
                (m21_root_ok && m21.is_some_and(|(_, t)| t == beat.triad)) as usize;
        }
        if matches!(beat.triad, Triad::Maj | Triad::Min) {
            score.majmin_beats += 1;
            score.triad_right += (root_ok && ours_triad == beat.triad) as usize;
            score.m21_majmin_right +=
                (m21_root_ok && m21.is_some_and(|(_, t)| t == beat.triad)) as usize;
        }
    }
    if let Some(key) = piece.key {
        score.keyed += 1;
        let ours = nsf.key.key();
        if ours == key {
            score.key_right += 1;
        } else {
            score.key_errors.push(format!(
                "{}: {} (want {})",
                piece.name,
                ours.token_name(),
                key.token_name()
            ));
        }
        let pitched: Vec<nomad_muse::nsf::NoteEvent> = nsf
            .tracks
            .iter()
            .filter(|t| !t.is_drum)
            .flat_map(|t| t.events.iter().cloned())
            .collect();
        let mut v = 0;
        let mut chord_time = vec![0f64; ChordLabel::DENSE_COUNT as usize];
        for c in &nsf.chords {
            chord_time[c.chord.label().dense_index() as usize] += c.duration_steps as f64;
        }
        // Each published profile with the same tonic evidence, to choose.
        for profile in KeyProfile::ALL {
            let d = KeyDetector {
                profile,
                ..KeyDetector::new()
            };
            if score.key_variants.len() <= v {
                score.key_variants.push((format!("{profile:?}"), 0));
            }
            let evidence = TonicEvidence {
                final_bass: final_bass(&pitched),
                first_bass: first_bass(&pitched),
                ..TonicEvidence::default()
            };
            let found = d.detect_with_tonic_chords(&d.profile(&pitched), &chord_time, evidence);
            score.key_variants[v].1 += (found.0 == key) as usize;
            v += 1;
        }
        if let Some(m) = piece.m21_key {
            score.m21_keyed += 1;
            score.m21_key_right += (m == key) as usize;
        }
    }
    let want_id = match (&piece.melody_track_name, piece.melody_track_index) {
        (Some(name), _) => nsf.tracks.iter().find(|t| &t.name == name).map(|t| t.id),
        (None, Some(i)) => Some(i),
        (None, None) => None,
    };
    if piece.melody_track_name.is_some() || piece.melody_track_index.is_some() {
        score.melody_pieces += 1;
        let named = melody_track(&nsf).map(|t| t.id);
        score.melody_right += (named.is_some() && named == want_id) as usize;
        if named.is_none() || named != want_id {
            score.melody_errors.push(format!(
                "{} (names kept): chose {}; melody is {}",
                piece.name,
                describe_track(&nsf, &nsf, named),
                describe_track(&nsf, &nsf, want_id)
            ));
        }
        let unnamed = midi_to_nsf_with(
            &piece.midi,
            &piece.name,
            &ConvertOptions {
                ignore_track_names: true,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        // Names were blanked for the analysis; the track order is the file's.
        let chosen = melody_track(&unnamed).map(|t| t.id);
        let right = chosen.is_some() && chosen == want_id;
        score.melody_right_unnamed += right as usize;
        if !right {
            score.melody_errors.push(format!(
                "{}: chose {}; melody is {}",
                piece.name,
                describe_track(&nsf, &unnamed, chosen),
                describe_track(&nsf, &unnamed, want_id)
            ));
        }
    }
    if piece.monophonic {
        score.monophonic += 1;
        let harmony = nomad_muse::tokenizers::HarmonyTokenizer::new().encode(&nsf);
        score.monophonic_with_harmony += (harmony.tokens.len() > 2) as usize;
    }
    Ok(())
}

/// Scores every piece, grouped by `Piece::group`.
pub fn score_all(pieces: &[Piece]) -> Vec<(String, Score)> {
    let mut groups: Vec<(String, Score)> = Vec::new();
    for p in pieces {
        let i = match groups.iter().position(|(g, _)| *g == p.group) {
            Some(i) => i,
            None => {
                groups.push((p.group.clone(), Score::default()));
                groups.len() - 1
            }
        };
        if let Err(e) = score_piece(p, &mut groups[i].1) {
            groups[i].1.key_errors.push(format!("error: {e}"));
        }
    }
    groups
}
