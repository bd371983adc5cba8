//! The library's fused GRU step against tract's graph (the reference) on
//! exported experts: they agree along a generation stream, fp32 and int8;
//! a graph that names its weights like ours but wires them differently is
//! refused at load; a graph the fused path does not recognise runs on tract.

use std::path::{Path, PathBuf};

use nomad_muse::runtime::{EngineChoice, ExpertSession, StepModel};
use nomad_muse::theory::{ChordLabel, Key};
use nomad_muse::tokenizers::{ExpertKind, BOS_ID, EOS_ID};
use prost::Message;
use tract_onnx::pb::ModelProto;
use training::config::Config;
use training::export::build_onnx;
use training::model::{ExpertModel, ExpertModelConfig};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nomad_fused_{tag}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An untrained expert's ONNX bytes (fp32 or int8 GRU matrices).
fn expert_bytes(expert: ExpertKind, quantized: bool) -> Vec<u8> {
    let cfg = ExpertModelConfig::from_config(expert, &Config::default());
    let model = ExpertModel::new(cfg.clone(), 11).unwrap();
    build_onnx(&model.weights_f32().unwrap(), &cfg, "test", quantized).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Largest logit difference (relative to max(1, |tract|)) along a
/// 300-step stream sampled from tract, both fed the same tokens and ids.
fn stream_difference(fused: &mut ExpertSession, tract: &mut ExpertSession) -> f32 {
    let (mut rng, mut worst) = (5u64, 0f32);
    let mut token = BOS_ID;
    for step in 0..300u32 {
        let (chord, key) = (step % ChordLabel::DENSE_COUNT, step % Key::DENSE_COUNT);
        fused.feed(token, chord, key).unwrap();
        tract.feed(token, chord, key).unwrap();
        for (a, b) in fused.logits().iter().zip(tract.logits()) {
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
        token = tract.sample(&mut rng).unwrap_or(EOS_ID);
        if token == EOS_ID {
            fused.reset();
            tract.reset();
            token = BOS_ID;
        }
    }
    worst
}

#[test]
fn fused_step_follows_tract_along_a_stream_fp32_and_int8() {
    let dir = temp_dir("parity");
    for expert in ExpertKind::ALL {
        for quantized in [false, true] {
            let path = write(
                &dir,
                &format!("{}_{quantized}.onnx", expert.name()),
                &expert_bytes(expert, quantized),
            );
            let mut fused = ExpertSession::load(&path).unwrap();
            let mut tract = ExpertSession::load_with_engine(&path, EngineChoice::Tract).unwrap();
            assert!(
                fused.engine_name().starts_with("fused"),
                "{}",
                fused.engine_name()
            );
            assert_eq!(fused.engine_name().contains("int8"), quantized);
            assert_eq!(tract.engine_name(), "tract");
            let worst = stream_difference(&mut fused, &mut tract);
            println!("{expert:?} quantized={quantized}: max difference {worst:e}");
            assert!(worst <= 1e-4, "{expert:?} quantized={quantized}: {worst}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A band's step asks only for the logits its grammar allows next: those
/// must be exactly the full step's, whatever panels the mask spans.
#[test]
fn a_step_for_some_logits_gives_exactly_those_of_the_full_step() {
    let dir = temp_dir("wanted");
    for quantized in [false, true] {
        let path = write(
            &dir,
            "melody.onnx",
            &expert_bytes(ExpertKind::Melody, quantized),
        );
        let mut full = ExpertSession::load(&path).unwrap();
        let mut some = ExpertSession::load(&path).unwrap();
        let vocab = full.vocabulary().len();
        let mut rng = 3u64;
        for step in 0..200u32 {
            // Masks from one token to every third, at shifting offsets.
            let stride = 1 + (step as usize * 7) % 97;
            let wanted: Vec<bool> = (0..vocab)
                .map(|i| (i + step as usize).is_multiple_of(stride))
                .collect();
            let token = (rng % vocab as u64) as u32;
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let (chord, key) = (step % ChordLabel::DENSE_COUNT, step % Key::DENSE_COUNT);
            StepModel::step(&mut full, token, chord, key).unwrap();
            some.step_for(token, chord, key, &wanted).unwrap();
            for (i, _) in wanted.iter().enumerate().filter(|(_, w)| **w) {
                assert_eq!(
                    full.logits()[i].to_bits(),
                    some.logits()[i].to_bits(),
                    "quantized={quantized} step {step} token {i}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `generate_next` skips the head for context tokens and computes only the
/// allowed panels for the last: the tokens it samples must be those of a
/// full step and a sample, seed for seed.
#[test]
fn generate_next_samples_what_full_logits_sample() {
    let dir = temp_dir("generate");
    for expert in [ExpertKind::Drums, ExpertKind::Melody] {
        let path = write(&dir, "expert.onnx", &expert_bytes(expert, true));
        let mut fast = ExpertSession::load(&path).unwrap();
        let mut full = ExpertSession::load(&path).unwrap();
        let temperature = full.options.temperature;
        let (mut rng_aux, mut rng) = (5u64, 9u64);
        let none = ChordLabel::NONE.dense_index();
        // `prev` is fed to neither session yet.
        let mut prev = BOS_ID;
        for step in 0..200 {
            full.feed(prev, none, 0).unwrap();
            let next = full.sample(&mut rng_aux).unwrap();
            if next == EOS_ID {
                fast.reset();
                full.reset();
                prev = BOS_ID;
                continue;
            }
            full.feed(next, none, 0).unwrap();
            let mut rng_fast = rng;
            let expect = full.sample(&mut rng).unwrap();
            let got = fast
                .generate_next(&[prev, next], None, temperature, &mut rng_fast)
                .unwrap();
            assert_eq!(got, expect, "{expert:?} step {step}");
            assert_eq!(rng_fast, rng);
            prev = expect;
            if prev == EOS_ID {
                fast.reset();
                full.reset();
                prev = BOS_ID;
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn edit(bytes: &[u8], change: impl FnOnce(&mut ModelProto)) -> Vec<u8> {
    let mut proto = ModelProto::decode(bytes).unwrap();
    change(&mut proto);
    proto.encode_to_vec()
}

/// Renames every use of tensor `from` to `to` in the graph's node inputs.
fn rewire(proto: &mut ModelProto, from: &str, to: &str) {
    for node in &mut proto.graph.as_mut().unwrap().node {
        for input in &mut node.input {
            if input == from {
                *input = to.to_string();
            }
        }
    }
}

#[test]
fn a_graph_wired_unlike_its_weight_names_is_refused_at_load() {
    let dir = temp_dir("refuse");
    for quantized in [false, true] {
        let bytes = expert_bytes(ExpertKind::Melody, quantized);
        // Layer 1's update gate reads the reset gate's recurrent matrix:
        // same names, same shapes, a different network.
        let crossed = edit(&bytes, |p| rewire(p, "gru.1.Rz", "gru.1.Rr"));
        let path = write(&dir, &format!("crossed_{quantized}.onnx"), &crossed);
        match ExpertSession::load(&path) {
            Err(e) => assert!(e.to_string().contains("disagrees"), "{e}"),
            Ok(s) => panic!("loaded a miswired graph with {}", s.engine_name()),
        }
        // tract alone still runs it: the refusal is the parity check's.
        assert!(ExpertSession::load_with_engine(&path, EngineChoice::Tract).is_ok());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_graph_the_fused_path_does_not_recognise_runs_on_tract() {
    let dir = temp_dir("fallback");
    let bytes = expert_bytes(ExpertKind::Drums, false);
    let renamed = edit(&bytes, |p| {
        let graph = p.graph.as_mut().unwrap();
        for t in &mut graph.initializer {
            if t.name == "head.bias" {
                t.name = "output_bias".into();
            }
        }
        rewire(p, "head.bias", "output_bias");
    });
    let path = write(&dir, "renamed.onnx", &renamed);
    let mut session = ExpertSession::load(&path).unwrap();
    assert_eq!(session.engine_name(), "tract");
    let mut reference = ExpertSession::load(&write(&dir, "drums.onnx", &bytes)).unwrap();
    assert!(reference.engine_name().starts_with("fused"));
    // Same network either way.
    assert!(stream_difference(&mut reference, &mut session) <= 1e-4);
    std::fs::remove_dir_all(&dir).ok();
}

/// After the first bar, a bar of all three experts on the fused step takes
/// nothing from the system heap (and the counter does see an allocation).
#[test]
fn bars_after_the_first_make_no_system_allocation() {
    use nomad_muse::runtime::realtime_alloc::thread_counters;
    use nomad_muse::runtime::Band;
    let dir = temp_dir("band_alloc");
    let path = |e: ExpertKind| write(&dir, &format!("{}.onnx", e.name()), &expert_bytes(e, false));
    let (drums, harmony, melody) = (
        path(ExpertKind::Drums),
        path(ExpertKind::Harmony),
        path(ExpertKind::Melody),
    );
    let mut band = Band::load(&drums, &harmony, &melody, 3).unwrap();
    band.next_bar().unwrap();
    let before = thread_counters().0;
    let mut notes = 0;
    for _ in 0..12 {
        band.next_bar().unwrap();
        notes += band
            .bar_notes(band.bars_generated() - 1)
            .map_or(0, |n| n.len());
    }
    assert_eq!(
        thread_counters().0 - before,
        0,
        "system allocations in 12 bars"
    );
    assert!(notes > 0, "the bars play notes");
    let probe = thread_counters().0;
    let allocated = std::hint::black_box(Vec::<u64>::with_capacity(8));
    assert_eq!(thread_counters().0 - probe, 1, "the counter counts");
    drop(allocated);
    std::fs::remove_dir_all(&dir).ok();
}

/// One expert's graph, parsed by `parser`, run for 40 steps of a fixed
/// token stream: every step's logits, end to end.
fn tract_logits(path: &Path, parser: tract_onnx::Onnx, expert: ExpertKind) -> Vec<f32> {
    use tract_onnx::prelude::*;
    let plan = parser
        .model_for_path(path)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .unwrap();
    let hidden_shape: Vec<usize> = plan
        .model()
        .input_fact(1)
        .unwrap()
        .shape
        .as_concrete()
        .unwrap()
        .to_vec();
    let mut hidden = Tensor::zero::<f32>(&hidden_shape).unwrap();
    let mut all = Vec::new();
    for step in 0..40i64 {
        let mut inputs: TVec<TValue> = tvec!(tensor1(&[(step * 7) % 50 + 3]).into(), hidden.into());
        if expert.is_conditioned() {
            inputs.push(tensor1(&[step % ChordLabel::DENSE_COUNT as i64]).into());
            inputs.push(tensor1(&[step % Key::DENSE_COUNT as i64]).into());
        }
        let out = plan.run(inputs).unwrap();
        all.extend(out[0].to_plain_array_view::<f32>().unwrap().iter().copied());
        hidden = out[1].clone().into_tensor();
    }
    all
}

/// The library registers only the exporter's ops with tract (a smaller
/// library); its graphs must compute what tract's full ONNX parser computes.
#[test]
fn the_library_parser_computes_what_tracts_full_onnx_parser_does() {
    let dir = temp_dir("parser");
    for expert in ExpertKind::ALL {
        for quantized in [false, true] {
            let name = format!("{}_{quantized}.onnx", expert.name());
            let path = write(&dir, &name, &expert_bytes(expert, quantized));
            let ours = tract_logits(&path, nomad_muse::runtime::onnx_parser::parser(), expert);
            let full = tract_logits(&path, tract_onnx::onnx(), expert);
            assert_eq!(ours.len(), full.len());
            let worst = ours
                .iter()
                .zip(&full)
                .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
                .fold(0f32, f32::max);
            assert!(worst <= 1e-6, "{name}: {worst}");
        }
    }
    std::fs::remove_dir_all(dir).ok();
}
