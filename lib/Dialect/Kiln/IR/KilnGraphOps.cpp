//===- KilnGraphOps.cpp - verifiers and folders of the graph ops ----------===//
//
// Shape and attribute rules of the ONNX-faithful ops. Every rule checks only what the types
// make known: a dynamic dim or an unranked tensor passes, so that the importer can emit ops
// before shape inference has run.
//
//===----------------------------------------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "DimRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace kiln;

//===----------------------------------------------------------------------===//
// Helpers for the shape rules
//===----------------------------------------------------------------------===//

static RankedTensorType getRanked(Value value) {
  return dyn_cast<RankedTensorType>(value.getType());
}

/// Checks that `axis` lies in [-rank, rank) (or [-rank, rank] when `inclusiveEnd`).
static LogicalResult verifyAxis(Operation *op, StringRef name, int64_t axis, int64_t rank,
                                bool inclusiveEnd = false) {
  int64_t upper = inclusiveEnd ? rank : rank - 1;
  if (axis < -rank || axis > upper)
    return op->emitOpError() << "'" << name << "' " << axis << " is out of range for rank "
                             << rank << " (expected " << -rank << " to " << upper << ")";
  return success();
}

static int64_t normalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

/// Checks that an integer attribute holding an ONNX flag is 0 or 1.
static LogicalResult verifyFlag(Operation *op, StringRef name, int64_t value) {
  if (value != 0 && value != 1)
    return op->emitOpError() << "'" << name << "' must be 0 or 1, got " << value;
  return success();
}

/// Checks that a ranked operand has the expected rank.
static LogicalResult verifyRank(Operation *op, StringRef name, Value value, int64_t rank) {
  auto type = getRanked(value);
  if (type && type.getRank() != rank)
    return op->emitOpError() << name << " must have rank " << rank << ", got " << type;
  return success();
}

