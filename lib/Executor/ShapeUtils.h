//===- ShapeUtils.h - Shared helpers of the CPU kernels ---------*- C++ -*-===//
//
// Axis normalisation, reading shape-like operands, broadcast strides and strided copies: what
// the data-movement, normalisation and attention kernels have in common (the broadcast shape
// rule itself is Broadcast.h's). Private to lib/Executor; header-only so that it needs no entry
// in the library's source list.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_EXECUTOR_SHAPEUTILS_H
#define KILN_LIB_EXECUTOR_SHAPEUTILS_H

#include "kiln/Executor/Tensor.h"

#include "Broadcast.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

namespace kiln::exec {

/// An ONNX axis in [-rank, rank) as an index in [0, rank), or std::nullopt when out of range.
inline std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

/// "[2, 3, 4]", for diagnostics.
inline std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, dim] : llvm::enumerate(shape)) {
    if (i)
      text += ", ";
    text += std::to_string(dim);
  }
  return text + "]";
}

/// The elements of an integer-valued operand (shape, axes, indices, ...) as int64.
inline llvm::SmallVector<int64_t> readInts(const Tensor &tensor) {
  llvm::SmallVector<int64_t> values;
  values.reserve(tensor.getNumElements());
  for (int64_t i = 0, e = tensor.getNumElements(); i < e; ++i)
    values.push_back(tensor.getInt(i));
  return values;
}

/// Strides that read a tensor of `shape` as if broadcast to `target` (shapes right-aligned):
/// 0 along broadcast dims. `shape` must broadcast to `target`.
inline llvm::SmallVector<int64_t> getBroadcastStrides(llvm::ArrayRef<int64_t> shape,
                                                      llvm::ArrayRef<int64_t> target) {
  llvm::SmallVector<int64_t> own = getStrides(shape);
  llvm::SmallVector<int64_t> strides(target.size(), 0);
  size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    strides[lead + i] = shape[i] == 1 && target[lead + i] != 1 ? 0 : own[i];
  return strides;
}

/// Checks that a shape computed at run time has no negative dim and a representable element
/// count, so that allocating it cannot go wrong silently.
inline mlir::LogicalResult verifyShape(mlir::Operation *op, llvm::ArrayRef<int64_t> shape) {
  for (int64_t dim : shape)
    if (dim < 0)
      return op->emitOpError() << "computed shape " << formatShape(shape) << " has a negative dim";
  if (!getElementCount(shape))
    return op->emitOpError() << "computed shape " << formatShape(shape) << " has too many elements";
  return mlir::success();
}

/// Calls `fn(in, out)` with the element arrays of `src` and `dst`, which have the same dtype
/// (so the same storage class). `fn` is a generic lambda.
template <typename Fn> void withElements(const Tensor &src, Tensor &dst, Fn &&fn) {
  switch (getStorage(src.getDType())) {
  case Storage::Float:
    fn(src.getFloats(), dst.getFloats());
    return;
  case Storage::Double:
    fn(src.getDoubles(), dst.getDoubles());
    return;
  case Storage::Int:
    fn(src.getInts(), dst.getInts());
    return;
  }
}

/// Copies `count` elements of `src` from `srcBegin` to `dst` at `dstBegin` (same dtype).
inline void copyElements(const Tensor &src, int64_t srcBegin, Tensor &dst, int64_t dstBegin,
                         int64_t count) {
  withElements(src, dst, [&](auto in, auto out) {
    std::copy(in.begin() + srcBegin, in.begin() + srcBegin + count, out.begin() + dstBegin);
  });
}

/// A new tensor of `shape` whose element at multi-index `i` is `src[offset + sum(i * strides)]`.
/// One primitive for Transpose (permuted strides), Expand and broadcasting (zero strides) and
/// Slice (offset start, strides times steps, negative for reversed slices).
inline Tensor copyStrided(const Tensor &src, int64_t offset, llvm::ArrayRef<int64_t> srcStrides,
                          llvm::ArrayRef<int64_t> shape) {
  Tensor dst = Tensor::zeros(src.getDType(), shape);
  int64_t count = dst.getNumElements();
  if (count == 0)
    return dst;
  withElements(src, dst, [&](auto in, auto out) {
    int64_t rank = static_cast<int64_t>(shape.size());
    if (rank == 0) {
      out[0] = in[offset];
      return;
    }
    // An odometer over the outer dims; the innermost dim is copied by a plain loop.
    llvm::SmallVector<int64_t> index(rank, 0);
    int64_t inner = shape.back(), innerStride = srcStrides.back();
    int64_t rowStart = offset;
    for (int64_t rowOut = 0; rowOut < count; rowOut += inner) {
      int64_t pos = rowStart;
      for (int64_t i = 0; i < inner; ++i, pos += innerStride)
        out[rowOut + i] = in[pos];
      for (int64_t d = rank - 2; d >= 0; --d) {
        rowStart += srcStrides[d];
        if (++index[d] < shape[d])
          break;
        rowStart -= srcStrides[d] * shape[d];
        index[d] = 0;
      }
    }
  });
  return dst;
}

/// `src` broadcast (numpy rules) to `target`, which it must broadcast to.
inline Tensor broadcastTo(const Tensor &src, llvm::ArrayRef<int64_t> target) {
  return copyStrided(src, 0, getBroadcastStrides(src.getShape(), target), target);
}

/// The element array of a floating-point tensor: float for f32/f16/bf16, double for f64.
template <typename T> llvm::ArrayRef<T> getElements(const Tensor &tensor) {
  if constexpr (std::is_same_v<T, double>)
    return tensor.getDoubles();
  else
    return tensor.getFloats();
}

template <typename T> llvm::MutableArrayRef<T> getMutableElements(Tensor &tensor) {
  if constexpr (std::is_same_v<T, double>)
    return tensor.getDoubles();
  else
    return tensor.getFloats();
}

/// Whether a floating-point kernel computes in double (f64 tensors) rather than float.
inline bool computesInDouble(DType dtype) { return getStorage(dtype) == Storage::Double; }

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_SHAPEUTILS_H
