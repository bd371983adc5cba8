//! What the Conductor adds to the cost of a bar: bands on the same exported
//! experts and seed — the three experts, the three with `conductor.onnx`,
//! and the Conductor alone (its own planning work per bar) — timed bar by
//! bar in turn (A, B, C, A, B, C …) so the shared machine's noise hits all
//! alike. With the Conductor the parts' work changes too (repeated bars
//! replay stored tokens instead of sampling; energy moves note counts), so
//! its own cost is the third band's.
//!
//!   cargo bench --bench conductor_cost -- <onnx_dir> [rounds]
//!
//! <onnx_dir> holds drums, harmony, melody and conductor .onnx files.
//! Medians over the rounds; a band starts its song again when it is full.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nomad_muse::runtime::{Band, ExpertSession, MuseError};

const SONG_BARS: usize = 64;

fn band(dir: &Path, parts: bool, conductor: bool) -> Result<Band<ExpertSession>, MuseError> {
    let load = |name: &str| ExpertSession::load(&dir.join(format!("{name}.onnx")));
    let part = |name: &str| {
        if parts {
            load(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let mut b = Band::new(
        part("harmony")?,
        part("melody")?,
        part("drums")?,
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
    let mut without = band(&dir, true, false)?;
    let mut with = band(&dir, true, true)?;
    let mut alone = band(&dir, false, true)?;
    // Warm-up: the first bar allocates the models' buffers.
    time_bar(&mut without)?;
    time_bar(&mut with)?;
    time_bar(&mut alone)?;
    let mut a = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    let mut c = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        a.push(time_bar(&mut without)?);
        b.push(time_bar(&mut with)?);
        c.push(time_bar(&mut alone)?);
    }
    let (ma, mb, mc) = (median(a.clone()), median(b.clone()), median(c.clone()));
    // Per-pair ratios cancel slow stretches that hit both bars of a pair.
    let ratio = median(a.iter().zip(&b).map(|(x, y)| y / x).collect());
    println!(
        "bar cost over {rounds} interleaved pairs, files in {}",
        dir.display()
    );
    println!("  three experts:                 median {ma:>8.1} µs/bar");
    println!("  three experts + Conductor:     median {mb:>8.1} µs/bar");
    println!("  the Conductor alone (no parts): median {mc:>8.1} µs/bar");
    println!(
        "  with / without: ratio of medians {:.3}, median of pair ratios {ratio:.3}",
        mb / ma
    );
    let own = median(a.iter().zip(&c).map(|(x, z)| z / x).collect());
    println!(
        "  the Conductor's own work / a three-expert bar: ratio of medians {:.3}, median of pair ratios {own:.3}",
        mc / ma
    );
    Ok(())
}