/// ONNX normalisation ops: `scale` (and `bias`) must broadcast to `input`'s dims from `axis` on.
static LogicalResult verifyNormalization(Operation *op, Value input, Value scale, Value bias,
                                         Value output, int64_t axis, float epsilon) {
  if (!(epsilon >= 0.0f))
    return op->emitOpError() << "'epsilon' must be non-negative, got " << epsilon;
  if (failed(verifyCompatibleShape(input.getType(), output.getType())))
    return op->emitOpError() << "result " << output.getType()
                             << " must have the shape of the input " << input.getType();
  auto inputType = getRanked(input);
  if (!inputType)
    return success();
  int64_t rank = inputType.getRank();
  if (failed(verifyAxis(op, "axis", axis, rank)))
    return failure();
  int64_t first = normalizeAxis(axis, rank);
  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(first);
  for (auto [name, param] : {std::pair<StringRef, Value>{"scale", scale}, {"bias", bias}}) {
    if (!param)
      continue;
    auto paramType = getRanked(param);
    if (!paramType)
      continue;
    if (paramType.getRank() > static_cast<int64_t>(normalized.size()))
      return op->emitOpError() << name << " of rank " << paramType.getRank()
                               << " does not broadcast to the " << normalized.size()
                               << " normalized dims";
    ArrayRef<int64_t> tail = normalized.take_back(paramType.getRank());
    for (auto [p, n] : llvm::zip_equal(paramType.getShape(), tail))
      if (p != 1 && !dimsCompatible(p, n))
        return op->emitOpError() << name << " shape " << paramType
                                 << " does not broadcast to the normalized dims of "
                                 << inputType;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

OpFoldResult OnnxIdentityOp::fold(FoldAdaptor) { return getInput(); }

LogicalResult OnnxCastOp::verify() {
  Type resultElement = getElementTypeOrSelf(getOutput().getType());
  if (getTo() != resultElement)
    return emitOpError() << "'to' " << getTo() << " does not match the result element type "
                         << resultElement;
  return verifyFlag(*this, "saturate", static_cast<int64_t>(getSaturate()));
}

OpFoldResult OnnxCastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  return {};
}

LogicalResult OnnxClipOp::verify() {
  Type element = getElementTypeOrSelf(getInput().getType());
  for (auto [name, bound] : {std::pair<StringRef, Value>{"min", getMin()}, {"max", getMax()}}) {
    if (!bound)
      continue;
    if (getElementTypeOrSelf(bound.getType()) != element)
      return emitOpError() << name << " must have the input's element type " << element;
    if (failed(verifyRank(*this, name, bound, 0)))
      return failure();
  }
  if (getElementTypeOrSelf(getOutput().getType()) != element)
    return emitOpError() << "result must have the input's element type " << element;
  return success();
}

LogicalResult OnnxModOp::verify() {
  int64_t fmod = static_cast<int64_t>(getFmod());
  if (failed(verifyFlag(*this, "fmod", fmod)))
    return failure();
  if (fmod == 0 && isa<FloatType>(getElementTypeOrSelf(getA().getType())))
    return emitOpError() << "floating-point operands require 'fmod' = 1";
  return success();
}

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

LogicalResult OnnxMatMulOp::verify() {
  auto aType = getRanked(getA());
  auto bType = getRanked(getB());
  if (!aType || !bType)
    return success();
  int64_t aRank = aType.getRank(), bRank = bType.getRank();
  if (aRank == 0 || bRank == 0)
    return emitOpError() << "operands must have rank >= 1, got " << aType << " and " << bType;
  int64_t aK = aType.getShape().back();
  int64_t bK = bRank == 1 ? bType.getShape()[0] : bType.getShape()[bRank - 2];
  if (!dimsCompatible(aK, bK))
    return emitOpError() << "contraction dims differ: " << aK << " (of " << aType << ") vs "
                         << bK << " (of " << bType << ")";
  int64_t expectedRank = std::max(aRank, bRank) - (aRank == 1) - (bRank == 1);
  if (aRank == 1 && bRank == 1)
    expectedRank = 0;
  auto resultType = getRanked(getOutput());
  if (!resultType)
    return success();
  if (resultType.getRank() != expectedRank)
    return emitOpError() << "result must have rank " << expectedRank << ", got " << resultType;
  if (aRank >= 2 && bRank >= 2) {
    int64_t m = aType.getShape()[aRank - 2], n = bType.getShape().back();
    ArrayRef<int64_t> out = resultType.getShape();
    if (!dimsCompatible(out[expectedRank - 2], m) || !dimsCompatible(out[expectedRank - 1], n))
      return emitOpError() << "result " << resultType << " does not end in [" << formatDim(m)
                           << ", " << formatDim(n) << "]";
  }
  return success();
}

LogicalResult OnnxGemmOp::verify() {
  int64_t transA = static_cast<int64_t>(getTransA());
  int64_t transB = static_cast<int64_t>(getTransB());
  if (failed(verifyFlag(*this, "transA", transA)) || failed(verifyFlag(*this, "transB", transB)))
    return failure();
  if (failed(verifyRank(*this, "A", getA(), 2)) || failed(verifyRank(*this, "B", getB(), 2)) ||
      failed(verifyRank(*this, "result", getOutput(), 2)))
    return failure();
  auto aType = getRanked(getA());
  auto bType = getRanked(getB());
  if (!aType || !bType)
    return success();
  int64_t m = aType.getShape()[transA ? 1 : 0], aK = aType.getShape()[transA ? 0 : 1];
  int64_t bK = bType.getShape()[transB ? 1 : 0], n = bType.getShape()[transB ? 0 : 1];
  if (!dimsCompatible(aK, bK))
    return emitOpError() << "contraction dims differ: " << aK << " vs " << bK;
  if (auto resultType = getRanked(getOutput()))
    if (!dimsCompatible(resultType.getShape()[0], m) ||
        !dimsCompatible(resultType.getShape()[1], n))
      return emitOpError() << "result " << resultType << " is not [" << formatDim(m) << ", "
                           << formatDim(n) << "]";
  if (Value c = getC()) {
    auto cType = getRanked(c);
    if (cType) {
      if (cType.getRank() > 2)
        return emitOpError() << "C must have rank <= 2, got " << cType;
      SmallVector<int64_t> mn = {m, n};
      ArrayRef<int64_t> tail = ArrayRef<int64_t>(mn).take_back(cType.getRank());
      for (auto [cDim, dim] : llvm::zip_equal(cType.getShape(), tail))
        if (cDim != 1 && !dimsCompatible(cDim, dim))
          return emitOpError() << "C " << cType << " does not broadcast to [" << formatDim(m)
                               << ", " << formatDim(n) << "]";
    }
  }
  return success();
}

LogicalResult OnnxEinsumOp::verify() {
  StringRef equation = getEquation();
  std::string compact;
  for (char c : equation)
    if (c != ' ')
      compact.push_back(c);
  StringRef eq(compact);
  auto [lhs, rhs] = eq.split("->");
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (eq.empty() || terms.size() != getInputs().size())
    return emitOpError() << "equation '" << equation << "' has " << terms.size()
                         << " input terms for " << getInputs().size() << " inputs";
  llvm::SmallSet<char, 16> seen;
  for (auto [term, input] : llvm::zip_equal(terms, getInputs())) {
    bool ellipsis = term.contains("...");
    std::string letters = term.str();
    if (ellipsis)
      letters.erase(letters.find("..."), 3);
    for (char c : letters) {
      if (!llvm::isAlpha(c))
        return emitOpError() << "equation '" << equation << "' has invalid label '" << c << "'";
      seen.insert(c);
    }
    auto type = getRanked(input);
    if (!type)
      continue;
    int64_t labels = letters.size();
    if ((!ellipsis && labels != type.getRank()) || (ellipsis && labels > type.getRank()))
      return emitOpError() << "term '" << term << "' does not match operand of rank "
                           << type.getRank();
  }
  for (char c : rhs)
    if (c != '.' && !seen.contains(c))
      return emitOpError() << "output label '" << c << "' of '" << equation
                           << "' appears in no input";
  return success();
}

//===----------------------------------------------------------------------===//
// Normalisation, softmax, fused ONNX ops
//===----------------------------------------------------------------------===//

LogicalResult OnnxSoftmaxOp::verify() {
  if (auto type = getRanked(getInput()))
    return verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), type.getRank());
  return success();
}

