//===- ConstantValues.cpp - reading and making constants in patterns ------===//

#include "ConstantValues.h"

#include "kiln/Executor/TensorAttr.h"

#include <cmath>

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

bool kiln::isSplatConstant(Value value, double expected, double relTol) {
  std::optional<double> actual = getSplatConstant(value);
  if (!actual)
    return false;
  double scale = expected == 0.0 ? 1.0 : std::fabs(expected);
  return std::fabs(*actual - expected) <= relTol * scale;
}

std::optional<SmallVector<int64_t>> kiln::getConstantInts(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() > 1 || !isa<IntegerType>(type.getElementType()))
    return std::nullopt;
  std::optional<exec::Tensor> tensor = getConstantTensor(value);
  if (!tensor)
    return std::nullopt;
  return SmallVector<int64_t>(tensor->getInts());
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
