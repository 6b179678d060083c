//===- KilnGraphOps.td - ONNX-faithful graph ops -----------*- tablegen -*-===//
//
// One op per ONNX node type of the default domain. Semantics are ONNX's (opsets 13-23): numpy
// broadcasting, attribute defaults as in the ONNX spec, and the inputs that newer opsets moved
// from attributes to tensors (Reshape's shape, Unsqueeze's axes, ...) kept as operands, so the
// importer is a 1:1 translation and shape constant folding happens in kiln passes.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNGRAPHOPS_TD
#define KILN_DIALECT_KILN_IR_KILNGRAPHOPS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// All graph ops print the same way: operands, attributes, then the functional type.
class Kiln_GraphOp<string onnxName, list<Trait> traits = []>
    : Kiln_Op<"onnx." # onnxName, !listconcat(traits, [Pure])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def Kiln_ConstantOp : Kiln_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "a tensor constant (ONNX initializers and Constant nodes)";
  let description = [{
    Weights and constants. The importer gives every initializer and `Constant` node a
    `dense_resource` blob so that the printed IR stays small; folders produce `dense` values
    for the small tensors of shape arithmetic.

    ```mlir
    %w = kiln.constant dense_resource<wte> : tensor<256x128xf32>
    %s = kiln.constant dense<[1, 32, 4, 32]> : tensor<4xi64>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise unary
//===----------------------------------------------------------------------===//

class Kiln_UnaryOp<string onnxName, Type operandType, list<Trait> traits = []>
    : Kiln_GraphOp<onnxName, !listconcat(traits, [SameOperandsAndResultType])> {
  let summary = "ONNX " # onnxName # " (elementwise)";
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$output);
}

def Kiln_OnnxSqrtOp : Kiln_UnaryOp<"Sqrt", Kiln_FloatTensor>;
def Kiln_OnnxReciprocalOp : Kiln_UnaryOp<"Reciprocal", Kiln_FloatTensor>;
def Kiln_OnnxTanhOp : Kiln_UnaryOp<"Tanh", Kiln_FloatTensor>;
def Kiln_OnnxErfOp : Kiln_UnaryOp<"Erf", Kiln_FloatTensor>;
def Kiln_OnnxSigmoidOp : Kiln_UnaryOp<"Sigmoid", Kiln_FloatTensor>;
def Kiln_OnnxCosOp : Kiln_UnaryOp<"Cos", Kiln_FloatTensor>;
def Kiln_OnnxSinOp : Kiln_UnaryOp<"Sin", Kiln_FloatTensor>;
def Kiln_OnnxExpOp : Kiln_UnaryOp<"Exp", Kiln_FloatTensor>;
def Kiln_OnnxLogOp : Kiln_UnaryOp<"Log", Kiln_FloatTensor>;
def Kiln_OnnxReluOp : Kiln_UnaryOp<"Relu", Kiln_NumericTensor>;
def Kiln_OnnxAbsOp : Kiln_UnaryOp<"Abs", Kiln_NumericTensor>;
def Kiln_OnnxNegOp : Kiln_UnaryOp<"Neg", Kiln_NumericTensor, [Involution]>;
def Kiln_OnnxNotOp : Kiln_UnaryOp<"Not", Kiln_BoolTensor, [Involution]>;

def Kiln_OnnxIdentityOp : Kiln_GraphOp<"Identity", [SameOperandsAndResultType]> {
  let summary = "ONNX Identity";
  let arguments = (ins Kiln_AnyTensor:$input);
  let results = (outs Kiln_AnyTensor:$output);
  let hasFolder = 1;
}

def Kiln_OnnxIsNaNOp : Kiln_GraphOp<"IsNaN", [SameOperandsAndResultShape]> {
  let summary = "ONNX IsNaN";
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_BoolTensor:$output);
}

def Kiln_OnnxCastOp : Kiln_GraphOp<"Cast", [SameOperandsAndResultShape]> {
  let summary = "ONNX Cast";
  let description = [{
    `to` holds the target element type as an MLIR type (the importer maps ONNX's
    `TensorProto.DataType` code to it); it must equal the result's element type.
  }];
  let arguments = (ins Kiln_AnyTensor:$input, TypeAttr:$to,
                       DefaultValuedAttr<I64Attr, "1">:$saturate);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_OnnxClipOp : Kiln_GraphOp<"Clip", [AttrSizedOperandSegments]> {
  let summary = "ONNX Clip";
  let arguments = (ins Kiln_NumericTensor:$input, Optional<Kiln_NumericTensor>:$min,
                       Optional<Kiln_NumericTensor>:$max);
  let results = (outs Kiln_NumericTensor:$output);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise binary / n-ary with numpy broadcasting
//===----------------------------------------------------------------------===//

class Kiln_BinaryOp<string onnxName, Type operandType, list<Trait> traits = []>
    : Kiln_GraphOp<onnxName, !listconcat(traits,
        [ResultsBroadcastableShape, SameOperandsAndResultElementType])> {
  let summary = "ONNX " # onnxName # " (elementwise, numpy broadcasting)";
  let arguments = (ins operandType:$a, operandType:$b);
  let results = (outs operandType:$output);
}

def Kiln_OnnxAddOp : Kiln_BinaryOp<"Add", Kiln_NumericTensor, [Commutative]>;
def Kiln_OnnxSubOp : Kiln_BinaryOp<"Sub", Kiln_NumericTensor>;
def Kiln_OnnxMulOp : Kiln_BinaryOp<"Mul", Kiln_NumericTensor, [Commutative]>;
def Kiln_OnnxDivOp : Kiln_BinaryOp<"Div", Kiln_NumericTensor>;
def Kiln_OnnxAndOp : Kiln_BinaryOp<"And", Kiln_BoolTensor, [Commutative]>;
def Kiln_OnnxOrOp : Kiln_BinaryOp<"Or", Kiln_BoolTensor, [Commutative]>;

def Kiln_OnnxModOp : Kiln_BinaryOp<"Mod", Kiln_NumericTensor> {
  let arguments = (ins Kiln_NumericTensor:$a, Kiln_NumericTensor:$b,
                       DefaultValuedAttr<I64Attr, "0">:$fmod);
  let hasVerifier = 1;
}

def Kiln_OnnxPowOp : Kiln_GraphOp<"Pow", [ResultsBroadcastableShape,
    AllElementTypesMatch<["base", "output"]>]> {
  let summary = "ONNX Pow (numpy broadcasting; the exponent may have its own type)";
  let arguments = (ins Kiln_NumericTensor:$base, Kiln_NumericTensor:$exponent);
  let results = (outs Kiln_NumericTensor:$output);
}

class Kiln_VariadicOp<string onnxName>
    : Kiln_GraphOp<onnxName, [ResultsBroadcastableShape, SameOperandsAndResultElementType]> {
  let summary = "ONNX " # onnxName # " (elementwise over 1..N inputs, numpy broadcasting)";
  let arguments = (ins Variadic<Kiln_NumericTensor>:$inputs);
  let results = (outs Kiln_NumericTensor:$output);
}

def Kiln_OnnxMaxOp : Kiln_VariadicOp<"Max">;
def Kiln_OnnxMinOp : Kiln_VariadicOp<"Min">;

class Kiln_CompareOp<string onnxName>
    : Kiln_GraphOp<onnxName, [ResultsBroadcastableShape, AllElementTypesMatch<["a", "b"]>]> {
  let summary = "ONNX " # onnxName # " (elementwise comparison, numpy broadcasting)";
  let arguments = (ins Kiln_AnyTensor:$a, Kiln_AnyTensor:$b);
  let results = (outs Kiln_BoolTensor:$output);
}

def Kiln_OnnxEqualOp : Kiln_CompareOp<"Equal">;
def Kiln_OnnxLessOp : Kiln_CompareOp<"Less">;
def Kiln_OnnxLessOrEqualOp : Kiln_CompareOp<"LessOrEqual">;
def Kiln_OnnxGreaterOp : Kiln_CompareOp<"Greater">;
def Kiln_OnnxGreaterOrEqualOp : Kiln_CompareOp<"GreaterOrEqual">;

def Kiln_OnnxWhereOp : Kiln_GraphOp<"Where", [ResultsBroadcastableShape,
    AllElementTypesMatch<["x", "y", "output"]>]> {
  let summary = "ONNX Where (numpy broadcasting over all three inputs)";
  let arguments = (ins Kiln_BoolTensor:$condition, Kiln_AnyTensor:$x, Kiln_AnyTensor:$y);
  let results = (outs Kiln_AnyTensor:$output);
}

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

def Kiln_OnnxMatMulOp : Kiln_GraphOp<"MatMul", [AllElementTypesMatch<["a", "b", "output"]>]> {
  let summary = "ONNX MatMul (numpy matmul: batch dims broadcast, 1-D operands promoted)";
  let arguments = (ins Kiln_NumericTensor:$a, Kiln_NumericTensor:$b);
  let results = (outs Kiln_NumericTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxGemmOp : Kiln_GraphOp<"Gemm", [AllElementTypesMatch<["a", "b", "output"]>]> {
  let summary = "ONNX Gemm: alpha * op(A) * op(B) + beta * C";
  let arguments = (ins Kiln_NumericTensor:$a, Kiln_NumericTensor:$b,
                       Optional<Kiln_NumericTensor>:$c,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "1.0f">:$beta,
                       DefaultValuedAttr<I64Attr, "0">:$transA,
                       DefaultValuedAttr<I64Attr, "0">:$transB);
  let results = (outs Kiln_NumericTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxEinsumOp : Kiln_GraphOp<"Einsum"> {
  let summary = "ONNX Einsum";
  let arguments = (ins Variadic<Kiln_NumericTensor>:$inputs, StrAttr:$equation);
  let results = (outs Kiln_NumericTensor:$output);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalisation, softmax, fused ONNX ops of opset 17-23
//===----------------------------------------------------------------------===//

def Kiln_OnnxSoftmaxOp : Kiln_GraphOp<"Softmax", [SameOperandsAndResultType]> {
  let summary = "ONNX Softmax (opset 13+: along one axis)";
  let arguments = (ins Kiln_FloatTensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Kiln_FloatTensor:$output);
  let hasVerifier = 1;
}

// Input and output shapes are checked by the verifier: AllShapesMatch reads the shape of an
// unranked tensor and rejects a dynamic dim against a static one.
def Kiln_OnnxLayerNormalizationOp : Kiln_GraphOp<"LayerNormalization",
    [AllElementTypesMatch<["input", "output"]>]> {
  let summary = "ONNX LayerNormalization (opset 17)";
  let description = [{
    `statistics` are ONNX's optional outputs Mean and InvStdDev, in that order (none, Mean
    only, or both): float32 (`stash_type` 1), with the input's shape and every normalised dim
    set to 1.
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                       Optional<Kiln_FloatTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1e-5f">:$epsilon,
                       DefaultValuedAttr<I64Attr, "1">:$stash_type);
  let results = (outs Kiln_FloatTensor:$output, Variadic<Kiln_FloatTensor>:$statistics);
  let hasVerifier = 1;
}

def Kiln_OnnxRMSNormalizationOp : Kiln_GraphOp<"RMSNormalization",
    [AllElementTypesMatch<["input", "output"]>]> {
  let summary = "ONNX RMSNormalization (opset 23)";
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1e-5f">:$epsilon,
                       DefaultValuedAttr<I64Attr, "1">:$stash_type);
  let results = (outs Kiln_FloatTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxAttentionOp : Kiln_GraphOp<"Attention",
    [AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "ONNX Attention (opset 23)";
  let description = [{
    Q, K, V are either 4-D `[batch, heads, seq, head_size]` or 3-D `[batch, seq, hidden]`, in
    which case `q_num_heads` and `kv_num_heads` say how to split `hidden`. K/V may have fewer
    heads than Q (GQA/MQA). `fuse-attention` turns this op into `kiln.attention`.
  }];
  let arguments = (ins Kiln_FloatTensor:$q, Kiln_FloatTensor:$k, Kiln_FloatTensor:$v,
                       Optional<Kiln_AnyTensor>:$attn_mask,
                       Optional<Kiln_FloatTensor>:$past_key,
                       Optional<Kiln_FloatTensor>:$past_value,
                       DefaultValuedAttr<I64Attr, "0">:$is_causal,
                       OptionalAttr<I64Attr>:$q_num_heads,
                       OptionalAttr<I64Attr>:$kv_num_heads,
                       DefaultValuedAttr<I64Attr, "0">:$qk_matmul_output_mode,
                       OptionalAttr<F32Attr>:$scale,
                       DefaultValuedAttr<F32Attr, "0.0f">:$softcap,
                       OptionalAttr<I64Attr>:$softmax_precision);
  let results = (outs Kiln_FloatTensor:$output,
                      Optional<Kiln_FloatTensor>:$present_key,
                      Optional<Kiln_FloatTensor>:$present_value,
                      Optional<Kiln_FloatTensor>:$qk_matmul_output);
  let hasVerifier = 1;
}

def Kiln_OnnxRotaryEmbeddingOp : Kiln_GraphOp<"RotaryEmbedding",
    [AllTypesMatch<["input", "output"]>]> {
  let summary = "ONNX RotaryEmbedding (opset 23)";
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$cos_cache,
                       Kiln_FloatTensor:$sin_cache, Optional<Kiln_IndexTensor>:$position_ids,
                       DefaultValuedAttr<I64Attr, "0">:$interleaved,
                       OptionalAttr<I64Attr>:$num_heads,
                       DefaultValuedAttr<I64Attr, "0">:$rotary_embedding_dim);
  let results = (outs Kiln_FloatTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxDropoutOp : Kiln_GraphOp<"Dropout", [AttrSizedOperandSegments]> {
  let summary = "ONNX Dropout; identity unless `training_mode` is given and true";
  let arguments = (ins Kiln_FloatTensor:$data, Optional<Kiln_FloatTensor>:$ratio,
                       Optional<Kiln_BoolTensor>:$training_mode, OptionalAttr<I64Attr>:$seed);
  let results = (outs Kiln_FloatTensor:$output, Optional<Kiln_BoolTensor>:$mask);
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and scans
//===----------------------------------------------------------------------===//

class Kiln_ReduceOp<string onnxName> : Kiln_GraphOp<onnxName,
    [AllElementTypesMatch<["data", "reduced"]>]> {
  let summary = "ONNX " # onnxName # " (opset 18: axes as an optional input)";
  let arguments = (ins Kiln_NumericTensor:$data, Optional<Kiln_I64Tensor>:$axes,
                       DefaultValuedAttr<I64Attr, "1">:$keepdims,
                       DefaultValuedAttr<I64Attr, "0">:$noop_with_empty_axes);
  let results = (outs Kiln_NumericTensor:$reduced);
  let hasVerifier = 1;
}

def Kiln_OnnxReduceMeanOp : Kiln_ReduceOp<"ReduceMean">;
def Kiln_OnnxReduceSumOp : Kiln_ReduceOp<"ReduceSum">;
def Kiln_OnnxReduceMaxOp : Kiln_ReduceOp<"ReduceMax">;

def Kiln_OnnxArgMaxOp : Kiln_GraphOp<"ArgMax"> {
  let summary = "ONNX ArgMax";
  let arguments = (ins Kiln_NumericTensor:$data, DefaultValuedAttr<I64Attr, "0">:$axis,
                       DefaultValuedAttr<I64Attr, "1">:$keepdims,
                       DefaultValuedAttr<I64Attr, "0">:$select_last_index);
  let results = (outs Kiln_I64Tensor:$reduced);
  let hasVerifier = 1;
}

def Kiln_OnnxTopKOp : Kiln_GraphOp<"TopK", [AllElementTypesMatch<["x", "values"]>]> {
  let summary = "ONNX TopK";
  let arguments = (ins Kiln_NumericTensor:$x, Kiln_I64Tensor:$k,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<I64Attr, "1">:$largest,
                       DefaultValuedAttr<I64Attr, "1">:$sorted);
  let results = (outs Kiln_NumericTensor:$values, Kiln_I64Tensor:$indices);
  let hasVerifier = 1;
}

// Not SameOperandsAndResultShape: that would hold the scalar `axis` to x's shape too; the
// verifier checks x against y.
def Kiln_OnnxCumSumOp : Kiln_GraphOp<"CumSum", [AllElementTypesMatch<["x", "y"]>]> {
  let summary = "ONNX CumSum";
  let arguments = (ins Kiln_NumericTensor:$x, Kiln_IndexTensor:$axis,
                       DefaultValuedAttr<I64Attr, "0">:$exclusive,
                       DefaultValuedAttr<I64Attr, "0">:$reverse);
  let results = (outs Kiln_NumericTensor:$y);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape, layout and indexing
//===----------------------------------------------------------------------===//

def Kiln_OnnxShapeOp : Kiln_GraphOp<"Shape"> {
  let summary = "ONNX Shape (opset 15+: optional start/end)";
  let arguments = (ins Kiln_AnyTensor:$data, OptionalAttr<I64Attr>:$start,
                       OptionalAttr<I64Attr>:$end);
  let results = (outs Kiln_I64Tensor:$shape);
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_OnnxSizeOp : Kiln_GraphOp<"Size"> {
  let summary = "ONNX Size (the number of elements, as a rank-0 int64 tensor)";
  let arguments = (ins Kiln_AnyTensor:$data);
  let results = (outs 0DTensorOf<[I64]>:$size);
  let hasFolder = 1;
}

def Kiln_OnnxConstantOfShapeOp : Kiln_GraphOp<"ConstantOfShape"> {
  let summary = "ONNX ConstantOfShape";
  let arguments = (ins Kiln_I64Tensor:$shape, OptionalAttr<ElementsAttr>:$value);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxRangeOp : Kiln_GraphOp<"Range",
    [AllElementTypesMatch<["start", "limit", "delta", "output"]>]> {
  let summary = "ONNX Range";
  let arguments = (ins Kiln_NumericTensor:$start, Kiln_NumericTensor:$limit,
                       Kiln_NumericTensor:$delta);
  let results = (outs Kiln_NumericTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxReshapeOp : Kiln_GraphOp<"Reshape", [AllElementTypesMatch<["data", "reshaped"]>]> {
  let summary = "ONNX Reshape (0 copies a dim unless allowzero, -1 infers one)";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_I64Tensor:$shape,
                       DefaultValuedAttr<I64Attr, "0">:$allowzero);
  let results = (outs Kiln_AnyTensor:$reshaped);
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_OnnxTransposeOp : Kiln_GraphOp<"Transpose",
    [AllElementTypesMatch<["data", "transposed"]>]> {
  let summary = "ONNX Transpose (no perm: reverse the dims)";
  let arguments = (ins Kiln_AnyTensor:$data, OptionalAttr<DenseI64ArrayAttr>:$perm);
  let results = (outs Kiln_AnyTensor:$transposed);
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The permutation, with ONNX's default (reversed dims) filled in.
    ::llvm::SmallVector<int64_t> getPermutation();
  }];
}

def Kiln_OnnxUnsqueezeOp : Kiln_GraphOp<"Unsqueeze",
    [AllElementTypesMatch<["data", "expanded"]>]> {
  let summary = "ONNX Unsqueeze (opset 13+: axes as an input)";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_I64Tensor:$axes);
  let results = (outs Kiln_AnyTensor:$expanded);
  let hasVerifier = 1;
}

def Kiln_OnnxSqueezeOp : Kiln_GraphOp<"Squeeze", [AllElementTypesMatch<["data", "squeezed"]>]> {
  let summary = "ONNX Squeeze (opset 13+: optional axes input)";
  let arguments = (ins Kiln_AnyTensor:$data, Optional<Kiln_I64Tensor>:$axes);
  let results = (outs Kiln_AnyTensor:$squeezed);
  let hasVerifier = 1;
}

def Kiln_OnnxFlattenOp : Kiln_GraphOp<"Flatten", [AllElementTypesMatch<["input", "output"]>]> {
  let summary = "ONNX Flatten";
  let arguments = (ins Kiln_AnyTensor:$input, DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxExpandOp : Kiln_GraphOp<"Expand", [AllElementTypesMatch<["input", "output"]>]> {
  let summary = "ONNX Expand (bidirectional broadcast to a shape)";
  let arguments = (ins Kiln_AnyTensor:$input, Kiln_I64Tensor:$shape);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxConcatOp : Kiln_GraphOp<"Concat", [SameOperandsAndResultElementType]> {
  let summary = "ONNX Concat";
  let arguments = (ins Variadic<Kiln_AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_AnyTensor:$concat_result);
  let hasVerifier = 1;
}

def Kiln_OnnxSplitOp : Kiln_GraphOp<"Split"> {
  let summary = "ONNX Split (opset 13+: sizes as an input; opset 18: num_outputs)";
  let arguments = (ins Kiln_AnyTensor:$input, Optional<Kiln_I64Tensor>:$split,
                       DefaultValuedAttr<I64Attr, "0">:$axis,
                       OptionalAttr<I64Attr>:$num_outputs);
  let results = (outs Variadic<Kiln_AnyTensor>:$outputs);
  let hasVerifier = 1;
}

def Kiln_OnnxSliceOp : Kiln_GraphOp<"Slice",
    [AttrSizedOperandSegments, AllElementTypesMatch<["data", "output"]>]> {
  let summary = "ONNX Slice (opset 13+: starts/ends/axes/steps as inputs)";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_IndexTensor:$starts, Kiln_IndexTensor:$ends,
                       Optional<Kiln_IndexTensor>:$axes, Optional<Kiln_IndexTensor>:$steps);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxGatherOp : Kiln_GraphOp<"Gather", [AllElementTypesMatch<["data", "output"]>]> {
  let summary = "ONNX Gather";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_IndexTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxGatherElementsOp : Kiln_GraphOp<"GatherElements",
    [AllElementTypesMatch<["data", "output"]>]> {
  let summary = "ONNX GatherElements";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_IndexTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxGatherNDOp : Kiln_GraphOp<"GatherND", [AllElementTypesMatch<["data", "output"]>]> {
  let summary = "ONNX GatherND";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_I64Tensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$batch_dims);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxScatterNDOp : Kiln_GraphOp<"ScatterND",
    [AllTypesMatch<["data", "output"]>, AllElementTypesMatch<["data", "updates"]>]> {
  let summary = "ONNX ScatterND";
  let arguments = (ins Kiln_AnyTensor:$data, Kiln_I64Tensor:$indices,
                       Kiln_AnyTensor:$updates,
                       DefaultValuedAttr<StrAttr, "\"none\"">:$reduction);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

def Kiln_OnnxTriluOp : Kiln_GraphOp<"Trilu", [AllTypesMatch<["input", "output"]>]> {
  let summary = "ONNX Trilu";
  let arguments = (ins Kiln_AnyTensor:$input, Optional<Kiln_I64Tensor>:$k,
                       DefaultValuedAttr<I64Attr, "1">:$upper);
  let results = (outs Kiln_AnyTensor:$output);
  let hasVerifier = 1;
}

#endif // KILN_DIALECT_KILN_IR_KILNGRAPHOPS_TD
