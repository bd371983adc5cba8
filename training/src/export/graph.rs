//! A small ONNX graph builder over tract-onnx's own protobuf types.

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType,
    tensor_shape_proto::dimension::Value as Dim, tensor_shape_proto::Dimension, type_proto,
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

#[derive(Default)]
pub struct GraphBuilder {
    pub graph: GraphProto,
    counter: usize,
}

pub fn value_info(name: &str, elem: DataType, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            denotation: String::new(),
                            value: Some(Dim::DimValue(*d)),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

impl GraphBuilder {
    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    pub fn input(&mut self, name: &str, elem: DataType, dims: &[i64]) -> String {
        self.graph.input.push(value_info(name, elem, dims));
        name.into()
    }

    pub fn output(&mut self, from: &str, name: &str, elem: DataType, dims: &[i64]) {
        self.node("Identity", &[from], name, vec![]);
        self.graph.output.push(value_info(name, elem, dims));
    }

    pub fn f32_const(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    pub fn i8_const(&mut self, name: &str, dims: &[usize], data: Vec<i8>) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: DataType::Int8 as i32,
            raw_data: data.iter().map(|x| *x as u8).collect(),
            ..Default::default()
        });
        name.into()
    }

    pub fn i64_const(&mut self, name: &str, dims: &[usize], data: Vec<i64>) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: DataType::Int64 as i32,
            raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    /// Adds a node; `out` is its output name (fresh when empty). Returns it.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attribute: Vec<AttributeProto>,
    ) -> String {
        let out = if out.is_empty() {
            self.fresh(&op.to_lowercase())
        } else {
            out.to_string()
        };
        let name = self.fresh(op);
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name,
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        out
    }

    pub fn op(&mut self, op: &str, inputs: &[&str]) -> String {
        self.node(op, inputs, "", vec![])
    }
}

pub fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}