LogicalResult OnnxLayerNormalizationOp::verify() {
  if (getStatistics().size() > 2)
    return emitOpError() << "has " << getStatistics().size()
                         << " statistics results; at most 2 (Mean, InvStdDev)";
  if (!getStatistics().empty() && getStashType() != 1)
    return emitOpError() << "'stash_type' " << getStashType()
                         << " is not supported with statistics results (only 1: float32)";
  for (Value statistic : getStatistics())
    if (!getElementTypeOrSelf(statistic.getType()).isF32())
      return emitOpError() << "statistics must be float32 (stash_type 1), got "
                           << statistic.getType();
  return verifyNormalization(*this, getInput(), getScale(), getBias(), getOutput(),
                             static_cast<int64_t>(getAxis()), getEpsilon().convertToFloat());
}

LogicalResult OnnxRMSNormalizationOp::verify() {
  return verifyNormalization(*this, getInput(), getScale(), Value(), getOutput(),
                             static_cast<int64_t>(getAxis()), getEpsilon().convertToFloat());
}

LogicalResult OnnxAttentionOp::verify() {
  if (failed(verifyFlag(*this, "is_causal", static_cast<int64_t>(getIsCausal()))))
    return failure();
  int64_t mode = static_cast<int64_t>(getQkMatmulOutputMode());
  if (mode < 0 || mode > 3)
    return emitOpError() << "'qk_matmul_output_mode' must be 0..3, got " << mode;
  float softcap = getSoftcap().convertToFloat();
  if (!(softcap >= 0.0f))
    return emitOpError() << "'softcap' must be non-negative, got " << softcap;
  if (static_cast<bool>(getPastKey()) != static_cast<bool>(getPastValue()))
    return emitOpError() << "past_key and past_value must be given together";
  if (static_cast<bool>(getPresentKey()) != static_cast<bool>(getPresentValue()))
    return emitOpError() << "present_key and present_value must be produced together";
  if (Value mask = getAttnMask()) {
    Type element = getElementTypeOrSelf(mask.getType());
    if (!isa<FloatType>(element) && !element.isInteger(1))
      return emitOpError() << "attn_mask must be boolean or floating-point, got " << element;
  }
  auto qType = getRanked(getQ()), kType = getRanked(getK()), vType = getRanked(getV());
  if (!qType || !kType || !vType)
    return success();
  int64_t rank = qType.getRank();
  if ((rank != 3 && rank != 4) || kType.getRank() != rank || vType.getRank() != rank)
    return emitOpError() << "Q, K and V must all be 3-D or all 4-D, got " << qType << ", "
                         << kType << ", " << vType;
  std::optional<int64_t> qHeads, kvHeads;
  if (auto attr = getQNumHeadsAttr())
    qHeads = attr.getInt();
  if (auto attr = getKvNumHeadsAttr())
    kvHeads = attr.getInt();
  if (rank == 3 && (!qHeads || !kvHeads))
    return emitOpError() << "3-D inputs require 'q_num_heads' and 'kv_num_heads'";
  if (rank == 4) {
    if (!ShapedType::isDynamic(qType.getShape()[1]))
      qHeads = qHeads.value_or(qType.getShape()[1]);
    if (!ShapedType::isDynamic(kType.getShape()[1]))
      kvHeads = kvHeads.value_or(kType.getShape()[1]);
  }
  if ((qHeads && *qHeads <= 0) || (kvHeads && *kvHeads <= 0))
    return emitOpError() << "head counts must be positive";
  if (qHeads && kvHeads && *qHeads % *kvHeads != 0)
    return emitOpError() << "query heads (" << *qHeads << ") must be a multiple of KV heads ("
                         << *kvHeads << ")";
  return success();
}

