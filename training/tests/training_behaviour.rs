//! Training behaviour on tiny models: memorisation, bit-for-bit
//! determinism, and clear errors on bad input.

use nomad_muse::tokenizers::{EncodedSequence, ExpertKind, Token, Vocabulary};
use training::config::Config;
use training::train::{train_expert, TrainOptions};

fn tiny_config(seed: u64) -> Config {
    let mut c = Config::default();
    c.drums_model.hidden_size = 32;
    c.drums_model.num_layers = 1;
    c.drums_model.embed_dim = 16;
    c.drums_model.dropout = 0.0;
    c.training.seq_len = 32;
    c.training.batch_size = 8;
    c.training.learning_rate = 0.01;
    c.training.warmup_steps = 5;
    c.training.patience = 100;
    c.training.val_fraction = 0.25;
    c.training.seed = seed;
    c
}

/// Songs of one 2-bar drum pattern.
fn two_bar_songs(n: usize) -> Vec<(String, EncodedSequence)> {
    let v = Vocabulary::for_expert(ExpertKind::Drums);
    let bar_a = [
        Token::Beat(0),
        Token::Substep(0),
        Token::DrumHit(36),
        Token::VelBin(6),
        Token::Beat(1),
        Token::Substep(0),
        Token::DrumHit(38),
        Token::VelBin(7),
    ];
    let bar_b = [
        Token::Beat(0),
        Token::Substep(2),
        Token::DrumHit(42),
        Token::VelBin(4),
        Token::Beat(2),
        Token::Substep(0),
        Token::DrumHit(36),
        Token::VelBin(6),
    ];
    (0..n)
        .map(|i| {
            let mut t = vec![Token::Bos];
            for bar in 0..2u32 {
                t.push(Token::Bar(bar));
                t.extend(if bar % 2 == 0 { bar_a } else { bar_b });
            }
            t.push(Token::Eos);
            (
                format!("song{i}"),
                EncodedSequence {
                    tokens: t.iter().map(|x| v.id(*x).unwrap()).collect(),
                    ..Default::default()
                },
            )
        })
        .collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nomad_train_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_tiny_model_memorises_a_two_bar_pattern() {
    let dir = temp_dir("overfit");
    // Each two-bar song in one window, so every prediction has its full context.
    let mut cfg = tiny_config(1);
    cfg.training.seq_len = 24;
    cfg.training.batch_size = 2;
    let quiet = TrainOptions {
        epochs: Some(150),
        quiet: true,
    };
    let report = train_expert(ExpertKind::Drums, &two_bar_songs(8), &cfg, &dir, &quiet).unwrap();
    println!(
        "memorisation: best val loss {:.4} (ppl {:.3}) after {} epochs",
        report.best_val_loss, report.val_perplexity, report.epochs_run
    );
    assert!(
        report.best_val_loss < 0.1,
        "val loss {}",
        report.best_val_loss
    );
    assert!(report.val_perplexity < report.unigram_val_perplexity);
    assert!(dir.join("checkpoints/drums_best.safetensors").exists());
    assert!(dir.join("checkpoints/drums_fingerprint.json").exists());
    // One fingerprint per expert: no shared file another expert overwrites.
    assert!(!dir.join("checkpoints/fingerprint.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn same_seed_same_loss_bit_for_bit() {
    let songs = two_bar_songs(6);
    let run = |seed: u64, name: &str| {
        let dir = temp_dir(name);
        let r = train_expert(
            ExpertKind::Drums,
            &songs,
            &tiny_config(seed),
            &dir,
            &TrainOptions {
                epochs: Some(3),
                quiet: true,
            },
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        r
    };
    let (a, b, c) = (run(7, "a"), run(7, "b"), run(8, "c"));
    assert_eq!(a.best_val_loss.to_bits(), b.best_val_loss.to_bits());
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.best_val_loss.to_bits(), c.best_val_loss.to_bits());
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn too_little_data_is_one_clear_error() {
    let dir = temp_dir("empty");
    let e = train_expert(
        ExpertKind::Drums,
        &[],
        &tiny_config(1),
        &dir,
        &TrainOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("need at least 2 songs"), "{e}");
    let e = train_expert(
        ExpertKind::Drums,
        &two_bar_songs(1),
        &tiny_config(1),
        &dir,
        &TrainOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("got 1"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
