//! The synthetic corpus: multi-track songs (drums with fills, diatonic
//! progressions, chord-tone melodies, a bass line) in a few styles, keys and
//! tempos. It is the embedded default data for demos and tests, generated
//! deterministically from a seed.

mod rng;
mod styles;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use nomad_muse::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
use nomad_muse::theory::{ChordLabel, ChordQuality, Key, Mode};

pub use rng::SplitMix64;
pub use styles::Style;

/// Progressions as scale degrees (0-based), one chord per slot.
const MAJOR_PROGRESSIONS: [[usize; 4]; 5] = [
    [0, 4, 5, 3],
    [1, 4, 0, 0],
    [0, 5, 3, 4],
    [5, 3, 0, 4],
    [0, 3, 4, 0],
];
const MINOR_PROGRESSIONS: [[usize; 4]; 4] =
    [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 4], [0, 3, 6, 2]];

/// One generated song with its ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSong {
    pub file_name: String,
    pub style: Style,
    /// e.g. "C_major".
    pub key: String,
    pub tempo_bpm: f64,
    pub bars: u32,
    pub ppq: u16,
    /// Chord sounding on each bar's downbeat, as token names ("G_dom7").
    pub downbeat_chords: Vec<String>,
    #[serde(skip)]
    pub key_label: Option<Key>,
    #[serde(skip)]
    pub midi_bytes: Vec<u8>,
}

/// Diatonic chord on `degree`; minor keys use the harmonic-minor dominant.
fn chord_on(key: Key, degree: usize, sevenths: bool) -> ChordLabel {
    let mut c = if sevenths {
        key.diatonic_seventh(degree)
    } else {
        key.diatonic_triad(degree)
    };
    if key.mode == Mode::Minor && degree == 4 {
        c = ChordLabel::new(
            c.root,
            if sevenths {
                ChordQuality::Dom7
            } else {
                ChordQuality::Maj
            },
        );
    }
    c
}

/// Close voicing of `chord` whose lowest note is as near `around` as possible.
fn voice(chord: ChordLabel, around: u8) -> Vec<u8> {
    let pcs = chord.pitch_classes();
    let best_low = (48..=64u8)
        .filter(|p| pcs.contains(&(p % 12)))
        .min_by_key(|p| p.abs_diff(around))
        .unwrap_or(55);
    let mut notes = vec![best_low];
    for _ in 1..pcs.len() {
        let last = *notes.last().unwrap_or(&best_low);
        let next = (last + 1..last + 12)
            .find(|p| pcs.contains(&(p % 12)) && !notes.iter().any(|n| n % 12 == p % 12));
        if let Some(n) = next {
            notes.push(n);
        }
    }
    notes
}

