//! The one token → event decoder of every expert. The tokenizers' `decode`
//! and the runtime band both push tokens through it, so what a host hears is
//! decoded exactly as the report card and training read it.

use super::{ChordEvent, DrumHit, MelodyNote, Token};
use crate::theory::{ChordLabel, Key};

/// A musical event completed by the latest token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodedEvent {
    Key(Key),
    Hit(DrumHit),
    Chord(ChordEvent),
    Note(MelodyNote),
}

/// Decoder state between tokens; `Copy`, so a band can snapshot it at a bar
/// line. Tokens are assumed grammatical (the caller's grammar checks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventDecoder {
    bars_seen: u32,
    beat: u32,
    substep: u32,
    pitch: u8,
    velocity_bin: u8,
    chord: Option<ChordLabel>,
    pending_hit: Option<u8>,
    in_fill: bool,
}

impl EventDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Absolute index of the current bar (the ordinal of its `BAR` token).
    pub fn bar(&self) -> u32 {
        self.bars_seen.saturating_sub(1)
    }

    /// Melody: pitch of the note being written (after its `NOTE_p`).
    pub fn pitch(&self) -> u8 {
        self.pitch
    }

    /// Consumes one token; returns the event it completes, if any.
    pub fn push(&mut self, token: Token) -> Option<DecodedEvent> {
        let bar = self.bar();
        match token {
            Token::Key(k) => return Some(DecodedEvent::Key(k)),
            Token::Bar(_) => {
                self.bars_seen += 1;
                self.in_fill = false;
            }
            Token::FillStart => self.in_fill = true,
            Token::FillEnd => self.in_fill = false,
            Token::Beat(b) => {
                self.beat = b;
                self.substep = 0;
            }
            Token::Substep(s) => self.substep = s,
            Token::DrumHit(p) => self.pending_hit = Some(p),
            Token::Note(p) => self.pitch = p,
            Token::Chord(c) => self.chord = Some(c),
            Token::RestChord => self.chord = Some(ChordLabel::NONE),
            Token::Hold(h) => {
                return Some(DecodedEvent::Chord(ChordEvent {
                    bar,
                    beat: self.beat,
                    chord: self.chord.unwrap_or(ChordLabel::NONE),
                    hold_beats: h,
                }))
            }
            Token::VelBin(v) => {
                self.velocity_bin = v;
                if let Some(pitch) = self.pending_hit.take() {
                    return Some(DecodedEvent::Hit(DrumHit {
                        bar,
                        beat: self.beat,
                        substep: self.substep,
                        pitch,
                        velocity_bin: v,
                        in_fill: self.in_fill,
                    }));
                }
            }
            Token::DurBin(d) => {
                return Some(DecodedEvent::Note(MelodyNote {
                    bar,
                    beat: self.beat,
                    substep: self.substep,
                    pitch: self.pitch,
                    velocity_bin: self.velocity_bin,
                    duration_bin: d,
                }))
            }
            _ => {}
        }
        None
    }
}
