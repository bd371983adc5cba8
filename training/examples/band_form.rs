//! Form in the band: melody motif repetition (the report card's metric) of
//! songs the exported experts play alone, with the Conductor, and with a
//! host form, same seeds.
//!
//!   target/release/examples/band_form <onnx_dir> [songs] [bars]
//!
//! <onnx_dir> holds drums, harmony, melody and conductor .onnx files. The
//! melody is read from its token stream (muted bars included: the notes
//! the expert chose).

use std::path::{Path, PathBuf};

use nomad_muse::runtime::{Band, ExpertSession, Part, PartControls, SamplingOptions};
use nomad_muse::tokenizers::MelodyTokenizer;
use training::eval::metrics::motif_repetition;

const HOST_FORM: &str = "intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:4 chorus:8 outro:4";

fn song(dir: &Path, mode: &str, bars: u32, seed: u64) -> anyhow::Result<(f64, f64)> {
    let load = |name: &str| ExpertSession::load(&dir.join(format!("{name}.onnx")));
    let mut band = Band::new(
        Some(load("harmony")?),
        Some(load("melody")?),
        Some(load("drums")?),
        seed,
        bars as usize,
    )?;
    for part in Part::ALL {
        let controls = PartControls {
            sampling: SamplingOptions {
                temperature: 0.9,
                top_k: 0,
                top_p: 0.95,
            },
            ..band.controls(part)
        };
        band.set_controls(part, controls)?;
    }
    match mode {
        "conductor" => band.set_conductor(Some(load("conductor")?))?,
        "host form" => band.set_form(HOST_FORM)?,
        _ => {}
    }
    for _ in 0..bars {
        band.next_bar()?;
    }
    let notes = MelodyTokenizer::new()
        .decode(&band.part_tokens(Part::Melody))
        .map_err(|e| anyhow::anyhow!("melody tokens: {e}"))?;
    let replayed = (0..bars)
        .filter(|b| band.direction(*b).is_some_and(|d| d.source.is_some()))
        .count();
    Ok((motif_repetition(&notes), replayed as f64 / bars as f64))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("artifacts/onnx", String::as_str));
    let songs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let bars: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    println!(
        "{songs} songs of {bars} bars per mode, experts in {}",
        dir.display()
    );
    println!("host form: {HOST_FORM}");
    for mode in ["three experts", "conductor", "host form"] {
        let mut motif = Vec::new();
        let mut replayed = Vec::new();
        for seed in 0..songs {
            let (m, r) = song(&dir, mode, bars, 1000 + seed)?;
            motif.push(m);
            replayed.push(r);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "{mode:<14} melody motif repetition {:.3} (min {:.3}, max {:.3}); bars replaying an earlier bar {:.3}",
            mean(&motif),
            motif.iter().copied().fold(f64::INFINITY, f64::min),
            motif.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean(&replayed)
        );
    }
    Ok(())
}
