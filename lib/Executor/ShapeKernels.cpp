//===- ShapeKernels.cpp - CPU kernels of shape and layout ops -------------===//
//
// Identity, Dropout (inference), Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Expand,
// Concat, Split, Shape, Size, ConstantOfShape and Range, with ONNX semantics. Ops that only
// change the shape share the input's buffer; the others build their result with a strided copy.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <numeric>

using namespace mlir;

namespace kiln::exec {
namespace {

LogicalResult runIdentity(Operation *op, ExecutionContext &ctx) {
  auto identity = cast<OnnxIdentityOp>(op);
  ctx.set(identity.getOutput(), ctx.get(identity.getInput()));
  return success();
}

LogicalResult runDropout(Operation *op, ExecutionContext &ctx) {
  auto dropout = cast<OnnxDropoutOp>(op);
  const Tensor &data = ctx.get(dropout.getData());
  // In training mode Dropout is random; the reference executor only does inference, where it is
  // the identity. A zero ratio makes training mode the identity too.
  if (const Tensor *training = ctx.getOptional(dropout.getTrainingMode())) {
    const Tensor *ratioTensor = ctx.getOptional(dropout.getRatio());
    if (training->getNumElements() != 1 || (ratioTensor && ratioTensor->getNumElements() != 1))
      return op->emitOpError() << "'ratio' and 'training_mode' must be scalars";
    double ratio = ratioTensor ? ratioTensor->getDouble(0) : 0.5;
    if (training->getInt(0) != 0 && ratio > 0.0)
      return op->emitOpError() << "training-mode Dropout is not supported";
  }
  ctx.set(dropout.getOutput(), data);
  if (Value mask = dropout.getMask()) {
    Tensor ones = Tensor::zeros(DType::Bool, data.getShape());
    llvm::fill(ones.getInts(), 1);
    ctx.set(mask, ones);
  }
  return success();
}

/// The dims in a 1-D 'shape' operand (of Reshape, Expand, ConstantOfShape).
FailureOr<SmallVector<int64_t>> readShapeOperand(Operation *op, const Tensor &shapeTensor) {
  if (shapeTensor.getRank() != 1)
    return op->emitOpError() << "'shape' must be 1-D, got " << shapeTensor.describe();
  return readInts(shapeTensor);
}

LogicalResult runReshape(Operation *op, ExecutionContext &ctx) {
  auto reshape = cast<OnnxReshapeOp>(op);
  const Tensor &data = ctx.get(reshape.getData());
  FailureOr<SmallVector<int64_t>> requested = readShapeOperand(op, ctx.get(reshape.getShape()));
  if (failed(requested))
    return failure();
  bool allowZero = static_cast<int64_t>(reshape.getAllowzero()) != 0;
  SmallVector<int64_t> shape = *requested;
  std::optional<int64_t> inferred;
  bool hasZero = false;
  for (int64_t i = 0, e = static_cast<int64_t>(shape.size()); i < e; ++i) {
    if (shape[i] == -1) {
      if (inferred)
        return op->emitOpError() << "'shape' " << formatShape(*requested)
                                 << " has more than one -1";
      inferred = i;
    } else if (shape[i] < -1) {
      return op->emitOpError() << "'shape' " << formatShape(*requested) << " has invalid dim "
                               << shape[i];
    } else if (shape[i] == 0) {
      hasZero = true;
      if (!allowZero) {
        // 0 copies the input's dim at the same position.
        if (i >= data.getRank())
          return op->emitOpError() << "'shape' " << formatShape(*requested) << " copies dim " << i
                                   << " of " << data.describe() << ", which has no such dim";
        shape[i] = data.getShape()[i];
      }
    }
  }
  if (allowZero && hasZero && inferred)
    return op->emitOpError() << "'shape' " << formatShape(shape)
                             << " cannot hold both 0 and -1 with allowzero = 1";
  if (inferred) {
    int64_t known = 1;
    for (int64_t i = 0, e = static_cast<int64_t>(shape.size()); i < e; ++i)
      if (i != *inferred && llvm::MulOverflow(known, shape[i], known))
        return op->emitOpError() << "'shape' " << formatShape(*requested) << " overflows";
    if (known == 0 || data.getNumElements() % known != 0)
      return op->emitOpError() << "cannot infer the -1 of " << formatShape(*requested) << " for "
                               << data.describe();
    shape[*inferred] = data.getNumElements() / known;
  }
  std::optional<int64_t> count = getElementCount(shape);
  if (!count || *count != data.getNumElements())
    return op->emitOpError() << "cannot reshape " << data.describe() << " to "
                             << formatShape(*requested);
  ctx.set(reshape.getReshaped(), data.reshaped(shape));
  return success();
}

LogicalResult runTranspose(Operation *op, ExecutionContext &ctx) {
  auto transpose = cast<OnnxTransposeOp>(op);
  const Tensor &data = ctx.get(transpose.getData());
  int64_t rank = data.getRank();
  SmallVector<int64_t> perm;
  if (auto attr = transpose.getPerm())
    perm = llvm::to_vector(*attr);
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  SmallVector<bool> used(rank, false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t p : perm) {
    valid = valid && p >= 0 && p < rank && !used[p];
    if (valid)
      used[p] = true;
  }
  if (!valid)
    return op->emitOpError() << "'perm' " << formatShape(perm) << " is not a permutation of the "
                             << rank << " dims of " << data.describe();
  SmallVector<int64_t> inStrides = getStrides(data.getShape());
  SmallVector<int64_t> shape, strides;
  for (int64_t p : perm) {
    shape.push_back(data.getShape()[p]);
    strides.push_back(inStrides[p]);
  }
  ctx.set(transpose.getTransposed(), copyStrided(data, 0, strides, shape));
  return success();
}

LogicalResult runUnsqueeze(Operation *op, ExecutionContext &ctx) {
  auto unsqueeze = cast<OnnxUnsqueezeOp>(op);
  const Tensor &data = ctx.get(unsqueeze.getData());
  SmallVector<int64_t> axes = readInts(ctx.get(unsqueeze.getAxes()));
  int64_t rank = data.getRank() + static_cast<int64_t>(axes.size());
  std::optional<SmallVector<bool, 6>> inserted = getAxisMask(axes, rank);
  if (!inserted)
    return op->emitOpError() << "'axes' " << formatShape(axes)
                             << " are out of range or repeated for a result of rank " << rank;
  SmallVector<int64_t> shape;
  ArrayRef<int64_t> dims = data.getShape();
  for (int64_t d = 0; d < rank; ++d) {
    if ((*inserted)[d]) {
      shape.push_back(1);
    } else {
      shape.push_back(dims.front());
      dims = dims.drop_front();
    }
  }
  ctx.set(unsqueeze.getExpanded(), data.reshaped(shape));
  return success();
}

LogicalResult runSqueeze(Operation *op, ExecutionContext &ctx) {
  auto squeeze = cast<OnnxSqueezeOp>(op);
  const Tensor &data = ctx.get(squeeze.getData());
  int64_t rank = data.getRank();
  ArrayRef<int64_t> dims = data.getShape();
  SmallVector<bool, 6> removed(rank, false);
  if (const Tensor *axesTensor = ctx.getOptional(squeeze.getAxes())) {
    SmallVector<int64_t> axes = readInts(*axesTensor);
    std::optional<SmallVector<bool, 6>> mask = getAxisMask(axes, rank);
    if (!mask)
      return op->emitOpError() << "'axes' " << formatShape(axes)
                               << " are out of range or repeated for " << data.describe();
    for (int64_t d = 0; d < rank; ++d)
      if ((*mask)[d] && dims[d] != 1)
        return op->emitOpError() << "cannot squeeze dim " << d << " of size " << dims[d] << " of "
                                 << data.describe();
    removed = std::move(*mask);
  } else {
    for (int64_t d = 0; d < rank; ++d)
      removed[d] = dims[d] == 1;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!removed[d])
      shape.push_back(dims[d]);
  ctx.set(squeeze.getSqueezed(), data.reshaped(shape));
  return success();
}

LogicalResult runFlatten(Operation *op, ExecutionContext &ctx) {
  auto flatten = cast<OnnxFlattenOp>(op);
  const Tensor &input = ctx.get(flatten.getInput());
  int64_t rank = input.getRank();
  int64_t axis = static_cast<int64_t>(flatten.getAxis());
  // Flatten's axis may equal the rank (everything goes into the first dim).
  if (axis < -rank || axis > rank)
    return op->emitOpError() << "'axis' " << axis << " is out of range for " << input.describe();
  if (axis < 0)
    axis += rank;
  ArrayRef<int64_t> dims = input.getShape();
  int64_t outer =
      std::accumulate(dims.begin(), dims.begin() + axis, int64_t{1}, std::multiplies<int64_t>());
  int64_t inner =
      std::accumulate(dims.begin() + axis, dims.end(), int64_t{1}, std::multiplies<int64_t>());
  ctx.set(flatten.getOutput(), input.reshaped({outer, inner}));
  return success();
}

LogicalResult runExpand(Operation *op, ExecutionContext &ctx) {
  auto expand = cast<OnnxExpandOp>(op);
  const Tensor &input = ctx.get(expand.getInput());
  FailureOr<SmallVector<int64_t>> requested = readShapeOperand(op, ctx.get(expand.getShape()));
  if (failed(requested))
    return failure();
  for (int64_t dim : *requested)
    if (dim < 0)
      return op->emitOpError() << "'shape' " << formatShape(*requested) << " has a negative dim";
  // Bidirectional: a 1 in 'shape' keeps the input's dim.
  std::optional<SmallVector<int64_t, 6>> shape = broadcastShapes(input.getShape(), *requested);
  if (!shape)
    return op->emitOpError() << "cannot expand " << input.describe() << " to "
                             << formatShape(*requested);
  if (failed(verifyShape(op, *shape)))
    return failure();
  ctx.set(expand.getOutput(), broadcastTo(input, *shape));
  return success();
}

LogicalResult runConcat(Operation *op, ExecutionContext &ctx) {
  auto concat = cast<OnnxConcatOp>(op);
  SmallVector<const Tensor *> inputs;
  for (Value input : concat.getInputs())
    inputs.push_back(&ctx.get(input));
  const Tensor &first = *inputs.front();
  int64_t rank = first.getRank();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(concat.getAxis()), rank);
  if (!axis)
    return op->emitOpError() << "'axis' " << static_cast<int64_t>(concat.getAxis())
                             << " is out of range for " << first.describe();
  SmallVector<int64_t> shape = llvm::to_vector(first.getShape());
  shape[*axis] = 0;
  for (const Tensor *input : inputs) {
    bool compatible = input->getRank() == rank && input->getDType() == first.getDType();
    for (int64_t d = 0; compatible && d < rank; ++d)
      compatible = d == *axis || input->getShape()[d] == first.getShape()[d];
    if (!compatible)
      return op->emitOpError() << "cannot concatenate " << first.describe() << " and "
                               << input->describe() << " along axis " << *axis;
    shape[*axis] += input->getShape()[*axis];
  }
  Tensor result = Tensor::zeros(first.getDType(), shape);
  // Each input contributes one contiguous block of (its axis dim x inner) elements per outer
  // index.
  int64_t inner = getStrides(shape)[*axis];
  int64_t outer =
      result.getNumElements() == 0 ? 0 : result.getNumElements() / (shape[*axis] * inner);
  int64_t outBlock = shape[*axis] * inner;
  int64_t position = 0;
  for (const Tensor *input : inputs) {
    int64_t block = input->getShape()[*axis] * inner;
    for (int64_t o = 0; o < outer && block > 0; ++o)
      copyElements(*input, o * block, result, o * outBlock + position, block);
    position += block;
  }
  ctx.set(concat.getConcatResult(), result);
  return success();
}

LogicalResult runSplit(Operation *op, ExecutionContext &ctx) {
  auto split = cast<OnnxSplitOp>(op);
  const Tensor &input = ctx.get(split.getInput());
  int64_t rank = input.getRank();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(split.getAxis()), rank);
  if (!axis)
    return op->emitOpError() << "'axis' " << static_cast<int64_t>(split.getAxis())
                             << " is out of range for " << input.describe();
  int64_t dim = input.getShape()[*axis];
  int64_t outputs = static_cast<int64_t>(split.getOutputs().size());
  SmallVector<int64_t> sizes;
  if (const Tensor *sizesTensor = ctx.getOptional(split.getSplit())) {
    sizes = readInts(*sizesTensor);
    bool valid = static_cast<int64_t>(sizes.size()) == outputs;
    int64_t total = 0;
    for (int64_t size : sizes) {
      valid = valid && size >= 0;
      total += size;
    }
    if (!valid || total != dim)
      return op->emitOpError() << "'split' " << formatShape(sizes) << " does not divide dim "
                               << *axis << " of " << input.describe() << " into " << outputs
                               << " parts";
  } else {
    // Opset 18: equal chunks of ceil(dim / n), the last one smaller if dim is not divisible.
    int64_t parts = split.getNumOutputs() ? static_cast<int64_t>(*split.getNumOutputs()) : outputs;
    if (parts != outputs)
      return op->emitOpError() << "'num_outputs' " << parts << " differs from the " << outputs
                               << " results";
    int64_t chunk = (dim + parts - 1) / parts;
    int64_t last = dim - chunk * (parts - 1);
    if (last < 0)
      return op->emitOpError() << "dim " << *axis << " of " << input.describe()
                               << " cannot be split into " << parts << " chunks of " << chunk;
    sizes.assign(parts, chunk);
    sizes.back() = last;
  }
  SmallVector<int64_t> inStrides = getStrides(input.getShape());
  int64_t start = 0;
  for (auto [result, size] : llvm::zip_equal(split.getOutputs(), sizes)) {
    SmallVector<int64_t> shape = llvm::to_vector(input.getShape());
    shape[*axis] = size;
    ctx.set(result, copyStrided(input, start * inStrides[*axis], inStrides, shape));
    start += size;
  }
  return success();
}

