//! Reading an exported expert's weights out of its ONNX initializers, by
//! the names the exporter gives them (`embed.weight`, `gru.{l}.W{z,r,n}`,
//! …). Any name missing, any shape or type unexpected: `None`, and the
//! session stays on tract. Whether the weights are *wired* as a GRU is not
//! judged here but by the parity check against tract at load.

use tract_onnx::pb::{tensor_proto::DataType, GraphProto, TensorProto};

use super::kernels::{padded, Panelled, Weights};

/// A 2-D weight matrix `[rows, cols]` as the file stores it.
enum Matrix {
    F32 {
        rows: usize,
        cols: usize,
        data: Vec<f32>,
    },
    I8 {
        rows: usize,
        cols: usize,
        data: Vec<i8>,
        scale: Vec<f32>,
    },
}

impl Matrix {
    fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::F32 { rows, cols, .. } | Matrix::I8 { rows, cols, .. } => (*rows, *cols),
        }
    }
}

fn initializer<'a>(graph: &'a GraphProto, name: &str) -> Option<&'a TensorProto> {
    graph.initializer.iter().find(|t| t.name == name)
}

fn dims(t: &TensorProto) -> Option<Vec<usize>> {
    t.dims.iter().map(|d| usize::try_from(*d).ok()).collect()
}

fn elements(t: &TensorProto) -> Option<usize> {
    dims(t)?.iter().try_fold(1usize, |a, d| a.checked_mul(*d))
}

/// An fp32 initializer's values (raw little-endian bytes or `float_data`).
fn f32_values(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 {
        return None;
    }
    let n = elements(t)?;
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    (values.len() == n).then_some(values)
}

fn i8_values(t: &TensorProto) -> Option<Vec<i8>> {
    if t.data_type != DataType::Int8 as i32 {
        return None;
    }
    let n = elements(t)?;
    let values: Vec<i8> = if t.raw_data.is_empty() {
        t.int32_data
            .iter()
            .map(|v| i8::try_from(*v).ok())
            .collect::<Option<_>>()?
    } else {
        t.raw_data.iter().map(|b| *b as i8).collect()
    };
    (values.len() == n).then_some(values)
}

/// An fp32 vector initializer of exactly `len` values.
pub fn vector(graph: &GraphProto, name: &str, len: usize) -> Option<Vec<f32>> {
    let t = initializer(graph, name)?;
    (dims(t)? == [len]).then_some(())?;
    f32_values(t)
}

/// An fp32 table `[rows, width]` (any width if `None`): (rows, width, values).
pub fn table(
    graph: &GraphProto,
    name: &str,
    width: Option<usize>,
) -> Option<(usize, usize, Vec<f32>)> {
    let t = initializer(graph, name)?;
    match dims(t)?.as_slice() {
        [rows, w] if width.is_none_or(|width| width == *w) && *rows > 0 && *w > 0 => {
            Some((*rows, *w, f32_values(t)?))
        }
        _ => None,
    }
}

/// The matrix named `name`: an fp32 initializer, or the output of a
/// `DequantizeLinear` (axis 1, zero points all 0) of int8 initializers.
fn matrix(graph: &GraphProto, name: &str) -> Option<Matrix> {
    if let Some(t) = initializer(graph, name) {
        let [rows, cols] = dims(t)?.try_into().ok()?;
        return Some(Matrix::F32 {
            rows,
            cols,
            data: f32_values(t)?,
        });
    }
    let node = graph
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == name))?;
    let axis = node
        .attribute
        .iter()
        .find(|a| a.name == "axis")
        .map(|a| a.i);
    if node.op_type != "DequantizeLinear" || axis != Some(1) || node.input.len() != 3 {
        return None;
    }
    let q = initializer(graph, &node.input[0])?;
    let [rows, cols] = dims(q)?.try_into().ok()?;
    let scale = vector(graph, &node.input[1], cols)?;
    let zero = i8_values(initializer(graph, &node.input[2])?)?;
    if zero.len() != cols || zero.iter().any(|z| *z != 0) {
        return None;
    }
    Some(Matrix::I8 {
        rows,
        cols,
        data: i8_values(q)?,
        scale,
    })
}

/// Matrices of the same rows and type side by side, as one panelled matrix
/// (the three gates of a GRU layer: one pass over the input).
fn side_by_side(parts: &[Matrix]) -> Option<Weights> {
    let (rows, _) = parts.first()?.shape();
    if parts.iter().any(|m| m.shape().0 != rows) {
        return None;
    }
    let mut offsets = Vec::with_capacity(parts.len());
    let mut cols = 0;
    for m in parts {
        offsets.push(cols);
        cols += m.shape().1;
    }
    let which = |c: usize| offsets.iter().rposition(|o| *o <= c).unwrap_or(0);
    if parts.iter().all(|m| matches!(m, Matrix::F32 { .. })) {
        let at = |r: usize, c: usize| match &parts[which(c)] {
            Matrix::F32 { cols, data, .. } => data[r * cols + c - offsets[which(c)]],
            Matrix::I8 { .. } => 0.0,
        };
        return Some(Weights::F32(Panelled::from_fn(rows, cols, at)));
    }
    if parts.iter().all(|m| matches!(m, Matrix::I8 { .. })) {
        let at = |r: usize, c: usize| match &parts[which(c)] {
            Matrix::I8 { cols, data, .. } => data[r * cols + c - offsets[which(c)]],
            Matrix::F32 { .. } => 0,
        };
        let mut w = Panelled::from_fn(rows, cols, at);
        w.scale = vec![0.0; padded(cols)];
        for (m, off) in parts.iter().zip(&offsets) {
            if let Matrix::I8 { scale, .. } = m {
                w.scale[*off..off + scale.len()].copy_from_slice(scale);
            }
        }
        return Some(Weights::I8(w));
    }
    None
}

/// The named matrices, each `[rows, cols]`, side by side.
pub fn fused_matrix(
    graph: &GraphProto,
    names: &[String],
    rows: usize,
    cols: usize,
) -> Option<Weights> {
    let parts: Vec<Matrix> = names
        .iter()
        .map(|n| matrix(graph, n).filter(|m| m.shape() == (rows, cols)))
        .collect::<Option<_>>()?;
    side_by_side(&parts)
}
