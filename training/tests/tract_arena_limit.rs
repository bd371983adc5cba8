//! Sessions served by tract's graph each take a real-time arena; past the
//! last one a load is refused with `Limit` (before: silently served from the
//! system heap, allocating on every token), and freeing a session frees its
//! arena. Its own test binary: no other test holds arenas meanwhile.

use nomad_muse::runtime::realtime_alloc::MAX_ARENAS;
use nomad_muse::runtime::{EngineChoice, ExpertSession, MuseError};
use nomad_muse::tokenizers::ExpertKind;
use training::config::Config;
use training::export::build_onnx;
use training::model::{ExpertModel, ExpertModelConfig};

#[test]
fn a_tract_session_past_the_last_arena_is_refused_and_freeing_one_makes_room() {
    let cfg = ExpertModelConfig::from_config(ExpertKind::Drums, &Config::default());
    let model = ExpertModel::new(cfg.clone(), 3).expect("model");
    let bytes =
        build_onnx(&model.weights_f32().expect("weights"), &cfg, "test", false).expect("onnx");
    let dir = std::env::temp_dir().join(format!("nomad_arena_limit_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("drums.onnx");
    std::fs::write(&path, bytes).expect("write");
    let load = || ExpertSession::load_with_engine(&path, EngineChoice::Tract);
    let mut live = Vec::new();
    let refusal = loop {
        match load() {
            Ok(s) => live.push(s),
            Err(e) => break e,
        }
        assert!(live.len() <= MAX_ARENAS, "more tract sessions than arenas");
    };
    assert_eq!(live.len(), MAX_ARENAS, "{refusal}");
    assert!(matches!(refusal, MuseError::Limit(_)), "{refusal}");
    // A fused session takes no arena: still loads.
    assert!(ExpertSession::load(&path).is_ok());
    live.pop();
    assert!(load().is_ok(), "a freed arena is reused");
    std::fs::remove_dir_all(&dir).ok();
}
