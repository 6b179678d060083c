//===- ReductionKernels.cpp - reductions, ArgMax, TopK, CumSum, Softmax ---===//
//
// Reductions over axes (opset 18 form: axes as an optional operand), and the ops that scan or
// rank along one axis. Float data accumulates in float (double for f64), matching the float32
// math of the executor; integers accumulate in int64 with wrap-around.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace kiln;
using namespace kiln::exec;

/// `axis` in [0, rank), from ONNX's [-rank, rank); an error at `op` otherwise.
static FailureOr<int64_t> resolveAxis(Operation *op, int64_t axis, int64_t rank) {
  if (std::optional<int64_t> resolved = normalizeAxis(axis, rank))
    return *resolved;
  return op->emitOpError() << "axis " << axis << " is out of range for rank " << rank;
}

/// A tensor viewed as [outer, size, inner] around one axis.
struct AxisView {
  int64_t outer = 1, size = 1, inner = 1;
  AxisView(ArrayRef<int64_t> shape, int64_t axis) {
    for (int64_t d = 0, e = shape.size(); d < e; ++d)
      (d < axis ? outer : d == axis ? size : inner) *= shape[d];
  }
};

//===----------------------------------------------------------------------===//
// ReduceSum, ReduceMean, ReduceMax
//===----------------------------------------------------------------------===//

namespace {
enum class Reduction { Sum, Mean, Max };
} // namespace

/// The smallest value of `dtype` in compute type T: ReduceMax's identity, and its result over an
/// empty set (minus infinity, or the type's minimum for integers, per ONNX).
template <typename T> static T getLowest(DType dtype) {
  switch (dtype) {
  case DType::I8:
    return static_cast<T>(std::numeric_limits<int8_t>::min());
  case DType::I16:
    return static_cast<T>(std::numeric_limits<int16_t>::min());
  case DType::I32:
    return static_cast<T>(std::numeric_limits<int32_t>::min());
  case DType::U8:
  case DType::U16:
  case DType::U32:
    return T(0);
  default:
    if constexpr (std::is_floating_point_v<T>)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::min(); // int64 minimum; 0 for unsigned
  }
}

template <typename OpTy>
static LogicalResult runReduce(Operation *op, ExecutionContext &ctx, Reduction reduction) {
  auto reduce = cast<OpTy>(op);
  const Tensor &data = ctx.get(reduce.getData());
  if (failed(checkOperandKind(op, data, OperandKind::Numeric)))
    return failure();
  int64_t rank = data.getRank();

  // Which axes to reduce: the operand's, or all of them when it is absent or empty, unless
  // noop_with_empty_axes makes that case the identity.
  SmallVector<bool, 6> reduced(rank, true);
  const Tensor *axes = ctx.getOptional(reduce.getAxes());
  if (!axes || axes->getNumElements() == 0) {
    if (reduce.getNoopWithEmptyAxes() != 0) {
      ctx.set(op->getResult(0), data);
      return success();
    }
  } else {
    SmallVector<int64_t> axisValues = readInts(*axes);
    std::optional<SmallVector<bool, 6>> mask = getAxisMask(axisValues, rank);
    if (!mask)
      return op->emitOpError() << "'axes' " << formatShape(axisValues)
                               << " are out of range or repeated for " << data.describe();
    reduced = std::move(*mask);
  }

  SmallVector<int64_t, 6> keptShape, resultShape;
  int64_t reducedCount = 1;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t dim = data.getShape()[d];
    keptShape.push_back(reduced[d] ? 1 : dim);
    if (reduced[d])
      reducedCount *= dim;
    if (!reduced[d] || reduce.getKeepdims() != 0)
      resultShape.push_back(keptShape.back());
  }

  DType dtype = data.getDType();
  Tensor result = Tensor::zeros(dtype, keptShape);
  visitComputeType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(data);
    std::vector<T> accumulators(result.getNumElements(),
                                reduction == Reduction::Max ? getLowest<T>(dtype) : T(0));
    // keptShape broadcasts to the data's shape, so the walk maps each element to its output.
    forEachBroadcastIndex<1>(
        data.getShape(), {keptShape}, [&](int64_t index, const std::array<int64_t, 1> &to) {
          T &accumulator = accumulators[to[0]];
          T value = static_cast<T>(in[index]);
          accumulator = reduction == Reduction::Max ? maxPropagatingNaN(accumulator, value)
                                                    : wrappingAdd(accumulator, value);
        });
    auto out = getMutableStored<T>(result);
    for (auto [index, accumulator] : llvm::enumerate(accumulators)) {
      T value = accumulator;
      if (reduction == Reduction::Mean) {
        if constexpr (std::is_floating_point_v<T>)
          value = accumulator / static_cast<T>(reducedCount); // NaN for an empty set
        else
          value = reducedCount == 0 ? T(0) : accumulator / static_cast<T>(reducedCount);
      }
      out[index] = static_cast<StoredType<T>>(value);
    }
  });
  result.normalize();
  ctx.set(op->getResult(0), result.reshaped(resultShape));
  return success();
}

