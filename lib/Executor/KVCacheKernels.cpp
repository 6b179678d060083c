//===- KVCacheKernels.cpp - CPU kernels of the KV cache ops ---------------===//
//
// kiln.kv_cache.create, kiln.kv_cache.write and kiln.kv_cache.attention. A `!kiln.kv_cache`
// value is a tensor of the cache's element type in its slot-major layout
// `[slots, layers, 2, kv_heads, max_seq, head_dim]` (getKVCacheShape). The ops have value
// semantics: a write returns an updated cache. It updates its operand in place when that is the
// operand's last use and no other value shares the buffer (ExecutionContext::takeForUpdate), so
// that a decode step costs no copy of the cache; otherwise it writes into a copy.
//
// kiln.kv_cache.attention computes, for each packed token, what kiln.attention causal computes
// for the last query row of its sequence, in the same order of operations (the dot products,
// the scaled scores, the max, exp, the sum, the normalisation, the weighted sum of values), so
// that prefill and decode through the cache give the very floats of a full recompute.
//
// The executor is the oracle: slots and positions out of range (undefined behaviour on the GPU)
// and a `prefill` attention whose tokens are not one sequence at consecutive positions are
// errors here.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <vector>

using namespace mlir;

namespace kiln::exec {
namespace {

/// Where one layer of one slot lives in a cache tensor.
struct CacheLayout {
  int64_t slots = 0, layers = 0, kvHeads = 0, maxSeq = 0, headDim = 0;

