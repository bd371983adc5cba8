//! The report card's pieces come from the library's [`Band`] — the code a
//! host runs through the C ABI — with the candle checkpoint or the
//! random-token baseline as the band's [`StepModel`]. So the card judges
//! what a host gets, before export, and the exported graphs by the same code.

use nomad_muse::runtime::{
    Band, ChordChange, ChordTrack, MuseError, Part, PartControls, SamplingOptions, SongContext,
    StepModel, TimeSignature,
};
use nomad_muse::theory::Key;
use nomad_muse::tokenizers::{ExpertKind, HarmonyDecoded, Vocabulary};

use crate::model::ExpertModel;

/// A trained candle expert with its running hidden state.
pub struct CandleStepper<'a> {
    pub model: &'a ExpertModel,
    hidden: Vec<Vec<f32>>,
    logits: Vec<f32>,
}

impl<'a> CandleStepper<'a> {
    pub fn new(model: &'a ExpertModel) -> Self {
        CandleStepper {
            model,
            hidden: vec![],
            logits: vec![0.0; model.config.vocab_size],
        }
    }
}

impl StepModel for CandleStepper<'_> {
    fn expert(&self) -> ExpertKind {
        self.model.config.expert
    }
    fn reset(&mut self) {
        self.hidden.clear();
    }
    fn step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        let (logits, h) = self
            .model
            .step(token, chord, key, &self.hidden)
            .map_err(|e| MuseError::Model(e.to_string()))?;
        self.logits = logits;
        self.hidden = h;
        Ok(())
    }
    fn logits(&self) -> &[f32] {
        &self.logits
    }
    fn state_len(&self) -> usize {
        self.model.config.num_layers * self.model.config.hidden_size
    }
    fn save_state(&self, out: &mut [f32]) {
        out.fill(0.0);
        for (dst, src) in out.iter_mut().zip(self.hidden.iter().flatten()) {
            *dst = *src;
        }
    }
    fn load_state(&mut self, state: &[f32]) {
        let h = self.model.config.hidden_size.max(1);
        self.hidden = state.chunks(h).map(<[f32]>::to_vec).collect();
    }
}

/// The random-token baseline: uniform over whatever the grammar allows.
pub struct RandomTokens {
    expert: ExpertKind,
    logits: Vec<f32>,
}

impl RandomTokens {
    pub fn new(expert: ExpertKind) -> Self {
        RandomTokens {
            expert,
            logits: vec![0.0; Vocabulary::for_expert(expert).len()],
        }
    }
}

impl StepModel for RandomTokens {
    fn expert(&self) -> ExpertKind {
        self.expert
    }
    fn reset(&mut self) {}
    fn step(&mut self, _: u32, _: u32, _: u32) -> Result<(), MuseError> {
        Ok(())
    }
    fn logits(&self) -> &[f32] {
        &self.logits
    }
    fn state_len(&self) -> usize {
        0
    }
    fn save_state(&self, _: &mut [f32]) {}
    fn load_state(&mut self, _: &[f32]) {}
}

/// What a piece is played over: the key and, for melody, the chords (a
/// validation song's harmony, handed to the band as the host's chord track).
pub struct PieceContext<'a> {
    pub key: Option<Key>,
    pub harmony: Option<&'a HarmonyDecoded>,
    /// The metre of the real window the piece stands beside.
    pub metre: TimeSignature,
}

/// A validation window's chords (first `bars` bars) as a chord track.
pub fn chord_track_of(
    harmony: &HarmonyDecoded,
    bars: u32,
    metre: TimeSignature,
) -> anyhow::Result<ChordTrack> {
    let mut changes: Vec<ChordChange> = Vec::new();
    for c in harmony
        .chords
        .iter()
        .filter(|c| c.bar < bars && c.beat < metre.beats_per_bar())
    {
        if changes
            .last()
            .is_some_and(|l| (l.bar, l.beat) >= (c.bar, c.beat))
        {
            continue;
        }
        changes.push(ChordChange {
            bar: c.bar,
            beat: c.beat,
            chord: Some(c.chord),
        });
    }
    Ok(ChordTrack::new(changes, bars.max(1), false, metre)?)
}

/// Samples a piece of `bars` bars (in the context's metre) of `expert` through the band (that
/// expert alone); returns its token ids, BOS first, EOS last.
pub fn sample_piece(
    expert: ExpertKind,
    model: &mut dyn StepModel,
    bars: u32,
    opts: &SamplingOptions,
    seed: u64,
    context: &PieceContext<'_>,
) -> anyhow::Result<Vec<u32>> {
    let Some(part) = Part::of(expert) else {
        return sample_conductor(model, bars, opts, seed);
    };
    let mut slots: [Option<&mut dyn StepModel>; 3] = [None, None, None];
    slots[part as usize] = Some(model);
    let [harmony, melody, drums] = slots;
    let mut band = Band::new(harmony, melody, drums, seed, bars.max(1) as usize)?;
    let chords = match (expert, context.harmony) {
        (ExpertKind::Melody, Some(h)) => chord_track_of(h, bars, context.metre)?,
        _ => ChordTrack::default(),
    };
    band.set_song(SongContext {
        key: context.key,
        chords,
        time_signature: context.metre,
        ..SongContext::default()
    })?;
    band.set_controls(
        part,
        PartControls {
            sampling: *opts,
            ..PartControls::default()
        },
    )?;
    for _ in 0..bars {
        band.next_bar()?;
    }
    Ok(band.part_tokens(part))
}

/// The Conductor alone in a band (no parts): its plan for `bars` bars.
fn sample_conductor(
    model: &mut dyn StepModel,
    bars: u32,
    opts: &SamplingOptions,
    seed: u64,
) -> anyhow::Result<Vec<u32>> {
    let mut band: Band<&mut dyn StepModel> =
        Band::new(None, None, None, seed, bars.max(1) as usize)?;
    band.set_conductor(Some(model))?;
    band.set_conductor_sampling(*opts);
    for _ in 0..bars {
        band.next_bar()?;
    }
    Ok(band.conductor_tokens())
}