//===----------------------------------------------------------------------===//
// ArgMax
//===----------------------------------------------------------------------===//

static LogicalResult runArgMax(Operation *op, ExecutionContext &ctx) {
  auto argMax = cast<OnnxArgMaxOp>(op);
  const Tensor &data = ctx.get(argMax.getData());
  if (failed(checkOperandKind(op, data, OperandKind::Numeric)))
    return failure();
  FailureOr<int64_t> axis = resolveAxis(op, static_cast<int64_t>(argMax.getAxis()), data.getRank());
  if (failed(axis))
    return failure();
  AxisView view(data.getShape(), *axis);
  if (view.size == 0)
    return op->emitOpError() << "cannot take the ArgMax of an empty axis of " << data.describe();
  SmallVector<int64_t, 6> resultShape(data.getShape());
  resultShape[*axis] = 1;
  Tensor result = Tensor::zeros(DType::I64, resultShape);
  bool selectLast = argMax.getSelectLastIndex() != 0;
  visitComputeType(data.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(data);
    MutableArrayRef<int64_t> out = result.getInts();
    for (int64_t outer = 0; outer < view.outer; ++outer) {
      for (int64_t inner = 0; inner < view.inner; ++inner) {
        const int64_t base = outer * view.size * view.inner + inner;
        int64_t best = 0;
        T bestValue = static_cast<T>(in[base]);
        for (int64_t j = 1; j < view.size; ++j) {
          T value = static_cast<T>(in[base + j * view.inner]);
          // NaN counts as the maximum (numpy's argmax).
          bool better;
          if (isNaNValue(bestValue))
            better = selectLast && isNaNValue(value);
          else if (isNaNValue(value))
            better = true;
          else
            better = value > bestValue || (selectLast && value == bestValue);
          if (better) {
            best = j;
            bestValue = value;
          }
        }
        out[outer * view.inner + inner] = best;
      }
    }
  });
  if (argMax.getKeepdims() == 0)
    resultShape.erase(resultShape.begin() + *axis);
  ctx.set(op->getResult(0), result.reshaped(resultShape));
  return success();
}

//===----------------------------------------------------------------------===//
// TopK
//===----------------------------------------------------------------------===//

static LogicalResult runTopK(Operation *op, ExecutionContext &ctx) {
  auto topK = cast<OnnxTopKOp>(op);
  const Tensor &x = ctx.get(topK.getX());
  const Tensor &kTensor = ctx.get(topK.getK());
  if (failed(checkOperandKind(op, x, OperandKind::Numeric)))
    return failure();
  if (kTensor.getNumElements() != 1)
    return op->emitOpError() << "K must hold one element, got " << kTensor.describe();
  FailureOr<int64_t> axis = resolveAxis(op, static_cast<int64_t>(topK.getAxis()), x.getRank());
  if (failed(axis))
    return failure();
  AxisView view(x.getShape(), *axis);
  int64_t k = kTensor.getInt(0);
  if (k < 0 || k > view.size)
    return op->emitOpError() << "K = " << k << " is out of range for axis " << *axis << " of "
                             << x.describe();
  SmallVector<int64_t, 6> resultShape(x.getShape());
  resultShape[*axis] = k;
  Tensor values = Tensor::zeros(x.getDType(), resultShape);
  Tensor indices = Tensor::zeros(DType::I64, resultShape);
  bool largest = topK.getLargest() != 0;
  // `sorted` = 0 leaves the order unspecified; sorted output is one valid answer.
  visitComputeType(x.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(x);
    auto valuesOut = getMutableStored<T>(values);
    MutableArrayRef<int64_t> indicesOut = indices.getInts();
    std::vector<int64_t> order(view.size);
    for (int64_t outer = 0; outer < view.outer; ++outer) {
      for (int64_t inner = 0; inner < view.inner; ++inner) {
        const int64_t base = outer * view.size * view.inner + inner;
        auto valueAt = [&](int64_t j) { return static_cast<T>(in[base + j * view.inner]); };
        // A strict total order: NaN ranks above every number (numpy sorts it last), and ties
        // keep the lower index first.
        auto ranksBefore = [&](int64_t a, int64_t b) {
          T va = valueAt(a), vb = valueAt(b);
          bool aNaN = isNaNValue(va), bNaN = isNaNValue(vb);
          if (aNaN || bNaN) {
            if (aNaN && bNaN)
              return a < b;
            return largest ? aNaN : bNaN;
          }
          if (va != vb)
            return largest ? va > vb : va < vb;
          return a < b;
        };
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), ranksBefore);
        for (int64_t j = 0; j < k; ++j) {
          int64_t target = (outer * k + j) * view.inner + inner;
          valuesOut[target] = in[base + order[j] * view.inner];
          indicesOut[target] = order[j];
        }
      }
    }
  });
  ctx.set(op->getResult(0), std::move(values));
  ctx.set(op->getResult(1), std::move(indices));
  return success();
}

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

