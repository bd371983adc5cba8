//! tract's ONNX parser with only the ops our exporter writes (the ones
//! `model_check` allows). `tract_onnx::onnx()` registers every ONNX op, and
//! each registration keeps that op's code (FFT, resize, NMS, …) linked into
//! the shared library; registering these eleven lets the linker drop the rest.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops;
use tract_onnx::Onnx;

/// The parser every model load goes through (validation, the tract
/// reference and the tract fallback session).
pub fn parser() -> Onnx {
    let mut reg = OnnxOpRegister::default();
    reg.insert("Add", |_, _| Ok((ops::math::Add.into_hir(), vec![])));
    reg.insert("Sub", |_, _| Ok((ops::math::Sub.into_hir(), vec![])));
    reg.insert("Mul", |_, _| Ok((ops::math::Mul.into_hir(), vec![])));
    reg.insert("Tanh", |_, _| Ok((ops::math::tanh().into_hir(), vec![])));
    reg.insert("Sigmoid", |_, _| {
        Ok((ops::nn::sigmoid().into_hir(), vec![]))
    });
    reg.insert("MatMul", |_, _| {
        Ok((expand(ops::matmul::MatMulInference::default()), vec![]))
    });
    reg.insert("Identity", |_, _| {
        Ok((Box::<ops::identity::Identity>::default(), vec![]))
    });
    reg.insert("Concat", concat);
    reg.insert("Gather", gather);
    reg.insert("Reshape", reshape);
    reg.insert("DequantizeLinear", dequantize_linear);
    Onnx {
        op_register: reg,
        ..Onnx::default()
    }
}

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

fn concat(_: &ParsingContext, node: &NodeProto) -> Built {
    let axis = node.get_attr("axis")?;
    Ok((expand(ops::array::Concat::new(axis)), vec![]))
}

fn gather(_: &ParsingContext, node: &NodeProto) -> Built {
    let axis = node.get_attr_opt("axis")?.unwrap_or(0);
    Ok((expand(ops::array::Gather::new(axis)), vec![]))
}

fn reshape(_: &ParsingContext, node: &NodeProto) -> Built {
    // `allowzero` (opset 14) defaults to 0.
    let allowzero = node.get_attr_opt::<i64>("allowzero")?.unwrap_or(0) != 0;
    Ok((expand(ops::array::Reshape::new(allowzero)), vec![]))
}

/// `DequantizeLinear` as the exporter writes it: int8 weights `[rows, cols]`,
/// one fp32 scale and one int8 zero point per column (axis 1, the last).
fn dequantize_linear(_: &ParsingContext, node: &NodeProto) -> Built {
    let axis = node.get_attr_opt::<i64>("axis")?.unwrap_or(1);
    ensure!(
        axis == 1 || axis == -1,
        "DequantizeLinear: only axis 1 is supported"
    );
    ensure!(
        node.input.len() == 3,
        "DequantizeLinear: a zero point is required"
    );
    Ok((expand(DequantizeLastAxis), vec![]))
}

/// `y = (float(x) − float(zero_point)) × scale`, scale and zero point along
/// the last axis (numpy broadcasting, so no per-axis reshaping is needed).
#[derive(Debug, Clone, Default, Hash, PartialEq, Eq)]
struct DequantizeLastAxis;

impl Expansion for DequantizeLastAxis {
    fn name(&self) -> StaticName {
        "DequantizeLastAxis".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> TractResult<()> {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, i8::datum_type())?;
        s.equals(&inputs[1].datum_type, f32::datum_type())?;
        s.equals(&inputs[2].datum_type, i8::datum_type())?;
        s.equals(&inputs[1].rank, 1)?;
        s.equals(&inputs[2].rank, 1)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::{
            cast::cast, change_axes::wire_with_rank_broadcast, math,
        };
        let to_f32 = cast(f32::datum_type());
        let x = model.wire_node(format!("{prefix}.x"), to_f32.clone(), &[inputs[0]])?;
        let zero = model.wire_node(format!("{prefix}.zero"), to_f32, &[inputs[2]])?;
        let centred = wire_with_rank_broadcast(
            format!("{prefix}.centred"),
            model,
            math::sub(),
            &[x[0], zero[0]],
        )?;
        wire_with_rank_broadcast(prefix, model, math::mul(), &[centred[0], inputs[1]])
    }
}