/// Generates song `index` of the corpus seeded with `seed`.
pub fn generate_song(index: usize, seed: u64) -> anyhow::Result<GeneratedSong> {
    let mut rng = SplitMix64::new(seed ^ (index as u64).wrapping_mul(0xd1b5_4a32_d192_ed03));
    let style = *rng.pick(&Style::ALL);
    let mode = if rng.chance(0.6) {
        Mode::Major
    } else {
        Mode::Minor
    };
    let key = Key::new(rng.below(12) as u8, mode);
    let (lo, hi) = style.tempo_range();
    let tempo = (lo + rng.unit() * (hi - lo)).round();
    let bars = *rng.pick(&[16u32, 24, 32]);
    let ppq = *rng.pick(&[480u16, 480, 480, 96, 960]);
    let sevenths = rng.chance(0.35);
    let progression: Vec<usize> = match mode {
        Mode::Major => rng.pick(&MAJOR_PROGRESSIONS).to_vec(),
        Mode::Minor => rng.pick(&MINOR_PROGRESSIONS).to_vec(),
    };
    // Songs close on the tonic (a final cadence), as most songs do.
    let chords: Vec<ChordLabel> = (0..bars)
        .map(|b| {
            chord_on(
                key,
                if b + 1 == bars {
                    0
                } else {
                    progression[b as usize % 4]
                },
                sevenths,
            )
        })
        .collect();
    let groove_variant = rng.below(2);
    let fill_every = *rng.pick(&[4u32, 8]);

    let q = ppq as u64;
    let step = q / 4;
    let note = |s: u64, len: u64, pitch: u8, velocity: u8, channel: u8| MidiNote {
        tick: s * step,
        duration: (len * step).saturating_sub(step / 8).max(1),
        pitch,
        velocity,
        channel,
    };
    let (mut drums, mut bass, mut keys, mut lead) = (vec![], vec![], vec![], vec![]);
    let mut top = 55u8;
    let mut melody_pitch = 72u8 + key.tonic % 12;
    let scale = key.scale();
    // A two-bar rhythmic motif, reused with variations so phrases cohere.
    let motif: Vec<(u32, u32)> = {
        let options: [&[(u32, u32)]; 3] = [
            &[
                (0, 4),
                (4, 2),
                (6, 2),
                (8, 4),
                (12, 4),
                (16, 6),
                (22, 2),
                (24, 8),
            ],
            &[
                (0, 2),
                (2, 2),
                (4, 4),
                (10, 2),
                (12, 4),
                (16, 4),
                (20, 4),
                (24, 4),
                (28, 4),
            ],
            &[
                (0, 6),
                (6, 2),
                (8, 2),
                (10, 2),
                (12, 4),
                (16, 8),
                (26, 2),
                (28, 4),
            ],
        ];
        rng.pick(&options).to_vec()
    };
    for bar in 0..bars {
        let base = bar as u64 * 16;
        let chord = chords[bar as usize];
        let is_fill = (bar + 1) % fill_every == 0 && bar + 1 < bars;
        let groove = if is_fill {
            style.fill(rng.below(2))
        } else {
            style.groove(groove_variant)
        };
        for (s, p, v) in groove {
            let v = (v as i32 + rng.below(9) as i32 - 4).clamp(1, 127) as u8;
            drums.push(note(base + s as u64, 1, p, v, 9));
        }
        if bar > 0 && (bar % fill_every == 0) {
            drums.push(note(base, 1, styles::CRASH, 110, 9));
        }
        // Keys: voiced chord with smooth voice leading.
        let voicing = voice(chord, top);
        top = voicing[0];
        for (s, len) in style.comp_rhythm() {
            for p in &voicing {
                keys.push(note(
                    base + s as u64,
                    len as u64,
                    *p,
                    70 + rng.below(20) as u8,
                    2,
                ));
            }
        }
        // Bass: root / fifth / octave in the second octave.
        let root = 36 + chord.root % 12;
        let root = if root > 45 { root - 12 } else { root };
        for (s, len, degree) in style.bass_rhythm() {
            let p = match degree {
                0 => root,
                1 => root + 7,
                _ => root + 12,
            };
            bass.push(note(base + s as u64, len as u64, p, 95, 1));
        }
        // Melody: chord tones on strong steps, scale steps in between; the
        // last bar holds the tonic.
        if bar + 1 == bars {
            let tonic = (60..=84u8)
                .filter(|p| p % 12 == key.tonic)
                .min_by_key(|p| p.abs_diff(melody_pitch));
            lead.push(note(base, 16, tonic.unwrap_or(72), 100, 0));
            continue;
        }
        for (s, len) in motif
            .iter()
            .filter(|(s, _)| (s / 16) == bar % 2)
            .map(|(s, l)| (s % 16, *l))
        {
            let strong = s % 4 == 0;
            let candidates: Vec<u8> = (60..=88u8)
                .filter(|p| {
                    if strong {
                        chord.contains_pitch_class(p % 12)
                    } else {
                        scale.contains(&(p % 12))
                    }
                })
                .collect();
            let target = melody_pitch as i32 + rng.below(7) as i32 - 3;
            let p = *candidates
                .iter()
                .min_by_key(|p| (**p as i32 - target).abs())
                .unwrap_or(&melody_pitch);
            melody_pitch = p.clamp(64, 84);
            lead.push(note(
                base + s as u64,
                len.min(16 - s) as u64,
                p,
                85 + rng.below(25) as u8,
                0,
            ));
        }
    }
    let lead_program = *rng.pick(&[73u8, 80, 56]);
    let spec = MidiSongSpec {
        ppq,
        tempo_changes: vec![(0, tempo)],
        time_signatures: vec![(0, 4, 4)],
        tracks: vec![
            MidiTrackSpec {
                name: "Drums".into(),
                channel: 9,
                program: None,
                notes: drums,
            },
            MidiTrackSpec {
                name: "Bass".into(),
                channel: 1,
                program: Some(33),
                notes: bass,
            },
            MidiTrackSpec {
                name: "Keys".into(),
                channel: 2,
                program: Some(*rng.pick(&[0u8, 4])),
                notes: keys,
            },
            MidiTrackSpec {
                name: "Melody".into(),
                channel: 0,
                program: Some(lead_program),
                notes: lead,
            },
        ],
    };
    let midi_bytes = write_smf(&spec).context("writing generated song")?;
    Ok(GeneratedSong {
        file_name: format!("song_{index:04}_{}_{}.mid", style.name(), key.token_name()),
        style,
        key: key.token_name(),
        tempo_bpm: tempo,
        bars,
        ppq,
        downbeat_chords: chords.iter().map(|c| c.token_name()).collect(),
        key_label: Some(key),
        midi_bytes,
    })
}