LogicalResult OnnxRotaryEmbeddingOp::verify() {
  if (failed(verifyFlag(*this, "interleaved", static_cast<int64_t>(getInterleaved()))))
    return failure();
  int64_t rotaryDim = static_cast<int64_t>(getRotaryEmbeddingDim());
  if (rotaryDim < 0 || rotaryDim % 2 != 0)
    return emitOpError() << "'rotary_embedding_dim' must be even and non-negative, got "
                         << rotaryDim;
  int64_t cacheRank = getPositionIds() ? 2 : 3;
  if (failed(verifyRank(*this, "cos_cache", getCosCache(), cacheRank)) ||
      failed(verifyRank(*this, "sin_cache", getSinCache(), cacheRank)))
    return failure();
  auto type = getRanked(getInput());
  if (!type)
    return success();
  if (type.getRank() != 3 && type.getRank() != 4)
    return emitOpError() << "input must be 3-D or 4-D, got " << type;
  if (type.getRank() == 3 && !getNumHeads())
    return emitOpError() << "3-D input requires 'num_heads'";
  return success();
}

LogicalResult OnnxDropoutOp::verify() {
  if (Value ratio = getRatio())
    if (failed(verifyRank(*this, "ratio", ratio, 0)))
      return failure();
  if (Value training = getTrainingMode())
    if (failed(verifyRank(*this, "training_mode", training, 0)))
      return failure();
  if (getData().getType() != getOutput().getType())
    return emitOpError() << "result type must equal the data type";
  return success();
}

LogicalResult OnnxDropoutOp::fold(FoldAdaptor, SmallVectorImpl<OpFoldResult> &results) {
  // Without training_mode, ONNX Dropout is the identity; the mask result keeps the op alive.
  if (getTrainingMode() || getMask())
    return failure();
  results.push_back(getData());
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions and scans
//===----------------------------------------------------------------------===//

template <typename ReduceOp>
static LogicalResult verifyReduce(ReduceOp op) {
  int64_t keepdims = static_cast<int64_t>(op.getKeepdims());
  if (failed(verifyFlag(op, "keepdims", keepdims)) ||
      failed(verifyFlag(op, "noop_with_empty_axes",
                        static_cast<int64_t>(op.getNoopWithEmptyAxes()))))
    return failure();
  if (Value axes = op.getAxes())
    if (failed(verifyRank(op, "axes", axes, 1)))
      return failure();
  auto dataType = getRanked(op.getData());
  auto resultType = getRanked(op.getReduced());
  if (!dataType || !resultType)
    return success();
  if (keepdims && resultType.getRank() != dataType.getRank())
    return op.emitOpError() << "with keepdims = 1 the result must have rank "
                            << dataType.getRank() << ", got " << resultType;
  if (resultType.getRank() > dataType.getRank())
    return op.emitOpError() << "result rank " << resultType.getRank()
                            << " exceeds the input rank " << dataType.getRank();
  return success();
}

LogicalResult OnnxReduceMeanOp::verify() { return verifyReduce(*this); }
LogicalResult OnnxReduceSumOp::verify() { return verifyReduce(*this); }
LogicalResult OnnxReduceMaxOp::verify() { return verifyReduce(*this); }

LogicalResult OnnxArgMaxOp::verify() {
  int64_t keepdims = static_cast<int64_t>(getKeepdims());
  if (failed(verifyFlag(*this, "keepdims", keepdims)) ||
      failed(verifyFlag(*this, "select_last_index",
                        static_cast<int64_t>(getSelectLastIndex()))))
    return failure();
  auto type = getRanked(getData());
  if (!type)
    return success();
  if (failed(verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), type.getRank())))
    return failure();
  return verifyRank(*this, "result", getReduced(), type.getRank() - (keepdims ? 0 : 1));
}

LogicalResult OnnxTopKOp::verify() {
  if (failed(verifyFlag(*this, "largest", static_cast<int64_t>(getLargest()))) ||
      failed(verifyFlag(*this, "sorted", static_cast<int64_t>(getSorted()))) ||
      failed(verifyRank(*this, "K", getK(), 1)))
    return failure();
  if (failed(verifyCompatibleShape(getValues().getType(), getIndices().getType())))
    return emitOpError() << "values and indices must have the same shape";
  auto type = getRanked(getX());
  if (!type)
    return success();
  if (failed(verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), type.getRank())))
    return failure();
  return verifyRank(*this, "values", getValues(), type.getRank());
}

