//! Whether the card can be trusted on a corpus: the real validation songs
//! split in two halves (by song), one half scored as if it were generated
//! against the other. Real music must pass every check; a check that real
//! music fails is a broken check, whatever it says of a model.

use serde::Serialize;

use super::report::{health_checks, Verdict};
use super::windows::RealWindow;
use super::{score_set, unigram_chord_tone_baseline, Piece, Reference};
use crate::config::EvalConfig;
use nomad_muse::tokenizers::ExpertKind;

/// One check of the real-vs-real calibration.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationCheck {
    pub name: String,
    pub rule: String,
    pub value: f64,
    pub verdict: Verdict,
}

/// The card's checks with one half of the real songs in the generated seat.
#[derive(Debug, Clone, Serialize)]
pub struct RealSplit {
    /// Pieces in the reference half and in the scored half.
    pub pieces: [usize; 2],
    pub verdict: Verdict,
    pub checks: Vec<CalibrationCheck>,
}

/// Scores the odd-numbered validation songs' windows against the
/// even-numbered ones'; `None` when a half has fewer than two windows.
pub fn real_split(
    expert: ExpertKind,
    windows: &[RealWindow],
    reference: &mut Reference,
    training_pitches: &[u8],
    cfg: &EvalConfig,
    seed: u64,
) -> Option<RealSplit> {
    let half = |odd: bool| -> Vec<Piece> {
        windows
            .iter()
            .filter(|w| (w.song % 2 == 1) == odd)
            .map(|w| w.piece.clone())
            .collect()
    };
    let (real, scored) = (half(false), half(true));
    if real.len() < 2 || scored.len() < 2 {
        return None;
    }
    let baseline = (expert == ExpertKind::Melody)
        .then(|| unigram_chord_tone_baseline(&scored, training_pitches, seed));
    let checks: Vec<CalibrationCheck> = health_checks(
        expert,
        &score_set(&real, reference),
        &score_set(&scored, reference),
        baseline,
        cfg,
    )
    .into_iter()
    .map(|(name, rule, value, verdict)| CalibrationCheck {
        name,
        rule,
        value,
        verdict,
    })
    .collect();
    Some(RealSplit {
        pieces: [real.len(), scored.len()],
        verdict: checks
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Pass),
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::eval::{EvalOptions, RealSide};
    use crate::prepare::{load_prepared, prepare, PrepareOptions};

    /// The default card's checks, on the synthetic corpus's real songs alone.
    #[test]
    fn every_check_passes_real_songs_against_real_songs() {
        let dir = std::env::temp_dir().join(format!("nomad_calibration_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::corpus::generate_corpus(&dir.join("midi"), 40, 17).unwrap();
        let quiet = PrepareOptions {
            quiet: true,
            ..Default::default()
        };
        prepare(&dir.join("midi"), &dir.join("prepared"), &quiet).unwrap();
        let corpus = load_prepared(&dir.join("prepared")).unwrap();
        let mut cfg = Config::default();
        cfg.training.val_fraction = 0.5;
        let opts = EvalOptions {
            samples: 16,
            bars: 16,
            seed: 1,
            quiet: true,
        };
        for expert in ExpertKind::WITH_CONDUCTOR {
            let mut side = RealSide::build(&corpus, &cfg, expert, &opts).unwrap();
            let split = side
                .calibrate(expert, &cfg, 3)
                .expect("both halves have windows");
            assert!(split.pieces.iter().all(|&n| n >= 4), "{split:?}");
            assert_eq!(
                split.verdict,
                Verdict::Pass,
                "{}: {split:#?}",
                expert.name()
            );
            // Melodies whose pitches ignore the chords, in the scored seat,
            // must not pass: the checks can fail.
            if expert == ExpertKind::Melody {
                let mut scrambled = side.windows.clone();
                for w in scrambled.iter_mut().filter(|w| w.song % 2 == 1) {
                    if let crate::eval::Decoded::Melody { notes, .. } = &mut w.piece.decoded {
                        notes
                            .iter_mut()
                            .for_each(|n| n.pitch = 61 + (n.pitch % 5) * 5);
                    }
                }
                let broken = real_split(
                    expert,
                    &scrambled,
                    &mut side.reference,
                    &side.training_pitches,
                    &cfg.eval,
                    3,
                )
                .unwrap();
                assert_ne!(broken.verdict, Verdict::Pass, "{broken:#?}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
