//===- KilnTransformerOps.cpp - verifiers of the fused transformer ops ----===//
//
// These ops fix their layouts (see KilnTransformerOps.td), so the verifiers check full shape
// agreement wherever dims are static: a kernel template may rely on it.
//
//===----------------------------------------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "DimRules.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

/// The first static one of dims that must all agree, or dynamic if none is: checking each of
/// them against it compares every pair of static dims, whichever operand is dynamic.
static int64_t firstStatic(std::initializer_list<int64_t> dims) {
  for (int64_t dim : dims)
    if (!ShapedType::isDynamic(dim))
      return dim;
  return ShapedType::kDynamic;
}

/// Checks that dim `index` of `type` may equal `expected`; `what` names the dim in the message.
static LogicalResult verifyDim(Operation *op, StringRef operand, RankedTensorType type,
                               int64_t index, int64_t expected, StringRef what) {
  int64_t dim = type.getShape()[index];
  if (!dimsCompatible(dim, expected))
    return op->emitOpError() << operand << " dim " << index << " (" << what << ") is " << dim
                             << ", expected " << expected;
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = static_cast<int64_t>(getNumHeads());
  int64_t kvHeads = static_cast<int64_t>(getNumKvHeads());
  int64_t headDim = static_cast<int64_t>(getHeadDim());
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError() << "heads, kv_heads and head_dim must be positive, got " << heads
                         << ", " << kvHeads << ", " << headDim;
  if (heads % kvHeads != 0)
    return emitOpError() << "heads (" << heads << ") must be a multiple of kv_heads (" << kvHeads
                         << ")";
  float scale = getScale().convertToFloat();
  if (!(scale > 0.0f) || !std::isfinite(scale))
    return emitOpError() << "scale must be positive and finite, got " << scale;
  float softcap = getSoftcap().convertToFloat();
  if (!(softcap >= 0.0f) || !std::isfinite(softcap))
    return emitOpError() << "softcap must be non-negative and finite (0 = none), got "
                         << softcap;

  auto q = cast<RankedTensorType>(getQuery().getType());
  auto k = cast<RankedTensorType>(getKey().getType());
  auto v = cast<RankedTensorType>(getValue().getType());
  auto out = cast<RankedTensorType>(getOutput().getType());
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"query", q},
                            {"key", k}, {"value", v}, {"result", out}})
    if (type.getRank() != 4)
      return emitOpError() << name << " must be [batch, heads, seq, head_dim], got " << type;

  // Any of the four may carry the static batch; q_len, kv_len and v_head_dim are shared by two.
  int64_t batch = firstStatic({q.getShape()[0], k.getShape()[0], v.getShape()[0],
                               out.getShape()[0]});
  int64_t qLen = firstStatic({q.getShape()[2], out.getShape()[2]});
  int64_t kvLen = firstStatic({k.getShape()[2], v.getShape()[2]});
  int64_t vHeadDim = firstStatic({v.getShape()[3], out.getShape()[3]});
  if (failed(verifyDim(*this, "query", q, 1, heads, "heads")) ||
      failed(verifyDim(*this, "query", q, 3, headDim, "head_dim")) ||
      failed(verifyDim(*this, "key", k, 0, batch, "batch")) ||
      failed(verifyDim(*this, "key", k, 1, kvHeads, "kv_heads")) ||
      failed(verifyDim(*this, "key", k, 3, headDim, "head_dim")) ||
      failed(verifyDim(*this, "value", v, 0, batch, "batch")) ||
      failed(verifyDim(*this, "value", v, 1, kvHeads, "kv_heads")) ||
      failed(verifyDim(*this, "value", v, 2, kvLen, "kv_len")) ||
      failed(verifyDim(*this, "result", out, 0, batch, "batch")) ||
      failed(verifyDim(*this, "result", out, 1, heads, "heads")) ||
      failed(verifyDim(*this, "result", out, 2, qLen, "q_len")) ||
      failed(verifyDim(*this, "result", out, 3, vHeadDim, "v_head_dim")))
    return failure();

  // Causal attention aligns the diagonal bottom-right; with more queries than keys the first
  // rows would see no key at all (a softmax over nothing).
  if (getCausal() && !ShapedType::isDynamic(qLen) && !ShapedType::isDynamic(kvLen) &&
      qLen > kvLen)
    return emitOpError() << "causal attention needs q_len <= kv_len, got q_len " << qLen
                         << " and kv_len " << kvLen;

  if (Value mask = getMask()) {
    // ODS (Kiln_RankedMaskTensor) admits only ranked float (additive) or i1 (boolean) masks.
    auto maskType = cast<RankedTensorType>(mask.getType());
    if (maskType.getRank() > 4)
      return emitOpError() << "mask must have rank <= 4, got " << maskType;
    SmallVector<int64_t> scores = {batch, heads, qLen, kvLen};
    ArrayRef<int64_t> tail = ArrayRef<int64_t>(scores).take_back(maskType.getRank());
    for (auto [m, s] : llvm::zip_equal(maskType.getShape(), tail))
      if (m != 1 && !dimsCompatible(m, s))
        return emitOpError() << "mask " << maskType
                             << " does not broadcast to the scores [batch, heads, q_len, kv_len]"
                             << " = [" << formatDim(batch) << ", " << heads << ", "
                             << formatDim(qLen) << ", " << formatDim(kvLen) << "]";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto weight = cast<RankedTensorType>(getWeight().getType());
  auto out = cast<RankedTensorType>(getOutput().getType());
  if (weight.getRank() != 2)
    return emitOpError() << "weight must be [out_features, in_features], got " << weight;
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1, got " << input;
  if (out.getRank() != input.getRank())
    return emitOpError() << "result rank " << out.getRank() << " must equal the input rank "
                         << input.getRank();
  int64_t outFeatures = weight.getShape()[0], inFeatures = weight.getShape()[1];
  int64_t last = input.getRank() - 1;
  if (failed(verifyDim(*this, "input", input, last, inFeatures, "in_features")) ||
      failed(verifyDim(*this, "result", out, last, outFeatures, "out_features")))
    return failure();
  for (int64_t d = 0; d < last; ++d)
    if (failed(verifyDim(*this, "result", out, d, input.getShape()[d], "leading")))
      return failure();
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || !dimsCompatible(biasType.getShape()[0], outFeatures))
      return emitOpError() << "bias must be [" << formatDim(outFeatures) << "], got " << biasType;
    if (biasType.getElementType() != out.getElementType())
      return emitOpError() << "bias element type must match the result's";
  }
  if (Value residual = getResidual())
    if (failed(verifyCompatibleShape(residual.getType(), out)) ||
        getElementTypeOrSelf(residual.getType()) != out.getElementType())
      return emitOpError() << "residual " << residual.getType() << " must have the result type "
                           << out;
  if (weight.getElementType() != input.getElementType())
    return emitOpError() << "weight element type " << weight.getElementType()
                         << " must match the input's " << input.getElementType();
  return success();
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

