//! The token grammar of each expert, as a state machine: it says which
//! tokens may come next, so that sampling with its mask always yields a
//! stream that decodes, and the decoders use it to validate their input.
//! The layouts are documented in [`super`].

use super::{DecodeError, ExpertKind, Token, Vocabulary, MAX_BEATS, SUBSTEPS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing fed yet: only BOS.
    Start,
    /// After BOS (harmony / melody: the key comes next).
    AfterBos,
    /// After the key token (harmony / melody) or BOS (drums): a bar or the end.
    BetweenBars,
    /// After `BAR_n`.
    BarStart,
    /// Drums: after `FILL_START`.
    FillOpened,
    /// Drums: after `REST_d`.
    AfterRest,
    /// After `BEAT_b`.
    AfterBeat,
    /// After `SUBSTEP_s`: a hit / note must follow.
    AfterSubstep,
    /// Drums: after `DRUM_HIT_p`; melody: after `NOTE_p`.
    AfterPitch,
    /// Drums: after `VEL_BIN_v` (a hit is complete). Melody: after `VEL_BIN_v`.
    AfterVelocity,
    /// Melody: after `DUR_BIN_d` (a note is complete).
    AfterDuration,
    /// Drums: after `FILL_END`.
    FillClosed,
    /// Melody: after `CONDITION_CHORD_c`.
    AfterBarChord,
    /// Harmony: after `CHORD_c` or `REST`.
    AfterChord,
    /// Harmony: after `HOLD_h`.
    AfterHold,
    /// Conductor: after `SECTION_l`.
    AfterSection,
    /// Conductor: after `REPEAT` / `VARY`.
    AfterRepeat,
    /// Conductor: after `ENERGY_e`.
    AfterEnergy,
    /// Conductor: after `DENSITY_p_b` (`density_part` says which is next).
    AfterDensity,
    /// After EOS: nothing more.
    Ended,
}

/// A copy of a grammar's stream state (no vocabulary): what a band keeps at
/// each bar line to resume from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrammarState(StreamState);

/// Grammar state of one expert's token stream.
#[derive(Debug, Clone)]
pub struct Grammar {
    expert: ExpertKind,
    vocab: Vocabulary,
    stream: StreamState,
    /// When set, bars are exactly this many 16th steps (generation in a known
    /// metre); when `None`, any bar length up to `MAX_BEATS` beats (decoding).
    bar_steps: Option<u32>,
}

/// What the grammar knows of the stream so far; `reset` starts it afresh
/// without rebuilding the vocabulary (no allocation on the real-time path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StreamState {
    phase: Phase,
    /// Bars started so far (BAR tokens seen).
    bars: u32,
    /// Position inside the current bar in 16th steps (drums/melody) or the
    /// beat (harmony) of the latest position token.
    position: Option<u32>,
    /// Harmony: first beat not yet covered by a chord in the current bar.
    covered_beats: u32,
    /// Pitch of the latest hit / note at the current position (pitches rise).
    last_pitch: Option<u8>,
    /// Drums / melody: beat of a `BEAT_b` whose `SUBSTEP_s` has not come yet.
    pending_beat: Option<u32>,
    in_fill: bool,
    /// Harmony: the stream's key and the chord sounding at its latest
    /// position (the harmony expert's own conditioning).
    stream_key: Option<crate::theory::Key>,
    stream_chord: crate::theory::ChordLabel,
    /// Conductor: section labels used so far (a new one is the next
    /// letter), the current section's, and the next part's density.
    labels: u8,
    label: u8,
    density_part: u8,
}

/// Where a grammar's stream stands, to go back to after a dry run or a
/// failed call (plain data: taking one never allocates).
#[derive(Debug, Clone)]
pub struct GrammarCheckpoint(StreamState);

impl StreamState {
    const START: StreamState = StreamState {
        phase: Phase::Start,
        bars: 0,
        position: None,
        covered_beats: 0,
        last_pitch: None,
        pending_beat: None,
        in_fill: false,
        stream_key: None,
        stream_chord: crate::theory::ChordLabel::NONE,
        labels: 0,
        label: 0,
        density_part: 0,
    };
}

impl Grammar {
    pub fn new(expert: ExpertKind) -> Self {
        Grammar {
            expert,
            vocab: Vocabulary::for_expert(expert),
            stream: StreamState::START,
            bar_steps: None,
        }
    }

