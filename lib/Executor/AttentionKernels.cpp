//===- AttentionKernels.cpp - CPU kernels of attention and rotary embedding ---===//
//
// ONNX Attention (opset 23), ONNX RotaryEmbedding (opset 23) and kiln.attention. Both attention
// ops reduce to one computation on [batch, heads, seq, head_dim] tensors with native GQA (query
// head h reads K/V head h / (q_heads / kv_heads)):
//
//   scores = scale * Q K^T -> softcap -> + mask, causal -> softmax -> P V
//
// Softcap comes before the mask so that masked scores stay -inf (ONNX's corrected order, as in
// ONNX Runtime). Scores, softmax sums and P V accumulate in float32 (double for f64 tensors).
//
// The two ops differ where their definitions do: ONNX Attention aligns its causal diagonal after
// the past keys (query i sees keys j <= past_len + i, so top-left without a cache, as in the ONNX
// reference) and pads a mask shorter than the keys with -inf; kiln.attention aligns it
// bottom-right (j <= i + kv_len - q_len) and broadcasts its mask. A boolean mask is 0 where true
// and -inf where false. A row with every key masked (-inf) gives NaN in ONNX Attention, as the
// reference's softmax does, and 0 in kiln.attention (FlashAttention's convention, and what the
// exporters' IsNaN/Where guard computes).
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include <cmath>
#include <limits>
#include <vector>

using namespace mlir;

