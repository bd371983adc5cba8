//! Dev measurement: the metre the conversion uses on POP909 against the
//! dataset's own annotation (index.xlsx's beats per measure, exported to a
//! CSV `id,beats_per_measure,quavers_per_beat`, and each song's
//! beat_midi.txt downbeats):
//!
//! ```sh
//! cargo run --release -p nomad-muse-sys --example metre_agreement -- ~/POP909 index.csv
//! ```
//! POP909 songs 810–909 are held out and skipped.

use std::collections::BTreeMap;
use std::path::Path;

use nomad_muse::nsf::{midi_to_nsf, GlobalInfo};

/// Quarter beats elapsed at `seconds` under the NSF tempo map.
fn beats_at(global: &GlobalInfo, seconds: f64) -> f64 {
    let map = &global.tempo_map;
    let mut beats = 0.0;
    for (i, (t, bpm)) in map.iter().enumerate() {
        let end = map.get(i + 1).map_or(f64::INFINITY, |n| n.0);
        if seconds <= *t {
            break;
        }
        beats += (seconds.min(end) - t) * bpm / 60.0;
    }
    beats
}

/// Annotated downbeats (beat_midi.txt column 2), in quarter beats.
fn downbeats(dir: &Path, id: &str, global: &GlobalInfo) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join(id).join("beat_midi.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() >= 2 && f[1] == 1.0).then(|| beats_at(global, f[0]))
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(csv)) = (args.first(), args.get(1)) else {
        eprintln!("usage: metre_agreement <POP909 dir> <index.csv>");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let index = std::fs::read_to_string(csv).expect("index csv");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut tally = |k: String| *counts.entry(k).or_default() += 1;
    let (mut songs, mut same_grouping, mut exact, mut one_four) = (0, 0, 0, 0);
    // Bar lines checked and on an annotated downbeat, [declared, inferred].
    let (mut lines_checked, mut lines_on_downbeat) = ([0usize; 2], [0usize; 2]);
    for row in index.lines() {
        let f: Vec<&str> = row.split(',').collect();
        let (Some(id), Some(Ok(beats)), Some(quavers)) =
            (f.first(), f.get(1).map(|b| b.parse::<u32>()), f.get(2))
        else {
            continue;
        };
        if id.parse::<u32>().map_or(true, |n| n > 809) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(id).join(format!("{id}.mid"))) else {
            continue;
        };
        let Ok(nsf) = midi_to_nsf(&bytes, id) else {
            tally("conversion failed".into());
            continue;
        };
        let m = &nsf.metadata.metre;
        let used = m.used.0 as u32 * 4 / m.used.1.max(1) as u32;
        songs += 1;
        tally(format!("declared {:?}", m.declared));
        tally(format!(
            "index {beats}x{quavers} -> used {}/{}{}",
            m.used.0,
            m.used.1,
            if m.inferred { " (inferred)" } else { "" }
        ));
        same_grouping += usize::from(used.is_multiple_of(3) == beats.is_multiple_of(3));
        if let Some(e) = &m.evidence {
            tally(format!(
                "index quavers/beat {quavers}: compound {}",
                e.compound
            ));
        }
        exact += usize::from(used == beats);
        one_four += usize::from(
            nsf.global
                .time_signature_map
                .iter()
                .any(|(_, s)| 2 * s.0 < s.1),
        );
        // Bar lines after the first that fall on an annotated downbeat.
        let marks = downbeats(dir, id, &nsf.global);
        if std::env::var_os("METRE_DEBUG").is_some() {
            let first: Vec<String> = marks.iter().take(6).map(|m| format!("{m:.2}")).collect();
            println!(
                "{id} index {beats}x{quavers} used {:?} evidence {:?} downbeats {first:?} bars {:?}",
                m.used,
                m.evidence,
                &nsf.global.bar_starts[..nsf.global.bar_starts.len().min(6)]
            );
        }
        for s in nsf.global.bar_starts.iter().skip(1) {
            let beat = *s as f64 / 4.0;
            if marks.first().is_some_and(|m| beat >= m - 0.5)
                && marks.last().is_some_and(|m| beat <= m + 0.5)
            {
                let k = usize::from(m.inferred);
                lines_checked[k] += 1;
                lines_on_downbeat[k] += usize::from(marks.iter().any(|m| (m - beat).abs() < 0.35));
            }
        }
    }
    for (k, n) in &counts {
        println!("{n:>5}  {k}");
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!("songs {songs}; a bar under 2 quarters survives in {one_four}");
    println!(
        "duple/triple grouping agrees with index.xlsx: {same_grouping}/{songs} = {:.1}%; exact beats per bar: {exact}/{songs} = {:.1}%",
        pct(same_grouping, songs),
        pct(exact, songs)
    );
    for (k, what) in ["declared", "inferred"].iter().enumerate() {
        println!(
            "{what} bar lines on an annotated downbeat (beat_midi.txt): {}/{} = {:.1}%",
            lines_on_downbeat[k],
            lines_checked[k],
            pct(lines_on_downbeat[k], lines_checked[k])
        );
    }
}
