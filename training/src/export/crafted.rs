//! Hostile model files for the C ABI tests: a valid exported expert changed
//! the way a crafted download could be (absurd metadata, metadata that
//! disagrees with the graph, floods of nodes, constant subgraphs that would
//! fold into terabytes, initializers that lie about their size, foreign ops),
//! plus a truncated copy and random bytes. Every one must be refused with
//! MUSE_ERR_MODEL, quickly, without output.

use std::path::{Path, PathBuf};

use anyhow::Context;
use prost::Message;
use tract_onnx::pb::{tensor_proto::DataType, ModelProto, NodeProto, TensorProto};

/// Sets metadata `key` to `value` (replacing every entry of that key).
fn set_meta(m: &mut ModelProto, key: &str, value: &str) {
    m.metadata_props.retain(|p| p.key != key);
    m.metadata_props
        .push(tract_onnx::pb::StringStringEntryProto {
            key: key.into(),
            value: value.into(),
        });
}

fn meta(m: &ModelProto, key: &str) -> anyhow::Result<usize> {
    m.metadata_props
        .iter()
        .find(|p| p.key == key)
        .with_context(|| format!("no {key}"))?
        .value
        .parse()
        .with_context(|| format!("{key} is not a number"))
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn f32_initializer(name: &str, dims: &[i64], raw_len: usize) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: vec![0; raw_len],
        ..Default::default()
    }
}

/// Dangling `Identity(token)` nodes: work for a parser, nothing for the model.
fn add_extra_nodes(m: &mut ModelProto, n: usize) {
    if let Some(g) = m.graph.as_mut() {
        g.node
            .extend((0..n).map(|i| node("Identity", &["token"], &format!("x{i}"))));
    }
}

/// A model whose constants broadcast to 10^12 elements when folded.
fn add_constant_fold_bomb(m: &mut ModelProto) {
    let n = 10_000i64;
    if let Some(g) = m.graph.as_mut() {
        for (name, dims) in [
            ("bomb_a", [n, 1, 1]),
            ("bomb_b", [1, n, 1]),
            ("bomb_c", [1, 1, n]),
        ] {
            g.initializer
                .push(f32_initializer(name, &dims, 4 * n as usize));
        }
        g.node.push(node("Add", &["bomb_a", "bomb_b"], "bomb_ab"));
        g.node.push(node("Add", &["bomb_ab", "bomb_c"], "bomb_abc"));
    }
}

/// The crafted files, by name, from the valid expert `valid`.
pub fn crafted_models(valid: &[u8]) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let base = ModelProto::decode(valid).context("the valid model does not decode")?;
    let hidden = meta(&base, "nomad.hidden_size")?;
    let variant = |change: &dyn Fn(&mut ModelProto)| {
        let mut m = base.clone();
        change(&mut m);
        m.encode_to_vec()
    };
    let mut random = Vec::with_capacity(4096);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push(x as u8);
    }
    Ok(vec![
        (
            "huge_dims",
            variant(&|m| {
                set_meta(m, "nomad.num_layers", "100000");
                set_meta(m, "nomad.hidden_size", "1000000");
            }),
        ),
        (
            "big_dims",
            variant(&|m| {
                set_meta(m, "nomad.num_layers", "1000");
                set_meta(m, "nomad.hidden_size", "1000000");
            }),
        ),
        (
            "dims_disagree_with_graph",
            variant(&|m| set_meta(m, "nomad.hidden_size", &(hidden + 1).to_string())),
        ),
        (
            "dims_not_numbers",
            variant(&|m| set_meta(m, "nomad.num_layers", "-3")),
        ),
        ("extra_nodes_1e5", variant(&|m| add_extra_nodes(m, 100_000))),
        (
            "extra_nodes_1e6",
            variant(&|m| add_extra_nodes(m, 1_000_000)),
        ),
        ("constant_fold_bomb", variant(&add_constant_fold_bomb)),
        (
            "initializer_lies_about_size",
            variant(&|m| {
                if let Some(g) = m.graph.as_mut() {
                    g.initializer
                        .push(f32_initializer("liar", &[1 << 20, 1 << 20], 16));
                }
            }),
        ),
        (
            "foreign_op",
            variant(&|m| {
                if let Some(g) = m.graph.as_mut() {
                    g.node.push(node("RandomNormalLike", &["hidden"], "noise"));
                }
            }),
        ),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("random_bytes", random),
    ])
}

/// Writes every crafted model as `<out_dir>/<name>.onnx`; returns the paths.
pub fn write_crafted_models(valid: &Path, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let bytes = std::fs::read(valid).with_context(|| format!("reading {}", valid.display()))?;
    std::fs::create_dir_all(out_dir)?;
    let mut paths = Vec::new();
    for (name, data) in crafted_models(&bytes)? {
        let path = out_dir.join(format!("{name}.onnx"));
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{ExpertModel, ExpertModelConfig};
    use nomad_muse::runtime::{ExpertSession, MuseError};
    use nomad_muse::tokenizers::ExpertKind;

    /// The library refuses every crafted file as a model error, while the
    /// file they were made from (fp32 and int8) loads.
    #[test]
    fn every_crafted_model_is_refused_and_the_originals_load() {
        let dir = std::env::temp_dir().join(format!("nomad_crafted_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = Config::default();
        let model =
            ExpertModel::new(ExpertModelConfig::from_config(ExpertKind::Drums, &cfg), 5).unwrap();
        let weights = model.weights_f32().unwrap();
        for quantized in [false, true] {
            let bytes = super::super::build_onnx(&weights, &model.config, "t", quantized).unwrap();
            let path = dir.join(format!("valid_{quantized}.onnx"));
            std::fs::write(&path, &bytes).unwrap();
            ExpertSession::load(&path).unwrap();
        }
        let paths = write_crafted_models(&dir.join("valid_false.onnx"), &dir).unwrap();
        assert_eq!(paths.len(), 11);
        for path in paths {
            match ExpertSession::load(&path) {
                Err(MuseError::Model(why)) => println!("{}: {why}", path.display()),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