/// Writes `songs` songs and `corpus_manifest.json` (ground truth) to `out_dir`.
pub fn generate_corpus(
    out_dir: &Path,
    songs: usize,
    seed: u64,
) -> anyhow::Result<Vec<GeneratedSong>> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let generated: Vec<GeneratedSong> = (0..songs)
        .map(|i| generate_song(i, seed))
        .collect::<anyhow::Result<_>>()?;
    for song in &generated {
        let path = out_dir.join(&song.file_name);
        std::fs::write(&path, &song.midi_bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let manifest = serde_json::json!({ "seed": seed, "songs": generated });
    std::fs::write(
        out_dir.join("corpus_manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_muse::nsf::midi_to_nsf;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate_song(3, 7).unwrap();
        let b = generate_song(3, 7).unwrap();
        let c = generate_song(3, 8).unwrap();
        assert_eq!(a.midi_bytes, b.midi_bytes);
        assert_ne!(a.midi_bytes, c.midi_bytes);
    }

    #[test]
    fn keys_and_chords_are_recovered_from_generated_songs() {
        let songs = 40;
        // Songs 0..40 hold the funk riffs with the strongest 3-beat pull
        // (5, 6, 25 scored 3/4 before the override ratio).
        let (mut keys_right, mut chords_right, mut chords_total) = (0, 0, 0);
        for i in 0..songs {
            let song = generate_song(i, 2026).unwrap();
            let nsf = midi_to_nsf(&song.midi_bytes, &song.file_name).unwrap();
            // Syncopated 4/4 is still 4/4: the declared metre stands.
            let metre = &nsf.metadata.metre;
            assert!(!metre.inferred, "{}: {metre:?}", song.file_name);
            if nsf.key.key() == song.key_label.unwrap() {
                keys_right += 1;
            } else {
                eprintln!(
                    "KEYMISS {} got {} chords {:?}",
                    song.file_name,
                    nsf.key.key().token_name(),
                    &song.downbeat_chords[..4]
                );
            }
            for (bar, truth) in song.downbeat_chords.iter().enumerate() {
                chords_total += 1;
                let step = nsf.global.bar_start_step(bar as u32);
                if nsf.chord_at(step).token_name() == *truth {
                    chords_right += 1;
                } else if bar < 4 {
                    eprintln!(
                        "CHORDMISS {} bar {bar} truth {truth} got {}",
                        song.file_name,
                        nsf.chord_at(step).token_name()
                    );
                }
            }
        }
        let key_acc = keys_right as f64 / songs as f64;
        let chord_acc = chords_right as f64 / chords_total as f64;
        println!(
            "key accuracy {keys_right}/{songs} = {:.1}%",
            key_acc * 100.0
        );
        println!(
            "downbeat chord accuracy {chords_right}/{chords_total} = {:.1}%",
            chord_acc * 100.0
        );
        assert!(key_acc >= 0.95, "key accuracy {key_acc}");
        assert!(chord_acc >= 0.90, "chord accuracy {chord_acc}");
    }
}