LogicalResult OnnxCumSumOp::verify() {
  if (failed(verifyFlag(*this, "exclusive", static_cast<int64_t>(getExclusive()))) ||
      failed(verifyFlag(*this, "reverse", static_cast<int64_t>(getReverse()))))
    return failure();
  if (auto axisType = getRanked(getAxis()))
    if (axisType.getRank() > 1 ||
        (axisType.getRank() == 1 && !dimsCompatible(axisType.getDimSize(0), 1)))
      return emitOpError() << "axis must be a scalar, got " << axisType;
  if (failed(verifyCompatibleShape(getX().getType(), getY().getType())))
    return emitOpError() << "result " << getY().getType() << " must have the shape of the input "
                         << getX().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// Shape, layout and indexing
//===----------------------------------------------------------------------===//

/// The [start, end) dim range an ONNX Shape op selects from a tensor of `rank` dims.
static std::pair<int64_t, int64_t> getShapeRange(OnnxShapeOp op, int64_t rank) {
  auto clampIndex = [rank](int64_t index) {
    if (index < 0)
      index += rank;
    return std::clamp<int64_t>(index, 0, rank);
  };
  int64_t start = op.getStart() ? clampIndex(static_cast<int64_t>(*op.getStart())) : 0;
  int64_t end = op.getEnd() ? clampIndex(static_cast<int64_t>(*op.getEnd())) : rank;
  return {start, std::max(start, end)};
}

LogicalResult OnnxShapeOp::verify() {
  if (failed(verifyRank(*this, "result", getShape(), 1)))
    return failure();
  auto dataType = getRanked(getData());
  auto resultType = getRanked(getShape());
  if (!dataType || !resultType)
    return success();
  auto [start, end] = getShapeRange(*this, dataType.getRank());
  if (!dimsCompatible(resultType.getShape()[0], end - start))
    return emitOpError() << "result " << resultType << " must have " << (end - start)
                         << " elements";
  return success();
}

OpFoldResult OnnxShapeOp::fold(FoldAdaptor) {
  auto dataType = getRanked(getData());
  auto resultType = getRanked(getShape());
  if (!dataType || !resultType || !resultType.hasStaticShape())
    return {};
  auto [start, end] = getShapeRange(*this, dataType.getRank());
  ArrayRef<int64_t> dims = dataType.getShape().slice(start, end - start);
  if (llvm::any_of(dims, ShapedType::isDynamic))
    return {};
  return DenseIntElementsAttr::get(resultType, dims);
}

OpFoldResult OnnxSizeOp::fold(FoldAdaptor) {
  auto dataType = getRanked(getData());
  if (!dataType || !dataType.hasStaticShape())
    return {};
  return DenseIntElementsAttr::get(cast<ShapedType>(getSize().getType()),
                                   {dataType.getNumElements()});
}

LogicalResult OnnxConstantOfShapeOp::verify() {
  if (failed(verifyRank(*this, "shape", getShape(), 1)))
    return failure();
  Type resultElement = getElementTypeOrSelf(getOutput().getType());
  if (auto value = getValueAttr()) {
    if (value.getNumElements() != 1)
      return emitOpError() << "'value' must hold exactly one element, got "
                           << value.getNumElements();
    if (value.getElementType() != resultElement)
      return emitOpError() << "'value' element type " << value.getElementType()
                           << " does not match the result element type " << resultElement;
  } else if (!resultElement.isF32()) {
    return emitOpError() << "without 'value' the result is f32 zeros, got " << resultElement;
  }
  auto shapeType = getRanked(getShape());
  auto resultType = getRanked(getOutput());
  if (shapeType && resultType && !dimsCompatible(shapeType.getShape()[0], resultType.getRank()))
    return emitOpError() << "result rank " << resultType.getRank() << " does not match the "
                         << shapeType.getShape()[0] << " dims of 'shape'";
  return success();
}

LogicalResult OnnxRangeOp::verify() {
  if (failed(verifyRank(*this, "start", getStart(), 0)) ||
      failed(verifyRank(*this, "limit", getLimit(), 0)) ||
      failed(verifyRank(*this, "delta", getDelta(), 0)))
    return failure();
  return verifyRank(*this, "result", getOutput(), 1);
}

LogicalResult OnnxReshapeOp::verify() {
  if (failed(verifyFlag(*this, "allowzero", static_cast<int64_t>(getAllowzero()))) ||
      failed(verifyRank(*this, "shape", getShape(), 1)))
    return failure();
  auto shapeType = getRanked(getShape());
  auto resultType = getRanked(getReshaped());
  if (shapeType && resultType && !dimsCompatible(shapeType.getShape()[0], resultType.getRank()))
    return emitOpError() << "result rank " << resultType.getRank() << " does not match the "
                         << shapeType.getShape()[0] << " entries of 'shape'";
  auto dataType = getRanked(getData());
  if (dataType && resultType && dataType.hasStaticShape() && resultType.hasStaticShape() &&
      dataType.getNumElements() != resultType.getNumElements())
    return emitOpError() << "cannot reshape " << dataType << " (" << dataType.getNumElements()
                         << " elements) to " << resultType << " ("
                         << resultType.getNumElements() << " elements)";
  return success();
}

OpFoldResult OnnxReshapeOp::fold(FoldAdaptor) {
  auto type = getRanked(getData());
  if (type && type.hasStaticShape() && type == getReshaped().getType())
    return getData();
  return {};
}

SmallVector<int64_t> OnnxTransposeOp::getPermutation() {
  if (auto perm = getPerm())
    return llvm::to_vector(*perm);
  auto type = getRanked(getData());
  SmallVector<int64_t> reversed;
  for (int64_t i = type ? type.getRank() - 1 : -1; i >= 0; --i)
    reversed.push_back(i);
  return reversed;
}

LogicalResult OnnxTransposeOp::verify() {
  auto type = getRanked(getData());
  if (!type)
    return success();
  SmallVector<int64_t> perm = getPermutation();
  int64_t rank = type.getRank();
  llvm::SmallVector<bool> used(rank, false);
  if (static_cast<int64_t>(perm.size()) != rank)
    return emitOpError() << "'perm' has " << perm.size() << " entries for rank " << rank;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || used[p])
      return emitOpError() << "'perm' is not a permutation of 0.." << rank - 1;
    used[p] = true;
  }
  auto resultType = getRanked(getTransposed());
  if (!resultType)
    return success();
  if (failed(verifyRank(*this, "result", getTransposed(), rank)))
    return failure();
  for (int64_t i = 0; i < rank; ++i)
    if (!dimsCompatible(resultType.getShape()[i], type.getShape()[perm[i]]))
      return emitOpError() << "result " << resultType << " is not " << type
                           << " permuted by 'perm'";
  return success();
}

