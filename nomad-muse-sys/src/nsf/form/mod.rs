//! Song form: per-bar arrangement features read off the notes — which
//! section a bar belongs to (labelled by repetition: A, B, A′ …), which
//! earlier bar it repeats, its energy, which parts play and how densely,
//! fills at section ends, and its place in the section. `prepare` stores
//! it in the NSF (`form`); the Conductor expert learns from it.
//!
//! Files: `bars` (per-bar note sets, similarity, densities), `sections`
//! (repeat runs → sections → labels), `energy` (energy bins and fills).

mod bars;
mod energy;
mod sections;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::Nsf;

pub use bars::{bar_similarity, BarNotes, FormPart};
pub use sections::{MIN_LAG, MIN_RUN, REPEAT_SIMILARITY};

/// Songs longer than this get no form (the similarity search is quadratic).
pub const MAX_FORM_BARS: usize = 1024;
/// Sections longer than this are cut into [`SPLIT_BARS`]-bar pieces.
pub const MAX_SECTION_BARS: u32 = 12;
pub const SPLIT_BARS: u32 = 8;
/// Energy bins of a sounding bar (0 is a silent bar).
pub const ENERGY_BINS: u8 = 4;
/// Density bins of a playing part (0 is a part that does not play).
pub const DENSITY_BINS: u8 = 3;

/// The form of a song.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SongForm {
    pub sections: Vec<FormSection>,
    /// One entry per bar of the song.
    pub bars: Vec<BarForm>,
}

/// A stretch of bars with one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSection {
    pub start_bar: u32,
    pub bars: u32,
    /// 0 = A, 1 = B, … in order of first appearance.
    pub label: u8,
    /// The earlier section this one repeats (same label), if any.
    pub repeat_of: Option<u32>,
    /// A repeat that is not note for note (A′).
    pub variant: bool,
}

/// One bar's arrangement features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarForm {
    /// Index into `sections`.
    pub section: u32,
    /// Bar within its section, from 0 (phrase position).
    pub section_bar: u32,
    /// The earlier bar this one repeats (similarity ≥ [`REPEAT_SIMILARITY`]
    /// inside a run of at least [`MIN_RUN`] such bars).
    pub repeat_of: Option<u32>,
    /// 0 silent, else 1..=[`ENERGY_BINS`]: the bar's loudness × density
    /// ranked among the song's sounding bars (quartiles).
    pub energy: u8,
    /// Per [`FormPart`]: 0 off, else 1..=[`DENSITY_BINS`] by onsets per bar.
    pub density: [u8; FormPart::COUNT],
    /// The last bar of a section, busier than the section's usual bar.
    pub fill: bool,
}

impl FormSection {
    /// "A", "B", "A′" …
    pub fn name(&self) -> String {
        let letter = char::from(b'A' + self.label.min(25));
        if self.variant {
            format!("{letter}′")
        } else {
            letter.to_string()
        }
    }
}

impl SongForm {
    /// The section labels in order, e.g. "A B A′ B".
    pub fn label_string(&self) -> String {
        self.sections
            .iter()
            .map(FormSection::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether bar `bar` plays part `part`.
    pub fn part_plays(&self, bar: usize, part: FormPart) -> bool {
        self.bars
            .get(bar)
            .is_some_and(|b| b.density[part as usize] > 0)
    }
}

/// The form of `nsf`, or `None` for a song without bars or longer than
/// [`MAX_FORM_BARS`].
pub fn analyse_form(nsf: &Nsf) -> Option<SongForm> {
    let bars = BarNotes::of_song(nsf);
    if bars.is_empty() || bars.len() > MAX_FORM_BARS {
        return None;
    }
    let runs = sections::repeat_runs(&bars);
    let repeat_of = sections::bar_sources(&bars, &runs);
    let sections = sections::sections(&bars, &runs);
    let energies = energy::energy_bins(&bars);
    let mut out = Vec::with_capacity(bars.len());
    for (i, section) in sections.iter().enumerate() {
        for k in 0..section.bars {
            let b = (section.start_bar + k) as usize;
            out.push(BarForm {
                section: i as u32,
                section_bar: k,
                repeat_of: repeat_of[b],
                energy: energies[b],
                density: bars[b].density_bins(),
                fill: false,
            });
        }
    }
    energy::mark_fills(&bars, &sections, &mut out);
    Some(SongForm {
        sections,
        bars: out,
    })
}
