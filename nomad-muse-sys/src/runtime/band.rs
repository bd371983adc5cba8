//! The coordinated step: harmony, then melody conditioned on that harmony,
//! then drums, one 4/4 bar at a time, decoded to note events.

use std::path::Path;

use super::{ExpertSession, MuseError};
use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
use crate::theory::{ChordLabel, Key, Mode};
use crate::tokenizers::{
    duration_from_bin, velocity_from_bin, ExpertKind, Token, BOS_ID, PHRASE_BARS, SUBSTEPS,
};

pub const TICKS_PER_QUARTER: u32 = 480;
const TICKS_PER_STEP: u32 = TICKS_PER_QUARTER / SUBSTEPS;
const TICKS_PER_BAR: u32 = TICKS_PER_QUARTER * 4;
/// Tokens one expert may spend on a bar before it is closed at the next
/// chance (keeps the per-bar cost bounded for real-time hosts).
const SOFT_TOKEN_CAP: usize = 160;

pub const DRUMS_CHANNEL: u8 = 9;
pub const CHORDS_CHANNEL: u8 = 1;
pub const MELODY_CHANNEL: u8 = 0;

/// One generated note, ticks at 480 per quarter from the first bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandNote {
    pub tick: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
    pub channel: u8,
}

#[derive(Debug)]
pub struct Band {
    pub drums: ExpertSession,
    pub harmony: ExpertSession,
    pub melody: ExpertSession,
    rng_state: u64,
    seed: u64,
    bar: u32,
    key: Option<Key>,
    notes: Vec<BandNote>,
}

fn check_kind(s: &ExpertSession, want: ExpertKind) -> Result<(), MuseError> {
    if s.expert() == want {
        Ok(())
    } else {
        Err(MuseError::WrongExpert {
            expected: want.name().into(),
            found: s.expert().name().into(),
        })
    }
}

/// Close-position voicing of a chord from C3 (the chords part's notes).
pub fn voice_chord(chord: ChordLabel) -> Vec<u8> {
    chord
        .quality
        .intervals()
        .iter()
        .map(|i| 48 + chord.root + i)
        .collect()
}

impl Band {
    pub fn load(drums: &Path, harmony: &Path, melody: &Path, seed: u64) -> Result<Self, MuseError> {
        Self::new(
            ExpertSession::load(drums)?,
            ExpertSession::load(harmony)?,
            ExpertSession::load(melody)?,
            seed,
        )
    }

    pub fn new(
        drums: ExpertSession,
        harmony: ExpertSession,
        melody: ExpertSession,
        seed: u64,
    ) -> Result<Self, MuseError> {
        check_kind(&drums, ExpertKind::Drums)?;
        check_kind(&harmony, ExpertKind::Harmony)?;
        check_kind(&melody, ExpertKind::Melody)?;
        Ok(Band {
            drums,
            harmony,
            melody,
            rng_state: seed,
            seed,
            bar: 0,
            key: None,
            notes: Vec::new(),
        })
    }

    pub fn reset(&mut self) {
        self.drums.reset();
        self.harmony.reset();
        self.melody.reset();
        self.rng_state = self.seed;
        self.bar = 0;
        self.key = None;
        self.notes.clear();
    }

    pub fn bars_generated(&self) -> u32 {
        self.bar
    }

    pub fn key(&self) -> Option<Key> {
        self.key
    }

    /// Every note generated since the start (or the last reset).
    pub fn notes(&self) -> &[BandNote] {
        &self.notes
    }

    /// Samples tokens until the expert closes the bar (samples BAR or EOS,
    /// which is not fed: the next bar feeds its own BAR).
    fn fill_bar(
        session: &mut ExpertSession,
        rng: &mut u64,
        mut condition: impl FnMut(Option<u32>) -> u32,
    ) -> Result<Vec<Token>, MuseError> {
        let mut tokens = Vec::new();
        loop {
            let id = session.sample(rng)?;
            let token = session.vocabulary().token(id).unwrap_or(Token::Pad);
            let closes = matches!(token, Token::Bar(_) | Token::Eos);
            if closes || (tokens.len() >= SOFT_TOKEN_CAP && session.grammar().at_bar_boundary()) {
                return Ok(tokens);
            }
            let key = 0;
            session.feed_with(id, |g| (condition(g.current_step_in_bar()), key))?;
            tokens.push(token);
        }
    }

