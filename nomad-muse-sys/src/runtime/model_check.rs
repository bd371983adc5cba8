//! What a model file must satisfy before it is given memory or time. A host
//! loads whatever .onnx a user drops on it, so everything here is checked
//! from the bytes up, cheapest first: a regular file read with a size limit,
//! a count of the graph's nodes straight from the protobuf wire format, then
//! the decoded graph (allowed ops, declared shapes against the metadata,
//! initializer sizes, no constant subgraph tract would fold), then tract's
//! typed model (every tensor's shape concrete and bounded, bounded work per
//! step). Only then does the session allocate anything sized by the file.

use std::io::Read;
use std::path::Path;

use tract_onnx::pb::{tensor_proto::DataType, type_proto, ModelProto, ValueInfoProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::Cost;

use super::MuseError;
use crate::tokenizers::ExpertKind;

/// Largest model file accepted (the int8 melody expert is about 0.6 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Largest graph accepted, in nodes and in initializers (the fp32 melody
/// expert has about 110 nodes; tract's analysis grows faster than linearly).
pub const MAX_NODES: usize = 2048;
pub const MAX_LAYERS: usize = 16;
pub const MAX_HIDDEN_SIZE: usize = 4096;
pub const MAX_VOCAB_SIZE: usize = 65536;
/// Largest tensor (elements) anywhere in the graph: 64 MB of f32.
pub const MAX_TENSOR_ELEMENTS: usize = 16 << 20;
/// Most multiply-adds one step may take (the melody expert takes ~0.3 M).
pub const MAX_STEP_FMAS: usize = 64 << 20;

/// The ops the exporter writes; anything else is not a Nomad Muse expert.
const ALLOWED_OPS: &[&str] = &[
    "Add",
    "Concat",
    "DequantizeLinear",
    "Gather",
    "Identity",
    "MatMul",
    "Mul",
    "Reshape",
    "Sigmoid",
    "Sub",
    "Tanh",
];

fn refuse(path: &Path, why: impl std::fmt::Display) -> MuseError {
    MuseError::Model(format!("{}: {why}", path.display()))
}

/// The file's bytes: a regular file only (a FIFO or device would block or
/// never end), opened without blocking, at most `MAX_FILE_BYTES`.
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, MuseError> {
    let io = |e: std::io::Error| MuseError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    // stat first: opening a FIFO for reading blocks until a writer comes.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(refuse(path, "not a regular file"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // In case the path was swapped for a FIFO since the stat.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(refuse(path, "not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(refuse(
            path,
            format_args!(
                "{} bytes, more than the {MAX_FILE_BYTES} allowed",
                meta.len()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(refuse(path, "the file grew past the size limit while read"));
    }
    Ok(bytes)
}

/// The decoded model in `path`, once the file and its node count pass.
pub fn read_model_proto(path: &Path) -> Result<ModelProto, MuseError> {
    let bytes = read_model_file(path)?;
    match count_graph_nodes(&bytes) {
        Some(n) if n <= MAX_NODES => {}
        Some(n) => {
            return Err(refuse(
                path,
                format_args!("{n} graph nodes, more than the {MAX_NODES} allowed"),
            ))
        }
        None => return Err(refuse(path, "not an ONNX model (malformed protobuf)")),
    }
    super::onnx_parser::parser()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| refuse(path, format_args!("not an ONNX model: {e}")))
}

/// tract's runnable state for a graph `check_graph` accepted, once its
/// typed form passes `check_typed`. `optimise`: tract's optimised graph
/// (for serving steps); else the typed graph as it is (a reference for a
/// few steps, without the memory the optimiser takes).
pub fn runnable_state(
    proto: &ModelProto,
    path: &Path,
    optimise: bool,
) -> Result<TypedSimpleState, MuseError> {
    let onnx = super::onnx_parser::parser();
    let typed = onnx
        .model_for_proto_model(proto)
        .and_then(|m| m.into_typed())
        .map_err(|e| refuse(path, e))?;
    check_typed(&typed, path)?;
    let typed = if optimise {
        typed.into_optimized().map_err(|e| refuse(path, e))?
    } else {
        typed
    };
    typed
        .into_runnable()
        .and_then(|plan| plan.spawn())
        .map_err(|e| refuse(path, e))
}