    /// Restricts bars to `steps` 16ths (e.g. 16 for 4/4) — used when
    /// generating, so every bar is complete and has the right length.
    pub fn with_bar_steps(mut self, steps: u32) -> Self {
        self.bar_steps = Some(steps.clamp(SUBSTEPS, MAX_BEATS * SUBSTEPS));
        self
    }

    pub fn expert(&self) -> ExpertKind {
        self.expert
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    pub fn reset(&mut self) {
        self.stream = StreamState::START;
    }

    pub fn checkpoint(&self) -> GrammarCheckpoint {
        GrammarCheckpoint(self.stream)
    }

    pub fn rollback(&mut self, to: GrammarCheckpoint) {
        self.stream = to.0;
    }

    /// The stream state, to [`Grammar::restore`] later (no allocation).
    pub fn state(&self) -> GrammarState {
        GrammarState(self.stream)
    }

    pub fn restore(&mut self, state: GrammarState) {
        self.stream = state.0;
    }

    /// Bars started so far.
    pub fn bars_started(&self) -> u32 {
        self.stream.bars
    }

    /// True where a new `BAR_n` (or EOS) may be fed next.
    pub fn at_bar_boundary(&self) -> bool {
        let mut any = false;
        for n in 0..super::PHRASE_BARS {
            any |= self.allows(Token::Bar(n));
        }
        any
    }

    /// Position of the latest position token within the current bar, in 16th
    /// steps (harmony: beat × 4). `None` before the first position of a bar.
    pub fn current_step_in_bar(&self) -> Option<u32> {
        match self.expert {
            ExpertKind::Harmony => self.stream.position.map(|b| b * SUBSTEPS),
            _ => self.stream.position,
        }
    }

    /// (chord, key) conditioning ids the harmony expert takes at every step:
    /// the chord of the latest `CHORD_c` / `REST` and the stream's `KEY_k`
    /// (0 before it). Derived from the tokens, so training and every runtime
    /// compute it the same way and hosts never pass it.
    pub fn stream_condition(&self) -> (u32, u32) {
        (
            self.stream.stream_chord.dense_index(),
            self.stream.stream_key.map_or(0, |k| k.dense_index()),
        )
    }

    /// Whether the stream has ended (EOS fed).
    pub fn is_finished(&self) -> bool {
        self.stream.phase == Phase::Ended
    }

    /// Everything the allowed-token mask depends on (not the bar count nor
    /// the harmony conditioning), packed: equal keys, equal masks. `None`
    /// for a state too large to pack (then nothing may be cached).
    pub fn mask_key(&self) -> Option<u64> {
        let s = &self.stream;
        let small = |v: Option<u32>, bits: u32| match v {
            None => Some(0),
            Some(v) if u64::from(v) + 1 < 1 << bits => Some(u64::from(v) + 1),
            Some(_) => None,
        };
        let key = (s.phase as u64)
            | small(s.position, 12)? << 8
            | small(s.pending_beat, 8)? << 20
            | small(Some(s.covered_beats), 8)? << 28
            | small(s.last_pitch.map(u32::from), 8)? << 36
            | u64::from(s.in_fill) << 44
            | small(self.bar_steps, 12)? << 45;
        Some(key)
    }

    /// `allowed[id]` = whether token `id` may be fed next.
    pub fn allowed_mask(&self, allowed: &mut [bool]) {
        for (i, slot) in allowed.iter_mut().enumerate() {
            *slot = self.vocab.token(i as u32).is_some_and(|t| self.allows(t));
        }
    }

    /// Feeds token `id`, or says why it may not come here.
    pub fn advance(&mut self, id: u32) -> Result<(), DecodeError> {
        let token = self.vocab.token(id).ok_or(DecodeError::UnknownId(id))?;
        if !self.allows(token) {
            return Err(DecodeError::Unexpected {
                index: 0,
                token: token.to_string(),
            });
        }
        self.apply(token);
        Ok(())
    }

    fn max_bar_steps(&self) -> u32 {
        self.bar_steps.unwrap_or(MAX_BEATS * SUBSTEPS)
    }

    fn bar_beats(&self) -> u32 {
        self.max_bar_steps().div_ceil(SUBSTEPS)
    }

    /// A position token `step` (16ths within the bar) may come next.
    fn step_is_later(&self, step: u32) -> bool {
        step < self.max_bar_steps() && self.stream.position.is_none_or(|p| step > p)
    }

    /// Whether some position after the current one still fits in the bar.
    fn room_after(&self) -> bool {
        self.step_is_later(self.stream.position.map_or(0, |p| p + 1))
    }

    /// Whether a bar may close here (drums / melody: always once its body is
    /// complete; harmony: only when the bar's beats are covered, if known).
    fn bar_may_close(&self) -> bool {
        match self.expert {
            ExpertKind::Harmony => {
                self.bar_steps.is_none() || self.stream.covered_beats >= self.bar_beats()
            }
            _ => !self.stream.in_fill,
        }
    }

    fn allows(&self, token: Token) -> bool {
        use Phase::*;
        let close = |t: Token| matches!(t, Token::Bar(_) | Token::Eos);
        match (self.expert, self.stream.phase) {
            (_, Start) => token == Token::Bos,
            (_, Ended) => false,
            (ExpertKind::Conductor, AfterBos | BetweenBars | FillClosed) => {
                self.conductor_closes(token)
            }
            (ExpertKind::Drums, AfterBos) | (_, BetweenBars) => close(token),
            // An empty song is `BOS EOS`.
            (ExpertKind::Harmony, AfterBos) => matches!(token, Token::Key(_) | Token::Eos),
            (ExpertKind::Melody, AfterBos) => matches!(token, Token::ConditionKey(_) | Token::Eos),

            // Drums.
            (ExpertKind::Drums, BarStart) => match token {
                Token::FillStart => true,
                _ => self.drums_bar_body_start(token),
            },
            (ExpertKind::Drums, FillOpened) => self.drums_bar_body_start(token),
            (ExpertKind::Drums, AfterRest) => match token {
                Token::FillEnd => self.stream.in_fill,
                t => close(t) && !self.stream.in_fill,
            },
            (ExpertKind::Drums, AfterVelocity) => match token {
                Token::DrumHit(p) => self.stream.last_pitch.is_some_and(|l| p > l),
                Token::Beat(_) => self.room_after() && self.beat_allowed(token),
                Token::FillEnd => self.stream.in_fill,
                t => close(t) && !self.stream.in_fill,
            },
            (ExpertKind::Drums, FillClosed) => close(token),
            (ExpertKind::Drums | ExpertKind::Melody, AfterBeat) => match token {
                Token::Substep(s) => {
                    s < SUBSTEPS
                        && self
                            .position_after_beat()
                            .is_some_and(|b| self.step_is_later(b * SUBSTEPS + s))
                }
                _ => false,
            },
            (ExpertKind::Drums, AfterSubstep) => matches!(token, Token::DrumHit(_)),
            (ExpertKind::Drums, AfterPitch) => matches!(token, Token::VelBin(_)),

            // Harmony.
            (ExpertKind::Harmony, BarStart) => token == Token::Beat(0),
            (ExpertKind::Harmony, AfterBeat) => matches!(token, Token::Chord(_) | Token::RestChord),
            (ExpertKind::Harmony, AfterChord) => match token {
                Token::Hold(h) => {
                    let beat = self.stream.position.unwrap_or(0);
                    h >= 1 && beat + h <= self.bar_beats()
                }
                _ => false,
            },
            (ExpertKind::Harmony, AfterHold) => match token {
                Token::Beat(b) => b == self.stream.covered_beats && b < self.bar_beats(),
                t => close(t) && self.bar_may_close(),
            },

            // Melody.
            (ExpertKind::Melody, BarStart) => matches!(token, Token::ConditionChord(_)),
            (ExpertKind::Melody, AfterBarChord) => match token {
                Token::Beat(_) => self.beat_allowed(token),
                t => close(t),
            },
            (ExpertKind::Melody, AfterSubstep) => matches!(token, Token::Note(_)),
            (ExpertKind::Melody, AfterPitch) => matches!(token, Token::VelBin(_)),
            (ExpertKind::Melody, AfterVelocity) => matches!(token, Token::DurBin(_)),
            (ExpertKind::Melody, AfterDuration) => match token {
                Token::Note(p) => self.stream.last_pitch.is_some_and(|l| p > l),
                Token::Beat(_) => self.room_after() && self.beat_allowed(token),
                t => close(t),
            },

            // Conductor.
            (ExpertKind::Conductor, BarStart) => match token {
                Token::Section(l) => self.stream.position == Some(0) && l <= self.stream.labels,
                Token::Energy(e) => self.stream.position != Some(0) && e < super::ENERGY_LEVELS,
                _ => false,
            },
            (ExpertKind::Conductor, AfterSection) => match token {
                // Only a label heard before can come back.
                Token::Repeat | Token::Vary => self.stream.label < self.stream.labels,
                Token::Energy(e) => e < super::ENERGY_LEVELS,
                _ => false,
            },
            (ExpertKind::Conductor, AfterRepeat) => {
                matches!(token, Token::Energy(e) if e < super::ENERGY_LEVELS)
            }
            (ExpertKind::Conductor, AfterEnergy | AfterDensity) => match token {
                Token::Density(p, b) => {
                    p == self.stream.density_part
                        && p < super::DENSITY_PARTS
                        && b < super::DENSITY_LEVELS
                }
                Token::Fill => self.stream.density_part == super::DENSITY_PARTS,
                t => self.stream.density_part == super::DENSITY_PARTS && self.conductor_closes(t),
            },
            _ => false,
        }
    }

    /// Conductor: `BAR_0` (a new section) or the next bar of this one, or EOS.
    fn conductor_closes(&self, token: Token) -> bool {
        match token {
            Token::Bar(n) => {
                n == 0
                    || (self.stream.phase != Phase::AfterBos
                        && self.stream.position.is_some_and(|p| p + 1 == n))
            }
            Token::Eos => true,
            _ => false,
        }
    }

    /// Drums: what may open a bar's body (after `BAR_n` / `FILL_START`).
    fn drums_bar_body_start(&self, token: Token) -> bool {
        match token {
            Token::Rest(d) => self
                .bar_steps
                .is_none_or(|s| d == s.min(super::MAX_REST_STEPS)),
            Token::Beat(_) => self.beat_allowed(token),
            _ => false,
        }
    }

    /// A `BEAT_b` may come next when some substep of beat `b` is later than
    /// the current position and inside the bar.
    fn beat_allowed(&self, token: Token) -> bool {
        match token {
            Token::Beat(b) if b < MAX_BEATS => {
                (0..SUBSTEPS).any(|s| self.step_is_later(b * SUBSTEPS + s))
            }
            _ => false,
        }
    }

    /// The beat of a pending `BEAT_b`.
    fn position_after_beat(&self) -> Option<u32> {
        self.stream.pending_beat
    }

    fn apply(&mut self, token: Token) {
        use Phase::*;
        match token {
            Token::Key(k) => self.stream.stream_key = Some(k),
            Token::Chord(c) => self.stream.stream_chord = c,
            Token::RestChord => self.stream.stream_chord = crate::theory::ChordLabel::NONE,
            _ => {}
        }
        self.stream.phase = match token {
            Token::Bos => AfterBos,
            Token::Eos => Ended,
            Token::Key(_) | Token::ConditionKey(_) => BetweenBars,
            Token::Bar(n) => {
                self.stream.bars += 1;
                // Conductor: the bar within its section.
                self.stream.position = (self.expert == ExpertKind::Conductor).then_some(n);
                self.stream.density_part = 0;
                self.stream.covered_beats = 0;
                self.stream.last_pitch = None;
                self.stream.in_fill = false;
                BarStart
            }
            Token::FillStart => {
                self.stream.in_fill = true;
                FillOpened
            }
            Token::FillEnd => {
                self.stream.in_fill = false;
                FillClosed
            }
            Token::Rest(_) => AfterRest,
            Token::Beat(b) => {
                if self.expert == ExpertKind::Harmony {
                    self.stream.position = Some(b);
                } else {
                    self.stream.pending_beat = Some(b);
                }
                AfterBeat
            }
            Token::Substep(s) => {
                self.stream.position = Some(self.stream.pending_beat.unwrap_or(0) * SUBSTEPS + s);
                self.stream.pending_beat = None;
                self.stream.last_pitch = None;
                AfterSubstep
            }
            Token::DrumHit(p) | Token::Note(p) => {
                self.stream.last_pitch = Some(p);
                AfterPitch
            }
            Token::VelBin(_) => AfterVelocity,
            Token::DurBin(_) => AfterDuration,
            Token::ConditionChord(_) => AfterBarChord,
            Token::Chord(_) | Token::RestChord => AfterChord,
            Token::Hold(h) => {
                self.stream.covered_beats = self.stream.position.unwrap_or(0) + h;
                AfterHold
            }
            Token::Section(l) => {
                self.stream.label = l;
                AfterSection
            }
            Token::Repeat | Token::Vary => AfterRepeat,
            Token::Energy(_) => {
                // A new label is counted once its section is under way.
                self.stream.labels = self.stream.labels.max(self.stream.label + 1);
                AfterEnergy
            }
            Token::Density(..) => {
                self.stream.density_part += 1;
                AfterDensity
            }
            Token::Fill => FillClosed,
            Token::Pad => self.stream.phase,
        };
    }
}
