//! The analysis on labelled real music nobody here wrote: Bach chorales and
//! Monteverdi madrigals with published Roman-numeral analyses, Essen folk
//! tunes, and POP909 songs with their chord, beat and key labels
//! (`tests/fixtures/real`, `tests/fixtures/pop909`). Each bound sits below
//! what the analysis measured when it was set (README, "Hearing real
//! music"); the previous fixed-window analysis fails most of them.

mod common;

use std::path::PathBuf;

use common::ears::{load_fixtures, load_pop909_song, score_all, Score};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn group<'a>(groups: &'a [(String, Score)], name: &str) -> &'a Score {
    &groups
        .iter()
        .find(|(g, _)| g == name)
        .unwrap_or_else(|| panic!("no {name} pieces"))
        .1
}

#[test]
fn chorales_madrigals_and_folk_are_heard_right() {
    let pieces = load_fixtures(&fixtures().join("real")).expect("fixtures");
    let groups = score_all(&pieces);
    let chorales = group(&groups, "chorales");
    println!(
        "chorales: root {:.3} triad {:.3} key {:.3} melody {:.3} (music21 root {:.3} triad {:.3} key {:.3})",
        chorales.root(),
        chorales.triad(),
        chorales.key(),
        chorales.melody_unnamed(),
        chorales.m21_root(),
        chorales.m21_triad(),
        chorales.m21_key()
    );
    assert!(chorales.pieces >= 10 && chorales.beats >= 500);
    assert!(
        chorales.root() >= 0.85,
        "chorale roots {:.3}",
        chorales.root()
    );
    assert!(
        chorales.triad() >= 0.80,
        "chorale triads {:.3}",
        chorales.triad()
    );
    assert!(
        chorales.key() >= 0.85,
        "chorale keys {:?}",
        chorales.key_errors
    );
    // The soprano carries the chorale tune, with or without track names.
    assert_eq!(
        chorales.melody_right_unnamed, chorales.melody_pieces,
        "{:?}",
        chorales.melody_errors
    );

    let madrigals = group(&groups, "madrigals");
    println!(
        "madrigals: root {:.3} triad {:.3}",
        madrigals.root(),
        madrigals.triad()
    );
    assert!(
        madrigals.root() >= 0.55,
        "madrigal roots {:.3}",
        madrigals.root()
    );

    let folk = group(&groups, "folk");
    println!(
        "folk: key {:.3}, {} of {} gave harmony",
        folk.key(),
        folk.monophonic_with_harmony,
        folk.monophonic
    );
    assert!(folk.monophonic >= 20);
    // A bare tune is melody data, never harmony data.
    assert_eq!(folk.monophonic_with_harmony, 0);
    assert_eq!(folk.melody_right, folk.melody_pieces);
    assert!(folk.key() >= 0.7, "folk keys {:?}", folk.key_errors);
}

#[test]
fn pop_songs_are_heard_on_their_own_beats() {
    let dir = fixtures().join("pop909");
    let pieces: Vec<_> = ["001", "201", "401", "601", "801"]
        .iter()
        .map(|id| load_pop909_song(&dir.join(id)).expect("pop909 fixture"))
        .collect();
    let groups = score_all(&pieces);
    let pop = group(&groups, "pop909");
    println!(
        "pop909 fixtures: root {:.3} maj/min {:.3} key {}/{} melody {:.3} unnamed {:.3}",
        pop.root(),
        pop.majmin(),
        pop.key_right,
        pop.keyed,
        pop.melody(),
        pop.melody_unnamed()
    );
    assert!(pop.beats >= 1000);
    assert!(pop.root() >= 0.85, "pop roots {:.3}", pop.root());
    assert!(pop.majmin() >= 0.80, "pop triads {:.3}", pop.majmin());
    assert!(
        pop.key_right + 1 >= pop.keyed,
        "pop keys {:?}",
        pop.key_errors
    );
    assert_eq!(pop.melody_right, pop.melody_pieces);
    assert!(
        pop.melody_right_unnamed + 1 >= pop.melody_pieces,
        "{:?}",
        pop.melody_errors
    );
}

#[test]
fn held_out_pop_songs_are_refused() {
    let err = load_pop909_song(&fixtures().join("pop909").join("850")).unwrap_err();
    assert!(err.contains("held out"), "{err}");
}
