//! One part generating one bar: feeding tokens (forced, replayed or
//! sampled) through its grammar, its model and the shared event decoder,
//! with the host's constraints applied at decode time. No allocation: the
//! mask, logits and sort buffers are the part's own, sized at construction.

use crate::runtime::{MaskCache, MuseError, Sampler, StepModel, XorShiftRng};
use crate::theory::{ChordLabel, Key};
use crate::tokenizers::{duration_from_bin, DecodedEvent, EventDecoder, Grammar, Token, SUBSTEPS};

use super::snapshot::{PartMark, SongStore, MAX_TOKENS_PER_BAR};
use super::voicing::render;
use super::{BandNote, Part, PartControls, TimeSignature};

/// A bar is closed at the next chance once a part has this many notes (or
/// tokens): bounded work per bar and slots that never overflow.
pub const DRUM_NOTE_CAP: usize = 96;
pub const MELODY_NOTE_CAP: usize = 48;
const TOKEN_SOFT_CAP: usize = MAX_TOKENS_PER_BAR - 24;
/// Beats a bar can have (`BEAT_0..BEAT_7`).
pub const BAR_BEATS: usize = 8;

/// Where a bar's tokens and notes go, and what the part plays over.
pub(crate) struct BarOutput<'a> {
    pub store: &'a mut SongStore,
    pub bar: u32,
    /// Render notes (false while replaying bars whose notes are kept).
    pub emit: bool,
    pub metre: TimeSignature,
    pub key: Option<Key>,
    /// Chord per beat of this bar: written by harmony, read by melody.
    pub chords: &'a mut [ChordLabel; BAR_BEATS],
}

pub(crate) struct PartRunner<M> {
    pub part: Part,
    pub model: M,
    pub grammar: Grammar,
    pub decoder: EventDecoder,
    pub controls: PartControls,
    mask: Vec<bool>,
    /// The ids `mask` allows, in order (capacity: the vocabulary).
    allowed: Vec<u32>,
    masks: MaskCache,
    refined: Vec<bool>,
    logits: Vec<f32>,
    sampler: Sampler,
    notes_in_bar: usize,
    /// The model's state on its way to and from the store's snapshots.
    state: Vec<f32>,
}

fn grammar_err(part: Part, e: impl std::fmt::Display) -> MuseError {
    MuseError::InvalidArgument(format!("{}: {e}", part.expert().name()))
}

impl<M: StepModel> PartRunner<M> {
    pub fn new(part: Part, model: M, metre: TimeSignature) -> Self {
        let grammar = Grammar::new(part.expert()).with_bar_steps(metre.steps_per_bar());
        let n = grammar.vocabulary().len();
        let state = vec![0.0; model.state_len()];
        let mut runner = PartRunner {
            part,
            model,
            grammar,
            decoder: EventDecoder::new(),
            controls: PartControls::default(),
            mask: vec![false; n],
            allowed: Vec::with_capacity(n),
            masks: MaskCache::new(n),
            refined: vec![false; n],
            logits: vec![0.0; n],
            sampler: Sampler::new(n),
            notes_in_bar: 0,
            state,
        };
        runner.refresh_mask();
        runner
    }

    /// Back to before BOS, in `metre`.
    pub fn reset(&mut self, metre: TimeSignature) {
        self.model.reset();
        self.grammar = Grammar::new(self.part.expert()).with_bar_steps(metre.steps_per_bar());
        self.decoder = EventDecoder::new();
        self.refresh_mask();
    }

    /// `mask` follows the grammar: what it allows next is all the next
    /// sample reads, so the model computes only those logits.
    fn refresh_mask(&mut self) {
        self.masks.allowed_mask(&self.grammar, &mut self.mask);
        self.allowed.clear();
        let ids = self.mask.iter().enumerate().filter(|(_, a)| **a);
        self.allowed.extend(ids.map(|(i, _)| i as u32));
    }

    pub fn save(&mut self, store: &mut SongStore, bar: usize) -> PartMark {
        self.model.save_state(&mut self.state);
        store.save_state(bar, self.part, &self.state);
        PartMark {
            grammar: self.grammar.state(),
            decoder: self.decoder,
        }
    }

