//! Per-part controls a host may change before any bar: they act on the
//! next bar generated (sampling, decode-time biases, rendering).

use crate::runtime::{MuseError, SamplingOptions};
use crate::tokenizers::ExpertKind;

/// The three parts of the band, in generation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Harmony = 0,
    Melody = 1,
    Drums = 2,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Harmony, Part::Melody, Part::Drums];

    pub fn expert(self) -> ExpertKind {
        match self {
            Part::Harmony => ExpertKind::Harmony,
            Part::Melody => ExpertKind::Melody,
            Part::Drums => ExpertKind::Drums,
        }
    }

    /// The part an expert plays (`None` for the Conductor, which plays none).
    pub fn of(expert: ExpertKind) -> Option<Part> {
        match expert {
            ExpertKind::Harmony => Some(Part::Harmony),
            ExpertKind::Melody => Some(Part::Melody),
            ExpertKind::Drums => Some(Part::Drums),
            ExpertKind::Conductor => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// MIDI channel of the part's notes (drums on GM channel 10).
    pub fn channel(self) -> u8 {
        match self {
            Part::Melody => 0,
            Part::Harmony => 1,
            Part::Drums => 9,
        }
    }
}

/// What a host sets per part. Neutral values reproduce the trained model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartControls {
    /// Temperature (complexity), top-k, top-p.
    pub sampling: SamplingOptions,
    /// 0..=1, 0.5 neutral: scales velocities (×0.6 … ×1.4) and biases the
    /// choice of new onsets (fewer … more notes / hits).
    pub intensity: f32,
    /// Drums, 0..=1, 0.5 neutral: 0 forbids fills, higher favours them.
    pub fill_amount: f32,
    /// 0..=1: delays the off-beat of every `swing_unit_steps` pair, from
    /// straight (0) to a dotted feel (1, 75/25); 2/3 is a triplet swing.
    pub swing: f32,
    /// 2 swings 8ths, 1 swings 16ths.
    pub swing_unit_steps: u32,
    /// Melody: lowest and highest pitch (at least an octave apart).
    pub lowest_pitch: u8,
    pub highest_pitch: u8,
    /// Generated (so the others still follow it) but not output.
    pub mute: bool,
    /// Kept as it is when bars are regenerated.
    pub lock: bool,
    /// Melody: decode-time constraint to the song when chords and key are
    /// known — scale (or chord) tones only, chord tones favoured, most on
    /// strong beats.
    pub follow_harmony: bool,
}

impl Default for PartControls {
    fn default() -> Self {
        PartControls {
            sampling: SamplingOptions::default(),
            intensity: 0.5,
            fill_amount: 0.5,
            swing: 0.0,
            swing_unit_steps: 2,
            lowest_pitch: 0,
            highest_pitch: 127,
            mute: false,
            lock: false,
            follow_harmony: true,
        }
    }
}

impl PartControls {
    pub fn validate(&self) -> Result<(), MuseError> {
        let unit = |x: f32, name: &str| {
            if (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(MuseError::InvalidArgument(format!(
                    "{name} {x} not in [0, 1]"
                )))
            }
        };
        unit(self.intensity, "intensity")?;
        unit(self.fill_amount, "fill_amount")?;
        unit(self.swing, "swing")?;
        let s = &self.sampling;
        if !s.temperature.is_finite() || !s.top_p.is_finite() {
            return Err(MuseError::InvalidArgument(
                "temperature and top_p must be finite".into(),
            ));
        }
        if !matches!(self.swing_unit_steps, 1 | 2) {
            return Err(MuseError::InvalidArgument(
                "swing unit must be 1 (16ths) or 2 (8ths) steps".into(),
            ));
        }
        if self.highest_pitch > 127 || (self.highest_pitch as i32) < self.lowest_pitch as i32 + 11 {
            return Err(MuseError::InvalidArgument(format!(
                "melody range {}..={} must span at least an octave within 0..=127",
                self.lowest_pitch, self.highest_pitch
            )));
        }
        Ok(())
    }

    /// Velocity scale of the intensity control.
    pub(crate) fn velocity_scale(&self) -> f32 {
        0.6 + 0.8 * self.intensity
    }

    /// Logit bias on tokens that open a new onset.
    pub(crate) fn onset_bias(&self) -> f32 {
        3.0 * (self.intensity - 0.5)
    }

    /// Logit bias on `FILL_START` (`None`: fills forbidden).
    pub(crate) fn fill_bias(&self) -> Option<f32> {
        (self.fill_amount > 0.0).then_some(4.0 * (self.fill_amount - 0.5))
    }
}
