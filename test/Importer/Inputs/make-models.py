#!/usr/bin/python3
"""Writes the small ONNX models the importer tests read, into the folder given as argument.

Each model exercises one importer feature or one diagnostic. The models are generated at test
time with Debian's python3-onnx so that they stay readable here instead of as binary blobs.
Usage: make-models.py OUT_DIR
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, out_dir, name):
    onnx.save(model, os.path.join(out_dir, name))


def make(nodes, inputs, outputs, initializers=(), opset=18, ir_version=8, value_info=()):
    graph = helper.make_graph(nodes, "test_graph", inputs, outputs, list(initializers),
                              value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def basic(out_dir):
    """x[1,seq,4] @ W[4,3] + B[3] -> Relu; W as raw_data, B as float_data."""
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
    b = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "B"], ["xwb"], name="add"),
        helper.make_node("Relu", ["xwb"], ["y"], name="relu"),
    ]
    b_proto = helper.make_tensor("B", TensorProto.FLOAT, [3], b.tolist())
    model = make(nodes, [f32("x", [1, "seq", 4])], [f32("y", [1, "seq", 3])],
                 [numpy_helper.from_array(w, "W"), b_proto])
    save(model, out_dir, "basic.onnx")
    # Reference data for the end-to-end test.
    x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(1, 5, 4)
    y = np.maximum(x @ w + b, 0)
    np.save(os.path.join(out_dir, "basic_x.npy"), x)
    np.savez(os.path.join(out_dir, "basic_ref.npz"), y=y)
    np.savez(os.path.join(out_dir, "basic_wrong.npz"), y=y + 0.5)
    np.savez(os.path.join(out_dir, "basic_ort.npz"), ort_out0=y)


def dtypes(out_dir):
    """One initializer per supported dtype, plus Constant nodes of each value_* form."""
    arrays = {
        "c_f32": np.array([1.5, -2.0], np.float32),
        "c_f16": np.array([1.5, -2.0], np.float16),
        "c_f64": np.array([1.5, -2.0], np.float64),
        "c_i64": np.array([1, -2], np.int64),
        "c_i32": np.array([1, -2], np.int32),
        "c_i8": np.array([1, -2], np.int8),
        "c_u8": np.array([1, 200], np.uint8),
        "c_bool": np.array([True, False]),
    }
    inits = [numpy_helper.from_array(a, n) for n, a in arrays.items()]
    # bf16 has no numpy dtype: raw bits of 1.5 and -2.0.
    inits.append(helper.make_tensor("c_bf16", TensorProto.BFLOAT16, [2],
                                    np.array([0x3FC0, 0xC000], np.uint16).tobytes(), raw=True))
    # The same values through typed fields instead of raw_data.
    inits.append(helper.make_tensor("t_i32", TensorProto.INT32, [2], [1, -2]))
    inits.append(helper.make_tensor("t_f16", TensorProto.FLOAT16, [2],
                                    [1.5, -2.0]))
    inits.append(helper.make_tensor("t_bool", TensorProto.BOOL, [2], [1, 0]))
    nodes, outputs = [], []
    types = {"c_f32": TensorProto.FLOAT, "c_f16": TensorProto.FLOAT16,
             "c_f64": TensorProto.DOUBLE, "c_i64": TensorProto.INT64,
             "c_i32": TensorProto.INT32, "c_i8": TensorProto.INT8, "c_u8": TensorProto.UINT8,
             "c_bool": TensorProto.BOOL, "c_bf16": TensorProto.BFLOAT16,
             "t_i32": TensorProto.INT32, "t_f16": TensorProto.FLOAT16, "t_bool": TensorProto.BOOL}
    for name, dtype in types.items():
        nodes.append(helper.make_node("Identity", [name], ["out_" + name], name="id_" + name))
        outputs.append(helper.make_tensor_value_info("out_" + name, dtype, [2]))
    nodes.append(helper.make_node("Constant", [], ["k_int"], name="k_int", value_int=7))
    nodes.append(helper.make_node("Constant", [], ["k_floats"], name="k_floats",
                                  value_floats=[0.5, 0.25]))
    nodes.append(helper.make_node("Constant", [], ["k_tensor"], name="k_tensor",
                                  value=numpy_helper.from_array(np.eye(2, dtype=np.float32))))
    outputs += [helper.make_tensor_value_info("k_int", TensorProto.INT64, []),
                f32("k_floats", [2]), f32("k_tensor", [2, 2])]
    save(make(nodes, [], outputs, inits), out_dir, "dtypes.onnx")


def opset13_reduce(out_dir):
    """ReduceMean with `axes` as an attribute (opset 13) becomes the opset-18 operand form."""
    nodes = [helper.make_node("ReduceMean", ["x"], ["y"], name="mean", axes=[-1], keepdims=1)]
    save(make(nodes, [f32("x", [2, 3])], [f32("y", [2, 1])], opset=13), out_dir,
         "reduce-opset13.onnx")


def optional_inputs(out_dir):
    """Slice with absent axes and a present steps input; Clip with only a max."""
    i64 = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)
    inits = [i64("starts", [0]), i64("ends", [2]), i64("steps", [1]),
             numpy_helper.from_array(np.array(1.0, np.float32), "hi")]
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "", "steps"], ["s"], name="slice"),
             helper.make_node("Clip", ["s", "", "hi"], ["y"], name="clip")]
    save(make(nodes, [f32("x", [4])], [f32("y", [2])], inits), out_dir, "optional-inputs.onnx")


def run_edge_cases(out_dir):
    """Models for kiln-run's edge cases: bfloat16 through float32 .npy files, and two outputs
    whose names sanitise to the same file name."""
    bf16 = lambda name: helper.make_tensor_value_info(name, TensorProto.BFLOAT16, [3])
    save(make([helper.make_node("Identity", ["x"], ["y"], name="id")], [bf16("x")], [bf16("y")]),
         out_dir, "bf16-identity.onnx")
    # 1 + 2^-10 is not a bfloat16: it rounds to 1.
    np.save(os.path.join(out_dir, "bf16_x.npy"), np.array([1.5, 1 + 2**-10, -3.0], np.float32))
    nodes = [helper.make_node("Identity", ["x"], ["o/1"], name="id1"),
             helper.make_node("Identity", ["x"], ["o_1"], name="id2")]
    save(make(nodes, [f32("x", [2])], [f32("o/1", [2]), f32("o_1", [2])]), out_dir,
         "colliding-outputs.onnx")
    np.save(os.path.join(out_dir, "pair.npy"), np.array([1, 2], np.float32))


def external(out_dir):
    """Weights stored next to the model, and the ways external data can be wrong."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    with open(os.path.join(out_dir, "weights.bin"), "wb") as f:
        f.write(b"\0" * 16 + w.tobytes())

    def with_location(name, location, offset=16, length=None):
        tensor = TensorProto()
        tensor.name = "W"
        tensor.data_type = TensorProto.FLOAT
        tensor.dims.extend([2, 3])
        tensor.data_location = TensorProto.EXTERNAL
        entries = [("location", location), ("offset", str(offset))]
        if length is not None:
            entries.append(("length", str(length)))
        for key, value in entries:
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        nodes = [helper.make_node("Identity", ["W"], ["y"], name="id")]
        save(make(nodes, [], [f32("y", [2, 3])], [tensor]), out_dir, name)

    with_location("external.onnx", "weights.bin", length=24)
    with_location("external-escape.onnx", "../weights.bin")
    with_location("external-absolute.onnx", "/etc/hostname")
    with_location("external-missing.onnx", "missing.bin")
    with_location("external-short.onnx", "weights.bin", offset=32)
    np.savez(os.path.join(out_dir, "external_ref.npz"), y=w)