/// Reads a protobuf varint at `*at`.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Calls `each(field, payload)` for every length-delimited field of the
/// message in `bytes` (other wire types are skipped). `None` if malformed.
fn for_each_message_field(bytes: &[u8], mut each: impl FnMut(u64, &[u8])) -> Option<()> {
    let mut at = 0;
    while at < bytes.len() {
        let key = varint(bytes, &mut at)?;
        match key & 7 {
            0 => drop(varint(bytes, &mut at)?),
            1 => at = at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|e| *e <= bytes.len())?;
                each(key >> 3, &bytes[at..end]);
                at = end;
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    (at == bytes.len()).then_some(())
}

/// Nodes of the model's graph, counted on the wire before anything is
/// decoded (a file of a million tiny nodes is refused in microseconds).
pub fn count_graph_nodes(bytes: &[u8]) -> Option<usize> {
    const MODEL_GRAPH: u64 = 7;
    const GRAPH_NODE: u64 = 1;
    let mut nodes = 0usize;
    let mut graphs_ok = true;
    for_each_message_field(bytes, |field, graph| {
        if field == MODEL_GRAPH {
            graphs_ok &= for_each_message_field(graph, |f, _| {
                nodes += usize::from(f == GRAPH_NODE);
            })
            .is_some();
        }
    })?;
    graphs_ok.then_some(nodes)
}

/// The dimensions a model's metadata declares, once they are within the
/// library's limits and agree with the graph's declared inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    pub layers: usize,
    pub hidden_size: usize,
}

fn declared_shape(v: &ValueInfoProto) -> Option<Vec<i64>> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value;
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    t.shape
        .as_ref()?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Value::DimValue(n)) => Some(n),
            _ => None,
        })
        .collect()
}

/// `nomad.<key>` parsed as a count in `1..=max`.
fn dim_meta(proto: &ModelProto, path: &Path, key: &str, max: usize) -> Result<usize, MuseError> {
    let text = proto
        .metadata_props
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.as_str())
        .ok_or_else(|| refuse(path, format_args!("missing metadata {key}")))?;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(refuse(
            path,
            format_args!("metadata {key} = {text:?} is not a count in 1..={max}"),
        )),
    }
}

/// Checks the decoded graph; returns the dimensions the session may size
/// its buffers by.
pub fn check_graph(
    proto: &ModelProto,
    path: &Path,
    expert: ExpertKind,
    vocab_size: usize,
) -> Result<ModelDims, MuseError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| refuse(path, "no graph"))?;
    let layers = dim_meta(proto, path, "nomad.num_layers", MAX_LAYERS)?;
    let hidden_size = dim_meta(proto, path, "nomad.hidden_size", MAX_HIDDEN_SIZE)?;
    if vocab_size > MAX_VOCAB_SIZE
        || dim_meta(proto, path, "nomad.vocab_size", MAX_VOCAB_SIZE)? != vocab_size
    {
        return Err(refuse(
            path,
            "nomad.vocab_size disagrees with the vocabulary",
        ));
    }
    let (l, h, v) = (layers as i64, hidden_size as i64, vocab_size as i64);
    let mut inputs = vec![("token", vec![1]), ("hidden", vec![l, 1, h])];
    if expert.is_conditioned() {
        inputs.extend([("chord", vec![1]), ("key", vec![1])]);
    }
    let outputs = [("logits", vec![1, v]), ("hidden_out", vec![l, 1, h])];
    fn declared(list: &[ValueInfoProto], i: usize) -> Option<(&str, Option<Vec<i64>>)> {
        list.get(i).map(|v| (v.name.as_str(), declared_shape(v)))
    }
    for (i, (name, shape)) in inputs.iter().enumerate() {
        if declared(&graph.input, i) != Some((name, Some(shape.clone()))) {
            return Err(refuse(
                path,
                format_args!("input {i} is not {name} {shape:?}"),
            ));
        }
    }
    if graph.input.len() != inputs.len() {
        return Err(refuse(path, "unexpected extra graph inputs"));
    }
    for (i, (name, shape)) in outputs.iter().enumerate() {
        if declared(&graph.output, i) != Some((name, Some(shape.clone()))) {
            return Err(refuse(
                path,
                format_args!("output {i} is not {name} {shape:?}"),
            ));
        }
    }
    check_nodes(proto, path)?;
    Ok(ModelDims {
        layers,
        hidden_size,
    })
}