LogicalResult runShape(Operation *op, ExecutionContext &ctx) {
  auto shapeOp = cast<OnnxShapeOp>(op);
  ArrayRef<int64_t> dims = ctx.get(shapeOp.getData()).getShape();
  int64_t rank = static_cast<int64_t>(dims.size());
  // start/end: negative counts from the back; both are clamped to [0, rank].
  auto clampIndex = [rank](int64_t index) {
    return std::clamp<int64_t>(index < 0 ? index + rank : index, 0, rank);
  };
  int64_t start = shapeOp.getStart() ? clampIndex(static_cast<int64_t>(*shapeOp.getStart())) : 0;
  int64_t end = shapeOp.getEnd() ? clampIndex(static_cast<int64_t>(*shapeOp.getEnd())) : rank;
  int64_t count = std::max<int64_t>(end - start, 0);
  Tensor result = Tensor::zeros(DType::I64, {count});
  for (int64_t i = 0; i < count; ++i)
    result.getInts()[i] = dims[start + i];
  ctx.set(shapeOp.getShape(), result);
  return success();
}

LogicalResult runSize(Operation *op, ExecutionContext &ctx) {
  auto sizeOp = cast<OnnxSizeOp>(op);
  Tensor result = Tensor::zeros(DType::I64, {});
  result.getInts()[0] = ctx.get(sizeOp.getData()).getNumElements();
  ctx.set(sizeOp.getSize(), result);
  return success();
}

