//===- ShapeUtils.h - Shared helpers of the CPU kernels ---------*- C++ -*-===//
//
// Operand checks, axis normalisation, reading shape-like operands and strided copies: what the
// kernel families have in common (the broadcast rule and the strided index walk are
// Broadcast.h's, compute types and shared arithmetic ComputeType.h's). Private to lib/Executor;
// header-only so that it needs no entry in the library's source list.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_EXECUTOR_SHAPEUTILS_H
#define KILN_LIB_EXECUTOR_SHAPEUTILS_H

#include "kiln/Executor/Tensor.h"

#include "Broadcast.h"
#include "ComputeType.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace kiln::exec {

//===----------------------------------------------------------------------===//
// Operand checks
//===----------------------------------------------------------------------===//

/// The element types an op accepts at run time.
enum class OperandKind { Float, Numeric, Bool, Any };

inline mlir::LogicalResult checkOperandKind(mlir::Operation *op, const Tensor &tensor,
                                            OperandKind kind) {
  DType dtype = tensor.getDType();
  bool accepted = false;
  switch (kind) {
  case OperandKind::Float:
    accepted = isFloatingPoint(dtype);
    break;
  case OperandKind::Numeric:
    accepted = dtype != DType::Bool;
    break;
  case OperandKind::Bool:
    accepted = dtype == DType::Bool;
    break;
  case OperandKind::Any:
    accepted = true;
    break;
  }
  if (!accepted)
    return op->emitOpError() << "does not accept an operand of " << tensor.describe();
  return mlir::success();
}

/// Checks that every operand has the first one's element type.
inline mlir::LogicalResult checkSameDType(mlir::Operation *op,
                                          llvm::ArrayRef<const Tensor *> operands) {
  for (const Tensor *operand : operands.drop_front())
    if (operand->getDType() != operands.front()->getDType())
      return op->emitOpError() << "operands have different element types: "
                               << operands.front()->describe() << " and " << operand->describe();
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// Axes and shapes
//===----------------------------------------------------------------------===//

/// An ONNX axis in [-rank, rank) as an index in [0, rank), or std::nullopt when out of range.
inline std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

/// Which of `rank` dims the ONNX `axes` (each in [-rank, rank)) name, or std::nullopt when one is
/// out of range or named twice.
inline std::optional<llvm::SmallVector<bool, 6>> getAxisMask(llvm::ArrayRef<int64_t> axes,
                                                             int64_t rank) {
  llvm::SmallVector<bool, 6> mask(rank, false);
  for (int64_t axis : axes) {
    std::optional<int64_t> normalized = normalizeAxis(axis, rank);
    if (!normalized || mask[*normalized])
      return std::nullopt;
    mask[*normalized] = true;
  }
  return mask;
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

//===----------------------------------------------------------------------===//
// Copies
//===----------------------------------------------------------------------===//

/// Calls `fn(in, out)` with the element arrays of `src` and `dst`, which have the same dtype
/// (so the same storage class). `fn` is a generic lambda.
template <typename Fn> void withElements(const Tensor &src, Tensor &dst, Fn &&fn) {
  visitStorageType(src.getDType(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    fn(getStored<S>(src), getMutableStored<S>(dst));
  });
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
  withElements(src, dst, [&](auto in, auto out) {
    forEachStridedIndex<1>(
        shape, {offset}, {srcStrides},
        [&](int64_t index, const std::array<int64_t, 1> &from) { out[index] = in[from[0]]; });
  });
  return dst;
}

/// `src` broadcast (numpy rules) to `target`, which it must broadcast to.
inline Tensor broadcastTo(const Tensor &src, llvm::ArrayRef<int64_t> target) {
  return copyStrided(src, 0, getBroadcastStrides(src.getShape(), target), target);
}

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_SHAPEUTILS_H