OpFoldResult OnnxTransposeOp::fold(FoldAdaptor) {
  // Without 'perm' the dims are reversed, which is unknown for an unranked input.
  if (!getPerm() && !getRanked(getData()))
    return {};
  SmallVector<int64_t> perm = getPermutation();
  bool identity = llvm::all_of(llvm::enumerate(perm), [](auto entry) {
    return static_cast<int64_t>(entry.index()) == entry.value();
  });
  if (identity && getData().getType() == getTransposed().getType())
    return getData();
  return {};
}

namespace {
/// transpose(transpose(x, p1), p2) -> transpose(x, p1[p2]): one data movement instead of two.
struct ComposeTransposes : public OpRewritePattern<OnnxTransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(OnnxTransposeOp op, PatternRewriter &rewriter) const override {
    // Both perms must be known and checked against a rank: the inner's input and output (the
    // outer's input) must be ranked.
    auto inner = op.getData().getDefiningOp<OnnxTransposeOp>();
    if (!inner || !getRanked(inner.getData()) || !getRanked(op.getData()))
      return failure();
    SmallVector<int64_t> innerPerm = inner.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t p : op.getPermutation())
      composed.push_back(innerPerm[p]);
    rewriter.replaceOpWithNewOp<OnnxTransposeOp>(op, op.getType(), inner.getData(),
                                                 rewriter.getDenseI64ArrayAttr(composed));
    return success();
  }
};
} // namespace

void OnnxTransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                                  MLIRContext *context) {
  results.add<ComposeTransposes>(context);
}

LogicalResult OnnxUnsqueezeOp::verify() {
  if (failed(verifyRank(*this, "axes", getAxes(), 1)))
    return failure();
  auto dataType = getRanked(getData());
  auto resultType = getRanked(getExpanded());
  auto axesType = getRanked(getAxes());
  if (!dataType || !resultType || !axesType)
    return success();
  int64_t added = axesType.getShape()[0];
  if (!ShapedType::isDynamic(added) && resultType.getRank() != dataType.getRank() + added)
    return emitOpError() << "inserting " << added << " dims into " << dataType
                         << " cannot give " << resultType;
  return success();
}

