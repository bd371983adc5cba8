//! The band directed by a host form and by a (toy) Conductor expert:
//! repeats are real replays, intros rest the melody, directions are
//! deterministic and allocation-free after the first bar.

use super::tests::ToyModel;
use super::*;
use crate::runtime::realtime_alloc::thread_counters;
use crate::tokenizers::{ConductorTokenizer, ExpertKind, SectionStart};

const BAR_TICKS: u32 = 1920;

fn toy_band(seed: u64, conductor: bool) -> Band<ToyModel> {
    let mut b = Band::new(
        Some(ToyModel::new(ExpertKind::Harmony)),
        Some(ToyModel::new(ExpertKind::Melody)),
        Some(ToyModel::new(ExpertKind::Drums)),
        seed,
        64,
    )
    .expect("band");
    if conductor {
        b.set_conductor(Some(ToyModel::new(ExpertKind::Conductor)))
            .expect("conductor");
    }
    b
}

/// Bar `bar`'s notes of `channel`, ticks from the bar's start.
fn bar_notes(b: &Band<ToyModel>, bar: u32, channel: u8) -> Vec<(u32, u8, u8)> {
    b.bar_notes(bar)
        .into_iter()
        .flatten()
        .filter(|n| n.channel == channel)
        .map(|n| (n.tick - bar * BAR_TICKS, n.pitch, n.velocity))
        .collect()
}

#[test]
fn a_host_form_repeats_its_sections_note_for_note() {
    let mut b = toy_band(3, false);
    b.set_form("intro:2 verse:4 chorus:4 verse:4 chorus:4 outro:2")
        .expect("form");
    for _ in 0..20 {
        b.next_bar().expect("bar");
    }
    // The intro rests the melody; the verse plays it.
    assert!(bar_notes(&b, 0, MELODY_CHANNEL).is_empty());
    assert!(!bar_notes(&b, 2, MELODY_CHANNEL).is_empty());
    // Verse 2 (bars 10..14) replays verse 1 (bars 2..6): every part, but
    // the drums of the fill bar that ends it.
    for k in 0..4 {
        for channel in [MELODY_CHANNEL, CHORDS_CHANNEL, DRUMS_CHANNEL] {
            if channel == DRUMS_CHANNEL && k == 3 {
                continue;
            }
            assert_eq!(
                bar_notes(&b, 10 + k, channel),
                bar_notes(&b, 2 + k, channel),
                "bar {} channel {channel}",
                10 + k
            );
        }
        assert_eq!(b.direction(10 + k).and_then(|d| d.source), Some(2 + k));
    }
    // The chorus is not the verse, and is louder.
    assert_ne!(
        bar_notes(&b, 6, MELODY_CHANNEL),
        bar_notes(&b, 2, MELODY_CHANNEL)
    );
    let loudness = |bar| {
        let v: Vec<u32> = bar_notes(&b, bar, MELODY_CHANNEL)
            .iter()
            .map(|n| n.2 as u32)
            .collect();
        v.iter().sum::<u32>() as f64 / v.len().max(1) as f64
    };
    assert!(
        loudness(6) > loudness(2),
        "{} vs {}",
        loudness(6),
        loudness(2)
    );
    let fill = b.direction(5).expect("directed");
    assert!(fill.plan.fill && fill.plan.start.is_none());
}

#[test]
fn bad_forms_are_refused_and_change_nothing() {
    let mut b = toy_band(3, false);
    for bad in ["verse:0", "verse:x", "verse:17", ":4"] {
        assert!(b.set_form(bad).is_err(), "{bad}");
    }
    assert!(b.set_form("   ").is_ok());
    b.next_bar().expect("bar");
    assert_eq!(b.direction(0), None);
    assert!(b.set_form("verse").is_err(), "set before the first bar");
}

#[test]
fn the_conductor_plans_a_form_the_tokenizer_reads_and_replays_it() {
    let run = |seed| {
        let mut b = toy_band(seed, true);
        for _ in 0..32 {
            b.next_bar().expect("bar");
        }
        b
    };
    let b = run(9);
    let plan = ConductorTokenizer::new()
        .decode(&b.conductor_tokens())
        .expect("the conductor's stream decodes");
    assert_eq!(plan.len(), 32);
    for (bar, p) in plan.iter().enumerate() {
        let d = b.direction(bar as u32).expect("directed");
        assert_eq!(d.plan, *p, "bar {bar}");
        if let Some(s) = d.source {
            assert!(s < bar as u32);
            assert_eq!(plan[s as usize].label, p.label);
            assert_eq!(plan[s as usize].section_bar, p.section_bar);
        }
    }
    assert_eq!(run(9).conductor_tokens(), b.conductor_tokens());
    assert_ne!(run(10).conductor_tokens(), b.conductor_tokens());
}

#[test]
fn a_directed_band_allocates_nothing_after_the_first_bar() {
    for conductor in [true, false] {
        let mut b = toy_band(4, conductor);
        if !conductor {
            b.set_form("verse:4 chorus:4 verse:4 chorus:4")
                .expect("form");
        }
        b.next_bar().expect("bar");
        let (before, _) = thread_counters();
        for _ in 0..20 {
            b.next_bar().expect("bar");
        }
        b.reroll(6, 8, Reroll::Bar).expect("reroll");
        let (after, _) = thread_counters();
        assert_eq!(after - before, 0, "allocations (conductor {conductor})");
    }
}

#[test]
fn a_reroll_keeps_the_form_of_later_bars() {
    let mut b = toy_band(5, true);
    for _ in 0..24 {
        b.next_bar().expect("bar");
    }
    let later: Vec<_> = (13..24).map(|k| b.direction(k)).collect();
    b.reroll(12, 77, Reroll::Bar).expect("reroll");
    let after: Vec<_> = (13..24).map(|k| b.direction(k)).collect();
    assert_eq!(later, after);
    assert!(matches!(
        b.direction(0).map(|d| d.plan.start),
        Some(Some(SectionStart::New))
    ));
}
