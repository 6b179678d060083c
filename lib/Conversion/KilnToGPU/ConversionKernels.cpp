//===- ConversionKernels.cpp - element type conversions (ONNX Cast) -------===//
//
// One grid-stride kernel per (source, target) storage type pair; the emitter's boundary
// conversions (model inputs/outputs vs the storage precision) use the same kernels.
//
//===----------------------------------------------------------------------===//

#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

using namespace mlir;

namespace kiln::gpu_codegen {

/// kiln.onnx.Cast -> convert kernel (a no-op view of the operand when the storage types match,
/// e.g. f32 -> f16 under fp16 precision).
static LogicalResult lowerCast(Operation *op, KernelEmitter &emitter) {
  Value input = op->getOperand(0);
  Value source = emitter.tensor(input);
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(input, op);
  if (failed(dims))
    return failure();
  Type target = emitter.storageTensorType(op->getResult(0)).getElementType();
  bool toBool = getElementTypeOrSelf(op->getResult(0).getType()).isInteger(1);
  for (Type type : {getElementTypeOrSelf(input.getType()),
                    getElementTypeOrSelf(op->getResult(0).getType())})
    if (type.isUnsignedInteger())
      return op->emitError() << "GPU lowering of Cast: unsigned element type " << type
                             << " is not supported";
  Value converted = emitter.convert(source, *dims, target, toBool);
  emitter.setResult(op->getResult(0),
                    emitter.view(converted, emitter.storageTensorType(op->getResult(0)), *dims));
  return success();
}

void populateConversionLowerings(KernelLowerings &lowerings) {
  lowerings["kiln.onnx.Cast"] = lowerCast;
}

} // namespace kiln::gpu_codegen
