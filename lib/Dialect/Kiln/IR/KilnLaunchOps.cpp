//===- KilnLaunchOps.cpp - verifiers of the launch plan ops ---------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace kiln;

static int64_t countDynamicDims(TypeRange types) {
  int64_t count = 0;
  for (Type type : types)
    count += cast<RankedTensorType>(type).getNumDynamicDims();
  return count;
}

LogicalResult LaunchOp::verify() {
  if (getBlock().size() != 3)
    return emitOpError() << "block must have 3 sizes, got " << getBlock().size();
  int64_t threads = 1;
  for (int32_t size : getBlock()) {
    if (size < 1)
      return emitOpError() << "block sizes must be positive, got " << size;
    threads *= size;
  }
  if (threads > 1024)
    return emitOpError() << "block has " << threads << " threads; a block holds at most 1024";
  int64_t expected = countDynamicDims(getResultTypes());
  if (static_cast<int64_t>(getResultDims().size()) != expected)
    return emitOpError() << "results have " << expected << " dynamic dims but " <<
           getResultDims().size() << " dims are given";
  if (std::optional<ArrayRef<int64_t>> tied = getTied()) {
    if (tied->size() != getNumResults())
      return emitOpError() << "tied has " << tied->size() << " entries for " << getNumResults()
                           << " results";
    for (auto [i, input] : llvm::enumerate(*tied)) {
      if (input == -1)
        continue;
      if (input < 0 || input >= static_cast<int64_t>(getInputs().size()))
        return emitOpError() << "result " << i << " is tied to input " << input
                             << ", which does not exist";
      if (getInputs()[input].getType() != getResult(i).getType())
        return emitOpError() << "result " << i << " (" << getResult(i).getType()
                             << ") is tied to input " << input << " of another type ("
                             << getInputs()[input].getType() << ")";
    }
  }
  return success();
}

Value LaunchOp::getTiedInput(unsigned resultIndex) {
  std::optional<ArrayRef<int64_t>> tied = getTied();
  if (!tied || (*tied)[resultIndex] < 0)
    return {};
  return getInputs()[(*tied)[resultIndex]];
}

ValueRange LaunchOp::getDynamicDims(unsigned resultIndex) {
  unsigned start = 0;
  for (unsigned i = 0; i < resultIndex; ++i)
    start += cast<RankedTensorType>(getResult(i).getType()).getNumDynamicDims();
  unsigned count = cast<RankedTensorType>(getResult(resultIndex).getType()).getNumDynamicDims();
  return getResultDims().slice(start, count);
}

LogicalResult LaunchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  // After gpu-module-to-binary the kernels live in a gpu.binary (no symbol table inside).
  Operation *container =
      symbolTable.lookupNearestSymbolFrom(*this, getKernel().getRootReference());
  if (container && container->getName().getStringRef() == "gpu.binary")
    return success();
  Operation *kernel = symbolTable.lookupNearestSymbolFrom(*this, getKernel());
  if (!kernel)
    return emitOpError() << "kernel " << getKernel() << " does not exist";
  // Kernels are gpu.func until kiln-gpu-to-ptx lowers them to llvm.func (parameters
  // expanded), then gpu.binary.
  auto function = dyn_cast<FunctionOpInterface>(kernel);
  if (function && kernel->getName().getStringRef() == "llvm.func")
    return success();
  if (!function || kernel->getName().getStringRef() != "gpu.func" ||
      !kernel->hasAttr("gpu.kernel"))
    return emitOpError() << getKernel() << " is not a gpu.func kernel";
  size_t expected = getInputs().size() + getNumResults() + getScalars().size();
  if (function.getNumArguments() != expected)
    return emitOpError() << "kernel " << getKernel() << " takes " << function.getNumArguments()
                         << " parameters but the launch passes " << expected
                         << " (inputs, results, scalars)";
  return success();
}

LogicalResult ViewOp::verify() {
  auto source = getSource().getType();
  auto result = getResult().getType();
  if (source.getElementType() != result.getElementType())
    return emitOpError() << "changes the element type from " << source.getElementType()
                         << " to " << result.getElementType();
  if (getDims().size() != static_cast<size_t>(result.getNumDynamicDims()))
    return emitOpError() << "result has " << result.getNumDynamicDims()
                         << " dynamic dims but " << getDims().size() << " dims are given";
  if (source.hasStaticShape() && result.hasStaticShape() &&
      source.getNumElements() != result.getNumElements())
    return emitOpError() << "views " << source.getNumElements() << " elements as "
                         << result.getNumElements();
  return success();
}
