//! A real folder without drums (the POP909 fixture: MELODY, BRIDGE and
//! PIANO tracks): prepare, then `--expert all` trains, scores and exports
//! what the folder has data for and skips drums with its reason. Tiny
//! models and one epoch keep it to seconds.

use std::path::{Path, PathBuf};

use nomad_muse::tokenizers::ExpertKind;
use training::config::{Config, ModelConfig};
use training::eval::EvalOptions;
use training::pipeline::{self, ExpertChoice};
use training::prepare::{load_prepared, prepare, Manifest, PrepareOptions, PreparedCorpus};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pop909")
}

fn tiny_model() -> ModelConfig {
    ModelConfig {
        embed_dim: 8,
        hidden_size: 16,
        num_layers: 1,
        dropout: 0.0,
        batch_size: Some(8),
        epochs: Some(1),
        patience: None,
        transpose_augment: false,
        seq_len: Some(64),
    }
}

fn tiny_config() -> Config {
    let mut c = Config {
        drums_model: tiny_model(),
        harmony_model: tiny_model(),
        melody_model: tiny_model(),
        ..Default::default()
    };
    c.training.seq_len = 64;
    c.training.val_fraction = 0.2;
    c
}

/// Prepares `midi_dir` quietly into `<out>/prepared` and loads it back.
fn prepare_quietly(midi_dir: &Path, out: &Path) -> (Manifest, PreparedCorpus) {
    let prepared = out.join("prepared");
    let quiet = PrepareOptions {
        quiet: true,
        ..Default::default()
    };
    let manifest = prepare(midi_dir, &prepared, &quiet).unwrap();
    (manifest, load_prepared(&prepared).unwrap())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nomad_real_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn all_experts_on_a_folder_without_drums_skip_drums_and_run_the_rest() {
    let out = temp_dir("all");
    let (manifest, corpus) = prepare_quietly(&fixture(), &out);
    let prepared = out.join("prepared");
    assert_eq!(manifest.files.len(), 5, "{:?}", manifest.skipped);
    // The manifest says where the bar lines come from the music: no 1/4
    // (every beat a "bar") survives.
    assert!(manifest.metre_inferred_files >= 2, "{manifest:?}");
    for f in &manifest.files {
        let (n, d) = f.metre.used;
        assert!(2 * n >= d, "{}: {:?}", f.path, f.metre);
        assert_eq!(
            f.metre.inferred,
            f.metre.declared.contains(&(1, 4)),
            "{}",
            f.path
        );
        assert!(f.metre.evidence.is_some(), "{}", f.path);
    }
    assert!(corpus.sequences(ExpertKind::Drums).is_empty());
    let gap = pipeline::data_gap(&corpus, ExpertKind::Drums).unwrap();
    assert!(gap.contains("no file has a drums part"), "{gap}");
    assert_eq!(pipeline::data_gap(&corpus, ExpertKind::Melody), None);

    let cfg = tiny_config();
    let all = ExpertChoice::parse("all").unwrap();
    let reports = pipeline::train(&corpus, &cfg, &all, &out, Some(1), true).unwrap();
    let trained: Vec<ExpertKind> = reports.iter().map(|r| r.expert).collect();
    assert_eq!(
        trained,
        [
            ExpertKind::Harmony,
            ExpertKind::Melody,
            ExpertKind::Conductor
        ]
    );
    assert!(reports.iter().all(|r| r.checkpoint.exists()));

    let opts = EvalOptions {
        samples: 2,
        bars: 2,
        seed: 3,
        quiet: true,
    };
    let card = pipeline::evaluate(&out, &corpus, &cfg, &all, &opts).unwrap();
    let scored: Vec<&str> = card.experts.iter().map(|c| c.expert.as_str()).collect();
    assert_eq!(scored, ["harmony", "melody", "conductor"]);

    let exports = pipeline::export(None, None, &all, &out).unwrap();
    let exported: Vec<ExpertKind> = exports.iter().map(|r| r.expert).collect();
    assert_eq!(
        exported,
        [
            ExpertKind::Harmony,
            ExpertKind::Melody,
            ExpertKind::Conductor
        ]
    );
    assert!(!out.join("onnx/drums.onnx").exists());
    // The sketch plays the experts there are.
    let notes = pipeline::sketch(&out.join("onnx"), &out.join("sketch.mid"), 4, 1, 0.9).unwrap();
    assert!(notes > 0);
    assert!(out.join("sketch.mid").exists());
    assert!(out.join("onnx/conductor.onnx").exists());

    // A folder prepared before the form analysis has no conductor tokens:
    // `all` skips the Conductor and says why.
    std::fs::remove_file(prepared.join("tokens/conductor.jsonl")).unwrap();
    let old = load_prepared(&prepared).unwrap();
    let gap = pipeline::data_gap(&old, ExpertKind::Conductor).unwrap();
    assert!(gap.contains("form data"), "{gap}");
    assert_eq!(pipeline::data_gap(&old, ExpertKind::Melody), None);

    // Naming the expert the folder lacks is an error that says why.
    let drums = ExpertChoice::parse("drums").unwrap();
    let err = pipeline::train(&corpus, &cfg, &drums, &out, Some(1), true).unwrap_err();
    assert!(
        err.to_string().contains("no file has a drums part"),
        "{err}"
    );
    let err = pipeline::export(None, None, &drums, &out).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");

    // Each expert has its own fingerprint; the card refuses a checkpoint
    // whose fingerprint is another run's, or missing, instead of scoring it.
    let harmony = ExpertChoice::parse("harmony").unwrap();
    let checkpoints = out.join("checkpoints");
    let harmony_fp = checkpoints.join("harmony_fingerprint.json");
    let original = std::fs::read(&harmony_fp).unwrap();
    std::fs::copy(checkpoints.join("melody_fingerprint.json"), &harmony_fp).unwrap();
    let err = pipeline::evaluate(&out, &corpus, &cfg, &harmony, &opts).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err:#}");
    std::fs::remove_file(&harmony_fp).unwrap();
    let err = pipeline::evaluate(&out, &corpus, &cfg, &harmony, &opts).unwrap_err();
    assert!(format!("{err:#}").contains("fingerprint"), "{err:#}");
    std::fs::write(&harmony_fp, original).unwrap();
    pipeline::evaluate(&out, &corpus, &cfg, &harmony, &opts).unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn all_fails_only_when_no_expert_can_train() {
    let out = temp_dir("none");
    let one_song = out.join("one");
    std::fs::create_dir_all(&one_song).unwrap();
    std::fs::copy(fixture().join("001/001.mid"), one_song.join("001.mid")).unwrap();
    let (_, corpus) = prepare_quietly(&one_song, &out);
    let all = ExpertChoice::parse("all").unwrap();
    let err = pipeline::train(&corpus, &tiny_config(), &all, &out, Some(1), true).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("no expert to train"), "{msg}");
    assert!(msg.contains("drums: no file has a drums part"), "{msg}");
    assert!(
        msg.contains("melody: only 1 song has a melody part"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// The report card's sanity check on real pop: the validation songs of 25
/// POP909 songs split in two halves, one scored as if generated against
/// the other, pass every check (a check that fails real music is broken).
#[test]
fn the_card_passes_real_pop_against_real_pop() {
    let out = temp_dir("calibration");
    let (_, corpus) = prepare_quietly(&fixture().with_file_name("pop909_card"), &out);
    let mut cfg = Config::default();
    cfg.training.val_fraction = 0.5;
    let opts = EvalOptions {
        samples: 16,
        bars: 16,
        seed: 5,
        quiet: true,
    };
    for expert in [ExpertKind::Harmony, ExpertKind::Melody] {
        let mut side = training::eval::RealSide::build(&corpus, &cfg, expert, &opts).unwrap();
        // Windows come from across the songs, not only their openings.
        let songs = side.windows.iter().map(|w| w.song).max().unwrap() + 1;
        assert!(
            side.windows.len() > 2 * songs,
            "{} windows",
            side.windows.len()
        );
        let split = side.calibrate(expert, &cfg, 9).expect("two halves");
        assert_eq!(
            split.verdict,
            training::eval::Verdict::Pass,
            "{}: {split:#?}",
            expert.name()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