static LogicalResult verifyNorm(Operation *op, Value input, Value scale, Value bias,
                                float epsilon) {
  if (!(epsilon > 0.0f) || !std::isfinite(epsilon))
    return op->emitOpError() << "eps must be positive and finite, got " << epsilon;
  auto inputType = cast<RankedTensorType>(input.getType());
  if (inputType.getRank() < 1)
    return op->emitOpError() << "input must have rank >= 1";
  int64_t features = inputType.getShape().back();
  for (auto [name, param] : {std::pair<StringRef, Value>{"scale", scale}, {"bias", bias}}) {
    if (!param)
      continue;
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getRank() != 1 || !dimsCompatible(type.getShape()[0], features))
      return op->emitOpError() << name << " must be [" << formatDim(features) << "], got "
                               << type;
    if (type.getElementType() != inputType.getElementType())
      return op->emitOpError() << name << " element type must match the input's";
  }
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, getInput(), getScale(), getBias(), getEpsilon().convertToFloat());
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput(), getScale(), Value(), getEpsilon().convertToFloat());
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() != 4)
    return emitOpError() << "input must be [batch, heads, seq, head_dim], got " << input;
  int64_t rotaryDim = static_cast<int64_t>(getRotaryDim());
  int64_t headDim = input.getShape()[3];
  if (rotaryDim <= 0 || rotaryDim % 2 != 0)
    return emitOpError() << "dim must be positive and even, got " << rotaryDim;
  if (!ShapedType::isDynamic(headDim) && rotaryDim > headDim)
    return emitOpError() << "dim " << rotaryDim << " exceeds head_dim " << headDim;
  // AllTypesMatch<["cos", "sin"]> has made sure that sin has cos's type.
  auto cos = cast<RankedTensorType>(getCos().getType());
  if (cos.getRank() != 2 && cos.getRank() != 3)
    return emitOpError() << "cos/sin must be [seq, dim/2] or [batch, seq, dim/2], got " << cos;
  int64_t rank = cos.getRank();
  if (failed(verifyDim(*this, "cos", cos, rank - 1, rotaryDim / 2, "dim/2")) ||
      failed(verifyDim(*this, "cos", cos, rank - 2, input.getShape()[2], "seq")))
    return failure();
  if (rank == 3 && cos.getShape()[0] != 1 &&
      failed(verifyDim(*this, "cos", cos, 0, input.getShape()[0], "batch")))
    return failure();
  return success();
}
