//! The Conductor in the band: before each bar it decides where the bar sits
//! in the song's form — a section's start and label, whether the section
//! repeats or varies an earlier one, the bar's energy, which parts play,
//! and fills — from the Conductor expert or from a form the host gives
//! ("intro:4 verse:8 chorus:8 …", which overrides the expert). The band
//! turns a direction into that bar's controls and, for a repeat, replays
//! the stored tokens of the bar it repeats. All storage is sized when the
//! Conductor is set: nothing allocates per bar.

use crate::runtime::{sample_masked, MuseError, SamplingOptions, StepModel, XorShiftRng};
use crate::theory::ChordLabel;
use crate::tokenizers::{ConductorBar, Grammar, GrammarState, SectionStart, Token, BOS_ID};

use super::{Part, PartControls};

/// Conductor tokens of one bar: BAR, SECTION, REPEAT, ENERGY, 4 DENSITY, FILL.
pub const MAX_CONDUCTOR_TOKENS: usize = 9;
/// Bars of a host-form section when the host gives no count.
pub const DEFAULT_SECTION_BARS: u32 = 8;
/// Longest host-form section (the phrase positions the vocabulary has).
pub const MAX_SECTION_BARS: u32 = crate::tokenizers::PHRASE_BARS;

/// What the band does in one bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    pub plan: ConductorBar,
    /// The earlier bar this bar replays (a repeated or varied section).
    pub source: Option<u32>,
    /// The section varies the one it repeats (the drums play anew).
    pub vary: bool,
}

impl Direction {
    const NEUTRAL: Direction = Direction {
        plan: ConductorBar {
            section_bar: 0,
            label: 0,
            start: None,
            energy: 2,
            density: [1; 4],
            fill: false,
        },
        source: None,
        vary: false,
    };

    /// The bar `part` replays, if it replays one: all parts in a repeat;
    /// in a variation harmony and melody (the drums play it anew); never
    /// the drums of a fill bar.
    pub fn source_for(&self, part: Part) -> Option<u32> {
        match part {
            Part::Drums if self.vary || self.plan.fill => None,
            _ => self.source,
        }
    }

    /// The host's controls of `part` shaped by this bar's energy, fill and
    /// density (a part with density 0 rests: generated, not heard).
    pub fn controls(&self, part: Part, host: PartControls) -> PartControls {
        const ENERGY_SHIFT: [f32; 5] = [-0.3, -0.2, -0.07, 0.07, 0.2];
        let e = (self.plan.energy as usize).min(ENERGY_SHIFT.len() - 1);
        let density = self.plan.density[match part {
            Part::Drums => 0,
            Part::Melody => 2,
            Part::Harmony => 3,
        }];
        let mut c = host;
        c.intensity = (host.intensity + ENERGY_SHIFT[e]).clamp(0.0, 1.0);
        if part == Part::Drums && host.fill_amount > 0.0 {
            c.fill_amount = if self.plan.fill {
                host.fill_amount.max(0.9)
            } else {
                host.fill_amount * 0.5
            };
        }
        c.mute = host.mute || density == 0;
        c
    }
}