namespace kiln::exec {
namespace {

//===----------------------------------------------------------------------===//
// The shared attention computation
//===----------------------------------------------------------------------===//

/// Sizes of one attention problem. Q is [batch, qHeads, qLen, headDim], K is
/// [batch, kvHeads, kvLen, headDim] and V [batch, kvHeads, kvLen, vHeadDim], all contiguous.
struct AttentionDims {
  int64_t batch = 0, qHeads = 0, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 0, vHeadDim = 0;
};

/// An additive mask read as if broadcast to the scores [batch, qHeads, qLen, kvLen].
template <typename T> struct MaskView {
  std::vector<T> bias;     // the mask's own elements as additive bias (bool: 0 or -inf)
  int64_t strides[4] = {}; // into `bias` per score dim; 0 along broadcast dims
  int64_t validKeys = 0;   // keys from here on are masked (ONNX pads a short mask with -inf)
};

/// Which intermediate scores ONNX Attention's optional 4th output holds (qk_matmul_output_mode).
/// The numbering follows the pipeline's stages, as ONNX's corrected spec (onnx/onnx#7867 and
/// #7913) and ONNX Runtime number them; the first opset-23 text had 1 and 2 swapped.
enum class ScoresSnapshot { None = -1, Raw = 0, SoftCapped = 1, Masked = 2, Softmax = 3 };

template <typename T> struct AttentionOptions {
  T scale = 1;
  T softcap = 0; // 0: none
  bool causal = false;
  int64_t causalOffset = 0; // query i sees key j iff j <= i + causalOffset
  const MaskView<T> *mask = nullptr;
  ScoresSnapshot snapshot = ScoresSnapshot::None;
  bool zeroFullyMaskedRows = false; // kiln.attention: such a row's output is 0, not NaN
};

/// Computes the attention output [batch, qHeads, qLen, vHeadDim] into `out` and, if the options
/// ask for it, the scores at the requested stage [batch, qHeads, qLen, kvLen] into `scoresOut`.
template <typename T>
void computeAttention(const AttentionDims &dims, ArrayRef<T> q, ArrayRef<T> k, ArrayRef<T> v,
                      const AttentionOptions<T> &options, MutableArrayRef<T> out,
                      MutableArrayRef<T> scoresOut) {
  const T negInf = -std::numeric_limits<T>::infinity();
  int64_t group = dims.qHeads / dims.kvHeads;
  std::vector<T> scores(dims.kvLen);
  auto snapshot = [&](ScoresSnapshot stage, int64_t row) {
    if (options.snapshot == stage)
      std::copy(scores.begin(), scores.end(), scoresOut.begin() + row * dims.kvLen);
  };
  for (int64_t b = 0; b < dims.batch; ++b) {
    for (int64_t h = 0; h < dims.qHeads; ++h) {
      int64_t kvHead = b * dims.kvHeads + h / group;
      const T *keys = k.data() + kvHead * dims.kvLen * dims.headDim;
      const T *values = v.data() + kvHead * dims.kvLen * dims.vHeadDim;
      for (int64_t i = 0; i < dims.qLen; ++i) {
        int64_t row = (b * dims.qHeads + h) * dims.qLen + i;
        const T *query = q.data() + row * dims.headDim;
        for (int64_t j = 0; j < dims.kvLen; ++j) {
          const T *key = keys + j * dims.headDim;
          T dot = 0;
          for (int64_t d = 0; d < dims.headDim; ++d)
            dot += query[d] * key[d];
          scores[j] = options.scale * dot;
        }
        snapshot(ScoresSnapshot::Raw, row);
        if (options.softcap > 0)
          for (T &score : scores)
            score = options.softcap * std::tanh(score / options.softcap);
        snapshot(ScoresSnapshot::SoftCapped, row);
        if (const MaskView<T> *mask = options.mask) {
          const T *maskRow = mask->bias.data() + b * mask->strides[0] + h * mask->strides[1] +
                             i * mask->strides[2];
          for (int64_t j = 0; j < dims.kvLen; ++j)
            scores[j] += j < mask->validKeys ? maskRow[j * mask->strides[3]] : negInf;
        }
        if (options.causal)
          for (int64_t j = std::max<int64_t>(i + options.causalOffset + 1, 0); j < dims.kvLen; ++j)
            scores[j] = negInf;
        snapshot(ScoresSnapshot::Masked, row);

        // Softmax. A row whose every key is masked gives NaN, as in the ONNX reference, unless
        // the op defines it as 0.
        T maxScore = negInf;
        for (T score : scores)
          maxScore = std::max(maxScore, score);
        if (options.zeroFullyMaskedRows && maxScore == negInf) {
          T *output = out.data() + row * dims.vHeadDim;
          std::fill(output, output + dims.vHeadDim, T(0));
          continue;
        }
        T sum = 0;
        for (T &score : scores) {
          score = std::exp(score - maxScore);
          sum += score;
        }
        for (T &score : scores)
          score /= sum;
        snapshot(ScoresSnapshot::Softmax, row);

        T *output = out.data() + row * dims.vHeadDim;
        std::fill(output, output + dims.vHeadDim, T(0));
        for (int64_t j = 0; j < dims.kvLen; ++j) {
          T weight = scores[j];
          const T *value = values + j * dims.vHeadDim;
          for (int64_t d = 0; d < dims.vHeadDim; ++d)
            output[d] += weight * value[d];
        }
      }
    }
  }
}

/// Reads `mask` as additive bias broadcast to the scores `[batch, qHeads, qLen, kvLen]`. With
/// `padKeys` (ONNX Attention), a last dim shorter than kvLen is padded with -inf instead of
/// broadcast, as the ONNX spec says.
template <typename T>
FailureOr<MaskView<T>> makeMaskView(Operation *op, const Tensor &mask, const AttentionDims &dims,
                                    bool padKeys) {
  int64_t scoreDims[4] = {dims.batch, dims.qHeads, dims.qLen, dims.kvLen};
  int64_t rank = mask.getRank();
  ArrayRef<int64_t> shape = mask.getShape();
  bool valid = rank >= 1 && rank <= 4;
  for (int64_t d = 0; valid && d < rank; ++d) {
    int64_t target = scoreDims[4 - rank + d];
    bool keys = d == rank - 1;
    valid = shape[d] == target || shape[d] == 1 || (keys && padKeys && shape[d] < target);
  }
  if (!valid)
    return op->emitOpError() << "mask " << mask.describe()
                             << " does not broadcast to the scores [batch, heads, q_len, kv_len] = "
                             << formatShape(scoreDims);
  MaskView<T> view;
  bool isBool = mask.getDType() == DType::Bool;
  view.bias.resize(mask.getNumElements());
  for (int64_t i = 0, e = mask.getNumElements(); i < e; ++i)
    view.bias[i] = isBool ? (mask.getInt(i) ? T(0) : -std::numeric_limits<T>::infinity())
                          : static_cast<T>(mask.getDouble(i));
  SmallVector<int64_t> own = getStrides(shape);
  for (int64_t d = 0; d < rank; ++d) {
    bool broadcast = shape[d] == 1 && !(d == rank - 1 && padKeys);
    view.strides[4 - rank + d] = broadcast ? 0 : own[d];
  }
  view.validKeys = padKeys ? std::min(shape.back(), dims.kvLen) : dims.kvLen;
  return view;
}

/// The elements of a [batch, seq, heads * size] tensor as [batch, heads, seq, size].
Tensor splitHeads(const Tensor &tensor, int64_t heads) {
  ArrayRef<int64_t> shape = tensor.getShape();
  int64_t size = shape[2] / heads;
  Tensor split = tensor.reshaped({shape[0], shape[1], heads, size});
  SmallVector<int64_t> strides = getStrides(split.getShape());
  return copyStrided(split, 0, {strides[0], strides[2], strides[1], strides[3]},
                     {shape[0], heads, shape[1], size});
}

/// The inverse of splitHeads: [batch, heads, seq, size] to [batch, seq, heads * size].
Tensor mergeHeads(const Tensor &tensor) {
  ArrayRef<int64_t> shape = tensor.getShape();
  SmallVector<int64_t> strides = getStrides(shape);
  Tensor merged = copyStrided(tensor, 0, {strides[0], strides[2], strides[1], strides[3]},
                              {shape[0], shape[2], shape[1], shape[3]});
  return merged.reshaped({shape[0], shape[2], shape[1] * shape[3]});
}

/// `past` and `current` ([batch, heads, seq, size]) concatenated along seq.
Tensor concatSequence(const Tensor *past, const Tensor &current) {
  if (!past)
    return current;
  ArrayRef<int64_t> shape = current.getShape();
  int64_t pastLen = past->getShape()[2];
  SmallVector<int64_t> shapeOut = {shape[0], shape[1], pastLen + shape[2], shape[3]};
  Tensor result = Tensor::zeros(current.getDType(), shapeOut);
  int64_t pastBlock = pastLen * shape[3], currentBlock = shape[2] * shape[3];
  for (int64_t bh = 0, e = shape[0] * shape[1]; bh < e; ++bh) {
    int64_t base = bh * (pastBlock + currentBlock);
    copyElements(*past, bh * pastBlock, result, base, pastBlock);
    copyElements(current, bh * currentBlock, result, base + pastBlock, currentBlock);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// ONNX Attention
//===----------------------------------------------------------------------===//

/// The operands of an ONNX Attention op brought to the 4-D layout, past K/V included.
struct OnnxAttentionProblem {
  AttentionDims dims;
  bool inputs3D = false;
  Tensor q, k, v; // 4-D; k and v hold past + current keys/values
  int64_t pastLen = 0;
};

FailureOr<OnnxAttentionProblem> prepareOnnxAttention(OnnxAttentionOp attention,
                                                     ExecutionContext &ctx) {
  const Tensor &q = ctx.get(attention.getQ());
  const Tensor &k = ctx.get(attention.getK());
  const Tensor &v = ctx.get(attention.getV());
  const Tensor *pastKey = ctx.getOptional(attention.getPastKey());
  const Tensor *pastValue = ctx.getOptional(attention.getPastValue());
  auto fail = [&]() {
    return attention.emitOpError() << "inconsistent shapes Q " << q.describe() << ", K "
                                   << k.describe() << ", V " << v.describe();
  };
  int64_t rank = q.getRank();
  if ((rank != 3 && rank != 4) || k.getRank() != rank || v.getRank() != rank)
    return attention.emitOpError() << "Q, K and V must all be 3-D or all 4-D, got " << q.describe()
                                   << ", " << k.describe() << ", " << v.describe();
  if (!isFloatingPoint(q.getDType()) || k.getDType() != q.getDType() ||
      v.getDType() != q.getDType())
    return attention.emitOpError() << "Q, K and V must have the same floating-point type";
  std::optional<int64_t> qHeadsAttr, kvHeadsAttr;
  if (auto attr = attention.getQNumHeadsAttr())
    qHeadsAttr = attr.getInt();
  if (auto attr = attention.getKvNumHeadsAttr())
    kvHeadsAttr = attr.getInt();

  OnnxAttentionProblem problem;
  AttentionDims &dims = problem.dims;
  dims.batch = q.getShape()[0];
  if (k.getShape()[0] != dims.batch || v.getShape()[0] != dims.batch)
    return fail();
  if (rank == 3) {
    if (!qHeadsAttr || !kvHeadsAttr || *qHeadsAttr <= 0 || *kvHeadsAttr <= 0)
      return attention.emitOpError()
             << "3-D inputs require positive 'q_num_heads' and 'kv_num_heads'";
    dims.qHeads = *qHeadsAttr;
    dims.kvHeads = *kvHeadsAttr;
    if (q.getShape()[2] % dims.qHeads != 0 || k.getShape()[2] % dims.kvHeads != 0 ||
        v.getShape()[2] % dims.kvHeads != 0)
      return attention.emitOpError()
             << "hidden sizes of Q " << q.describe() << ", K " << k.describe() << ", V "
             << v.describe() << " are not multiples of the head counts";
    dims.qLen = q.getShape()[1];
    dims.kvLen = k.getShape()[1];
    dims.headDim = q.getShape()[2] / dims.qHeads;
    dims.vHeadDim = v.getShape()[2] / dims.kvHeads;
    if (k.getShape()[2] / dims.kvHeads != dims.headDim || v.getShape()[1] != dims.kvLen)
      return fail();
    problem.inputs3D = true;
    problem.q = splitHeads(q, dims.qHeads);
    problem.k = splitHeads(k, dims.kvHeads);
    problem.v = splitHeads(v, dims.kvHeads);
  } else {
    dims.qHeads = q.getShape()[1];
    dims.kvHeads = k.getShape()[1];
    dims.qLen = q.getShape()[2];
    dims.kvLen = k.getShape()[2];
    dims.headDim = q.getShape()[3];
    dims.vHeadDim = v.getShape()[3];
    if (v.getShape()[1] != dims.kvHeads || v.getShape()[2] != dims.kvLen ||
        k.getShape()[3] != dims.headDim)
      return fail();
    if ((qHeadsAttr && *qHeadsAttr != dims.qHeads) || (kvHeadsAttr && *kvHeadsAttr != dims.kvHeads))
      return attention.emitOpError() << "'q_num_heads'/'kv_num_heads' disagree with Q "
                                     << q.describe() << " and K " << k.describe();
    problem.q = q;
    problem.k = k;
    problem.v = v;
  }
  if (dims.qHeads <= 0 || dims.kvHeads <= 0 || dims.qHeads % dims.kvHeads != 0)
    return attention.emitOpError()
           << "query heads (" << dims.qHeads << ") must be a positive multiple of KV heads ("
           << dims.kvHeads << ")";

  if (static_cast<bool>(pastKey) != static_cast<bool>(pastValue))
    return attention.emitOpError() << "past_key and past_value must be given together";
  if (pastKey) {
    problem.pastLen = pastKey->getRank() == 4 ? pastKey->getShape()[2] : -1;
    SmallVector<int64_t> keyShape = {dims.batch, dims.kvHeads, problem.pastLen, dims.headDim};
    SmallVector<int64_t> valueShape = {dims.batch, dims.kvHeads, problem.pastLen, dims.vHeadDim};
    if (pastKey->getShape() != ArrayRef<int64_t>(keyShape) ||
        pastValue->getShape() != ArrayRef<int64_t>(valueShape) ||
        pastKey->getDType() != q.getDType() || pastValue->getDType() != q.getDType())
      return attention.emitOpError()
             << "past_key " << pastKey->describe() << " and past_value " << pastValue->describe()
             << " must be [batch, kv_heads, past_len, head_size] with the type of K and V";
  }
  // The present K/V: past followed by the new keys and values along the sequence.
  problem.k = concatSequence(pastKey, problem.k);
  problem.v = concatSequence(pastValue, problem.v);
  dims.kvLen += problem.pastLen;
  return problem;
}

template <typename T>
LogicalResult runOnnxAttentionIn(OnnxAttentionOp attention, ExecutionContext &ctx,
                                 OnnxAttentionProblem &problem) {
  const AttentionDims &dims = problem.dims;
  AttentionOptions<T> options;
  // Default scale 1/sqrt(head_size) computed in double and rounded once, as ONNX Runtime does.
  options.scale = attention.getScale()
                      ? static_cast<T>(attention.getScale()->convertToDouble())
                      : static_cast<T>(1.0 / std::sqrt(static_cast<double>(dims.headDim)));
  options.softcap = static_cast<T>(attention.getSoftcap().convertToDouble());
  // ONNX aligns the causal diagonal after the past keys: query i sees keys j <= past + i.
  options.causal = static_cast<int64_t>(attention.getIsCausal()) != 0;
  options.causalOffset = problem.pastLen;
  std::optional<MaskView<T>> mask;
  if (const Tensor *maskTensor = ctx.getOptional(attention.getAttnMask())) {
    FailureOr<MaskView<T>> view = makeMaskView<T>(attention, *maskTensor, dims, /*padKeys=*/true);
    if (failed(view))
      return failure();
    mask = std::move(*view);
    options.mask = &*mask;
  }
  Value scoresResult = attention.getQkMatmulOutput();
  if (scoresResult)
    options.snapshot = static_cast<ScoresSnapshot>(attention.getQkMatmulOutputMode());

  DType dtype = problem.q.getDType();
  Tensor output = Tensor::zeros(dtype, {dims.batch, dims.qHeads, dims.qLen, dims.vHeadDim});
  Tensor scores;
  if (scoresResult)
    scores = Tensor::zeros(dtype, {dims.batch, dims.qHeads, dims.qLen, dims.kvLen});
  computeAttention<T>(dims, getStored<T>(problem.q), getStored<T>(problem.k),
                      getStored<T>(problem.v), options, getMutableStored<T>(output),
                      scoresResult ? getMutableStored<T>(scores) : MutableArrayRef<T>());
  output.normalize();
  ctx.set(attention.getOutput(), problem.inputs3D ? mergeHeads(output) : output);
  if (Value presentKey = attention.getPresentKey())
    ctx.set(presentKey, problem.k);
  if (Value presentValue = attention.getPresentValue())
    ctx.set(presentValue, problem.v);
  if (scoresResult) {
    scores.normalize();
    ctx.set(scoresResult, scores);
  }
  return success();
}

LogicalResult runOnnxAttention(Operation *op, ExecutionContext &ctx) {
  auto attention = cast<OnnxAttentionOp>(op);
  FailureOr<OnnxAttentionProblem> problem = prepareOnnxAttention(attention, ctx);
  if (failed(problem))
    return failure();
  if (computesInDouble(problem->q.getDType()))
    return runOnnxAttentionIn<double>(attention, ctx, *problem);
  return runOnnxAttentionIn<float>(attention, ctx, *problem);
}

//===----------------------------------------------------------------------===//
// kiln.attention
//===----------------------------------------------------------------------===//

template <typename T>
LogicalResult runKilnAttentionIn(AttentionOp attention, ExecutionContext &ctx,
                                 const AttentionDims &dims) {
  const Tensor &q = ctx.get(attention.getQuery());
  AttentionOptions<T> options;
  options.scale = static_cast<T>(attention.getScale().convertToDouble());
  options.softcap = static_cast<T>(attention.getSoftcap().convertToDouble());
  // Bottom-right alignment: the last query sees every key (a decoder with a cache).
  options.causal = attention.getCausal();
  options.causalOffset = dims.kvLen - dims.qLen;
  options.zeroFullyMaskedRows = true;
  std::optional<MaskView<T>> mask;
  if (const Tensor *maskTensor = ctx.getOptional(attention.getMask())) {
    FailureOr<MaskView<T>> view = makeMaskView<T>(attention, *maskTensor, dims, /*padKeys=*/false);
    if (failed(view))
      return failure();
    mask = std::move(*view);
    options.mask = &*mask;
  }
  Tensor output = Tensor::zeros(q.getDType(), {dims.batch, dims.qHeads, dims.qLen, dims.vHeadDim});
  computeAttention<T>(dims, getStored<T>(q), getStored<T>(ctx.get(attention.getKey())),
                      getStored<T>(ctx.get(attention.getValue())), options,
                      getMutableStored<T>(output), MutableArrayRef<T>());
  output.normalize();
  ctx.set(attention.getOutput(), output);
  return success();
}

LogicalResult runKilnAttention(Operation *op, ExecutionContext &ctx) {
  auto attention = cast<AttentionOp>(op);
  const Tensor &q = ctx.get(attention.getQuery());
  const Tensor &k = ctx.get(attention.getKey());
  const Tensor &v = ctx.get(attention.getValue());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return op->emitOpError() << "query, key and value must be 4-D";
  AttentionDims dims;
  dims.batch = q.getShape()[0];
  dims.qHeads = static_cast<int64_t>(attention.getNumHeads());
  dims.kvHeads = static_cast<int64_t>(attention.getNumKvHeads());
  dims.qLen = q.getShape()[2];
  dims.kvLen = k.getShape()[2];
  dims.headDim = static_cast<int64_t>(attention.getHeadDim());
  dims.vHeadDim = v.getShape()[3];
  SmallVector<int64_t> qShape = {dims.batch, dims.qHeads, dims.qLen, dims.headDim};
  SmallVector<int64_t> kShape = {dims.batch, dims.kvHeads, dims.kvLen, dims.headDim};
  SmallVector<int64_t> vShape = {dims.batch, dims.kvHeads, dims.kvLen, dims.vHeadDim};
  if (q.getShape() != ArrayRef<int64_t>(qShape) || k.getShape() != ArrayRef<int64_t>(kShape) ||
      v.getShape() != ArrayRef<int64_t>(vShape) || dims.kvHeads <= 0 ||
      dims.qHeads % dims.kvHeads != 0)
    return op->emitOpError() << "query " << q.describe() << ", key " << k.describe()
                             << " and value " << v.describe() << " do not match heads "
                             << dims.qHeads << ", kv_heads " << dims.kvHeads << ", head_dim "
                             << dims.headDim;
  if (!isFloatingPoint(q.getDType()) || k.getDType() != q.getDType() ||
      v.getDType() != q.getDType())
    return op->emitOpError() << "query, key and value must have the same floating-point type";
  if (attention.getCausal() && dims.qLen > dims.kvLen)
    return op->emitOpError() << "causal attention needs q_len <= kv_len, got q_len " << dims.qLen
                             << " and kv_len " << dims.kvLen;
  if (computesInDouble(q.getDType()))
    return runKilnAttentionIn<double>(attention, ctx, dims);
  return runKilnAttentionIn<float>(attention, ctx, dims);
}

//===----------------------------------------------------------------------===//
// ONNX RotaryEmbedding
//===----------------------------------------------------------------------===//

template <typename T>
LogicalResult runRotaryEmbeddingIn(OnnxRotaryEmbeddingOp rotary, ExecutionContext &ctx) {
  Operation *op = rotary;
  const Tensor &input = ctx.get(rotary.getInput());
  const Tensor &cosCache = ctx.get(rotary.getCosCache());
  const Tensor &sinCache = ctx.get(rotary.getSinCache());
  const Tensor *positionIds = ctx.getOptional(rotary.getPositionIds());
  ArrayRef<int64_t> shape = input.getShape();
  // 4-D input is [batch, heads, seq, head_size]; 3-D is [batch, seq, heads * head_size].
  bool is3D = input.getRank() == 3;
  int64_t batch = shape[0], seq = is3D ? shape[1] : shape[2], heads;
  if (is3D) {
    auto numHeads = rotary.getNumHeads();
    heads = numHeads ? static_cast<int64_t>(*numHeads) : 0;
    if (heads <= 0 || shape[2] % heads != 0)
      return op->emitOpError() << "3-D input " << input.describe()
                               << " needs 'num_heads' dividing its hidden size";
  } else {
    heads = shape[1];
  }
  int64_t headSize = is3D ? shape[2] / heads : shape[3];
  int64_t rotaryDim = static_cast<int64_t>(rotary.getRotaryEmbeddingDim());
  if (rotaryDim == 0)
    rotaryDim = headSize;
  if (rotaryDim > headSize || rotaryDim % 2 != 0)
    return op->emitOpError() << "rotary_embedding_dim " << rotaryDim
                             << " must be even and at most the head size " << headSize;
  int64_t half = rotaryDim / 2;

  // cos/sin of position (b, s): cache[position_ids[b, s]] or cache[b, s] (batch may be 1).
  SmallVector<int64_t> cacheRows; // row of the caches for each (b, s)
  if (positionIds) {
    if (positionIds->getShape() != ArrayRef<int64_t>({batch, seq}))
      return op->emitOpError() << "position_ids " << positionIds->describe() << " must be ["
                               << batch << ", " << seq << "]";
    if (cosCache.getRank() != 2 || cosCache.getShape()[1] != half)
      return op->emitOpError() << "cos_cache " << cosCache.describe() << " must be [max_position, "
                               << half << "]";
    int64_t maxPosition = cosCache.getShape()[0];
    for (int64_t i = 0, e = positionIds->getNumElements(); i < e; ++i) {
      int64_t position = positionIds->getInt(i);
      if (position < 0 || position >= maxPosition)
        return op->emitOpError() << "position id " << position << " is out of range for a cache of "
                                 << maxPosition << " positions";
      cacheRows.push_back(position);
    }
  } else {
    if (cosCache.getRank() != 3 ||
        (cosCache.getShape()[0] != batch && cosCache.getShape()[0] != 1) ||
        cosCache.getShape()[1] != seq || cosCache.getShape()[2] != half)
      return op->emitOpError() << "cos_cache " << cosCache.describe() << " must be [" << batch
                               << ", " << seq << ", " << half << "]";
    bool broadcastBatch = cosCache.getShape()[0] == 1;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s)
        cacheRows.push_back((broadcastBatch ? 0 : b) * seq + s);
  }
  if (sinCache.getShape() != cosCache.getShape())
    return op->emitOpError() << "sin_cache " << sinCache.describe()
                             << " must have the shape of cos_cache " << cosCache.describe();
  std::vector<T> cosValues(cosCache.getNumElements()), sinValues(sinCache.getNumElements());
  for (int64_t i = 0, e = cosCache.getNumElements(); i < e; ++i) {
    cosValues[i] = static_cast<T>(cosCache.getDouble(i));
    sinValues[i] = static_cast<T>(sinCache.getDouble(i));
  }

  Tensor result = Tensor::zeros(input.getDType(), shape);
  ArrayRef<T> in = getStored<T>(input);
  MutableArrayRef<T> out = getMutableStored<T>(result);
  std::copy(in.begin(), in.end(), out.begin()); // the dims past rotary_dim pass through
  bool interleaved = static_cast<int64_t>(rotary.getInterleaved()) != 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < seq; ++s) {
        int64_t vector = is3D ? (b * seq + s) * heads + h : (b * heads + h) * seq + s;
        int64_t cacheRow = cacheRows[b * seq + s];
        rotatePairs(in.data() + vector * headSize, out.data() + vector * headSize,
                    cosValues.data() + cacheRow * half, sinValues.data() + cacheRow * half,
                    rotaryDim, interleaved);
      }
    }
  }
  result.normalize();
  ctx.set(rotary.getOutput(), result);
  return success();
}

LogicalResult runRotaryEmbedding(Operation *op, ExecutionContext &ctx) {
  auto rotary = cast<OnnxRotaryEmbeddingOp>(op);
  const Tensor &input = ctx.get(rotary.getInput());
  if (input.getRank() != 3 && input.getRank() != 4)
    return op->emitOpError() << "input must be 3-D or 4-D, got " << input.describe();
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  if (computesInDouble(input.getDType()))
    return runRotaryEmbeddingIn<double>(rotary, ctx);
  return runRotaryEmbeddingIn<float>(rotary, ctx);
}

} // namespace

void registerAttentionKernels(KernelRegistry &registry) {
  registry.add(OnnxAttentionOp::getOperationName(), runOnnxAttention);
  registry.add(AttentionOp::getOperationName(), runKilnAttention);
  registry.add(OnnxRotaryEmbeddingOp::getOperationName(), runRotaryEmbedding);
}

} // namespace kiln::exec
