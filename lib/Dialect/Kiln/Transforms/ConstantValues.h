//===- ConstantValues.h - reading and making constants in patterns -*- C++ -*-===//
//
// Patterns of simplify, raise and fuse-attention check constants (a scale, an epsilon, a mask,
// a weight) and create new ones (a transposed weight, a folded shape). They read a
// `kiln.constant` through the executor's decoder so that `dense` and `dense_resource` values
// are handled alike.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_DIALECT_KILN_TRANSFORMS_CONSTANTVALUES_H
#define KILN_LIB_DIALECT_KILN_TRANSFORMS_CONSTANTVALUES_H

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/Tensor.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace kiln {

/// The elements of `value` when it is defined by a decodable kiln.constant.
std::optional<exec::Tensor> getConstantTensor(mlir::Value value);

/// The common value of every element of `value` when it is a constant whose elements are all
/// equal (a splat of any shape, including rank 0).
std::optional<double> getSplatConstant(mlir::Value value);

/// The value of a one-element constant (a scale, an epsilon), also under a Cast or Identity the
/// greedy driver has not folded yet.
std::optional<double> getScalarConstant(mlir::Value value);

/// Whether `value` is a constant whose elements all equal `expected` within `relTol`
/// (relative to |expected|, or absolute when expected is 0).
bool isSplatConstant(mlir::Value value, double expected, double relTol = 1e-6);

/// The integer elements of a constant 1-D or 0-D integer tensor (axes, shapes, perms);
/// std::nullopt otherwise, also for a null value (an absent optional operand).
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value value);

/// A `dense` i64 vector constant (a shape, axes or split sizes operand).
mlir::Value createI64Constant(mlir::OpBuilder &builder, mlir::Location loc,
                              llvm::ArrayRef<int64_t> values);

/// Creates a kiln.constant holding `tensor`: a `dense` attribute up to `denseLimit`
/// elements (shape values, scalars), a `dense_resource` blob named after `name` above it
/// (weights), so that printed IR stays small.
ConstantOp createConstant(mlir::OpBuilder &builder, mlir::Location loc, const exec::Tensor &tensor,
                          llvm::StringRef name, int64_t denseLimit = 64);

/// The blob name of a `dense_resource` constant (an ONNX initializer's name), or `fallback`
/// for any other value: new constants derived from a weight are named after it.
std::string getConstantName(mlir::Value value, llvm::StringRef fallback);

/// The transpose of a 2-D tensor (a [K, N] MatMul weight to the [N, K] linear layout).
exec::Tensor transposeMatrix(const exec::Tensor &matrix);

/// The tensors concatenated along their first dim; all must have the same dtype and the same
/// remaining dims (linear weights and biases of siblings stacked along out_features).
exec::Tensor concatFirstDim(llvm::ArrayRef<exec::Tensor> tensors);

/// Elements `start, start + step, ...` (`count` of them) of the last dim of `tensor`, every other
/// dim kept (the first half of a rotary table, or every other entry of an interleaved one).
exec::Tensor sliceLastDim(const exec::Tensor &tensor, int64_t start, int64_t count,
                          int64_t step = 1);

} // namespace kiln

#endif // KILN_LIB_DIALECT_KILN_TRANSFORMS_CONSTANTVALUES_H
