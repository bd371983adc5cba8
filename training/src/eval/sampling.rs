//! Sampling whole pieces from an expert (trained or a random-token
//! baseline) through the grammar, bar by bar, in 4/4.

use nomad_muse::runtime::{sample_masked, SamplingOptions, XorShiftRng};
use nomad_muse::theory::{ChordLabel, Key, Mode};
use nomad_muse::tokenizers::{ExpertKind, Grammar, Token, Vocabulary, BOS_ID, EOS_ID, PHRASE_BARS};

use crate::model::ExpertModel;

/// Gives next-token logits for (token, chord id, key id); `reset` starts a piece.
pub trait StepModel {
    fn reset(&mut self);
    fn step(&mut self, token: u32, chord: u32, key: u32) -> anyhow::Result<Vec<f32>>;
}

/// A trained candle expert with its running hidden state.
pub struct CandleStepper<'a> {
    pub model: &'a ExpertModel,
    hidden: Vec<Vec<f32>>,
}

impl<'a> CandleStepper<'a> {
    pub fn new(model: &'a ExpertModel) -> Self {
        CandleStepper {
            model,
            hidden: vec![],
        }
    }
}

impl StepModel for CandleStepper<'_> {
    fn reset(&mut self) {
        self.hidden.clear();
    }
    fn step(&mut self, token: u32, chord: u32, key: u32) -> anyhow::Result<Vec<f32>> {
        let (logits, h) = self.model.step(token, chord, key, &self.hidden)?;
        self.hidden = h;
        Ok(logits)
    }
}

/// The random-token baseline: uniform over whatever the grammar allows.
pub struct RandomTokens(pub usize);

impl StepModel for RandomTokens {
    fn reset(&mut self) {}
    fn step(&mut self, _: u32, _: u32, _: u32) -> anyhow::Result<Vec<f32>> {
        Ok(vec![0.0; self.0])
    }
}

/// Harmony a melody is conditioned on: the key and the chord at (bar, beat).
pub struct HarmonyContext<'a> {
    pub key: Key,
    pub chord_at: &'a dyn Fn(u32, u32) -> ChordLabel,
}

/// Samples a piece of `bars` bars; returns its token ids (BOS first, EOS
/// last). Melody is conditioned on `context`; harmony samples its key unless
/// `context` gives one (configs without `include_keys`).
pub fn sample_piece(
    expert: ExpertKind,
    model: &mut dyn StepModel,
    bars: u32,
    opts: &SamplingOptions,
    rng_state: &mut u64,
    context: Option<&HarmonyContext<'_>>,
) -> anyhow::Result<Vec<u32>> {
    let vocab = Vocabulary::for_expert(expert);
    let mut grammar = Grammar::new(expert).with_bar_steps(16);
    let mut mask = vec![false; vocab.len()];
    let mut scratch = Vec::with_capacity(vocab.len());
    let mut tokens = Vec::new();
    let key_id = context.map_or(0, |c| c.key.dense_index());
    model.reset();
    let mut bar = 0u32;
    // Feeds a token, with the chord at the position it leaves the stream in.
    let mut feed = |id: u32,
                    grammar: &mut Grammar,
                    tokens: &mut Vec<u32>,
                    bar: u32|
     -> anyhow::Result<Vec<f32>> {
        if let Err(e) = grammar.advance(id) {
            let recent: Vec<String> = tokens[tokens.len().saturating_sub(12)..]
                .iter()
                .map(|t| {
                    vocab
                        .token(*t)
                        .map_or_else(|| format!("#{t}"), |t| t.to_string())
                })
                .collect();
            anyhow::bail!("{}: {e} (after … {})", expert.name(), recent.join(" "));
        }
        tokens.push(id);
        if expert == ExpertKind::Harmony {
            let (chord, key) = grammar.stream_condition();
            return model.step(id, chord, key);
        }
        let beat = grammar.current_step_in_bar().unwrap_or(0) / 4;
        let chord = context
            .map_or(ChordLabel::NONE, |c| (c.chord_at)(bar, beat))
            .dense_index();
        model.step(id, chord, key_id)
    };
    let bos_logits = feed(BOS_ID, &mut grammar, &mut tokens, 0)?;
    // Opening: the key (sampled for harmony unless given, given for melody).
    // A bar token is forced next, so the logits after the key are not needed.
    let given_key = context.map_or(Key::new(0, Mode::Major), |c| c.key);
    let key_token = match expert {
        ExpertKind::Harmony if context.is_some() => vocab.id(Token::Key(given_key)),
        ExpertKind::Harmony => {
            grammar.allowed_mask(&mut mask);
            // A piece is asked for: it may not end before its first bar.
            mask[EOS_ID as usize] = false;
            sample_masked(
                &bos_logits,
                &mask,
                opts,
                &mut XorShiftRng(rng_state),
                &mut scratch,
            )
        }
        ExpertKind::Melody => vocab.id(Token::ConditionKey(given_key)),
        ExpertKind::Drums => None,
    };
    if let Some(id) = key_token {
        feed(id, &mut grammar, &mut tokens, 0)?;
    }
    let mut logits;
    while bar < bars {
        logits = feed(
            vocab.id(Token::Bar(bar % PHRASE_BARS)).unwrap_or(BOS_ID),
            &mut grammar,
            &mut tokens,
            bar,
        )?;
        if expert == ExpertKind::Melody {
            let chord = context.map_or(ChordLabel::NONE, |c| (c.chord_at)(bar, 0));
            logits = feed(
                vocab.id(Token::ConditionChord(chord)).unwrap_or(BOS_ID),
                &mut grammar,
                &mut tokens,
                bar,
            )?;
        }
        let mut in_bar = 0;
        loop {
            grammar.allowed_mask(&mut mask);
            let Some(id) = sample_masked(
                &logits,
                &mask,
                opts,
                &mut XorShiftRng(rng_state),
                &mut scratch,
            ) else {
                break;
            };
            let closes = matches!(vocab.token(id), Some(Token::Bar(_) | Token::Eos));
            if closes || (in_bar > 160 && grammar.at_bar_boundary()) {
                break;
            }
            logits = feed(id, &mut grammar, &mut tokens, bar)?;
            in_bar += 1;
        }
        bar += 1;
    }
    tokens.push(EOS_ID);
    Ok(tokens)
}