    /// Generates one bar of all three parts and returns its notes.
    pub fn next_bar(&mut self) -> Result<Vec<BandNote>, MuseError> {
        let bar = self.bar;
        let bar_token = Token::Bar(bar % PHRASE_BARS);
        let base = bar * TICKS_PER_BAR;
        let mut out = Vec::new();
        let none = ChordLabel::NONE.dense_index();

        // Harmony: the key on the first bar, then the bar's chords.
        if bar == 0 {
            self.harmony.feed(BOS_ID, none, 0)?;
            let key_id = self.harmony.sample(&mut self.rng_state)?;
            self.harmony.feed(key_id, none, 0)?;
            self.key = match self.harmony.vocabulary().token(key_id) {
                Some(Token::Key(k)) => Some(k),
                _ => Some(Key::new(0, Mode::Major)),
            };
        }
        let key = self.key.unwrap_or(Key::new(0, Mode::Major));
        self.harmony.feed_token(bar_token)?;
        let harmony_tokens = Self::fill_bar(&mut self.harmony, &mut self.rng_state, |_| none)?;
        // Chord per beat of this bar.
        let mut chords = [ChordLabel::NONE; 4];
        let (mut beat, mut chord) = (0u32, ChordLabel::NONE);
        for t in &harmony_tokens {
            match t {
                Token::Beat(b) => beat = *b,
                Token::Chord(c) => chord = *c,
                Token::RestChord => chord = ChordLabel::NONE,
                Token::Hold(h) => {
                    for b in beat..(beat + h).min(4) {
                        chords[b as usize] = chord;
                    }
                    if !chord.is_none() {
                        for p in voice_chord(chord) {
                            out.push(BandNote {
                                tick: base + beat * TICKS_PER_QUARTER,
                                duration: h * TICKS_PER_QUARTER,
                                pitch: p,
                                velocity: 72,
                                channel: CHORDS_CHANNEL,
                            });
                        }
                    }
                }
                _ => {}
            }
        }

        // Melody, conditioned at every step on the chord sounding there.
        let key_id = key.dense_index();
        let chord_at = |step: Option<u32>| {
            chords[(step.unwrap_or(0) / SUBSTEPS).min(3) as usize].dense_index()
        };
        if bar == 0 {
            self.melody.feed(BOS_ID, chords[0].dense_index(), key_id)?;
            let k = self
                .melody
                .vocabulary()
                .id(Token::ConditionKey(key))
                .unwrap_or(BOS_ID);
            self.melody.feed(k, chords[0].dense_index(), key_id)?;
        }
        for t in [bar_token, Token::ConditionChord(chords[0])] {
            let id = self
                .melody
                .vocabulary()
                .id(t)
                .ok_or_else(|| MuseError::Model(format!("{t} missing")))?;
            self.melody.feed(id, chords[0].dense_index(), key_id)?;
        }
        let melody_tokens = {
            let session = &mut self.melody;
            let mut tokens = Vec::new();
            loop {
                let id = session.sample(&mut self.rng_state)?;
                let token = session.vocabulary().token(id).unwrap_or(Token::Pad);
                if matches!(token, Token::Bar(_) | Token::Eos)
                    || (tokens.len() >= SOFT_TOKEN_CAP && session.grammar().at_bar_boundary())
                {
                    break tokens;
                }
                session.feed_with(id, |g| (chord_at(g.current_step_in_bar()), key_id))?;
                tokens.push(token);
            }
        };
        let (mut step, mut pitch, mut vel) = (0u32, 60u8, 4u8);
        let mut pending_beat = 0;
        for t in &melody_tokens {
            match t {
                Token::Beat(b) => pending_beat = *b,
                Token::Substep(s) => step = pending_beat * SUBSTEPS + s,
                Token::Note(p) => pitch = *p,
                Token::VelBin(v) => vel = *v,
                Token::DurBin(d) => out.push(BandNote {
                    tick: base + step * TICKS_PER_STEP,
                    duration: duration_from_bin(*d) * TICKS_PER_STEP,
                    pitch,
                    velocity: velocity_from_bin(vel),
                    channel: MELODY_CHANNEL,
                }),
                _ => {}
            }
        }

        // Drums.
        if bar == 0 {
            self.drums.feed(BOS_ID, none, 0)?;
        }
        self.drums.feed_token(bar_token)?;
        let drum_tokens = Self::fill_bar(&mut self.drums, &mut self.rng_state, |_| none)?;
        let (mut step, mut pitch, mut pending_beat) = (0u32, 36u8, 0u32);
        for t in &drum_tokens {
            match t {
                Token::Beat(b) => pending_beat = *b,
                Token::Substep(s) => step = pending_beat * SUBSTEPS + s,
                Token::DrumHit(p) => pitch = *p,
                Token::VelBin(v) => out.push(BandNote {
                    tick: base + step * TICKS_PER_STEP,
                    duration: TICKS_PER_STEP / 2,
                    pitch,
                    velocity: velocity_from_bin(*v),
                    channel: DRUMS_CHANNEL,
                }),
                _ => {}
            }
        }
        out.sort_by_key(|n| (n.tick, n.channel, n.pitch));
        self.bar += 1;
        self.notes.extend_from_slice(&out);
        Ok(out)
    }

    /// Everything generated so far as a type-1 MIDI file (drums, chords, melody).
    pub fn midi_bytes(&self, bpm: f64) -> Result<Vec<u8>, MuseError> {
        let track = |name: &str, channel: u8, program: Option<u8>| MidiTrackSpec {
            name: name.into(),
            channel,
            program,
            notes: self
                .notes
                .iter()
                .filter(|n| n.channel == channel)
                .map(|n| MidiNote {
                    tick: n.tick as u64,
                    duration: n.duration as u64,
                    pitch: n.pitch,
                    velocity: n.velocity,
                    channel,
                })
                .collect(),
        };
        let spec = MidiSongSpec {
            ppq: TICKS_PER_QUARTER as u16,
            tempo_changes: vec![(0, bpm)],
            time_signatures: vec![(0, 4, 4)],
            tracks: vec![
                track("Drums", DRUMS_CHANNEL, None),
                track("Chords", CHORDS_CHANNEL, Some(0)),
                track("Melody", MELODY_CHANNEL, Some(73)),
            ],
        };
        write_smf(&spec).map_err(|e| MuseError::InvalidArgument(e.to_string()))
    }
}
