//===- ConstantKernels.cpp - kiln.constant --------------------------------===//
//
// Constants arrive either as `dense` attributes (the small tensors folders produce) or as
// `dense_resource` blobs (every weight the importer reads); both decode through the dtype's
// packed little-endian layout.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace kiln::exec;

/// Decodes a `dense` attribute. Its raw data is the packed layout (one element when splat),
/// except for i1, which MLIR may store bit-packed; bools are therefore read as values.
static FailureOr<Tensor> decodeDense(Operation *op, DenseElementsAttr dense, DType dtype,
                                     ArrayRef<int64_t> shape) {
  if (!isa<DenseIntOrFPElementsAttr>(dense))
    return op->emitOpError() << "has a dense attribute of an unsupported kind";
  if (dtype != DType::Bool && !dense.isSplat()) {
    std::optional<Tensor> decoded = Tensor::fromBytes(dtype, shape, dense.getRawData());
    if (!decoded)
      return op->emitOpError() << "dense value holds " << dense.getRawData().size()
                               << " bytes, which does not match its type " << dense.getType();
    return *decoded;
  }
  if (dtype == DType::Bool) {
    Tensor tensor = Tensor::zeros(dtype, shape);
    llvm::copy(dense.getValues<bool>(), tensor.getInts().begin());
    return tensor;
  }
  ArrayRef<char> raw = dense.getRawData().take_front(getByteWidth(dtype));
  std::optional<Tensor> element = Tensor::fromBytes(dtype, {}, raw);
  if (!element)
    return op->emitOpError() << "splat value holds " << dense.getRawData().size()
                             << " bytes, fewer than one " << getDTypeName(dtype) << " element";
  return broadcastTo(*element, shape);
}

static FailureOr<Tensor> decodeResource(Operation *op, DenseResourceElementsAttr resource,
                                        DType dtype, ArrayRef<int64_t> shape) {
  DenseResourceElementsHandle handle = resource.getRawHandle();
  AsmResourceBlob *blob = handle.getBlob();
  if (!blob)
    return op->emitOpError() << "dense_resource blob '" << handle.getKey()
                             << "' has no data (missing from the module's resources)";
  ArrayRef<char> bytes = blob->getData();
  std::optional<Tensor> tensor = Tensor::fromBytes(dtype, shape, bytes);
  if (!tensor) {
    std::string expected = getDTypeName(dtype).str() + " tensor of " +
                           std::to_string(getElementCount(shape).value_or(-1)) + " elements";
    return op->emitOpError() << "dense_resource blob '" << handle.getKey() << "' holds "
                             << bytes.size() << " bytes, which does not match a " << expected;
  }
  return *tensor;
}

static LogicalResult runConstant(Operation *op, ExecutionContext &ctx) {
  ElementsAttr value = cast<kiln::ConstantOp>(op).getValue();
  auto type = dyn_cast<RankedTensorType>(value.getShapedType());
  if (!type || !type.hasStaticShape())
    return op->emitOpError() << "value must have a static shape, got " << value.getShapedType();
  std::optional<DType> dtype = getDTypeOf(type.getElementType());
  if (!dtype)
    return op->emitOpError() << "has unsupported element type " << type.getElementType();

  FailureOr<Tensor> tensor = failure();
  if (auto dense = dyn_cast<DenseElementsAttr>(value))
    tensor = decodeDense(op, dense, *dtype, type.getShape());
  else if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    tensor = decodeResource(op, resource, *dtype, type.getShape());
  else
    return op->emitOpError() << "value must be a dense or dense_resource attribute";
  if (failed(tensor))
    return failure();
  ctx.set(op->getResult(0), std::move(*tensor));
  return success();
}

void kiln::exec::registerConstantKernels(KernelRegistry &registry) {
  registry.add(kiln::ConstantOp::getOperationName(), runConstant);
}