/// The single element of ConstantOfShape's `value` attribute as a one-element tensor.
FailureOr<Tensor> getFillValue(OnnxConstantOfShapeOp op) {
  ElementsAttr value = op.getValueAttr();
  if (!value)
    return Tensor::zeros(DType::F32, {1});
  std::optional<DType> dtype = getDTypeOf(value.getElementType());
  if (!dtype || value.getNumElements() != 1)
    return op.emitOpError() << "'value' must hold one element of a supported type";
  Tensor fill = Tensor::zeros(*dtype, {1});
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    std::optional<Tensor> decoded =
        blob ? Tensor::fromBytes(*dtype, {1}, blob->getData()) : std::nullopt;
    if (!decoded)
      return op.emitOpError() << "cannot read the 'value' resource";
    return *decoded;
  }
  if (isFloatingPoint(*dtype)) {
    auto values = value.tryGetValues<APFloat>();
    if (!values)
      return op.emitOpError() << "cannot read 'value'";
    fill.setDouble(0, (*values->begin()).convertToDouble());
  } else {
    auto values = value.tryGetValues<APInt>();
    if (!values)
      return op.emitOpError() << "cannot read 'value'";
    APInt integer = *values->begin();
    fill.setInt(0, isUnsignedInteger(*dtype) || *dtype == DType::Bool
                       ? static_cast<int64_t>(integer.getZExtValue())
                       : integer.getSExtValue());
  }
  return fill;
}

