//===- Broadcast.h - numpy broadcasting and strided walks -------*- C++ -*-===//
//
// Private to lib/Executor: the shape rule of numpy's multidirectional broadcasting, and the one
// index walk that every strided access of the CPU kernels goes through (broadcast operands,
// transposes, slices, strided copies).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_EXECUTOR_BROADCAST_H
#define KILN_LIB_EXECUTOR_BROADCAST_H

#include "kiln/Executor/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <array>
#include <optional>

namespace kiln::exec {

/// The numpy broadcast of two shapes (dims aligned on the right; a dim of 1 stretches), or
/// std::nullopt when two aligned dims differ and neither is 1.
inline std::optional<llvm::SmallVector<int64_t, 6>> broadcastShapes(llvm::ArrayRef<int64_t> a,
                                                                    llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  llvm::SmallVector<int64_t, 6> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t aDim = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t bDim = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (aDim != bDim && aDim != 1 && bDim != 1)
      return std::nullopt;
    result[i] = aDim == 1 ? bDim : aDim;
  }
  return result;
}

/// Strides that read a tensor of `shape` as if broadcast to `target` (shapes right-aligned): its
/// row-major strides, and 0 along the dims where it has size 1. `shape` must broadcast to `target`
/// unidirectionally.
inline llvm::SmallVector<int64_t, 6> getBroadcastStrides(llvm::ArrayRef<int64_t> shape,
                                                         llvm::ArrayRef<int64_t> target) {
  llvm::SmallVector<int64_t, 6> own = getStrides(shape);
  llvm::SmallVector<int64_t, 6> strides(target.size(), 0);
  size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

/// Calls fn(index, offsets) for every element of `shape` in row-major order, where offsets[k] is
/// starts[k] plus the sum over dims d of (the element's index along d) * strides[k][d]: operand k
/// read through its own strides (0 along broadcast dims, permuted for a transpose, scaled or
/// negative for a slice). Offsets advance incrementally, so the walk costs a few adds per element.
template <size_t N, typename Fn>
void forEachStridedIndex(llvm::ArrayRef<int64_t> shape, const std::array<int64_t, N> &starts,
                         const std::array<llvm::ArrayRef<int64_t>, N> &strides, Fn fn) {
  std::optional<int64_t> count = getElementCount(shape);
  if (!count || *count == 0)
    return;
  int64_t rank = static_cast<int64_t>(shape.size());
  if (rank == 0) {
    fn(int64_t(0), starts);
    return;
  }
  // dimStrides[d][k]: how far operand k's offset moves when dim d advances by one.
  llvm::SmallVector<std::array<int64_t, N>, 6> dimStrides(rank);
  for (int64_t d = 0; d < rank; ++d)
    for (size_t k = 0; k < N; ++k)
      dimStrides[d][k] = strides[k][d];
  int64_t innerSize = shape.back();
  const std::array<int64_t, N> innerStrides = dimStrides.back();
  llvm::SmallVector<int64_t, 6> counter(rank, 0);
  std::array<int64_t, N> rowOffsets = starts;
  for (int64_t index = 0; index < *count;) {
    std::array<int64_t, N> offsets = rowOffsets;
    for (int64_t i = 0; i < innerSize; ++i, ++index) {
      fn(index, offsets);
      for (size_t k = 0; k < N; ++k)
        offsets[k] += innerStrides[k];
    }
    // Advance the outer dims like an odometer.
    for (int64_t d = rank - 2; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k)
        rowOffsets[k] += dimStrides[d][k];
      if (++counter[d] < shape[d])
        break;
      for (size_t k = 0; k < N; ++k)
        rowOffsets[k] -= dimStrides[d][k] * shape[d];
      counter[d] = 0;
    }
  }
}

/// Calls fn(resultIndex, operandIndices) for every element of `resultShape` in row-major order,
/// where operandIndices[k] is the element of operand k (of shape operandShapes[k], broadcast to
/// `resultShape`) that the result element reads. The operand shapes must broadcast to
/// `resultShape` unidirectionally.
template <size_t N, typename Fn>
void forEachBroadcastIndex(llvm::ArrayRef<int64_t> resultShape,
                           const std::array<llvm::ArrayRef<int64_t>, N> &operandShapes, Fn fn) {
  std::array<llvm::SmallVector<int64_t, 6>, N> strides;
  std::array<llvm::ArrayRef<int64_t>, N> stridesRefs;
  for (size_t k = 0; k < N; ++k) {
    strides[k] = getBroadcastStrides(operandShapes[k], resultShape);
    stridesRefs[k] = strides[k];
  }
  forEachStridedIndex<N>(resultShape, std::array<int64_t, N>{}, stridesRefs, fn);
}

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_BROADCAST_H
