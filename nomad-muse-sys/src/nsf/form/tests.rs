use super::*;
use crate::nsf::TrackType;
use crate::tokenizers::test_support::{nsf_with_tracks, track};

/// A melody bar of four notes whose pitches encode `seed` (distinct seeds,
/// distinct bars).
fn melody_bar(bar: u32, seed: u32, notes: &mut Vec<(u32, u8, u8, u32)>) {
    for k in 0..4 {
        let pitch = 48 + ((seed * 7 + k * 3) % 36) as u8;
        notes.push((bar * 16 + k * 4, pitch, 90, 4));
    }
}

/// Bars whose material is `material[bar]` (equal numbers, equal bars).
fn song(material: &[u32]) -> Nsf {
    let mut notes = Vec::new();
    for (bar, m) in material.iter().enumerate() {
        melody_bar(bar as u32, *m, &mut notes);
    }
    nsf_with_tracks(
        material.len() as u32,
        vec![track(TrackType::Melody, false, &notes)],
        vec![],
    )
}

#[test]
fn repeated_sections_share_a_label_and_distinct_ones_do_not() {
    let a: Vec<u32> = (0..8).collect();
    let b: Vec<u32> = (100..108).collect();
    let material = [a.clone(), b.clone(), a, b].concat();
    let form = analyse_form(&song(&material)).expect("form");
    assert_eq!(form.label_string(), "A B A B");
    assert_eq!(form.bars.len(), 32);
    assert_eq!(form.bars[16].repeat_of, Some(0));
    assert_eq!(form.bars[3].repeat_of, None);
    assert_eq!(form.sections[2].repeat_of, Some(0));
    assert!(!form.sections[2].variant);
    assert_eq!(form.bars[21].section_bar, 5);
}

#[test]
fn a_song_without_repeats_gets_a_new_label_per_section() {
    let material: Vec<u32> = (0..24).collect();
    let form = analyse_form(&song(&material)).expect("form");
    let labels: Vec<u8> = form.sections.iter().map(|s| s.label).collect();
    let mut distinct = labels.clone();
    distinct.dedup();
    assert_eq!(labels, distinct, "{}", form.label_string());
    assert!(form.bars.iter().all(|b| b.repeat_of.is_none()));
}

#[test]
fn a_varied_repeat_is_a_variant() {
    let a: Vec<u32> = (0..8).collect();
    let mut a2 = a.clone();
    a2[3] = 500;
    a2[6] = 501;
    let form = analyse_form(&song(&[a, (100..108).collect(), a2].concat())).expect("form");
    assert_eq!(form.label_string(), "A B A′");
    // The varied bars repeat nothing; their neighbours still do.
    assert_eq!(form.bars[16 + 3].repeat_of, None);
    assert_eq!(form.bars[16 + 4].repeat_of, Some(4));
}

#[test]
fn energy_follows_density_and_parts_and_fills_are_marked() {
    let mut melody = Vec::new();
    let mut drums = Vec::new();
    for bar in 0..16u32 {
        melody_bar(bar, bar % 8, &mut melody);
        if bar >= 8 {
            // The second half adds drums: kick and snare on each beat, and
            // the section's last bar (15 is the song's) adds a fill.
            for beat in 0..4 {
                drums.push((bar * 16 + beat * 4, 36, 100, 1));
            }
        }
    }
    // A fill in bar 7 ends the first section (its drums are the section's).
    for s in 0..16 {
        drums.push((7 * 16 + s, 38, 110, 1));
    }
    let nsf = nsf_with_tracks(
        16,
        vec![
            track(TrackType::Melody, false, &melody),
            track(TrackType::Drums, true, &drums),
        ],
        vec![],
    );
    let form = analyse_form(&nsf).expect("form");
    assert!(
        form.bars[2].energy < form.bars[10].energy,
        "{:?}",
        form.bars
    );
    assert!(!form.part_plays(2, FormPart::Drums));
    assert!(form.part_plays(10, FormPart::Drums));
    assert!(form.part_plays(2, FormPart::Melody));
    let fills: Vec<usize> = (0..16).filter(|b| form.bars[*b].fill).collect();
    assert_eq!(fills, vec![7], "{:?}", form.sections);
}

#[test]
fn an_old_nsf_without_form_still_loads() {
    let nsf = song(&[1, 2, 3, 4]);
    let mut value: serde_json::Value =
        serde_json::from_str(&nsf.to_json().expect("json")).expect("value");
    value.as_object_mut().expect("object").remove("form");
    let old = Nsf::from_json(&value.to_string()).expect("loads");
    assert!(old.form.is_none());
}