    pub fn restore(&mut self, store: &SongStore, bar: usize, mark: PartMark) {
        store.load_state(bar, self.part, &mut self.state);
        self.model.load_state(&self.state);
        self.grammar.restore(mark.grammar);
        self.decoder = mark.decoder;
        self.refresh_mask();
    }

    pub fn id(&self, token: Token) -> Result<u32, MuseError> {
        self.grammar.vocabulary().id(token).ok_or_else(|| {
            MuseError::Model(format!(
                "{token} missing from the {} vocabulary",
                self.part.expert().name()
            ))
        })
    }

    /// Conditioning ids the model takes with the token just fed.
    fn condition(&self, out: &BarOutput<'_>) -> (u32, u32) {
        match self.part {
            Part::Harmony => self.grammar.stream_condition(),
            Part::Melody => {
                let beat = self.grammar.current_step_in_bar().unwrap_or(0) / SUBSTEPS;
                let chord = out.chords[(beat as usize).min(BAR_BEATS - 1)];
                (chord.dense_index(), out.key.map_or(0, |k| k.dense_index()))
            }
            Part::Drums => (ChordLabel::NONE.dense_index(), 0),
        }
    }

    /// Feeds a song-opening token (BOS, the key), stored nowhere.
    pub fn feed_prelude(&mut self, id: u32, key: Option<Key>) -> Result<(), MuseError> {
        self.grammar
            .advance(id)
            .map_err(|e| grammar_err(self.part, e))?;
        let (chord, key_id) = match self.part {
            Part::Harmony => self.grammar.stream_condition(),
            Part::Melody => (
                ChordLabel::NONE.dense_index(),
                key.map_or(0, |k| k.dense_index()),
            ),
            Part::Drums => (ChordLabel::NONE.dense_index(), 0),
        };
        self.refresh_mask();
        self.model.step_for(id, chord, key_id, &self.mask)
    }

    /// Feeds one token of bar `out.bar`: grammar, model, token slot, decoder.
    pub fn feed(&mut self, id: u32, out: &mut BarOutput<'_>) -> Result<(), MuseError> {
        self.grammar
            .advance(id)
            .map_err(|e| grammar_err(self.part, e))?;
        let (chord, key) = self.condition(out);
        self.refresh_mask();
        self.model.step_for(id, chord, key, &self.mask)?;
        if !out.store.push_token(out.bar as usize, self.part, id) {
            return Err(MuseError::Model("bar token slot full".into()));
        }
        let token = self.grammar.vocabulary().token(id).unwrap_or(Token::Pad);
        let Some(event) = self.decoder.push(token) else {
            return Ok(());
        };
        if let DecodedEvent::Chord(c) = event {
            let end = (c.beat + c.hold_beats).min(BAR_BEATS as u32);
            for b in c.beat..end {
                out.chords[b as usize] = c.chord;
            }
        }
        if matches!(event, DecodedEvent::Note(_) | DecodedEvent::Hit(_)) {
            self.notes_in_bar += 1;
        }
        if out.emit && !self.controls.mute {
            let (store, bar) = (&mut *out.store, out.bar as usize);
            render(
                event,
                self.part,
                out.bar,
                &self.controls,
                out.metre,
                |n: BandNote| {
                    store.push_note(bar, n);
                },
            );
        }
        Ok(())
    }

    /// Samples among what the grammar allows and `refine` keeps (all the
    /// grammar allows if `refine` keeps nothing), logits shifted by `bias`.
    pub fn sample(
        &mut self,
        rng: &mut u64,
        refine: impl Fn(Token) -> bool,
        bias: impl Fn(Token) -> f32,
    ) -> Result<u32, MuseError> {
        // `mask` and `allowed` were refreshed when the grammar last moved;
        // the sampler reads no logit the mask excludes.
        let vocab = self.grammar.vocabulary();
        let model_logits = self.model.logits();
        let mut any_refined = false;
        self.refined.fill(false);
        for &id in &self.allowed {
            let i = id as usize;
            let token = vocab.token(id).unwrap_or(Token::Pad);
            self.refined[i] = refine(token);
            any_refined |= self.refined[i];
            self.logits[i] = model_logits.get(i).copied().unwrap_or(0.0) + bias(token);
        }
        let mask = if any_refined {
            &self.refined
        } else {
            &self.mask
        };
        self.sampler
            .sample(
                &self.logits,
                mask,
                &self.controls.sampling,
                &mut XorShiftRng(rng),
            )
            .ok_or_else(|| MuseError::InvalidArgument("the grammar allows no token here".into()))
    }