/// Parses a host form: sections separated by spaces, each `name` or
/// `name:bars` (1..=16, default 8). Equal names are the same section, so
/// they repeat; intro and outro leave the melody out.
pub fn parse_form(text: &str) -> Result<Vec<ConductorBar>, MuseError> {
    let bad = |why: String| MuseError::InvalidArgument(format!("form {text:?}: {why}"));
    let mut names: Vec<&str> = Vec::new();
    let mut bars = Vec::new();
    let sections: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in sections.iter().enumerate() {
        let (name, count) = match word.split_once(':') {
            Some((n, c)) => (
                n,
                c.parse::<u32>()
                    .map_err(|_| bad(format!("bad bar count in {word:?}")))?,
            ),
            None => (*word, DEFAULT_SECTION_BARS),
        };
        if name.is_empty() || count == 0 || count > MAX_SECTION_BARS {
            return Err(bad(format!(
                "{word:?}: a name and 1..={MAX_SECTION_BARS} bars"
            )));
        }
        let lower = name.to_ascii_lowercase();
        let seen = names.iter().position(|n| n.eq_ignore_ascii_case(name));
        let label = match seen {
            Some(l) => l,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        let energy = match lower.as_str() {
            "intro" | "outro" => 1,
            "verse" => 2,
            "pre" | "prechorus" | "pre-chorus" | "bridge" | "break" => 3,
            "chorus" | "drop" | "hook" => 4,
            _ => 2,
        };
        let melody = u8::from(!matches!(lower.as_str(), "intro" | "outro"));
        for k in 0..count {
            bars.push(ConductorBar {
                section_bar: k,
                label: label.min(u8::MAX as usize) as u8,
                start: (k == 0).then_some(if seen.is_some() {
                    SectionStart::Repeat
                } else {
                    SectionStart::New
                }),
                energy,
                density: [2, 1, 2 * melody, 2],
                fill: k + 1 == count && i + 1 < sections.len(),
            });
        }
    }
    if bars.is_empty() {
        return Err(bad("no section".into()));
    }
    Ok(bars)
}

/// The Conductor expert's runner: its model, grammar and sampling buffers,
/// and per bar line its state and the bar's tokens.
pub(crate) struct ConductorRunner<M> {
    pub model: M,
    grammar: Grammar,
    pub sampling: SamplingOptions,
    mask: Vec<bool>,
    logits: Vec<f32>,
    scratch: Vec<(f32, u32)>,
    states: Vec<f32>,
    grammars: Vec<GrammarState>,
    tokens: Vec<u16>,
    counts: Vec<u8>,
    /// Bars below this replay their stored plan (a re-roll of one bar keeps
    /// the form).
    pub keep_plans_until: usize,
}

impl<M: StepModel> ConductorRunner<M> {
    pub fn new(model: M, max_bars: usize) -> Result<Self, MuseError> {
        if model.expert() != crate::tokenizers::ExpertKind::Conductor {
            return Err(MuseError::WrongExpert {
                expected: "conductor".into(),
                found: model.expert().name().into(),
            });
        }
        let grammar = Grammar::new(crate::tokenizers::ExpertKind::Conductor);
        let n = grammar.vocabulary().len();
        let state = model.state_len();
        Ok(ConductorRunner {
            model,
            sampling: SamplingOptions::default(),
            mask: vec![false; n],
            logits: vec![0.0; n],
            scratch: Vec::with_capacity(n),
            states: vec![0.0; max_bars * state],
            grammars: vec![grammar.state(); max_bars],
            tokens: vec![0; max_bars * MAX_CONDUCTOR_TOKENS],
            counts: vec![0; max_bars],
            keep_plans_until: 0,
            grammar,
        })
    }

    /// Back to before BOS, then BOS.
    pub fn start(&mut self) -> Result<(), MuseError> {
        self.model.reset();
        self.grammar.reset();
        self.feed(BOS_ID)
    }

    fn feed(&mut self, id: u32) -> Result<(), MuseError> {
        self.grammar
            .advance(id)
            .map_err(|e| MuseError::Model(format!("conductor: {e}")))?;
        self.model.step(id, ChordLabel::NONE.dense_index(), 0)
    }

    /// Keeps the state at the line before `bar`.
    pub fn save(&mut self, bar: usize) {
        let n = self.model.state_len();
        self.model
            .save_state(&mut self.states[bar * n..(bar + 1) * n]);
        self.grammars[bar] = self.grammar.state();
    }

    pub fn restore(&mut self, bar: usize) {
        let n = self.model.state_len();
        self.model.load_state(&self.states[bar * n..(bar + 1) * n]);
        self.grammar.restore(self.grammars[bar]);
    }

    pub fn bar_tokens(&self, bar: usize) -> &[u16] {
        let start = bar * MAX_CONDUCTOR_TOKENS;
        &self.tokens[start..start + self.counts[bar] as usize]
    }

    fn push(&mut self, bar: usize, id: u32) -> Result<(), MuseError> {
        let n = self.counts[bar] as usize;
        if n >= MAX_CONDUCTOR_TOKENS {
            return Err(MuseError::Model("conductor: bar token slot full".into()));
        }
        self.feed(id)?;
        self.tokens[bar * MAX_CONDUCTOR_TOKENS + n] = id as u16;
        self.counts[bar] += 1;
        Ok(())
    }

    fn sample(&mut self, rng: &mut u64, keep: impl Fn(Token) -> bool) -> Result<u32, MuseError> {
        self.grammar.allowed_mask(&mut self.mask);
        let vocab = self.grammar.vocabulary();
        let model_logits = self.model.logits();
        let mut any = false;
        for (i, ok) in self.mask.iter_mut().enumerate() {
            *ok = *ok && vocab.token(i as u32).is_some_and(&keep);
            any |= *ok;
            self.logits[i] = model_logits.get(i).copied().unwrap_or(0.0);
        }
        if !any {
            self.grammar.allowed_mask(&mut self.mask);
        }
        sample_masked(
            &self.logits,
            &self.mask,
            &self.sampling,
            &mut XorShiftRng(rng),
            &mut self.scratch,
        )
        .ok_or_else(|| MuseError::Model("conductor: the grammar allows no token".into()))
    }

    /// Samples bar `bar`'s plan (its `BAR_n` and body; the song goes on,
    /// so `EOS` is never chosen), or replays its stored tokens.
    pub fn plan_bar(&mut self, bar: usize, rng: &mut u64, replay: bool) -> Result<(), MuseError> {
        if replay || bar < self.keep_plans_until {
            for k in 0..self.counts[bar] as usize {
                let id = self.tokens[bar * MAX_CONDUCTOR_TOKENS + k] as u32;
                self.feed(id)?;
            }
            return Ok(());
        }
        self.counts[bar] = 0;
        let id = self.sample(rng, |t| matches!(t, Token::Bar(_)))?;
        self.push(bar, id)?;
        loop {
            let id = self.sample(rng, |t| !matches!(t, Token::Eos))?;
            if matches!(self.grammar.vocabulary().token(id), Some(Token::Bar(_))) {
                return Ok(());
            }
            self.push(bar, id)?;
        }
    }

    /// Bar `bar`'s plan from its stored tokens (`label` carries on from
    /// the bar before when the bar starts no section).
    pub fn decoded(&self, bar: usize, label: u8) -> ConductorBar {
        let mut plan = ConductorBar {
            label,
            ..Direction::NEUTRAL.plan
        };
        let vocab = self.grammar.vocabulary();
        for id in self.bar_tokens(bar) {
            match vocab.token(*id as u32) {
                Some(Token::Bar(n)) => {
                    plan.section_bar = n;
                    plan.start = (n == 0).then_some(SectionStart::New);
                }
                Some(Token::Section(l)) => plan.label = l,
                Some(Token::Repeat) => plan.start = Some(SectionStart::Repeat),
                Some(Token::Vary) => plan.start = Some(SectionStart::Vary),
                Some(Token::Energy(e)) => plan.energy = e,
                Some(Token::Density(p, d)) => plan.density[p as usize % 4] = d,
                Some(Token::Fill) => plan.fill = true,
                _ => {}
            }
        }
        plan
    }
}

/// The direction of bar `bar` given its plan and the directions before it:
/// a repeated or varied section replays, bar for bar, the latest earlier
/// section of its label (while that section lasts and lies before this one).
pub fn direct(bar: u32, plan: ConductorBar, before: &[Direction]) -> Direction {
    let section_start = bar - plan.section_bar.min(bar);
    let start = match before.get(section_start as usize) {
        Some(d) if section_start < bar => d.plan.start,
        _ => plan.start,
    };
    let repeats = matches!(start, Some(SectionStart::Repeat | SectionStart::Vary));
    let source = repeats
        .then(|| {
            let label = plan.label;
            let earlier = before[..section_start as usize]
                .iter()
                .enumerate()
                .rev()
                .find(|(_, d)| d.plan.section_bar == 0 && d.plan.label == label)?
                .0 as u32;
            let src = earlier + plan.section_bar;
            let same_section = before
                .get(src as usize)
                .is_some_and(|d| d.plan.section_bar == plan.section_bar && src < section_start);
            same_section.then_some(src)
        })
        .flatten();
    Direction {
        plan,
        source,
        vary: start == Some(SectionStart::Vary),
    }
}

/// Directions before any bar is planned.
pub(crate) fn neutral_directions(max_bars: usize) -> Vec<Direction> {
    vec![Direction::NEUTRAL; max_bars]
}