  /// The layout of a cache tensor (checked against its type where it was computed).
  static CacheLayout of(const Tensor &cache) {
    ArrayRef<int64_t> shape = cache.getShape();
    assert(shape.size() == 6 && shape[2] == 2 && "not a KV cache tensor");
    return {shape[0], shape[1], shape[3], shape[4], shape[5]};
  }
  /// Index of element (slot, layer, kv, head, pos, 0).
  int64_t offset(int64_t slot, int64_t layer, int64_t kv, int64_t head, int64_t pos) const {
    return ((((slot * layers + layer) * 2 + kv) * kvHeads + head) * maxSeq + pos) * headDim;
  }
};

/// Checks `positions` and `slots` ([tokens] each) against the cache and returns them.
LogicalResult readTokenIndices(Operation *op, const Tensor &positions, const Tensor &slots,
                               int64_t tokens, const CacheLayout &layout,
                               SmallVectorImpl<int64_t> &positionValues,
                               SmallVectorImpl<int64_t> &slotValues) {
  if (positions.getShape() != ArrayRef<int64_t>(tokens) ||
      slots.getShape() != ArrayRef<int64_t>(tokens))
    return op->emitOpError() << "positions " << positions.describe() << " and slots "
                             << slots.describe() << " must be [" << tokens
                             << "] (one per packed token)";
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t position = positions.getInt(t), slot = slots.getInt(t);
    if (slot < 0 || slot >= layout.slots)
      return op->emitOpError() << "token " << t << ": slot " << slot
                               << " is out of range for a cache of " << layout.slots
                               << (layout.slots == 1 ? " slot" : " slots");
    if (position < 0 || position >= layout.maxSeq)
      return op->emitOpError() << "token " << t << ": position " << position
                               << " is out of range for a cache of max_seq " << layout.maxSeq;
    positionValues.push_back(position);
    slotValues.push_back(slot);
  }
  return success();
}

/// The layer attribute, checked against the cache.
FailureOr<int64_t> readLayer(Operation *op, uint64_t layerAttr, const CacheLayout &layout) {
  int64_t layer = static_cast<int64_t>(layerAttr);
  if (layer < 0 || layer >= layout.layers)
    return op->emitOpError() << "layer " << layer << " is out of range for a cache of "
                             << layout.layers << " layers";
  return layer;
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.create
//===----------------------------------------------------------------------===//

LogicalResult runCreate(Operation *op, ExecutionContext &ctx) {
  auto create = cast<KVCacheCreateOp>(op);
  ctx.set(create.getCache(), createKVCache(create.getCache().getType()));
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.write
//===----------------------------------------------------------------------===//

template <typename T>
void writeTokens(Tensor &cache, const CacheLayout &layout, int64_t layer, const Tensor &key,
                 const Tensor &value, ArrayRef<int64_t> positions, ArrayRef<int64_t> slots) {
  MutableArrayRef<T> stored = getMutableStored<T>(cache);
  ArrayRef<T> keys = getStored<T>(key), values = getStored<T>(value);
  int64_t tokens = static_cast<int64_t>(positions.size()), headDim = layout.headDim;
  // Tokens in order: of two tokens at one (slot, position), the later one stays.
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < layout.kvHeads; ++h) {
      int64_t source = (h * tokens + t) * headDim;
      std::copy_n(keys.data() + source, headDim,
                  stored.data() + layout.offset(slots[t], layer, 0, h, positions[t]));
      std::copy_n(values.data() + source, headDim,
                  stored.data() + layout.offset(slots[t], layer, 1, h, positions[t]));
    }
  }
}

LogicalResult runWrite(Operation *op, ExecutionContext &ctx) {
  auto write = cast<KVCacheWriteOp>(op);
  const Tensor &key = ctx.get(write.getKey());
  const Tensor &value = ctx.get(write.getValue());
  CacheLayout layout = CacheLayout::of(ctx.get(write.getCache()));
  DType dtype = ctx.get(write.getCache()).getDType();
  FailureOr<int64_t> layer = readLayer(op, write.getLayer(), layout);
  if (failed(layer))
    return failure();
  int64_t tokens = key.getRank() == 4 ? key.getShape()[2] : -1;
  SmallVector<int64_t> expected = {1, layout.kvHeads, tokens, layout.headDim};
  if (key.getShape() != ArrayRef<int64_t>(expected) || value.getShape() != key.getShape() ||
      key.getDType() != dtype || value.getDType() != dtype)
    return op->emitOpError() << "key " << key.describe() << " and value " << value.describe()
                             << " must be [1, kv_heads, tokens, head_dim] = "
                             << formatShape(expected) << " of the cache's element type "
                             << getDTypeName(dtype);
  SmallVector<int64_t> positions, slots;
  if (failed(readTokenIndices(op, ctx.get(write.getPositions()), ctx.get(write.getSlots()),
                              tokens, layout, positions, slots)))
    return failure();
  // Checked before taking the cache: a failed op leaves its operands as they were.
  Tensor cache = ctx.takeForUpdate(write.getCache(), op);
  if (computesInDouble(dtype))
    writeTokens<double>(cache, layout, *layer, key, value, positions, slots);
  else
    writeTokens<float>(cache, layout, *layer, key, value, positions, slots);
  ctx.set(write.getUpdated(), std::move(cache));
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.attention
//===----------------------------------------------------------------------===//

/// The attention of each packed token over its slot's keys and values at positions
/// 0..positions[t], in the order of operations of kiln.attention (AttentionKernels.cpp).
template <typename T>
Tensor cacheAttention(const Tensor &query, const Tensor &cache, const CacheLayout &layout,
                      int64_t layer, int64_t heads, T scale, ArrayRef<int64_t> positions,
                      ArrayRef<int64_t> slots) {
  int64_t tokens = static_cast<int64_t>(positions.size()), headDim = layout.headDim;
  int64_t group = heads / layout.kvHeads;
  Tensor output = Tensor::zeros(query.getDType(), query.getShape());
  ArrayRef<T> q = getStored<T>(query), stored = getStored<T>(cache);
  MutableArrayRef<T> out = getMutableStored<T>(output);
  std::vector<T> scores;
  for (int64_t h = 0; h < heads; ++h) {
    int64_t kvHead = h / group;
    for (int64_t t = 0; t < tokens; ++t) {
      int64_t length = positions[t] + 1;
      const T *keys = stored.data() + layout.offset(slots[t], layer, 0, kvHead, 0);
      const T *values = stored.data() + layout.offset(slots[t], layer, 1, kvHead, 0);
      const T *row = q.data() + (h * tokens + t) * headDim;
      scores.assign(length, T(0));
      for (int64_t j = 0; j < length; ++j) {
        const T *keyRow = keys + j * headDim;
        T dot = 0;
        for (int64_t d = 0; d < headDim; ++d)
          dot += row[d] * keyRow[d];
        scores[j] = scale * dot;
      }
      T maxScore = -std::numeric_limits<T>::infinity();
      for (T score : scores)
        maxScore = std::max(maxScore, score);
      T sum = 0;
      for (T &score : scores) {
        score = std::exp(score - maxScore);
        sum += score;
      }
      for (T &score : scores)
        score /= sum;
      T *result = out.data() + (h * tokens + t) * headDim;
      for (int64_t j = 0; j < length; ++j) {
        T weight = scores[j];
        const T *valueRow = values + j * headDim;
        for (int64_t d = 0; d < headDim; ++d)
          result[d] += weight * valueRow[d];
      }
    }
  }
  output.normalize();
  return output;
}

LogicalResult runAttention(Operation *op, ExecutionContext &ctx) {
  auto attention = cast<KVCacheAttentionOp>(op);
  const Tensor &query = ctx.get(attention.getQuery());
  const Tensor &cache = ctx.get(attention.getCache());
  CacheLayout layout = CacheLayout::of(cache);
  FailureOr<int64_t> layer = readLayer(op, attention.getLayer(), layout);
  if (failed(layer))
    return failure();
  int64_t heads = static_cast<int64_t>(attention.getNumHeads());
  if (heads <= 0 || heads % layout.kvHeads != 0)
    return op->emitOpError() << "heads (" << heads << ") must be a positive multiple of the "
                             << "cache's kv_heads (" << layout.kvHeads << ")";
  int64_t tokens = query.getRank() == 4 ? query.getShape()[2] : -1;
  SmallVector<int64_t> expected = {1, heads, tokens, layout.headDim};
  if (query.getShape() != ArrayRef<int64_t>(expected) || query.getDType() != cache.getDType())
    return op->emitOpError() << "query " << query.describe()
                             << " must be [1, heads, tokens, head_dim] = " << formatShape(expected)
                             << " of the cache's element type " << getDTypeName(cache.getDType());
  SmallVector<int64_t> positions, slots;
  if (failed(readTokenIndices(op, ctx.get(attention.getPositions()),
                              ctx.get(attention.getSlots()), tokens, layout, positions, slots)))
    return failure();
  if (attention.getPrefill()) {
    // The GPU lowering relies on the promise; the oracle checks it.
    for (int64_t t = 1; t < tokens; ++t)
      if (slots[t] != slots[0] || positions[t] != positions[0] + t)
        return op->emitOpError()
               << "is marked prefill (one sequence at consecutive positions), but token " << t
               << " is at slot " << slots[t] << " position " << positions[t] << " after token 0 "
               << "at slot " << slots[0] << " position " << positions[0];
  }
  double scale = attention.getScale().convertToDouble();
  ctx.set(attention.getOutput(),
          computesInDouble(query.getDType())
              ? cacheAttention<double>(query, cache, layout, *layer, heads, scale, positions,
                                       slots)
              : cacheAttention<float>(query, cache, layout, *layer, heads,
                                      static_cast<float>(scale), positions, slots));
  return success();
}

} // namespace

void registerKVCacheKernels(KernelRegistry &registry) {
  registry.add(KVCacheCreateOp::getOperationName(), runCreate);
  registry.add(KVCacheWriteOp::getOperationName(), runWrite);
  registry.add(KVCacheAttentionOp::getOperationName(), runAttention);
}

} // namespace kiln::exec
