//! The one definition of every token the experts speak. Each expert's
//! vocabulary is an ordered list of these; token strings are their
//! `Display` form and parse back with `FromStr`.

use std::fmt;
use std::str::FromStr;

use crate::theory::{ChordLabel, Key};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    Pad,
    Bos,
    Eos,
    /// Bar number within the phrase (`bar % PHRASE_BARS`).
    Bar(u32),
    /// Quarter-note beat within the bar.
    Beat(u32),
    /// 16th within the beat.
    Substep(u32),
    /// GM drum pitch 35..=81.
    DrumHit(u8),
    VelBin(u8),
    /// Drums: the bar has no hits; the value is the bar's length in 16ths.
    Rest(u32),
    FillStart,
    FillEnd,
    Key(Key),
    Chord(ChordLabel),
    /// Harmony: the chord (or rest) lasts this many beats.
    Hold(u32),
    /// Harmony: no chord.
    RestChord,
    Note(u8),
    DurBin(u8),
    ConditionChord(ChordLabel),
    ConditionKey(Key),
    /// Conductor: a section starts with label 0 = A, 1 = B, ….
    Section(u8),
    /// Conductor: the section replays the latest section of its label.
    Repeat,
    /// Conductor: … or varies it (A′).
    Vary,
    /// Conductor: the bar's energy bin (0 silent).
    Energy(u8),
    /// Conductor: a part's density bin (part, bin; bin 0 = the part rests).
    Density(u8, u8),
    /// Conductor: the bar is a fill into the next section.
    Fill,
}

/// Conductor: the parts a `DENSITY_<part>_<bin>` token names, in stream
/// order (`nsf::form::FormPart` order).
pub const DENSITY_PART_NAMES: [&str; 4] = ["DRUMS", "BASS", "MELODY", "HARMONY"];

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Pad => write!(f, "PAD"),
            Token::Bos => write!(f, "BOS"),
            Token::Eos => write!(f, "EOS"),
            Token::Bar(n) => write!(f, "BAR_{n}"),
            Token::Beat(n) => write!(f, "BEAT_{n}"),
            Token::Substep(n) => write!(f, "SUBSTEP_{n}"),
            Token::DrumHit(p) => write!(f, "DRUM_HIT_{p}"),
            Token::VelBin(k) => write!(f, "VEL_BIN_{k}"),
            Token::Rest(d) => write!(f, "REST_{d}"),
            Token::FillStart => write!(f, "FILL_START"),
            Token::FillEnd => write!(f, "FILL_END"),
            Token::Key(k) => write!(f, "KEY_{}", k.token_name()),
            Token::Chord(c) => write!(f, "CHORD_{}", c.token_name()),
            Token::Hold(b) => write!(f, "HOLD_{b}"),
            Token::RestChord => write!(f, "REST"),
            Token::Note(p) => write!(f, "NOTE_{p}"),
            Token::DurBin(k) => write!(f, "DUR_BIN_{k}"),
            Token::ConditionChord(c) => write!(f, "CONDITION_CHORD_{}", c.token_name()),
            Token::ConditionKey(k) => write!(f, "CONDITION_KEY_{}", k.token_name()),
            Token::Section(l) => write!(f, "SECTION_{}", char::from(b'A' + (*l).min(25))),
            Token::Repeat => write!(f, "REPEAT"),
            Token::Vary => write!(f, "VARY"),
            Token::Energy(e) => write!(f, "ENERGY_{e}"),
            Token::Density(p, b) => {
                let part = DENSITY_PART_NAMES.get(*p as usize).unwrap_or(&"PART");
                write!(f, "DENSITY_{part}_{b}")
            }
            Token::Fill => write!(f, "FILL"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token string {0:?}")]
pub struct UnknownToken(pub String);

impl FromStr for Token {
    type Err = UnknownToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownToken(s.to_string());
        let num = |rest: &str| rest.parse::<u32>().map_err(|_| err());
        let byte = |rest: &str| rest.parse::<u8>().map_err(|_| err());
        Ok(match s {
            "PAD" => Token::Pad,
            "BOS" => Token::Bos,
            "EOS" => Token::Eos,
            "FILL_START" => Token::FillStart,
            "FILL_END" => Token::FillEnd,
            "REST" => Token::RestChord,
            "REPEAT" => Token::Repeat,
            "VARY" => Token::Vary,
            "FILL" => Token::Fill,
            _ => {
                // Longest prefixes first: CONDITION_* before the rest.
                if let Some(r) = s.strip_prefix("CONDITION_CHORD_") {
                    Token::ConditionChord(ChordLabel::from_token_name(r).ok_or_else(err)?)
                } else if let Some(r) = s.strip_prefix("CONDITION_KEY_") {
                    Token::ConditionKey(Key::from_token_name(r).ok_or_else(err)?)
                } else if let Some(r) = s.strip_prefix("CHORD_") {
                    let c = ChordLabel::from_token_name(r).ok_or_else(err)?;
                    if c.is_none() {
                        return Err(err());
                    }
                    Token::Chord(c)
                } else if let Some(r) = s.strip_prefix("KEY_") {
                    Token::Key(Key::from_token_name(r).ok_or_else(err)?)
                } else if let Some(r) = s.strip_prefix("BAR_") {
                    Token::Bar(num(r)?)
                } else if let Some(r) = s.strip_prefix("BEAT_") {
                    Token::Beat(num(r)?)
                } else if let Some(r) = s.strip_prefix("SUBSTEP_") {
                    Token::Substep(num(r)?)
                } else if let Some(r) = s.strip_prefix("DRUM_HIT_") {
                    Token::DrumHit(byte(r)?)
                } else if let Some(r) = s.strip_prefix("VEL_BIN_") {
                    Token::VelBin(byte(r)?)
                } else if let Some(r) = s.strip_prefix("REST_") {
                    Token::Rest(num(r)?)
                } else if let Some(r) = s.strip_prefix("HOLD_") {
                    Token::Hold(num(r)?)
                } else if let Some(r) = s.strip_prefix("NOTE_") {
                    Token::Note(byte(r)?)
                } else if let Some(r) = s.strip_prefix("DUR_BIN_") {
                    Token::DurBin(byte(r)?)
                } else if let Some(r) = s.strip_prefix("SECTION_") {
                    match r.as_bytes() {
                        [c @ b'A'..=b'Z'] => Token::Section(c - b'A'),
                        _ => return Err(err()),
                    }
                } else if let Some(r) = s.strip_prefix("ENERGY_") {
                    Token::Energy(byte(r)?)
                } else if let Some(r) = s.strip_prefix("DENSITY_") {
                    let (part, bin) = r.rsplit_once('_').ok_or_else(err)?;
                    let p = DENSITY_PART_NAMES
                        .iter()
                        .position(|n| *n == part)
                        .ok_or_else(err)?;
                    Token::Density(p as u8, byte(bin)?)
                } else {
                    return Err(err());
                }
            }
        })
    }
}
