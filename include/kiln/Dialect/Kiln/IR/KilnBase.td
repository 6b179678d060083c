//===- KilnBase.td - kiln dialect definition ---------------*- tablegen -*-===//
//
// The kiln dialect: Kiln's single custom dialect, from ONNX import down to kernel formation.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNBASE_TD
#define KILN_DIALECT_KILN_IR_KILNBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Transformer models from ONNX import down to kernel formation";
  let description = [{
    `kiln` carries a transformer model from the ONNX importer to the point where kernels are
    formed. It has three op families, each with its own place in the pipeline:

    * **Graph ops** (`kiln.onnx.*`, plus `kiln.constant`): one op per ONNX node, with ONNX
      semantics (broadcasting, attribute defaults, inputs-as-attributes of newer opsets kept as
      operands). The importer produces only these. Op names keep ONNX's spelling
      (`kiln.onnx.MatMul`) so a graph can be read against its `.onnx` file node by node.
    * **Transformer ops** (`kiln.attention`, `kiln.linear`, `kiln.layer_norm`, `kiln.rms_norm`,
      `kiln.rotary`, `kiln.gelu`, `kiln.silu`, `kiln.swiglu`): what the raise and
      fuse-attention passes produce from decomposed graph ops. Each one is a unit a fused
      kernel template implements.
    * **Structure ops** (`kiln.layer`, `kiln.layer_group`, `kiln.kv_cache.*`): the model's
      layer structure and its KV cache, on which the model passes (layer grouping, KV-cache
      sharing, token pruning, quantization) act.

    Invariants, checked by the verifiers:

    * All values are tensors with value semantics; there is no aliasing and no in-place update
      at this level (the KV cache too is threaded as a value).
    * Dynamic dimensions (`?`) stand for ONNX symbolic dims; shapes that are static must agree
      with every op's shape rules.
    * Weights are `kiln.constant` ops holding `dense_resource` blobs; they are never printed
      inline.
    * Attention is never expressed with K/V repeated per query head: `kiln.attention` carries
      `num_heads` and `num_kv_heads` and takes K/V at their own head count (GQA/MQA native).
    * A `kiln.layer` body is isolated from above: everything a layer reads, weights included,
      enters as an operand, so identical layers can share one compiled body.

    Quantized weights will be carried by kiln types in this dialect (see docs/Dialect.md); the
    transformer ops' weight operands are typed so that they can be admitted later without
    changing the ops.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, traits>;

class Kiln_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Kiln_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

class Kiln_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Kiln_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Type constraints shared by the op families.
//===----------------------------------------------------------------------===//

// Element types ONNX models use and Kiln accepts: f32, f16, bf16, f64, signless and unsigned
// integers, and i1 for bool.
def Kiln_FloatTensor : TensorOf<[F16, BF16, F32, F64]>;
def Kiln_IntTensor : TensorOf<[I8, I16, I32, I64, UI8, UI16, UI32, UI64]>;
def Kiln_BoolTensor : TensorOf<[I1]>;
def Kiln_NumericTensor : TensorOf<[F16, BF16, F32, F64, I8, I16, I32, I64, UI8, UI16, UI32,
                                   UI64]>;
def Kiln_AnyTensor : TensorOf<[F16, BF16, F32, F64, I1, I8, I16, I32, I64, UI8, UI16, UI32,
                               UI64]>;
def Kiln_IndexTensor : TensorOf<[I32, I64]>;
def Kiln_I64Tensor : TensorOf<[I64]>;

// Transformer and structure ops fix their layouts, so their operands are ranked.
def Kiln_RankedFloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def Kiln_RankedMaskTensor : RankedTensorOf<[F16, BF16, F32, F64, I1]>;
def Kiln_RankedI64Tensor : RankedTensorOf<[I64]>;

#endif // KILN_DIALECT_KILN_IR_KILNBASE_TD
