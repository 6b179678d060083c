//===- NormalizationKernels.cpp - CPU kernels of LayerNorm and RMSNorm ----===//
//
// ONNX LayerNormalization (opset 17) and RMSNormalization (opset 23), which normalise the dims
// from `axis` on, and kiln.layer_norm / kiln.rms_norm, which normalise the last dim. The
// statistics are computed in float32 (double for f64 tensors), following the ONNX function
// bodies step by step: Y = (X - mean) * (1 / sqrt(var + eps)) * scale + bias, and
// Y = X / sqrt(mean(X^2) + eps) * scale.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include <cmath>
#include <vector>

using namespace mlir;

namespace kiln::exec {
namespace {

enum class NormKind { Layer, RMS };

/// A scale or bias parameter expanded to the normalised dims of one row, in the compute type
/// (parameters are read by value: ONNX lets their type differ from the input's).
template <typename T>
std::vector<T> expandParameter(const Tensor &param, ArrayRef<int64_t> normalizedShape) {
  Tensor expanded = broadcastTo(param, normalizedShape);
  std::vector<T> values(expanded.getNumElements());
  for (int64_t i = 0, e = expanded.getNumElements(); i < e; ++i)
    values[i] = static_cast<T>(expanded.getDouble(i));
  return values;
}

/// LayerNormalization's optional outputs Mean and InvStdDev, per row: float32 (stash_type 1),
/// with the input's shape and the normalised dims set to 1.
struct RowStatistics {
  Tensor mean, invStdDev;
};

template <typename T>
Tensor normalizeRows(NormKind kind, bool onnxRounding, const Tensor &input, int64_t axis,
                     double epsilon, const Tensor &scale, const Tensor *bias,
                     RowStatistics *statistics) {
  ArrayRef<int64_t> rowShape = input.getShape().take_front(axis);
  ArrayRef<int64_t> normalizedShape = input.getShape().drop_front(axis);
  int64_t rows = *getElementCount(rowShape), cols = *getElementCount(normalizedShape);
  std::vector<T> scaleValues = expandParameter<T>(scale, normalizedShape);
  std::vector<T> biasValues;
  if (bias)
    biasValues = expandParameter<T>(*bias, normalizedShape);
  if (statistics) {
    SmallVector<int64_t> statisticsShape(rowShape);
    statisticsShape.append(normalizedShape.size(), 1);
    statistics->mean = Tensor::zeros(DType::F32, statisticsShape);
    statistics->invStdDev = Tensor::zeros(DType::F32, statisticsShape);
  }

  Tensor result = Tensor::zeros(input.getDType(), input.getShape());
  ArrayRef<T> in = getStored<T>(input);
  MutableArrayRef<T> out = getMutableStored<T>(result);
  T eps = static_cast<T>(epsilon);
  DType dtype = input.getDType();
  bool roundsIntermediates = onnxRounding && (dtype == DType::F16 || dtype == DType::BF16);
  T count = static_cast<T>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const T *x = in.data() + r * cols;
    T *y = out.data() + r * cols;
    T mean = 0;
    if (kind == NormKind::Layer) {
      for (int64_t c = 0; c < cols; ++c)
        mean += x[c];
      mean /= count;
    }
    // Two passes: the mean of the squared deviations (of the squares for RMSNorm).
    T meanSquare = 0;
    for (int64_t c = 0; c < cols; ++c) {
      T deviation = x[c] - mean;
      meanSquare += deviation * deviation;
    }
    meanSquare /= count;
    // LayerNormalization multiplies by the reciprocal, RMSNormalization divides (as their
    // ONNX function bodies do); the normalised value is cast back to the element type before
    // the scale applies.
    T root = std::sqrt(meanSquare + eps);
    T invStdDev = T(1) / root;
    if (statistics) {
      statistics->mean.getFloats()[r] = static_cast<float>(mean);
      statistics->invStdDev.getFloats()[r] = static_cast<float>(invStdDev);
    }
    for (int64_t c = 0; c < cols; ++c) {
      T normalized = kind == NormKind::Layer ? (x[c] - mean) * invStdDev : x[c] / root;
      if (roundsIntermediates)
        normalized = static_cast<T>(roundToDType(dtype, normalized));
      y[c] = normalized * scaleValues[c] + (bias ? biasValues[c] : T(0));
    }
  }
  result.normalize();
  return result;
}

/// Checks the operands and runs the normalisation over dims [axis, rank).
/// `onnxRounding`: round the normalised value to the element type before scaling, as the ONNX
/// function bodies do (their Cast to T); the fused kiln ops keep it in float.
FailureOr<Tensor> runNormalization(Operation *op, NormKind kind, bool onnxRounding,
                                   const Tensor &input, int64_t axisAttr, double epsilon,
                                   const Tensor &scale, const Tensor *bias,
                                   RowStatistics *statistics = nullptr) {
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  std::optional<int64_t> axis = normalizeAxis(axisAttr, input.getRank());
  if (!axis)
    return op->emitOpError() << "'axis' " << axisAttr << " is out of range for "
                             << input.describe();
  ArrayRef<int64_t> normalizedShape = input.getShape().drop_front(*axis);
  for (const Tensor *param : {&scale, bias}) {
    if (!param)
      continue;
    std::optional<SmallVector<int64_t, 6>> shape =
        broadcastShapes(param->getShape(), normalizedShape);
    if (!shape || ArrayRef<int64_t>(*shape) != normalizedShape)
      return op->emitOpError() << (param == &scale ? "scale " : "bias ") << param->describe()
                               << " does not broadcast to the normalized dims "
                               << formatShape(normalizedShape) << " of " << input.describe();
  }
  if (computesInDouble(input.getDType()))
    return normalizeRows<double>(kind, onnxRounding, input, *axis, epsilon, scale, bias,
                                 statistics);
  return normalizeRows<float>(kind, onnxRounding, input, *axis, epsilon, scale, bias, statistics);
}

LogicalResult runLayerNormalization(Operation *op, ExecutionContext &ctx) {
  auto norm = cast<OnnxLayerNormalizationOp>(op);
  RowStatistics statistics;
  ValueRange statisticsResults = norm.getStatistics();
  FailureOr<Tensor> result =
      runNormalization(op, NormKind::Layer, /*onnxRounding=*/true, ctx.get(norm.getInput()),
                       static_cast<int64_t>(norm.getAxis()), norm.getEpsilon().convertToDouble(),
                       ctx.get(norm.getScale()), ctx.getOptional(norm.getBias()),
                       statisticsResults.empty() ? nullptr : &statistics);
  if (failed(result))
    return failure();
  ctx.set(norm.getOutput(), *result);
  Tensor statisticsTensors[] = {statistics.mean, statistics.invStdDev};
  for (auto [value, tensor] : llvm::zip(statisticsResults, statisticsTensors))
    ctx.set(value, tensor);
  return success();
}

LogicalResult runRMSNormalization(Operation *op, ExecutionContext &ctx) {
  auto norm = cast<OnnxRMSNormalizationOp>(op);
  FailureOr<Tensor> result =
      runNormalization(op, NormKind::RMS, /*onnxRounding=*/true, ctx.get(norm.getInput()),
                       static_cast<int64_t>(norm.getAxis()), norm.getEpsilon().convertToDouble(),
                       ctx.get(norm.getScale()), /*bias=*/nullptr);
  if (failed(result))
    return failure();
  ctx.set(norm.getOutput(), *result);
  return success();
}

LogicalResult runLayerNorm(Operation *op, ExecutionContext &ctx) {
  auto norm = cast<LayerNormOp>(op);
  FailureOr<Tensor> result =
      runNormalization(op, NormKind::Layer, /*onnxRounding=*/false, ctx.get(norm.getInput()),
                       /*axisAttr=*/-1, norm.getEpsilon().convertToDouble(),
                       ctx.get(norm.getScale()), ctx.getOptional(norm.getBias()));
  if (failed(result))
    return failure();
  ctx.set(norm.getOutput(), *result);
  return success();
}

LogicalResult runRMSNorm(Operation *op, ExecutionContext &ctx) {
  auto norm = cast<RMSNormOp>(op);
  FailureOr<Tensor> result = runNormalization(
      op, NormKind::RMS, /*onnxRounding=*/false, ctx.get(norm.getInput()), /*axisAttr=*/-1,
      norm.getEpsilon().convertToDouble(), ctx.get(norm.getScale()),
      /*bias=*/nullptr);
  if (failed(result))
    return failure();
  ctx.set(norm.getOutput(), *result);
  return success();
}

} // namespace

void registerNormalizationKernels(KernelRegistry &registry) {
  registry.add(OnnxLayerNormalizationOp::getOperationName(), runLayerNormalization);
  registry.add(OnnxRMSNormalizationOp::getOperationName(), runRMSNormalization);
  registry.add(LayerNormOp::getOperationName(), runLayerNorm);
  registry.add(RMSNormOp::getOperationName(), runRMSNorm);
}

} // namespace kiln::exec
