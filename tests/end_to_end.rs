//! The whole system on a small generated corpus, stage by stage, the way the
//! seed's `test_multi_expert.py` does: MIDI → NSF → tokenizers (round trip)
//! → training → evaluation → ONNX export → the C ABI generating 16 bars →
//! a MIDI file that parses with notes on drums, chords and melody. Any
//! failing stage fails the test; none is skipped.

use std::ffi::CString;

use nomad_muse::ffi::*;
use nomad_muse::midi::read_midi;
use nomad_muse::nsf::Nsf;
use nomad_muse::tokenizers::{DrumsTokenizer, HarmonyTokenizer, MelodyTokenizer};
use training::config::Config;
use training::eval::EvalOptions;
use training::pipeline::{self, ExpertChoice};

fn stage(name: &str, ok: bool, detail: String, health: &mut Vec<String>) {
    health.push(format!(
        "{:<28} {}  {detail}",
        name,
        if ok { "OK  " } else { "FAIL" }
    ));
    assert!(ok, "stage {name} failed: {detail}");
}

#[test]
fn midi_to_generated_midi_through_every_stage() {
    let out = std::env::temp_dir().join(format!("nomad_e2e_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut health = Vec::new();

    // 1–2. Sample MIDI files (drums, harmony, melody) → NSF.
    let corpus = pipeline::prepare_default_or(&None, &out, 16, 99, true).expect("corpus + prepare");
    let m = &corpus.manifest;
    stage(
        "midi -> nsf",
        m.files.len() == 16 && m.skipped.is_empty(),
        format!("{} files", m.files.len()),
        &mut health,
    );

    // 3. Tokenizers round-trip every prepared song.
    let (drums, harmony, melody) = (
        DrumsTokenizer::new(),
        HarmonyTokenizer::new(),
        MelodyTokenizer::new(),
    );
    let mut checked = 0;
    for f in &m.files {
        let nsf = Nsf::from_json(
            &std::fs::read_to_string(out.join("prepared/nsf").join(format!("{}.json", f.path)))
                .unwrap(),
        )
        .unwrap();
        let d = drums
            .decode(&drums.encode(&nsf).tokens)
            .expect("drums decode");
        let h = harmony
            .decode(&harmony.encode(&nsf).tokens)
            .expect("harmony decode");
        let mel = melody
            .decode(&melody.encode(&nsf).tokens)
            .expect("melody decode");
        assert!(
            !d.is_empty() && !h.chords.is_empty() && !mel.is_empty(),
            "{}: a part decoded empty",
            f.path
        );
        checked += 1;
    }
    stage(
        "tokenizers round trip",
        checked == 16,
        format!("{checked} songs x 3 experts"),
        &mut health,
    );

    // 4. Train each expert briefly (small models keep CI fast).
    let mut cfg = Config::default();
    cfg.training.seq_len = 64;
    cfg.harmony_model.hidden_size = 48;
    cfg.melody_model.hidden_size = 64;
    let reports = pipeline::train(
        &corpus,
        &cfg,
        &ExpertChoice::parse("all").unwrap(),
        &out,
        Some(2),
        true,
    )
    .expect("train");
    let finite = reports.iter().all(|r| r.best_val_loss.is_finite());
    stage(
        "training (2 epochs)",
        reports.len() == 4 && finite,
        reports
            .iter()
            .map(|r| format!("{} ppl {:.2}", r.expert.name(), r.val_perplexity))
            .collect::<Vec<_>>()
            .join(", "),
        &mut health,
    );

    // 5. Report card.
    let opts = EvalOptions {
        samples: 2,
        bars: 4,
        seed: 7,
        quiet: true,
    };
    let card = pipeline::evaluate(
        &out,
        &corpus,
        &cfg,
        &ExpertChoice::parse("all").unwrap(),
        &opts,
    )
    .expect("eval");
    let written = [
        "report_card.json",
        "report_card.md",
        "samples/drums_00.mid",
        "samples/harmony_01.mid",
        "samples/melody_00.mid",
        "samples/conductor_00.json",
    ]
    .iter()
    .all(|f| out.join(f).exists());
    stage(
        "report card",
        written && card.experts.len() == 4,
        card.summary(),
        &mut health,
    );

    // 6. ONNX export with parity.
    let onnx = out.join("onnx");
    let exports = pipeline::export(
        None,
        Some(&onnx),
        &ExpertChoice::parse("all").unwrap(),
        &out,
    )
    .expect("export");
    let parity_ok = exports.iter().all(|e| e.parity.fp32_max_abs_diff <= 1e-4);
    stage(
        "onnx export + parity",
        exports.len() == 4 && parity_ok,
        format!(
            "max fp32 diff {:.1e}",
            exports
                .iter()
                .map(|e| e.parity.fp32_max_abs_diff)
                .fold(0f32, f32::max)
        ),
        &mut health,
    );

    // 7. Through the C ABI: 16 bars of the band, written as MIDI.
    let path = |e: &str| CString::new(onnx.join(format!("{e}.onnx")).to_str().unwrap()).unwrap();
    let (d, h, mel) = (path("drums"), path("harmony"), path("melody"));
    let conductor = path("conductor");
    let mut band: *mut MuseBand = std::ptr::null_mut();
    let opts = MuseSessionOptions {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        seed: 5,
    };
    // SAFETY: valid strings and pointers for the duration of the calls.
    unsafe {
        assert_eq!(
            muse_band_new(d.as_ptr(), h.as_ptr(), mel.as_ptr(), &opts, &mut band),
            MuseStatus::MuseOk
        );
        // The fourth expert plans the form: sections, energy, fills.
        assert_eq!(
            muse_band_set_conductor(band, conductor.as_ptr()),
            MuseStatus::MuseOk
        );
        let mut events = vec![MuseNoteEvent::default(); 1024];
        let mut count = 0usize;
        for _ in 0..16 {
            assert_eq!(
                muse_band_next_bar(band, events.as_mut_ptr(), events.len(), &mut count),
                MuseStatus::MuseOk
            );
        }
        let mid = CString::new(out.join("e2e.mid").to_str().unwrap()).unwrap();
        assert_eq!(
            muse_band_write_midi(band, mid.as_ptr(), 120.0),
            MuseStatus::MuseOk
        );
        assert_eq!(muse_band_free(band), MuseStatus::MuseOk);
    }
    let song =
        read_midi(&std::fs::read(out.join("e2e.mid")).unwrap()).expect("generated MIDI parses");
    let notes_on = |ch: u8| {
        song.tracks
            .iter()
            .filter(|t| t.channel == ch)
            .map(|t| t.notes.len())
            .sum::<usize>()
    };
    let (dn, cn, mn) = (notes_on(9), notes_on(1), notes_on(0));
    stage(
        "c abi: 16 bars -> midi",
        dn > 0 && cn > 0 && mn > 0,
        format!("drums {dn}, chords {cn}, melody {mn} notes"),
        &mut health,
    );

    println!("\nNomad Muse system health\n{}", health.join("\n"));
    std::fs::remove_dir_all(&out).ok();
}
