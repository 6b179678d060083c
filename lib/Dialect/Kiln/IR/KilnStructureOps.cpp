//===- KilnStructureOps.cpp - layers, layer groups, KV cache --------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

using namespace mlir;
using namespace kiln;

/// A layer-like region: entry block arguments bind the operands, the terminator yields the
/// results, both in order and type.
static LogicalResult verifyIsolatedBody(Operation *op, Region &body, ValueRange inputs,
                                        TypeRange resultTypes) {
  Block &block = body.front();
  if (block.getNumArguments() != inputs.size())
    return op->emitOpError() << "body has " << block.getNumArguments() << " arguments for "
                             << inputs.size() << " operands";
  for (auto [index, pair] : llvm::enumerate(llvm::zip_equal(block.getArguments(), inputs)))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return op->emitOpError() << "body argument " << index << " has type "
                               << std::get<0>(pair).getType() << " but operand " << index
                               << " is " << std::get<1>(pair).getType();
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError() << "body must end in kiln.yield";
  if (yield.getValues().getTypes() != resultTypes)
    return op->emitOpError() << "yields " << yield.getValues().getTypes()
                             << " but the results are " << resultTypes;
  return success();
}

LogicalResult LayerOp::verifyRegions() {
  if (static_cast<int64_t>(getIndex()) < 0)
    return emitOpError() << "index must be non-negative, got "
                         << static_cast<int64_t>(getIndex());
  return verifyIsolatedBody(*this, getBody(), getInputs(), getResultTypes());
}

LogicalResult LayerGroupOp::verifyRegions() {
  if (failed(verifyIsolatedBody(*this, getBody(), getInputs(), getResultTypes())))
    return failure();
  std::optional<int64_t> previous;
  for (Operation &op : getBody().front().without_terminator()) {
    auto layer = dyn_cast<LayerOp>(op);
    if (!layer)
      return emitOpError() << "may contain only kiln.layer ops, found " << op.getName();
    int64_t index = static_cast<int64_t>(layer.getIndex());
    if (previous && index != *previous + 1)
      return emitOpError() << "layers must have consecutive indices, got " << *previous
                           << " then " << index;
    previous = index;
  }
  if (!previous)
    return emitOpError() << "must contain at least one kiln.layer";
  return success();
}

std::pair<int64_t, int64_t> LayerGroupOp::getLayerRange() {
  auto layers = getBody().front().getOps<LayerOp>();
  int64_t first = static_cast<int64_t>((*layers.begin()).getIndex());
  return {first, first + static_cast<int64_t>(std::distance(layers.begin(), layers.end()))};
}

/// Checks a packed per-layer tensor `[1, heads, tokens, head_dim]` of the cache's element type
/// (`heads` is the cache's kv_heads, or any count for queries: -1), and the layer index.
static LogicalResult verifyPackedTensor(Operation *op, StringRef name, KVCacheType cache,
                                        int64_t layer, Type type, int64_t heads) {
  if (layer < 0 || layer >= cache.getLayers())
    return op->emitOpError() << "layer " << layer << " is out of range for a cache of "
                             << cache.getLayers() << " layers";
  auto tensor = cast<RankedTensorType>(type);
  if (tensor.getRank() != 4)
    return op->emitOpError() << name << " must be [1, heads, tokens, head_dim], got " << tensor;
  if (tensor.getElementType() != cache.getElementType())
    return op->emitOpError() << name << " element type " << tensor.getElementType()
                             << " differs from the cache's " << cache.getElementType();
  auto differs = [](int64_t dim, int64_t expected) {
    return !ShapedType::isDynamic(dim) && dim != expected;
  };
  ArrayRef<int64_t> shape = tensor.getShape();
  if (differs(shape[0], 1) || (heads >= 0 && differs(shape[1], heads)) ||
      differs(shape[3], cache.getHeadDim()))
    return op->emitOpError() << name << " " << tensor << " does not fit the cache layout "
                             << cache << " (tokens are packed along dim 2 of batch 1)";
  return success();
}

/// Checks that `positions` is `[tokens]` with as many tokens as `packed` has in dim 2.
static LogicalResult verifyTokenIndices(Operation *op, Value positions, Type packed) {
  auto indices = cast<RankedTensorType>(positions.getType());
  int64_t tokens = cast<RankedTensorType>(packed).getShape()[2];
  if (indices.getRank() != 1 ||
      (!ShapedType::isDynamic(indices.getShape()[0]) && !ShapedType::isDynamic(tokens) &&
       indices.getShape()[0] != tokens))
    return op->emitOpError() << "positions and slots must be [tokens] (one per packed token), got "
                             << indices;
  return success();
}

LogicalResult KVCacheWriteOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyPackedTensor(*this, "key", cache, static_cast<int64_t>(getLayer()),
                                getKey().getType(), cache.getKvHeads())))
    return failure();
  return verifyTokenIndices(*this, getPositions(), getKey().getType());
}

LogicalResult KVCacheAttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  int64_t heads = static_cast<int64_t>(getNumHeads());
  if (heads <= 0 || heads % cache.getKvHeads() != 0)
    return emitOpError() << "heads (" << heads << ") must be a positive multiple of the cache's "
                         << "kv_heads (" << cache.getKvHeads() << ")";
  if (failed(verifyPackedTensor(*this, "query", cache, static_cast<int64_t>(getLayer()),
                                getQuery().getType(), heads)))
    return failure();
  return verifyTokenIndices(*this, getPositions(), getQuery().getType());
}