/// Allowed ops only; initializers sized by their data; and no node computed
/// from constants alone except `DequantizeLinear` of initializers (tract
/// folds constant subgraphs while loading: a crafted one could ask for any
/// amount of memory there).
fn check_nodes(proto: &ModelProto, path: &Path) -> Result<(), MuseError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| refuse(path, "no graph"))?;
    if graph.node.len() > MAX_NODES || graph.initializer.len() > MAX_NODES {
        return Err(refuse(path, format_args!("more than {MAX_NODES} nodes")));
    }
    let mut constants = std::collections::HashSet::new();
    for t in &graph.initializer {
        check_initializer(t, path)?;
        constants.insert(t.name.as_str());
    }
    for node in &graph.node {
        if !node.domain.is_empty() || !ALLOWED_OPS.contains(&node.op_type.as_str()) {
            return Err(refuse(
                path,
                format_args!("op {:?} is not allowed", node.op_type),
            ));
        }
        let all_constant = node.input.iter().all(|i| constants.contains(i.as_str()));
        if all_constant {
            let from_initializers = node
                .input
                .iter()
                .all(|i| graph.initializer.iter().any(|t| &t.name == i));
            if node.op_type != "DequantizeLinear" || !from_initializers || node.input.is_empty() {
                return Err(refuse(
                    path,
                    format_args!("node {:?} computes from constants only", node.name),
                ));
            }
            constants.extend(node.output.iter().map(String::as_str));
        }
    }
    Ok(())
}

fn check_initializer(t: &tract_onnx::pb::TensorProto, path: &Path) -> Result<(), MuseError> {
    let elements = t.dims.iter().try_fold(1usize, |acc, d| {
        usize::try_from(*d).ok().and_then(|d| acc.checked_mul(d))
    });
    let Some(elements) = elements.filter(|n| *n <= MAX_TENSOR_ELEMENTS) else {
        return Err(refuse(
            path,
            format_args!("initializer {:?} is too large", t.name),
        ));
    };
    let (width, typed_len) = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) => (4, t.float_data.len()),
        Ok(DataType::Int8) => (1, t.int32_data.len()),
        Ok(DataType::Int64) => (8, t.int64_data.len()),
        _ => return Err(refuse(path, format_args!("initializer {:?}: type", t.name))),
    };
    let external = !t.external_data.is_empty() || t.data_location.unwrap_or(0) != 0;
    let sized = if t.raw_data.is_empty() {
        typed_len == elements
    } else {
        t.raw_data.len() == elements * width
    };
    if external || !sized {
        return Err(refuse(
            path,
            format_args!("initializer {:?}: data does not match its shape", t.name),
        ));
    }
    Ok(())
}

/// On tract's typed model, before it is optimised or run: every tensor has
/// a concrete shape within `MAX_TENSOR_ELEMENTS`, and one step costs at most
/// `MAX_STEP_FMAS` multiply-adds.
pub fn check_typed(model: &TypedModel, path: &Path) -> Result<(), MuseError> {
    let mut fmas = 0usize;
    for node in model.nodes() {
        for output in &node.outputs {
            let volume = output
                .fact
                .shape
                .as_concrete()
                .and_then(|s| s.iter().try_fold(1usize, |a, d| a.checked_mul(*d)));
            if volume.is_none_or(|v| v > MAX_TENSOR_ELEMENTS) {
                return Err(refuse(
                    path,
                    format_args!("tensor of {} is too large", node.name),
                ));
            }
        }
        let inputs = model
            .node_input_facts(node.id)
            .map_err(|e| refuse(path, e))?;
        for (cost, amount) in node.op.cost(&inputs).map_err(|e| refuse(path, e))? {
            if matches!(cost, Cost::FMA(_)) {
                let n = amount.to_usize().map_err(|e| refuse(path, e))?;
                fmas = fmas.saturating_add(n);
            }
        }
    }
    if fmas > MAX_STEP_FMAS {
        return Err(refuse(
            path,
            format_args!("{fmas} multiply-adds per step, more than {MAX_STEP_FMAS}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_count_reads_the_wire_format_and_refuses_garbage() {
        // ir_version 7, then a graph (field 7) of five empty nodes (field 1).
        let model = [
            0x08, 7, 0x3a, 10, 0x0a, 0, 0x0a, 0, 0x0a, 0, 0x0a, 0, 0x0a, 0,
        ];
        assert_eq!(count_graph_nodes(&model), Some(5));
        assert_eq!(count_graph_nodes(&[0x3a, 0x05, 0x0a]), None);
        assert_eq!(count_graph_nodes(&[0xff; 12]), None);
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("nomad_fifo_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("model.onnx");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_model_file(&fifo), Err(MuseError::Model(_))));
        assert!(matches!(read_model_file(&dir), Err(MuseError::Model(_))));
        std::fs::remove_dir_all(&dir).ok();
    }
}
