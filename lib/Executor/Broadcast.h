//===- Broadcast.h - numpy broadcasting for the CPU kernels -----*- C++ -*-===//
//
// Private to lib/Executor: the shape rule and the index walk of numpy's multidirectional
// broadcasting, shared by the elementwise, reduction and matmul kernels.
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

/// Calls fn(resultIndex, operandIndices) for every element of `resultShape` in row-major order,
/// where operandIndices[k] is the element of operand k (of shape operandShapes[k], broadcast to
/// `resultShape`) that the result element reads. The operand shapes must broadcast to
/// `resultShape` unidirectionally. Offsets advance incrementally, so the walk costs a few adds
/// per element.
template <size_t N, typename Fn>
void forEachBroadcastIndex(llvm::ArrayRef<int64_t> resultShape,
                           const std::array<llvm::ArrayRef<int64_t>, N> &operandShapes, Fn fn) {
  std::optional<int64_t> count = getElementCount(resultShape);
  if (!count || *count == 0)
    return;
  int64_t rank = static_cast<int64_t>(resultShape.size());
  if (rank == 0) {
    fn(int64_t(0), std::array<int64_t, N>{});
    return;
  }
  // strides[d][k]: how far operand k's offset moves when result dim d advances by one (0 where
  // the operand is broadcast along d).
  llvm::SmallVector<std::array<int64_t, N>, 6> strides(rank);
  for (size_t k = 0; k < N; ++k) {
    llvm::ArrayRef<int64_t> shape = operandShapes[k];
    int64_t lead = rank - static_cast<int64_t>(shape.size());
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t operandDim = d < lead ? 1 : shape[d - lead];
      strides[d][k] = operandDim == 1 ? 0 : stride;
      stride *= operandDim;
    }
  }
  int64_t innerSize = resultShape.back();
  const std::array<int64_t, N> innerStrides = strides.back();
  llvm::SmallVector<int64_t, 6> counter(rank, 0);
  std::array<int64_t, N> rowOffsets{};
  for (int64_t resultIndex = 0; resultIndex < *count;) {
    std::array<int64_t, N> offsets = rowOffsets;
    for (int64_t i = 0; i < innerSize; ++i, ++resultIndex) {
      fn(resultIndex, offsets);
      for (size_t k = 0; k < N; ++k)
        offsets[k] += innerStrides[k];
    }
    // Advance the outer dims like an odometer.
    for (int64_t d = rank - 2; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k)
        rowOffsets[k] += strides[d][k];
      if (++counter[d] < resultShape[d])
        break;
      for (size_t k = 0; k < N; ++k)
        rowOffsets[k] -= strides[d][k] * resultShape[d];
      counter[d] = 0;
    }
  }
}

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_BROADCAST_H
