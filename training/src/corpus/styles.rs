//! Groove, comping and bass rhythms of each style on a 16-step bar.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Rock,
    Funk,
    Bossa,
}

pub const KICK: u8 = 36;
pub const SNARE: u8 = 38;
pub const CLOSED_HAT: u8 = 42;
pub const OPEN_HAT: u8 = 46;
pub const RIDE: u8 = 51;
pub const CRASH: u8 = 49;
pub const RIMSHOT: u8 = 37;
pub const TOMS: [u8; 4] = [50, 48, 45, 43];

/// `(step, pitch, velocity)` hits of one bar.
pub type Groove = Vec<(u32, u8, u8)>;

impl Style {
    pub const ALL: [Style; 3] = [Style::Rock, Style::Funk, Style::Bossa];

    pub fn name(self) -> &'static str {
        match self {
            Style::Rock => "rock",
            Style::Funk => "funk",
            Style::Bossa => "bossa",
        }
    }

    pub fn tempo_range(self) -> (f64, f64) {
        match self {
            Style::Rock => (100.0, 140.0),
            Style::Funk => (88.0, 112.0),
            Style::Bossa => (120.0, 150.0),
        }
    }

    /// The main groove; `variant` picks one of two per style.
    pub fn groove(self, variant: usize) -> Groove {
        let mut g = Groove::new();
        match self {
            Style::Rock => {
                for s in (0..16).step_by(2) {
                    g.push((s, CLOSED_HAT, if s % 4 == 0 { 100 } else { 75 }));
                }
                let kicks: &[u32] = if variant == 0 {
                    &[0, 8]
                } else {
                    &[0, 6, 8, 10]
                };
                g.extend(kicks.iter().map(|s| (*s, KICK, 110)));
                g.extend([(4, SNARE, 118), (12, SNARE, 118)]);
            }
            Style::Funk => {
                for s in 0..16 {
                    if s != 14 {
                        g.push((s, CLOSED_HAT, if s % 2 == 0 { 90 } else { 60 }));
                    }
                }
                g.push((14, OPEN_HAT, 95));
                let kicks: &[u32] = if variant == 0 {
                    &[0, 3, 10]
                } else {
                    &[0, 6, 10, 11]
                };
                g.extend(kicks.iter().map(|s| (*s, KICK, 112)));
                g.extend([
                    (4, SNARE, 120),
                    (12, SNARE, 120),
                    (7, SNARE, 45),
                    (9, SNARE, 45),
                ]);
            }
            Style::Bossa => {
                for s in (0..16).step_by(2) {
                    g.push((s, RIDE, 80));
                }
                g.extend([
                    (0, KICK, 100),
                    (6, KICK, 80),
                    (8, KICK, 100),
                    (14, KICK, 80),
                ]);
                let rims: &[u32] = if variant == 0 {
                    &[0, 6, 12]
                } else {
                    &[2, 6, 10, 14]
                };
                g.extend(rims.iter().map(|s| (*s, RIMSHOT, 85)));
            }
        }
        g
    }

    /// A fill bar: the groove's first half, then a snare/tom run.
    pub fn fill(self, variant: usize) -> Groove {
        let mut g: Groove = self
            .groove(0)
            .into_iter()
            .filter(|(s, _, _)| *s < 8)
            .collect();
        let run: Vec<u8> = if variant == 0 {
            vec![
                SNARE, SNARE, TOMS[0], TOMS[0], TOMS[1], TOMS[1], TOMS[2], TOMS[3],
            ]
        } else {
            vec![
                SNARE, TOMS[0], SNARE, TOMS[1], SNARE, TOMS[2], TOMS[3], TOMS[3],
            ]
        };
        g.extend(
            run.iter()
                .enumerate()
                .map(|(i, p)| (8 + i as u32, *p, 90 + 3 * i as u8)),
        );
        g.push((8, KICK, 100));
        g
    }

    /// Comping onsets `(step, length)` for the chord instrument.
    pub fn comp_rhythm(self) -> Vec<(u32, u32)> {
        match self {
            Style::Rock => vec![(0, 8), (8, 8)],
            Style::Funk => vec![(0, 2), (3, 2), (6, 1), (10, 2), (14, 2)],
            Style::Bossa => vec![(0, 3), (3, 3), (6, 4), (10, 3), (13, 3)],
        }
    }

    /// Bass onsets `(step, length, degree)`: degree 0 = root, 1 = fifth, 2 = octave.
    pub fn bass_rhythm(self) -> Vec<(u32, u32, u8)> {
        match self {
            Style::Rock => vec![
                (0, 2, 0),
                (2, 2, 0),
                (4, 2, 0),
                (6, 2, 0),
                (8, 2, 0),
                (10, 2, 0),
                (12, 2, 1),
                (14, 2, 0),
            ],
            Style::Funk => vec![
                (0, 2, 0),
                (3, 1, 2),
                (6, 2, 0),
                (10, 1, 1),
                (11, 2, 0),
                (14, 2, 2),
            ],
            Style::Bossa => vec![(0, 6, 0), (6, 2, 1), (8, 6, 1), (14, 2, 0)],
        }
    }
}
