//! Song form (`nsf::form`) on real POP909 songs (`tests/fixtures/pop909`,
//! MIT licence): song 401 plays its verse and chorus twice note for note —
//! 357 of the 361 (track, 16th step, pitch) onsets of bars 13–28 recur in
//! bars 33–48 (counted apart from this code, with Python's mido) — and its
//! sections before them are distinct.

use std::path::PathBuf;

use nomad_muse::nsf::form::SongForm;
use nomad_muse::nsf::midi_to_nsf;

fn form_of(song: &str) -> SongForm {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/pop909")
        .join(song)
        .join(format!("{song}.mid"));
    let bytes = std::fs::read(&path).expect("fixture");
    midi_to_nsf(&bytes, song)
        .expect("converts")
        .form
        .expect("a form")
}

#[test]
fn a_literally_repeated_section_gets_its_label_again() {
    let form = form_of("401");
    println!("401: {}", form.label_string());
    let at = |bar: u32| {
        form.sections
            .iter()
            .find(|s| s.start_bar == bar)
            .unwrap_or_else(|| panic!("no section starts at bar {bar}: {:?}", form.sections))
    };
    // Verse and chorus, then both again after an interlude.
    let (verse, chorus) = (at(13), at(21));
    let (verse2, chorus2) = (at(33), at(41));
    assert_ne!(verse.label, chorus.label);
    assert_eq!(verse2.label, verse.label);
    assert_eq!(chorus2.label, chorus.label);
    assert!(!verse2.variant && !chorus2.variant);
    // Bar by bar, the second verse repeats the first.
    for k in 0..8 {
        assert_eq!(form.bars[(33 + k) as usize].repeat_of, Some(13 + k));
    }
}

#[test]
fn distinct_sections_get_distinct_labels() {
    let form = form_of("401");
    // Intro, verse, chorus and interlude: four labels, no repeats.
    let first: Vec<_> = form
        .sections
        .iter()
        .take_while(|s| s.start_bar < 29)
        .collect();
    let mut labels: Vec<u8> = first.iter().map(|s| s.label).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), first.len(), "{}", form.label_string());
    assert!(first.iter().all(|s| s.repeat_of.is_none()));
    // Every section of the song has a place, and every bar a section.
    let covered: u32 = form.sections.iter().map(|s| s.bars).sum();
    assert_eq!(covered as usize, form.bars.len());
}
