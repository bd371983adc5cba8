//! Prints how well the analysis hears labelled real music, beside music21
//! where the labels carry its answers:
//!
//! ```sh
//! cargo run --release -p nomad-muse-sys --example ears -- --fixtures tests/fixtures/real
//! cargo run --release -p nomad-muse-sys --example ears -- --pop909 ~/POP909 --songs 1-809 --every 8
//! ```
//! POP909 songs 810–909 are held out and refused.

#[path = "../tests/common/ears.rs"]
mod ears;

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut pieces = Vec::new();
    if let Some(dir) = arg("--fixtures") {
        match ears::load_fixtures(&PathBuf::from(dir)) {
            Ok(p) => pieces.extend(p),
            Err(e) => eprintln!("fixtures: {e}"),
        }
    }
    if let Some(dir) = arg("--pop909") {
        let (lo, hi) = arg("--songs")
            .and_then(|s| {
                let (a, b) = s.split_once('-')?;
                Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
            })
            .unwrap_or((1, 809));
        let every: u32 = arg("--every")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1);
        for id in (lo..=hi.min(809)).step_by(every as usize) {
            match ears::load_pop909_song(&PathBuf::from(&dir).join(format!("{id:03}"))) {
                Ok(p) => pieces.push(p),
                Err(e) => eprintln!("pop909 {id:03}: {e}"),
            }
        }
    }
    let start = Instant::now();
    let groups = ears::score_all(&pieces);
    println!(
        "| set | pieces | beats | root | triad | maj/min triad | key | melody (names) | melody (no names) | music21 root | music21 triad | music21 key |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, s) in &groups {
        println!(
            "| {name} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.pieces,
            s.beats,
            s.root(),
            s.triad(),
            s.majmin(),
            s.key(),
            s.key_right,
            s.keyed,
            s.melody(),
            s.melody_unnamed(),
            s.m21_root(),
            s.m21_triad(),
            s.m21_key()
        );
    }
    for (name, s) in &groups {
        if s.monophonic > 0 {
            println!(
                "{name}: {} of {} single-line pieces gave harmony tokens",
                s.monophonic_with_harmony, s.monophonic
            );
        }
        if args.iter().any(|a| a == "--verbose") {
            for e in &s.key_errors {
                println!("  key {e}");
            }
            for e in &s.melody_errors {
                println!("  melody {e}");
            }
        }
    }
    for (name, s) in &groups {
        let variants: Vec<String> = s
            .key_variants
            .iter()
            .map(|(v, n)| format!("{v}: {:.3}", *n as f64 / s.keyed.max(1) as f64))
            .collect();
        println!("{name} key profiles: {}", variants.join(", "));
    }
    println!(
        "analysed {} pieces in {:.2} s",
        pieces.len(),
        start.elapsed().as_secs_f64()
    );
}
