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

/// Checks a per-layer K or V tensor `[batch, kv_heads, len, head_dim]` against the cache.
static LogicalResult verifyCacheTensor(Operation *op, StringRef name, KVCacheType cache,
                                       int64_t layer, Type type) {
  if (layer < 0 || layer >= cache.getLayers())
    return op->emitOpError() << "layer " << layer << " is out of range for a cache of "
                             << cache.getLayers() << " layers";
  auto tensor = cast<RankedTensorType>(type);
  if (tensor.getRank() != 4)
    return op->emitOpError() << name << " must be [batch, kv_heads, len, head_dim], got "
                             << tensor;
  if (tensor.getElementType() != cache.getElementType())
    return op->emitOpError() << name << " element type " << tensor.getElementType()
                             << " differs from the cache's " << cache.getElementType();
  auto exceeds = [](int64_t dim, int64_t limit) {
    return !ShapedType::isDynamic(dim) && dim > limit;
  };
  auto differs = [](int64_t dim, int64_t expected) {
    return !ShapedType::isDynamic(dim) && dim != expected;
  };
  ArrayRef<int64_t> shape = tensor.getShape();
  if (exceeds(shape[0], cache.getMaxBatch()) || differs(shape[1], cache.getKvHeads()) ||
      exceeds(shape[2], cache.getMaxSeq()) || differs(shape[3], cache.getHeadDim()))
    return op->emitOpError() << name << " " << tensor << " does not fit the cache layout "
                             << cache;
  return success();
}

LogicalResult KVCacheWriteOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyCacheTensor(*this, "key", cache, static_cast<int64_t>(getLayer()),
                               getKey().getType())))
    return failure();
  auto position = cast<RankedTensorType>(getPosition().getType());
  auto key = cast<RankedTensorType>(getKey().getType());
  if (position.getRank() != 1 ||
      (!ShapedType::isDynamic(position.getShape()[0]) &&
       !ShapedType::isDynamic(key.getShape()[0]) && position.getShape()[0] != key.getShape()[0]))
    return emitOpError() << "position must be [batch] (one start per sequence), got "
                         << position;
  // With a dynamic key batch, the positions alone bound the batch.
  if (!ShapedType::isDynamic(position.getShape()[0]) &&
      position.getShape()[0] > cache.getMaxBatch())
    return emitOpError() << "position " << position << " has more sequences than the cache's "
                         << "max_batch " << cache.getMaxBatch();
  return success();
}

LogicalResult KVCacheReadOp::verify() {
  auto length = cast<RankedTensorType>(getLength().getType());
  if (length.getRank() != 0)
    return emitOpError() << "length must be a 0-D tensor, got " << length;
  return verifyCacheTensor(*this, "result", getCache().getType(),
                           static_cast<int64_t>(getLayer()), getKey().getType());
}
