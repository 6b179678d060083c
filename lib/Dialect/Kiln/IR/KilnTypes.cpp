//===- KilnTypes.cpp - kiln types -----------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

using namespace mlir;
using namespace kiln;

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t layers,
                                  int64_t maxBatch, int64_t kvHeads, int64_t maxSeq,
                                  int64_t headDim, Type elementType) {
  if (layers <= 0 || maxBatch <= 0 || kvHeads <= 0 || maxSeq <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive, got layers = " << layers
                       << ", max_batch = " << maxBatch << ", kv_heads = " << kvHeads
                       << ", max_seq = " << maxSeq << ", head_dim = " << headDim;
  if (!isa<FloatType>(elementType))
    return emitError() << "kv_cache element type must be a float type, got " << elementType;
  return success();
}

uint64_t KVCacheType::getSizeInBytes() const {
  uint64_t elementBytes = (getElementType().getIntOrFloatBitWidth() + 7) / 8;
  // K and V for every layer.
  return 2 * static_cast<uint64_t>(getLayers()) * getMaxBatch() * getKvHeads() * getMaxSeq() *
         getHeadDim() * elementBytes;
}