def errors(out_dir):
    """One model per importer diagnostic."""
    with open(os.path.join(out_dir, "basic.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(out_dir, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(out_dir, "not-onnx.onnx"), "wb") as f:
        f.write(b"\xff\xff\xff\xff this is not a protobuf\n")

    save(make([helper.make_node("FooBar", ["x"], ["y"], name="foo")], [f32("x", [2])],
              [f32("y", [2])]), out_dir, "unknown-op.onnx")
    save(make([helper.make_node("FusedMatMul", ["x", "x"], ["y"], name="fused",
                                domain="com.microsoft")],
              [f32("x", [2, 2])], [f32("y", [2, 2])]), out_dir, "unknown-domain.onnx")
    save(make([helper.make_node("ReduceMean", ["x"], ["y"], name="mean", keepdims=2)],
              [f32("x", [2])], [f32("y", [1])]), out_dir, "bad-attribute-value.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu", alpha=0.5)],
              [f32("x", [2])], [f32("y", [2])]), out_dir, "unknown-attribute.onnx")
    save(make([helper.make_node("Cast", ["x"], ["y"], name="cast", to=TensorProto.STRING)],
              [f32("x", [2])], [helper.make_tensor_value_info("y", TensorProto.STRING, [2])]),
         out_dir, "bad-cast-dtype.onnx")
    save(make([helper.make_node("Identity", ["x"], ["y"], name="id")],
              [helper.make_tensor_value_info("x", TensorProto.COMPLEX64, [2])],
              [helper.make_tensor_value_info("y", TensorProto.COMPLEX64, [2])]),
         out_dir, "bad-input-dtype.onnx")
    save(make([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
              [f32("a", [2, 3]), f32("b", [4, 5])], [f32("y", [2, 5])]),
         out_dir, "inconsistent-matmul.onnx")
    save(make([helper.make_node("Add", ["a", "b"], ["y"], name="add")],
              [f32("a", [2, 3]), f32("b", [4, 3])], [f32("y", [2, 3])]),
         out_dir, "inconsistent-broadcast.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu")],
              [f32("x", [2, 3])], [f32("y", [2, 4])]), out_dir, "inconsistent-declared.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu")], [f32("x", [2, 3])],
              [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 3])]),
         out_dir, "inconsistent-declared-type.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu")],
              [f32("x", [1 << 40, 1 << 40])], [f32("y", None)]), out_dir, "huge-dims.onnx")
    huge = TensorProto()
    huge.name, huge.data_type = "W", TensorProto.FLOAT
    huge.dims.extend([1 << 20, 1 << 20])
    huge.raw_data = b"\0" * 16
    save(make([helper.make_node("Identity", ["W"], ["y"], name="id")], [], [f32("y", None)],
              [huge]), out_dir, "huge-initializer.onnx")
    short = numpy_helper.from_array(np.zeros(4, np.float32), "W")
    short.raw_data = short.raw_data[:10]
    save(make([helper.make_node("Identity", ["W"], ["y"], name="id")], [], [f32("y", [4])],
              [short]), out_dir, "short-raw-data.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu")], [f32("x", [2])],
              [f32("y", [2])], opset=11), out_dir, "old-opset.onnx")
    save(make([helper.make_node("Relu", ["x"], ["y"], name="relu")], [f32("x", [2])],
              [f32("y", [2])], ir_version=4), out_dir, "old-ir-version.onnx")
    save(make([helper.make_node("Relu", ["z"], ["y"], name="relu")], [f32("x", [2])],
              [f32("y", [2])]), out_dir, "undefined-input.onnx")
    save(make([helper.make_node("RMSNormalization", ["x", "x"], ["y"], name="rms")],
              [f32("x", [2])], [f32("y", [2])], opset=18), out_dir, "op-too-new.onnx")


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    basic(out_dir)
    dtypes(out_dir)
    opset13_reduce(out_dir)
    optional_inputs(out_dir)
    run_edge_cases(out_dir)
    external(out_dir)
    errors(out_dir)


if __name__ == "__main__":
    main()