LogicalResult OnnxSqueezeOp::verify() {
  if (Value axes = getAxes())
    if (failed(verifyRank(*this, "axes", axes, 1)))
      return failure();
  auto dataType = getRanked(getData());
  auto resultType = getRanked(getSqueezed());
  if (dataType && resultType && resultType.getRank() > dataType.getRank())
    return emitOpError() << "result " << resultType << " has more dims than " << dataType;
  return success();
}

LogicalResult OnnxFlattenOp::verify() {
  if (failed(verifyRank(*this, "result", getOutput(), 2)))
    return failure();
  if (auto type = getRanked(getInput()))
    return verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), type.getRank(),
                      /*inclusiveEnd=*/true);
  return success();
}

LogicalResult OnnxExpandOp::verify() {
  if (failed(verifyRank(*this, "shape", getShape(), 1)))
    return failure();
  auto inputType = getRanked(getInput());
  auto resultType = getRanked(getOutput());
  if (!inputType || !resultType)
    return success();
  if (resultType.getRank() < inputType.getRank())
    return emitOpError() << "result " << resultType << " has fewer dims than " << inputType;
  auto shapeType = getRanked(getShape());
  if (!shapeType || ShapedType::isDynamic(shapeType.getShape()[0]))
    return success();
  int64_t entries = shapeType.getShape()[0];
  if (resultType.getRank() != std::max(inputType.getRank(), entries))
    return emitOpError() << "result rank " << resultType.getRank() << " does not match the "
                         << entries << " entries of 'shape' broadcast with " << inputType;
  return success();
}

LogicalResult OnnxConcatOp::verify() {
  // SameOperandsAndResultElementType has already rejected an op without inputs.
  auto resultType = getRanked(getConcatResult());
  RankedTensorType first;
  int64_t axis = static_cast<int64_t>(getAxis());
  int64_t axisSum = 0;
  for (Value input : getInputs()) {
    auto type = getRanked(input);
    if (!type) {
      axisSum = ShapedType::kDynamic;
      continue;
    }
    if (!first) {
      first = type;
      if (failed(verifyAxis(*this, "axis", axis, type.getRank())))
        return failure();
      axis = normalizeAxis(axis, type.getRank());
    }
    if (type.getRank() != first.getRank())
      return emitOpError() << "inputs must have the same rank, got " << first << " and " << type;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != axis && !dimsCompatible(type.getShape()[d], first.getShape()[d]))
        return emitOpError() << "inputs " << first << " and " << type << " differ in dim " << d;
    int64_t size = type.getShape()[axis];
    axisSum = ShapedType::isDynamic(size) || ShapedType::isDynamic(axisSum) ? ShapedType::kDynamic
                                                                            : axisSum + size;
  }
  if (!first || !resultType)
    return success();
  if (failed(verifyRank(*this, "result", getConcatResult(), first.getRank())))
    return failure();
  if (!dimsCompatible(resultType.getShape()[axis], axisSum))
    return emitOpError() << "result dim " << axis << " must be " << axisSum << ", got "
                         << resultType.getShape()[axis];
  return success();
}

LogicalResult OnnxSplitOp::verify() {
  if (getOutputs().empty())
    return emitOpError() << "requires at least one output";
  if (auto numOutputs = getNumOutputs()) {
    if (getSplit())
      return emitOpError() << "'num_outputs' and the 'split' input are mutually exclusive";
    if (static_cast<int64_t>(*numOutputs) != static_cast<int64_t>(getOutputs().size()))
      return emitOpError() << "'num_outputs' is " << static_cast<int64_t>(*numOutputs)
                           << " but the op has " << getOutputs().size() << " results";
  }
  if (Value split = getSplit()) {
    if (failed(verifyRank(*this, "split", split, 1)))
      return failure();
    auto splitType = getRanked(split);
    if (splitType &&
        !dimsCompatible(splitType.getShape()[0], static_cast<int64_t>(getOutputs().size())))
      return emitOpError() << "'split' has " << splitType.getShape()[0] << " sizes for "
                           << getOutputs().size() << " results";
  }
  Type element = getElementTypeOrSelf(getInput().getType());
  auto type = getRanked(getInput());
  for (Value output : getOutputs()) {
    if (getElementTypeOrSelf(output.getType()) != element)
      return emitOpError() << "results must have the input's element type " << element;
    if (type && failed(verifyRank(*this, "each result", output, type.getRank())))
      return failure();
  }
  if (type)
    return verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), type.getRank());
  return success();
}

