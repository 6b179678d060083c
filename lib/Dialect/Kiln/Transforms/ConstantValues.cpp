//===- ConstantValues.cpp - reading and making constants in patterns ------===//

#include "ConstantValues.h"

#include "kiln/Executor/TensorAttr.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace kiln;

std::optional<exec::Tensor> kiln::getConstantTensor(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  llvm::Expected<exec::Tensor> tensor = exec::tensorFromElements(constant.getValue());
  if (!tensor) {
    llvm::consumeError(tensor.takeError());
    return std::nullopt;
  }
  return std::move(*tensor);
}

std::optional<double> kiln::getSplatConstant(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  // A dense splat answers without decoding; anything else is decoded and compared.
  if (auto dense = dyn_cast<DenseElementsAttr>(constant.getValue()); dense && dense.isSplat()) {
    Type element = dense.getElementType();
    if (isa<FloatType>(element))
      return dense.getSplatValue<APFloat>().convertToDouble();
    if (element.isInteger(1))
      return dense.getSplatValue<bool>() ? 1.0 : 0.0;
    if (auto integer = dyn_cast<IntegerType>(element))
      return integer.isUnsigned() ? double(dense.getSplatValue<APInt>().getZExtValue())
                                  : double(dense.getSplatValue<APInt>().getSExtValue());
    return std::nullopt;
  }
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() == 0 ||
      type.getNumElements() > (int64_t(1) << 20))
    return std::nullopt;
  // A weight blob is almost never a splat: compare its raw elements before decoding anything
  // (patterns ask this of every constant operand they meet).
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(constant.getValue())) {
    std::optional<exec::DType> dtype = exec::getDTypeOf(type.getElementType());
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!dtype || !blob)
      return std::nullopt;
    ArrayRef<char> bytes = blob->getData();
    size_t width = exec::getByteWidth(*dtype);
    if (bytes.size() != width * size_t(type.getNumElements()))
      return std::nullopt;
    for (size_t offset = width; offset < bytes.size(); offset += width)
      if (std::memcmp(bytes.data(), bytes.data() + offset, width) != 0)
        return std::nullopt;
  }
  std::optional<exec::Tensor> tensor = getConstantTensor(value);
  if (!tensor)
    return std::nullopt;
  double first = tensor->getDouble(0);
  for (int64_t i = 1, e = tensor->getNumElements(); i < e; ++i) {
    double v = tensor->getDouble(i);
    if (!(v == first || (std::isnan(v) && std::isnan(first))))
      return std::nullopt;
  }
  return first;
}

std::optional<double> kiln::getScalarConstant(Value value) {
  // Only casts between float types: a float -> int -> float round trip changes the value.
  while (Operation *op = value.getDefiningOp()) {
    if (!isa<OnnxCastOp, OnnxIdentityOp>(op) ||
        (isa<OnnxCastOp>(op) && (!isa<FloatType>(getElementTypeOrSelf(op->getOperand(0))) ||
                                 !isa<FloatType>(getElementTypeOrSelf(op->getResult(0))))))
      break;
    value = op->getOperand(0);
  }
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() != 1)
    return std::nullopt;
  return getSplatConstant(value);
}

bool kiln::isSplatConstant(Value value, double expected, double relTol) {
  std::optional<double> actual = getSplatConstant(value);
  if (!actual)
    return false;
  double scale = expected == 0.0 ? 1.0 : std::fabs(expected);
  return std::fabs(*actual - expected) <= relTol * scale;
}

std::optional<SmallVector<int64_t>> kiln::getConstantInts(Value value) {
  if (!value)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() > 1 || !isa<IntegerType>(type.getElementType()))
    return std::nullopt;
  std::optional<exec::Tensor> tensor = getConstantTensor(value);
  if (!tensor)
    return std::nullopt;
  return SmallVector<int64_t>(tensor->getInts());
}

Value kiln::createI64Constant(OpBuilder &builder, Location loc, ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, builder.getI64Type());
  return ConstantOp::create(builder, loc, DenseIntElementsAttr::get(type, values)).getResult();
}

ConstantOp kiln::createConstant(OpBuilder &builder, Location loc, const exec::Tensor &tensor,
                                StringRef name, int64_t denseLimit) {
  MLIRContext *context = builder.getContext();
  ElementsAttr value;
  if (tensor.getNumElements() <= denseLimit)
    value = exec::denseFromTensor(tensor, context);
  else
    value = exec::resourceFromTensor(tensor, name, context);
  return ConstantOp::create(builder, loc, value);
}

std::string kiln::getConstantName(Value value, StringRef fallback) {
  if (auto constant = value.getDefiningOp<ConstantOp>())
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(constant.getValue()))
      return resource.getRawHandle().getKey().str();
  return fallback.str();
}

exec::Tensor kiln::transposeMatrix(const exec::Tensor &matrix) {
  assert(matrix.getRank() == 2 && "transposeMatrix needs a 2-D tensor");
  int64_t rows = matrix.getShape()[0], cols = matrix.getShape()[1];
  exec::Tensor result = exec::Tensor::zeros(matrix.getDType(), {cols, rows});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      result.setDouble(c * rows + r, matrix.getDouble(r * cols + c));
  return result;
}

exec::Tensor kiln::concatFirstDim(ArrayRef<exec::Tensor> tensors) {
  assert(!tensors.empty() && "concatFirstDim needs at least one tensor");
  SmallVector<int64_t> shape = llvm::to_vector(tensors.front().getShape());
  shape[0] = 0;
  for (const exec::Tensor &tensor : tensors)
    shape[0] += tensor.getShape()[0];
  exec::Tensor result = exec::Tensor::zeros(tensors.front().getDType(), shape);
  int64_t offset = 0;
  for (const exec::Tensor &tensor : tensors)
    for (int64_t i = 0, e = tensor.getNumElements(); i < e; ++i)
      result.setDouble(offset++, tensor.getDouble(i));
  return result;
}

exec::Tensor kiln::sliceLastDim(const exec::Tensor &tensor, int64_t start, int64_t count,
                                int64_t step) {
  SmallVector<int64_t> shape = llvm::to_vector(tensor.getShape());
  int64_t last = shape.back();
  shape.back() = count;
  exec::Tensor result = exec::Tensor::zeros(tensor.getDType(), shape);
  int64_t rows = last == 0 ? 0 : tensor.getNumElements() / last;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t i = 0; i < count; ++i)
      result.setDouble(row * count + i, tensor.getDouble(row * last + start + i * step));
  return result;
}
