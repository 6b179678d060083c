//===- TensorAttr.h - Host tensors to and from MLIR attributes --*- C++ -*-===//
//
// The bridge between constants in the IR (`dense`, `dense_resource`) and executor tensors: the
// executor decodes constants with it, and passes use it to read weights and constant-fold ops
// through the executor's kernels, then to put the results back into the IR.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_EXECUTOR_TENSORATTR_H
#define KILN_EXECUTOR_TENSORATTR_H

#include "kiln/Executor/Tensor.h"

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/Support/Error.h"

#include <string>

namespace kiln::exec {

/// Decodes a `dense` or `dense_resource` attribute of static shape and supported element
/// type. On failure returns a message saying why (unsupported kind or type, missing blob,
/// byte count not matching the type).
llvm::Expected<Tensor> tensorFromElements(mlir::ElementsAttr value);

/// A `dense` attribute holding `tensor` (splat when every element is equal).
mlir::DenseElementsAttr denseFromTensor(const Tensor &tensor, mlir::MLIRContext *context);

/// A `dense_resource` attribute holding a copy of `tensor` under the blob name `name` (the
/// printer makes the name unique). For weights: the printed IR stays small.
mlir::DenseResourceElementsAttr resourceFromTensor(const Tensor &tensor, llvm::StringRef name,
                                                   mlir::MLIRContext *context);

/// The ranked tensor type of `tensor`.
mlir::RankedTensorType getTensorType(const Tensor &tensor, mlir::MLIRContext *context);

} // namespace kiln::exec

#endif // KILN_EXECUTOR_TENSORATTR_H