    /// Opens bar `out.bar`: `BAR_n` (and the melody's bar chord).
    pub fn open_bar(&mut self, out: &mut BarOutput<'_>) -> Result<(), MuseError> {
        self.notes_in_bar = 0;
        out.store.clear_bar(out.bar as usize, self.part);
        let bar_id = self.id(Token::Bar(out.bar % crate::tokenizers::PHRASE_BARS))?;
        self.feed(bar_id, out)?;
        if self.part == Part::Melody {
            let chord_id = self.id(Token::ConditionChord(out.chords[0]))?;
            self.feed(chord_id, out)?;
        }
        Ok(())
    }

    /// Feeds a bar's body tokens as they are (primer or kept bar).
    pub fn replay(&mut self, body: &[u16], out: &mut BarOutput<'_>) -> Result<(), MuseError> {
        self.open_bar(out)?;
        for id in body {
            self.feed(*id as u32, out)?;
        }
        Ok(())
    }

    /// Samples a bar's body until the model closes it (`BAR` / `EOS`,
    /// not fed) or the caps close it at the next chance.
    pub fn sample_bar(&mut self, rng: &mut u64, out: &mut BarOutput<'_>) -> Result<(), MuseError> {
        self.open_bar(out)?;
        let cap = if self.part == Part::Drums {
            DRUM_NOTE_CAP
        } else {
            MELODY_NOTE_CAP
        };
        loop {
            let tokens = out.store.tokens_in_bar(out.bar as usize, self.part);
            let closing = self.notes_in_bar >= cap || tokens >= TOKEN_SOFT_CAP;
            if closing && self.grammar.at_bar_boundary() {
                return Ok(());
            }
            let id = if closing {
                self.sample(rng, |t| !opens_onset(t), |_| 0.0)?
            } else {
                let (refine, bias) = (self.note_filter(out), self.bias(out));
                self.sample(rng, refine, bias)?
            };
            let token = self.grammar.vocabulary().token(id).unwrap_or(Token::Pad);
            if matches!(token, Token::Bar(_) | Token::Eos) {
                return Ok(());
            }
            self.feed(id, out)?;
        }
    }

    /// Melody: pitches in range and, when following the song, scale (or
    /// chord) tones only, and no note held into a chord of the bar it does
    /// not belong to. Chord tones are favoured by `bias`, not forced: real
    /// pop melodies put a non-chord tone on 29 % of strong beats.
    fn note_filter(&self, out: &BarOutput<'_>) -> impl Fn(Token) -> bool {
        let step = self.grammar.current_step_in_bar().unwrap_or(0);
        let chords = *out.chords;
        let chord = chords[((step / SUBSTEPS) as usize).min(BAR_BEATS - 1)];
        let follow = self.controls.follow_harmony;
        let key = out.key.filter(|_| follow);
        let fill_ok = self.controls.fill_amount > 0.0;
        let (low, high) = (self.controls.lowest_pitch, self.controls.highest_pitch);
        let melody = self.part == Part::Melody;
        // A melody asked to follow the song enters in its first bar: trained
        // on whole songs, the expert otherwise reproduces pop intros and can
        // stay silent for pages (5 of 16 card pieces on POP909). Whether the
        // melody rests is the host's or the Conductor's call (mute).
        let must_enter = melody && follow && out.bar == 0 && self.notes_in_bar == 0;
        let (pitch, bar_steps) = (self.decoder.pitch(), out.metre.steps_per_bar());
        move |t| match t {
            Token::Bar(_) | Token::Eos if must_enter => false,
            Token::Note(p) if melody => {
                let pc = p % 12;
                (low..=high).contains(&p)
                    && key.is_none_or(|k| {
                        k.contains_pitch_class(pc) || chord.contains_pitch_class(pc)
                    })
            }
            Token::DurBin(d) if melody && follow => {
                let end = (step + duration_from_bin(d)).min(bar_steps);
                (step / SUBSTEPS + 1..end.div_ceil(SUBSTEPS)).all(|b| {
                    let c = chords[(b as usize).min(BAR_BEATS - 1)];
                    c.is_none() || c == chord || c.contains_pitch_class(pitch % 12)
                })
            }
            Token::FillStart => fill_ok,
            _ => true,
        }
    }

