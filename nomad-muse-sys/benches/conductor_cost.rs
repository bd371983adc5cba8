//! What the Conductor adds to the cost of a bar: two bands on the same
//! exported experts and seed, one with `conductor.onnx`, timed bar by bar
//! in turn (A, B, A, B …) so the shared machine's noise hits both alike.
//!
//!   cargo bench --bench conductor_cost -- <onnx_dir> [rounds]
//!
//! <onnx_dir> holds drums, harmony, melody and conductor .onnx files.
//! Medians over the rounds; a band starts its song again when it is full.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nomad_muse::runtime::{Band, ExpertSession, MuseError};

const SONG_BARS: usize = 64;

fn band(dir: &Path, conductor: bool) -> Result<Band<ExpertSession>, MuseError> {
    let load = |name: &str| ExpertSession::load(&dir.join(format!("{name}.onnx")));
    let mut b = Band::new(
        Some(load("harmony")?),
        Some(load("melody")?),
        Some(load("drums")?),
        7,
        SONG_BARS,
    )?;
    if conductor {
        b.set_conductor(Some(load("conductor")?))?;
    }
    Ok(b)
}

/// Microseconds to make the band's next bar (a new song when it is full).
fn time_bar(b: &mut Band<ExpertSession>) -> Result<f64, MuseError> {
    if b.bars_generated() as usize == SONG_BARS {
        b.reset();
    }
    let t = Instant::now();
    b.next_bar()?;
    Ok(t.elapsed().as_secs_f64() * 1e6)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), MuseError> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../artifacts/onnx"))
    });
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(512);
    let mut without = band(&dir, false)?;
    let mut with = band(&dir, true)?;
    // Warm-up: the first bar allocates the models' buffers.
    time_bar(&mut without)?;
    time_bar(&mut with)?;
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        a.push(time_bar(&mut without)?);
        b.push(time_bar(&mut with)?);
    }
    let (ma, mb) = (median(a.clone()), median(b.clone()));
    // Per-pair ratios cancel slow stretches that hit both bars of a pair.
    let ratio = median(a.iter().zip(&b).map(|(x, y)| y / x).collect());
    println!(
        "bar cost over {rounds} interleaved pairs, files in {}",
        dir.display()
    );
    println!("  three experts:                 median {ma:>8.1} µs/bar");
    println!("  three experts + Conductor:     median {mb:>8.1} µs/bar");
    println!(
        "  with / without: ratio of medians {:.3}, median of pair ratios {ratio:.3}",
        mb / ma
    );
    Ok(())
}
