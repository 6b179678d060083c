//===- TensorAttr.cpp - Host tensors to and from MLIR attributes ----------===//

#include "kiln/Executor/TensorAttr.h"

#include "ShapeUtils.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/Error.h"

using namespace mlir;
using namespace kiln::exec;

static std::string describeType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

/// Decodes a `dense` attribute. Its raw data is the packed layout (one element when splat),
/// except for i1, which MLIR may store bit-packed; bools are therefore read as values.
static llvm::Expected<Tensor> decodeDense(DenseElementsAttr dense, DType dtype,
                                          ArrayRef<int64_t> shape) {
  if (!isa<DenseIntOrFPElementsAttr>(dense))
    return llvm::createStringError("dense attribute of an unsupported kind");
  if (dtype == DType::Bool) {
    Tensor tensor = Tensor::zeros(dtype, shape);
    if (dense.isSplat())
      std::fill(tensor.getInts().begin(), tensor.getInts().end(), dense.getSplatValue<bool>());
    else
      llvm::copy(dense.getValues<bool>(), tensor.getInts().begin());
    return tensor;
  }
  if (!dense.isSplat()) {
    std::optional<Tensor> decoded = Tensor::fromBytes(dtype, shape, dense.getRawData());
    if (!decoded)
      return llvm::createStringError("dense value holds " +
                                     std::to_string(dense.getRawData().size()) +
                                     " bytes, which does not match its type " +
                                     describeType(dense.getType()));
    return *decoded;
  }
  ArrayRef<char> raw = dense.getRawData().take_front(getByteWidth(dtype));
  std::optional<Tensor> element = Tensor::fromBytes(dtype, {}, raw);
  if (!element)
    return llvm::createStringError("splat value holds " +
                                   std::to_string(dense.getRawData().size()) +
                                   " bytes, fewer than one " + getDTypeName(dtype).str() +
                                   " element");
  return broadcastTo(*element, shape);
}

static llvm::Expected<Tensor> decodeResource(DenseResourceElementsAttr resource, DType dtype,
                                             ArrayRef<int64_t> shape) {
  DenseResourceElementsHandle handle = resource.getRawHandle();
  AsmResourceBlob *blob = handle.getBlob();
  if (!blob)
    return llvm::createStringError("dense_resource blob '" + handle.getKey().str() +
                                   "' has no data (missing from the module's resources)");
  ArrayRef<char> bytes = blob->getData();
  std::optional<Tensor> tensor = Tensor::fromBytes(dtype, shape, bytes);
  if (!tensor)
    return llvm::createStringError(
        "dense_resource blob '" + handle.getKey().str() + "' holds " +
        std::to_string(bytes.size()) + " bytes, which does not match a " +
        getDTypeName(dtype).str() + " tensor of " +
        std::to_string(getElementCount(shape).value_or(-1)) + " elements");
  return *tensor;
}

llvm::Expected<Tensor> kiln::exec::tensorFromElements(ElementsAttr value) {
  auto type = dyn_cast<RankedTensorType>(value.getShapedType());
  if (!type || !type.hasStaticShape())
    return llvm::createStringError("value must have a static shape, got " +
                                   describeType(value.getShapedType()));
  std::optional<DType> dtype = getDTypeOf(type.getElementType());
  if (!dtype)
    return llvm::createStringError("unsupported element type " +
                                   describeType(type.getElementType()));
  if (auto dense = dyn_cast<DenseElementsAttr>(value))
    return decodeDense(dense, *dtype, type.getShape());
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    return decodeResource(resource, *dtype, type.getShape());
  return llvm::createStringError("value must be a dense or dense_resource attribute");
}

RankedTensorType kiln::exec::getTensorType(const Tensor &tensor, MLIRContext *context) {
  return RankedTensorType::get(tensor.getShape(), getMLIRType(tensor.getDType(), context));
}

/// Whether every element equals the first (compared in the storage class).
static bool isSplat(const Tensor &tensor) {
  int64_t n = tensor.getNumElements();
  switch (getStorage(tensor.getDType())) {
  case Storage::Float: {
    ArrayRef<float> values = tensor.getFloats();
    return llvm::all_of(values.drop_front(n ? 1 : 0),
                        [&](float v) { return std::memcmp(&v, &values[0], sizeof v) == 0; });
  }
  case Storage::Double: {
    ArrayRef<double> values = tensor.getDoubles();
    return llvm::all_of(values.drop_front(n ? 1 : 0),
                        [&](double v) { return std::memcmp(&v, &values[0], sizeof v) == 0; });
  }
  case Storage::Int:
    return llvm::all_equal(tensor.getInts());
  }
  return false;
}

DenseElementsAttr kiln::exec::denseFromTensor(const Tensor &tensor, MLIRContext *context) {
  RankedTensorType type = getTensorType(tensor, context);
  bool splat = tensor.getNumElements() > 0 && isSplat(tensor);
  if (tensor.getDType() == DType::Bool) {
    SmallVector<bool> values;
    for (int64_t v : tensor.getInts().take_front(splat ? 1 : tensor.getNumElements()))
      values.push_back(v != 0);
    return DenseElementsAttr::get(type, values);
  }
  std::vector<char> bytes = tensor.toBytes();
  if (splat)
    bytes.resize(getByteWidth(tensor.getDType()));
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

DenseResourceElementsAttr kiln::exec::resourceFromTensor(const Tensor &tensor, StringRef name,
                                                         MLIRContext *context) {
  std::vector<char> bytes = tensor.toBytes();
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(bytes.data(), bytes.size()), alignof(std::max_align_t));
  return DenseResourceElementsAttr::get(getTensorType(tensor, context), name, std::move(blob));
}
