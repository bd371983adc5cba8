//! Each bar's notes as a set of (part, step in bar, pitch) onsets, and the
//! similarity of two bars: the Dice overlap of those sets over all parts.
//! Exact positions and pitches make a literal repeat score 1 and the same
//! chords with another melody or rhythm score low.

use crate::nsf::{Nsf, TrackType};

/// The arrangement's parts as the form sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormPart {
    Drums = 0,
    Bass = 1,
    Melody = 2,
    /// Chords, pads and every other pitched part.
    Harmony = 3,
}

impl FormPart {
    pub const COUNT: usize = 4;
    pub const ALL: [FormPart; 4] = [
        FormPart::Drums,
        FormPart::Bass,
        FormPart::Melody,
        FormPart::Harmony,
    ];

    pub fn of(kind: TrackType) -> FormPart {
        match kind {
            TrackType::Drums => FormPart::Drums,
            TrackType::Bass => FormPart::Bass,
            TrackType::Melody => FormPart::Melody,
            TrackType::Harmony | TrackType::Other => FormPart::Harmony,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FormPart::Drums => "drums",
            FormPart::Bass => "bass",
            FormPart::Melody => "melody",
            FormPart::Harmony => "harmony",
        }
    }
}

/// Onsets per 16-step bar at which a part's density bin rises (1 below the
/// first, 3 from the second).
const DENSITY_STEPS: [f32; 2] = [4.0, 9.0];

/// One bar of the song.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarNotes {
    /// Sorted, deduplicated `part << 16 | step_in_bar << 8 | pitch`.
    pub keys: Vec<u32>,
    /// Onsets per part.
    pub onsets: [u32; FormPart::COUNT],
    pub velocity_sum: u32,
    /// Bar length in 16th steps.
    pub steps: u32,
}

impl BarNotes {
    /// Every bar of the song, notes past the last bar line included.
    pub fn of_song(nsf: &Nsf) -> Vec<BarNotes> {
        let last_note_bar = nsf
            .tracks
            .iter()
            .flat_map(|t| t.events.iter())
            .map(|e| e.bar as usize + 1)
            .max()
            .unwrap_or(0);
        let count = (nsf.global.bar_count() as usize).max(last_note_bar);
        if count > super::MAX_FORM_BARS {
            return vec![BarNotes::default(); count];
        }
        let mut bars: Vec<BarNotes> = (0..count as u32)
            .map(|b| BarNotes {
                steps: nsf.global.bar_length(b).max(1),
                ..BarNotes::default()
            })
            .collect();
        for track in &nsf.tracks {
            let part = FormPart::of(track.classification.kind);
            for e in &track.events {
                let bar = &mut bars[e.bar as usize];
                let step = e.onset_step - nsf.global.bar_start_step(e.bar).min(e.onset_step);
                bar.keys
                    .push((part as u32) << 16 | step.min(255) << 8 | e.pitch as u32);
                bar.onsets[part as usize] += 1;
                bar.velocity_sum += e.velocity as u32;
            }
        }
        for bar in &mut bars {
            bar.keys.sort_unstable();
            bar.keys.dedup();
        }
        bars
    }

    pub fn total_onsets(&self) -> u32 {
        self.onsets.iter().sum()
    }

    pub fn is_silent(&self) -> bool {
        self.keys.is_empty()
    }

    /// Onsets per 16 steps of part `p`.
    pub fn rate(&self, p: FormPart) -> f32 {
        self.onsets[p as usize] as f32 * 16.0 / self.steps as f32
    }

    /// 0 off, else 1..=3 by onsets per 16 steps.
    pub fn density_bins(&self) -> [u8; FormPart::COUNT] {
        FormPart::ALL.map(|p| {
            if self.onsets[p as usize] == 0 {
                0
            } else {
                1 + DENSITY_STEPS.iter().filter(|t| self.rate(p) >= **t).count() as u8
            }
        })
    }
}

/// Dice overlap of two bars' onset sets in [0, 1]; 0 when either is
/// silent (silence repeating is no form).
pub fn bar_similarity(a: &BarNotes, b: &BarNotes) -> f32 {
    if a.keys.is_empty() || b.keys.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.keys.len() && j < b.keys.len() {
        match a.keys[i].cmp(&b.keys[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f32 / (a.keys.len() + b.keys.len()) as f32
}
