//! Priming a part with the host's clip: note events or a MIDI file become
//! the part's first bars, encoded by the expert's own tokenizer (the one
//! training used) and checked against the band's grammar in the song's
//! metre. Done when the host sets the primer, never per bar.

use crate::nsf::key::KeyDetector;
use crate::nsf::{
    midi_to_nsf, Classification, GlobalInfo, KeyInfo, Metadata, NoteEvent, Nsf, NsfTrack, TrackType,
};
use crate::runtime::MuseError;
use crate::theory::{ChordLabel, Key, Mode};
use crate::tokenizers::{melody_track, DrumsTokenizer, Grammar, MelodyTokenizer, Token, SUBSTEPS};

use super::schedule::{DRUM_NOTE_CAP, MELODY_NOTE_CAP};
use super::snapshot::MAX_TOKENS_PER_BAR;
use super::{Part, TimeSignature, TICKS_PER_QUARTER};

/// A note of a primer clip, ticks at 480 per quarter from the clip's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimerNote {
    pub tick: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
}

/// The body tokens (after `BAR_n` and, for melody, the bar chord) of each
/// primed bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Primer {
    pub bars: Vec<Vec<u16>>,
    /// The clip's key (melody primers), for songs given no key.
    pub key: Option<Key>,
}

const TICKS_PER_STEP: u32 = TICKS_PER_QUARTER / SUBSTEPS;

fn primer_err(why: String) -> MuseError {
    MuseError::InvalidArgument(format!("primer: {why}"))
}

/// A one-track song on the band's grid, for the tokenizers.
fn clip_nsf(part: Part, notes: &[PrimerNote], bars: u32, metre: TimeSignature) -> Nsf {
    let steps = metre.steps_per_bar();
    let seconds_per_step = 0.125;
    let events: Vec<NoteEvent> = notes
        .iter()
        .map(|n| {
            let onset_step = (n.tick + TICKS_PER_STEP / 2) / TICKS_PER_STEP;
            let duration_steps = ((n.duration + TICKS_PER_STEP / 2) / TICKS_PER_STEP).max(1);
            let within = onset_step % steps;
            NoteEvent {
                onset_seconds: onset_step as f64 * seconds_per_step,
                duration_seconds: duration_steps as f64 * seconds_per_step,
                onset_tick: n.tick as u64,
                duration_ticks: n.duration as u64,
                onset_step,
                duration_steps,
                bar: onset_step / steps,
                beat: within / SUBSTEPS,
                substep: within % SUBSTEPS,
                pitch: n.pitch,
                velocity: n.velocity.clamp(1, 127),
            }
        })
        .collect();
    let kind = if part == Part::Drums {
        TrackType::Drums
    } else {
        TrackType::Melody
    };
    Nsf {
        global: GlobalInfo {
            tempo_map: vec![(0.0, 120.0)],
            time_signature_map: vec![(0.0, (metre.numerator(), metre.denominator()))],
            ppq: TICKS_PER_QUARTER as u16,
            duration_seconds: (bars * steps) as f64 * seconds_per_step,
            bar_starts: (0..=bars).map(|b| b * steps).collect(),
        },
        tracks: vec![NsfTrack {
            id: 0,
            name: "primer".into(),
            is_drum: part == Part::Drums,
            channel: part.channel(),
            program: 0,
            classification: Classification {
                kind,
                confidence: 1.0,
                reasons: vec![],
            },
            events,
        }],
        chords: vec![],
        key: KeyInfo::from_key(Key::new(0, Mode::Major), 0.0),
        key_segments: Vec::new(),
        metadata: Metadata {
            source_file: "primer".into(),
            quantization_grid: "16th".into(),
            harmony_sounds: false,
            metre: Default::default(),
        },
        form: None,
    }
}

impl Primer {
    /// The primer of `part` from note events; `bars` = the clip's length
    /// (0: up to its last note).
    pub fn from_notes(
        part: Part,
        notes: &[PrimerNote],
        bars: u32,
        metre: TimeSignature,
    ) -> Result<Self, MuseError> {
        if let Some(n) = notes.iter().find(|n| n.pitch > 127 || n.duration == 0) {
            return Err(primer_err(format!(
                "note {n:?} has no duration or a pitch over 127"
            )));
        }
        let last = notes
            .iter()
            .map(|n| n.tick / metre.ticks_per_bar() + 1)
            .max()
            .unwrap_or(0);
        let bars = if bars == 0 { last } else { bars };
        if last > bars {
            return Err(primer_err(format!("notes run past the clip's {bars} bars")));
        }
        let nsf = clip_nsf(part, notes, bars, metre);
        let mut primer = Self::encode(part, &nsf, metre)?;
        if part == Part::Melody && !notes.is_empty() {
            primer.key = Some(KeyDetector::new().detect(&nsf.tracks[0].events).0);
        }
        Ok(primer)
    }