LogicalResult OnnxSliceOp::verify() {
  SmallVector<std::pair<StringRef, Value>> params = {
      {"starts", getStarts()}, {"ends", getEnds()}, {"axes", getAxes()}, {"steps", getSteps()}};
  int64_t count = ShapedType::kDynamic;
  for (auto [name, param] : params) {
    if (!param)
      continue;
    if (failed(verifyRank(*this, name, param, 1)))
      return failure();
    auto type = getRanked(param);
    if (!type)
      continue;
    if (!dimsCompatible(count, type.getShape()[0]))
      return emitOpError() << "starts, ends, axes and steps must have the same length";
    if (!ShapedType::isDynamic(type.getShape()[0]))
      count = type.getShape()[0];
  }
  if (auto type = getRanked(getData()))
    return verifyRank(*this, "result", getOutput(), type.getRank());
  return success();
}

LogicalResult OnnxGatherOp::verify() {
  auto dataType = getRanked(getData());
  auto indicesType = getRanked(getIndices());
  if (!dataType)
    return success();
  if (failed(verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), dataType.getRank())))
    return failure();
  if (!indicesType)
    return success();
  return verifyRank(*this, "result", getOutput(),
                    dataType.getRank() + indicesType.getRank() - 1);
}

LogicalResult OnnxGatherElementsOp::verify() {
  auto dataType = getRanked(getData());
  auto indicesType = getRanked(getIndices());
  if (!dataType || !indicesType)
    return success();
  if (dataType.getRank() != indicesType.getRank())
    return emitOpError() << "data and indices must have the same rank, got " << dataType
                         << " and " << indicesType;
  if (failed(verifyAxis(*this, "axis", static_cast<int64_t>(getAxis()), dataType.getRank())))
    return failure();
  auto resultType = getRanked(getOutput());
  if (resultType && failed(verifyCompatibleShape(resultType, indicesType)))
    return emitOpError() << "result " << resultType << " must have the shape of the indices "
                         << indicesType;
  return success();
}

LogicalResult OnnxGatherNDOp::verify() {
  auto dataType = getRanked(getData());
  auto indicesType = getRanked(getIndices());
  int64_t batchDims = static_cast<int64_t>(getBatchDims());
  if (batchDims < 0)
    return emitOpError() << "'batch_dims' must be non-negative, got " << batchDims;
  if (!dataType || !indicesType)
    return success();
  int64_t r = dataType.getRank(), q = indicesType.getRank();
  if (r < 1 || q < 1 || batchDims >= std::min(r, q))
    return emitOpError() << "'batch_dims' " << batchDims << " must be below the ranks of data ("
                         << r << ") and indices (" << q << ")";
  int64_t k = indicesType.getShape().back();
  if (ShapedType::isDynamic(k))
    return success();
  if (k < 1 || k > r - batchDims)
    return emitOpError() << "index tuples of length " << k << " do not fit data of rank " << r
                         << " with batch_dims " << batchDims;
  return verifyRank(*this, "result", getOutput(), q + r - k - 1 - batchDims);
}

LogicalResult OnnxScatterNDOp::verify() {
  StringRef reduction = getReduction();
  if (!llvm::is_contained({"none", "add", "mul", "max", "min"}, reduction))
    return emitOpError() << "'reduction' must be none, add, mul, max or min, got '" << reduction
                         << "'";
  auto dataType = getRanked(getData());
  auto indicesType = getRanked(getIndices());
  if (indicesType && indicesType.getRank() < 1)
    return emitOpError() << "indices must have rank >= 1, got " << indicesType;
  if (!dataType || !indicesType || ShapedType::isDynamic(indicesType.getShape().back()))
    return success();
  int64_t r = dataType.getRank(), q = indicesType.getRank(), k = indicesType.getShape().back();
  if (k > r)
    return emitOpError() << "index tuples of length " << k << " exceed the data rank " << r;
  return verifyRank(*this, "updates", getUpdates(), q - 1 + r - k);
}

LogicalResult OnnxTriluOp::verify() {
  if (failed(verifyFlag(*this, "upper", static_cast<int64_t>(getUpper()))))
    return failure();
  if (Value k = getK())
    if (failed(verifyRank(*this, "k", k, 0)))
      return failure();
  auto type = getRanked(getInput());
  if (type && type.getRank() < 2)
    return emitOpError() << "input must have rank >= 2, got " << type;
  return success();
}