    /// Logit biases: intensity and fills, and (melody following the song)
    /// a pull towards the chord's tones, stronger on the strong beats.
    fn bias(&self, out: &BarOutput<'_>) -> impl Fn(Token) -> f32 {
        let c = self.controls;
        let step = self.grammar.current_step_in_bar().unwrap_or(0);
        let chord = out.chords[((step / SUBSTEPS) as usize).min(BAR_BEATS - 1)];
        let pull = if self.part != Part::Melody || !c.follow_harmony || chord.is_none() {
            0.0
        } else if out.metre.is_strong(step) {
            STRONG_BEAT_CHORD_TONE_BIAS
        } else {
            CHORD_TONE_BIAS
        };
        move |t| match t {
            Token::Note(p) if chord.contains_pitch_class(p % 12) => pull,
            t => bias_of(t, &c),
        }
    }
}

/// Logits added to chord tones (melody following the song): on a strong
/// beat e² ≈ 7× likelier than the model has them, elsewhere e ≈ 2.7×.
/// Measured on POP909 (card, 1-epoch melody): a mask on strong beats and
/// 2.0 elsewhere gave 1.000 strong-beat chord tones and 0.94 overall
/// against real pop's 0.714 and 0.751; these give 0.949 and 0.855.
const STRONG_BEAT_CHORD_TONE_BIAS: f32 = 2.0;
const CHORD_TONE_BIAS: f32 = 1.0;

/// Tokens that add an onset (what closing a full bar must not do).
fn opens_onset(t: Token) -> bool {
    matches!(t, Token::Beat(_) | Token::DrumHit(_) | Token::Note(_))
}

/// The intensity and fill controls as logit biases.
fn bias_of(t: Token, c: &PartControls) -> f32 {
    match t {
        Token::Beat(_) => c.onset_bias(),
        Token::FillStart => c.fill_bias().unwrap_or(0.0),
        _ => 0.0,
    }
}

impl<M: StepModel> PartRunner<M> {
    /// Harmony over a chord track: the track's chords are forced on their
    /// beats; gaps are sampled, restricted to chords diatonic to the key and
    /// to holds that stay inside the gap.
    pub fn plan_bar(
        &mut self,
        rng: &mut u64,
        plan: &[Option<ChordLabel>; BAR_BEATS],
        out: &mut BarOutput<'_>,
    ) -> Result<(), MuseError> {
        self.open_bar(out)?;
        let beats = out.metre.beats_per_bar();
        let mut beat = 0u32;
        while beat < beats {
            self.feed(self.id(Token::Beat(beat))?, out)?;
            let given = plan[beat as usize];
            let run = (beat..beats)
                .take_while(|b| plan[*b as usize] == given)
                .count() as u32;
            let hold = match given {
                Some(chord) => {
                    let t = if chord.is_none() {
                        Token::RestChord
                    } else {
                        Token::Chord(chord)
                    };
                    self.feed(self.id(t)?, out)?;
                    run
                }
                None => {
                    let key = out.key;
                    let id = self.sample(
                        rng,
                        |t| matches!(t, Token::Chord(c) if key.is_none_or(|k| k.is_diatonic(&c))),
                        |_| 0.0,
                    )?;
                    self.feed(id, out)?;
                    let id =
                        self.sample(rng, |t| matches!(t, Token::Hold(h) if h <= run), |_| 0.0)?;
                    match self.grammar.vocabulary().token(id) {
                        Some(Token::Hold(h)) => {
                            self.feed(id, out)?;
                            beat += h;
                            continue;
                        }
                        _ => return Err(MuseError::Model("harmony: no hold fits the gap".into())),
                    }
                }
            };
            self.feed(self.id(Token::Hold(hold))?, out)?;
            beat += hold;
        }
        Ok(())
    }
}