    /// The primer of `part` from a MIDI file's bytes: its drum tracks, or
    /// its melody (the most melodic non-drum track). The file's metre must be
    /// the song's.
    pub fn from_midi(part: Part, bytes: &[u8], metre: TimeSignature) -> Result<Self, MuseError> {
        let mut nsf = midi_to_nsf(bytes, "primer").map_err(|e| primer_err(e.to_string()))?;
        let want = (metre.numerator(), metre.denominator());
        if let Some((_, sig)) = nsf
            .global
            .time_signature_map
            .iter()
            .find(|(_, s)| *s != want)
        {
            return Err(primer_err(format!(
                "the clip is in {}/{}, the song in {}/{}",
                sig.0, sig.1, want.0, want.1
            )));
        }
        if part == Part::Melody && melody_track(&nsf).is_none() {
            // A one-line clip may be classified as bass or harmony: take the
            // non-drum track with the most notes as the melody.
            if let Some(t) = nsf
                .tracks
                .iter_mut()
                .filter(|t| !t.is_drum && !t.events.is_empty())
                .max_by_key(|t| t.events.len())
            {
                t.classification.kind = TrackType::Melody;
            }
        }
        let mut primer = Self::encode(part, &nsf, metre)?;
        if part == Part::Melody {
            primer.key = Some(nsf.key.key());
        }
        Ok(primer)
    }

    /// Encodes with the expert's tokenizer and splits into bars, checking
    /// every bar against the grammar in the song's metre and the caps.
    fn encode(part: Part, nsf: &Nsf, metre: TimeSignature) -> Result<Self, MuseError> {
        let ids = match part {
            Part::Melody => MelodyTokenizer::new().encode(nsf).tokens,
            Part::Drums => DrumsTokenizer::new().encode(nsf).tokens,
            Part::Harmony => return Err(primer_err("harmony is primed by the chord track".into())),
        };
        let mut grammar = Grammar::new(part.expert()).with_bar_steps(metre.steps_per_bar());
        let vocab = grammar.vocabulary().clone();
        let id_of = |t: Token| {
            vocab
                .id(t)
                .ok_or_else(|| primer_err(format!("{t} missing from the vocabulary")))
        };
        let mut bars: Vec<Vec<u16>> = Vec::new();
        let advance = |id: u32, grammar: &mut Grammar, bar: usize| {
            grammar.advance(id).map_err(|e| {
                primer_err(format!(
                    "bar {} does not fit the song's metre: {e}",
                    bar + 1
                ))
            })
        };
        advance(crate::tokenizers::BOS_ID, &mut grammar, 0)?;
        if part == Part::Melody {
            advance(
                id_of(Token::ConditionKey(Key::new(0, Mode::Major)))?,
                &mut grammar,
                0,
            )?;
        }
        let (cap, mut notes) = (Self::note_cap(part), 0usize);
        for id in ids {
            let token = vocab.token(id).unwrap_or(Token::Pad);
            match token {
                Token::Bos | Token::Eos | Token::ConditionKey(_) | Token::ConditionChord(_) => {
                    continue
                }
                Token::Bar(_) => {
                    advance(id, &mut grammar, bars.len())?;
                    if part == Part::Melody {
                        let none = id_of(Token::ConditionChord(ChordLabel::NONE))?;
                        advance(none, &mut grammar, bars.len())?;
                    }
                    bars.push(Vec::new());
                    notes = 0;
                    continue;
                }
                _ => {}
            }
            let index = bars.len().saturating_sub(1);
            advance(id, &mut grammar, index)?;
            let completes = match part {
                Part::Drums => matches!(token, Token::VelBin(_)),
                _ => matches!(token, Token::DurBin(_)),
            };
            notes += completes as usize;
            let bar = bars
                .last_mut()
                .ok_or_else(|| primer_err("a note before any bar".into()))?;
            bar.push(id as u16);
            if bar.len() > MAX_TOKENS_PER_BAR - 32 || notes > cap {
                return Err(primer_err(format!(
                    "bar {} holds more than {cap} notes",
                    index + 1
                )));
            }
        }
        Ok(Primer { bars, key: None })
    }
}

impl Primer {
    fn note_cap(part: Part) -> usize {
        if part == Part::Drums {
            DRUM_NOTE_CAP
        } else {
            MELODY_NOTE_CAP
        }
    }
}