static LogicalResult runCumSum(Operation *op, ExecutionContext &ctx) {
  auto cumSum = cast<OnnxCumSumOp>(op);
  const Tensor &x = ctx.get(cumSum.getX());
  const Tensor &axisTensor = ctx.get(cumSum.getAxis());
  if (failed(checkOperandKind(op, x, OperandKind::Numeric)))
    return failure();
  if (axisTensor.getNumElements() != 1 || axisTensor.getRank() > 1)
    return op->emitOpError() << "axis must be a scalar or hold one element, got "
                             << axisTensor.describe();
  FailureOr<int64_t> axis = resolveAxis(op, axisTensor.getInt(0), x.getRank());
  if (failed(axis))
    return failure();
  AxisView view(x.getShape(), *axis);
  bool exclusive = cumSum.getExclusive() != 0, reverse = cumSum.getReverse() != 0;
  Tensor result = Tensor::zeros(x.getDType(), x.getShape());
  visitComputeType(x.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(x);
    auto out = getMutableStored<T>(result);
    for (int64_t outer = 0; outer < view.outer; ++outer) {
      for (int64_t inner = 0; inner < view.inner; ++inner) {
        const int64_t base = outer * view.size * view.inner + inner;
        T sum = T(0);
        for (int64_t step = 0; step < view.size; ++step) {
          int64_t j = reverse ? view.size - 1 - step : step;
          int64_t index = base + j * view.inner;
          T value = static_cast<T>(in[index]);
          if (!exclusive)
            sum = wrappingAdd(sum, value);
          out[index] = static_cast<StoredType<T>>(sum);
          if (exclusive)
            sum = wrappingAdd(sum, value);
        }
      }
    }
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax
//===----------------------------------------------------------------------===//

static LogicalResult runSoftmax(Operation *op, ExecutionContext &ctx) {
  auto softmax = cast<OnnxSoftmaxOp>(op);
  const Tensor &input = ctx.get(softmax.getInput());
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  FailureOr<int64_t> axis =
      resolveAxis(op, static_cast<int64_t>(softmax.getAxis()), input.getRank());
  if (failed(axis))
    return failure();
  AxisView view(input.getShape(), *axis);
  Tensor result = Tensor::zeros(input.getDType(), input.getShape());
  visitComputeType(input.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      auto in = getStored<T>(input);
      auto out = getMutableStored<T>(result);
      for (int64_t outer = 0; outer < view.outer; ++outer) {
        for (int64_t inner = 0; inner < view.inner; ++inner) {
          const int64_t base = outer * view.size * view.inner + inner;
          // Subtracting the maximum keeps exp from overflowing; the result is unchanged.
          T maximum = -std::numeric_limits<T>::infinity();
          for (int64_t j = 0; j < view.size; ++j)
            maximum = maxPropagatingNaN(maximum, in[base + j * view.inner]);
          T sum = 0;
          for (int64_t j = 0; j < view.size; ++j) {
            int64_t index = base + j * view.inner;
            out[index] = std::exp(in[index] - maximum);
            sum += out[index];
          }
          for (int64_t j = 0; j < view.size; ++j)
            out[base + j * view.inner] /= sum;
        }
      }
    }
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

void kiln::exec::registerReductionKernels(KernelRegistry &registry) {
  registry.add(OnnxReduceSumOp::getOperationName(), [](Operation *op, ExecutionContext &ctx) {
    return runReduce<OnnxReduceSumOp>(op, ctx, Reduction::Sum);
  });
  registry.add(OnnxReduceMeanOp::getOperationName(), [](Operation *op, ExecutionContext &ctx) {
    return runReduce<OnnxReduceMeanOp>(op, ctx, Reduction::Mean);
  });
  registry.add(OnnxReduceMaxOp::getOperationName(), [](Operation *op, ExecutionContext &ctx) {
    return runReduce<OnnxReduceMaxOp>(op, ctx, Reduction::Max);
  });
  registry.add(OnnxArgMaxOp::getOperationName(), runArgMax);
  registry.add(OnnxTopKOp::getOperationName(), runTopK);
  registry.add(OnnxCumSumOp::getOperationName(), runCumSum);
  registry.add(OnnxSoftmaxOp::getOperationName(), runSoftmax);
}