LogicalResult runConstantOfShape(Operation *op, ExecutionContext &ctx) {
  auto constantOfShape = cast<OnnxConstantOfShapeOp>(op);
  FailureOr<SmallVector<int64_t>> shape = readShapeOperand(op, ctx.get(constantOfShape.getShape()));
  if (failed(shape) || failed(verifyShape(op, *shape)))
    return failure();
  FailureOr<Tensor> fill = getFillValue(constantOfShape);
  if (failed(fill))
    return failure();
  SmallVector<int64_t> zeroStrides(shape->size(), 0);
  ctx.set(constantOfShape.getOutput(), copyStrided(*fill, 0, zeroStrides, *shape));
  return success();
}

LogicalResult runRange(Operation *op, ExecutionContext &ctx) {
  auto range = cast<OnnxRangeOp>(op);
  const Tensor &startTensor = ctx.get(range.getStart());
  const Tensor &limitTensor = ctx.get(range.getLimit());
  const Tensor &deltaTensor = ctx.get(range.getDelta());
  for (const Tensor *scalar : {&startTensor, &limitTensor, &deltaTensor})
    if (scalar->getNumElements() != 1)
      return op->emitOpError() << "start, limit and delta must be scalars, got "
                               << scalar->describe();
  DType dtype = startTensor.getDType();
  Tensor result;
  if (getStorage(dtype) == Storage::Int) {
    int64_t start = startTensor.getInt(0), limit = limitTensor.getInt(0);
    int64_t delta = deltaTensor.getInt(0);
    if (delta == 0)
      return op->emitOpError() << "'delta' must not be zero";
    // ceil((limit - start) / delta) in exact integer arithmetic. Division truncates toward
    // zero, which is the ceiling for a negative quotient; a positive one needs rounding up.
    std::optional<int64_t> span = llvm::checkedSub(limit, start);
    if (!span)
      return op->emitOpError() << "range from " << start << " to " << limit << " overflows";
    int64_t count = *span / delta;
    if (*span % delta != 0 && (*span > 0) == (delta > 0))
      ++count;
    int64_t elements = std::max<int64_t>(count, 0);
    result = Tensor::zeros(dtype, {elements});
    for (int64_t i = 0; i < elements; ++i)
      result.setInt(i, start + i * delta);
  } else {
    double start = startTensor.getDouble(0), limit = limitTensor.getDouble(0);
    double delta = deltaTensor.getDouble(0);
    if (delta == 0.0)
      return op->emitOpError() << "'delta' must not be zero";
    double count = std::ceil((limit - start) / delta);
    if (!std::isfinite(count) || count > static_cast<double>(int64_t{1} << 40))
      return op->emitOpError() << "range from " << start << " to " << limit << " by " << delta
                               << " has no finite element count";
    int64_t elements = count > 0 ? static_cast<int64_t>(count) : 0;
    result = Tensor::zeros(dtype, {elements});
    // output[i] = start + i * delta, in the element type's arithmetic (float for f32/f16/bf16).
    for (int64_t i = 0; i < elements; ++i) {
      if (computesInDouble(dtype))
        result.setDouble(i, start + static_cast<double>(i) * delta);
      else
        result.setDouble(i, static_cast<float>(start) +
                                static_cast<float>(i) * static_cast<float>(delta));
    }
  }
  ctx.set(range.getOutput(), result);
  return success();
}

} // namespace

void registerShapeKernels(KernelRegistry &registry) {
  registry.add(OnnxIdentityOp::getOperationName(), runIdentity);
  registry.add(OnnxDropoutOp::getOperationName(), runDropout);
  registry.add(OnnxReshapeOp::getOperationName(), runReshape);
  registry.add(OnnxTransposeOp::getOperationName(), runTranspose);
  registry.add(OnnxUnsqueezeOp::getOperationName(), runUnsqueeze);
  registry.add(OnnxSqueezeOp::getOperationName(), runSqueeze);
  registry.add(OnnxFlattenOp::getOperationName(), runFlatten);
  registry.add(OnnxExpandOp::getOperationName(), runExpand);
  registry.add(OnnxConcatOp::getOperationName(), runConcat);
  registry.add(OnnxSplitOp::getOperationName(), runSplit);
  registry.add(OnnxShapeOp::getOperationName(), runShape);
  registry.add(OnnxSizeOp::getOperationName(), runSize);
  registry.add(OnnxConstantOfShapeOp::getOperationName(), runConstantOfShape);
  registry.add(OnnxRangeOp::getOperationName(), runRange);
}

} // namespace kiln::exec
