//===- ConstantKernels.cpp - kiln.constant --------------------------------===//
//
// Constants arrive either as `dense` attributes (the small tensors folders produce) or as
// `dense_resource` blobs (every weight the importer reads); both decode through the dtype's
// packed little-endian layout. With a ConstantCache (repeated runs of one module, as in
// generation) each attribute is decoded once.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "kiln/Executor/TensorAttr.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/Support/Error.h"

using namespace mlir;
using namespace kiln::exec;

static LogicalResult runConstant(Operation *op, ExecutionContext &ctx) {
  ElementsAttr value = cast<kiln::ConstantOp>(op).getValue();
  ConstantCache *cache = ctx.getConstantCache();
  if (cache)
    if (const Tensor *known = cache->lookup(value)) {
      ctx.set(op->getResult(0), *known); // shares the buffer
      return success();
    }
  llvm::Expected<Tensor> tensor = tensorFromElements(value);
  if (!tensor)
    return op->emitOpError() << llvm::toString(tensor.takeError());
  if (cache)
    cache->insert(value, *tensor);
  ctx.set(op->getResult(0), std::move(*tensor));
  return success();
}

void kiln::exec::registerConstantKernels(KernelRegistry &registry) {
  registry.add(kiln::ConstantOp::getOperationName(), runConstant);
}
