//! Energy and fills.
//!
//! A bar's energy is its onsets per 16 steps times its mean velocity,
//! binned by quartile among the song's sounding bars: the arc (build, drop)
//! is relative to the song, whatever its genre. A fill is the last bar of a
//! section (not the song's) with at least [`FILL_RATIO`] × the median
//! onset rate of the section's other bars — drums' alone when the section
//! has drums (so drums coming in on a section's last bar are a fill).

use super::bars::{BarNotes, FormPart};
use super::{BarForm, FormSection, ENERGY_BINS};

const FILL_RATIO: f32 = 1.25;

fn energy_score(bar: &BarNotes) -> f32 {
    let onsets = bar.total_onsets();
    if onsets == 0 {
        return 0.0;
    }
    let mean_velocity = bar.velocity_sum as f32 / onsets as f32;
    onsets as f32 * 16.0 / bar.steps as f32 * mean_velocity
}

/// 0 for a silent bar, else 1..=ENERGY_BINS by the score's quartile.
pub(crate) fn energy_bins(bars: &[BarNotes]) -> Vec<u8> {
    let mut sounding: Vec<f32> = bars
        .iter()
        .filter(|b| !b.is_silent())
        .map(energy_score)
        .collect();
    sounding.sort_unstable_by(f32::total_cmp);
    bars.iter()
        .map(|b| {
            if b.is_silent() {
                return 0;
            }
            let below = sounding.partition_point(|s| *s < energy_score(b));
            let rank = below as f32 / sounding.len() as f32;
            1 + ((rank * ENERGY_BINS as f32) as u8).min(ENERGY_BINS - 1)
        })
        .collect()
}

fn median(mut xs: Vec<f32>) -> f32 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_unstable_by(f32::total_cmp);
    xs[xs.len() / 2]
}

pub(crate) fn mark_fills(bars: &[BarNotes], sections: &[FormSection], out: &mut [BarForm]) {
    for s in sections.iter().take(sections.len().saturating_sub(1)) {
        if s.bars < 2 {
            continue;
        }
        let range = s.start_bar as usize..(s.start_bar + s.bars) as usize;
        let last = range.end - 1;
        let has_drums = bars[range.clone()].iter().any(|b| b.onsets[0] > 0);
        let rate = |b: &BarNotes| {
            if has_drums {
                b.rate(FormPart::Drums)
            } else {
                b.total_onsets() as f32 * 16.0 / b.steps as f32
            }
        };
        let usual = median(bars[range.start..last].iter().map(rate).collect());
        let end = rate(&bars[last]);
        if end > 0.0 && end >= FILL_RATIO * usual {
            out[last].fill = true;
        }
    }
}
