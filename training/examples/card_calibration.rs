//! The report card's checks on real music alone: the validation songs of a
//! prepared folder split in two halves by song, one half scored as if it were
//! generated against the other. Every check must PASS for the card to be
//! trusted on that kind of music (issue 19). Prints, per expert, the real
//! side's metric means and the calibration checks.
//!
//! ```text
//! target/release/training prepare --midi_dir ~/POP909 --out /tmp/pop_prepared
//! target/release/examples/card_calibration /tmp/pop_prepared [val_fraction]
//! ```

use std::path::PathBuf;

use anyhow::Context;
use nomad_muse::tokenizers::ExpertKind;
use training::config::Config;
use training::eval::{score_set, EvalOptions, Piece, RealSide};
use training::prepare::load_prepared;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let prepared = PathBuf::from(
        args.next()
            .context("usage: card_calibration PREPARED_DIR [VAL_FRACTION]")?,
    );
    let corpus = load_prepared(&prepared)?;
    let mut cfg = Config::default();
    if let Some(f) = args.next() {
        cfg.training.val_fraction = f.parse().context("VAL_FRACTION must be a number")?;
    }
    let opts = EvalOptions {
        samples: cfg.eval.samples,
        bars: cfg.eval.bars,
        seed: 2026,
        quiet: true,
    };
    for expert in ExpertKind::WITH_CONDUCTOR {
        let mut side = match RealSide::build(&corpus, &cfg, expert, &opts) {
            Ok(s) => s,
            Err(e) => {
                println!("{}: skipped ({e})", expert.name());
                continue;
            }
        };
        let real: Vec<Piece> = side.windows.iter().map(|w| w.piece.clone()).collect();
        let scores = score_set(&real, &mut side.reference);
        println!(
            "{}: {} training songs, {} real windows of {} bars",
            expert.name(),
            side.train_songs,
            real.len(),
            opts.bars
        );
        for (name, _) in &scores.per_piece {
            println!("  real {name}: {:.3}", scores.mean(name));
        }
        match side.calibrate(expert, &cfg, 7) {
            None => println!("  calibration: too few validation songs to split"),
            Some(split) => {
                println!(
                    "  calibration ({} vs {} windows): {}",
                    split.pieces[0],
                    split.pieces[1],
                    split.verdict.label()
                );
                for c in &split.checks {
                    println!(
                        "    {} {:.3} {} ({})",
                        c.name,
                        c.value,
                        c.verdict.label(),
                        c.rule
                    );
                }
            }
        }
    }
    Ok(())
}
