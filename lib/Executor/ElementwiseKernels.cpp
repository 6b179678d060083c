//===- ElementwiseKernels.cpp - unary, binary, n-ary, Cast, Clip, Where ---===//
//
// Elementwise ONNX ops with numpy broadcasting. Floats narrower than f64 compute in float and
// round to the element type when the result is normalized; integers compute in int64 (uint64
// for u64) with wrap-around, and integer division by zero is reported instead of trapping.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace kiln;
using namespace kiln::exec;

//===----------------------------------------------------------------------===//
// Broadcasting
//===----------------------------------------------------------------------===//

/// The numpy broadcast of the operands' shapes, or an error naming them.
static FailureOr<SmallVector<int64_t, 6>> getBroadcastShape(Operation *op,
                                                            ArrayRef<const Tensor *> operands) {
  SmallVector<int64_t, 6> shape(operands.front()->getShape());
  for (const Tensor *operand : operands.drop_front()) {
    std::optional<SmallVector<int64_t, 6>> broadcast = broadcastShapes(shape, operand->getShape());
    if (!broadcast) {
      InFlightDiagnostic diag = op->emitOpError() << "operands are not broadcastable:";
      for (const Tensor *each : operands)
        diag << " " << each->describe();
      return diag;
    }
    shape = std::move(*broadcast);
  }
  return shape;
}

//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

/// result[i] = fn(input[i]) in the input's compute type, with the input's dtype and shape.
template <typename Fn>
static LogicalResult runUnary(Operation *op, ExecutionContext &ctx, OperandKind kind, Fn fn) {
  const Tensor &input = ctx.get(op->getOperand(0));
  if (failed(checkOperandKind(op, input, kind)))
    return failure();
  ctx.set(op->getResult(0), mapElements(input, [&](auto) { return fn; }));
  return success();
}

template <typename Fn> static Kernel makeUnaryKernel(OperandKind kind, Fn fn) {
  return [kind, fn](Operation *op, ExecutionContext &ctx) { return runUnary(op, ctx, kind, fn); };
}

static LogicalResult runIsNaN(Operation *op, ExecutionContext &ctx) {
  const Tensor &input = ctx.get(op->getOperand(0));
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  Tensor result = Tensor::zeros(DType::Bool, input.getShape());
  MutableArrayRef<int64_t> out = result.getInts();
  visitComputeType(input.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(input);
    for (size_t i = 0, e = in.size(); i < e; ++i)
      out[i] = isNaNValue(static_cast<T>(in[i]));
  });
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

static LogicalResult runCast(Operation *op, ExecutionContext &ctx) {
  auto castOp = cast<OnnxCastOp>(op);
  std::optional<DType> target = getDTypeOf(castOp.getTo());
  if (!target)
    return op->emitOpError() << "cannot cast to unsupported type " << castOp.getTo();
  ctx.set(op->getResult(0), ctx.get(castOp.getInput()).castTo(*target));
  return success();
}

//===----------------------------------------------------------------------===//
// Binary
//===----------------------------------------------------------------------===//

namespace {
/// What a binary op's result is.
enum class ResultKind { SameAsOperands, Bool };
} // namespace

/// Whether an integer tensor has a zero element (the divisor of Div and Mod).
static bool hasIntegerZero(const Tensor &tensor) {
  return getStorage(tensor.getDType()) == Storage::Int && llvm::is_contained(tensor.getInts(), 0);
}

/// result = fn(a, b) elementwise over the broadcast of a and b, in their compute type.
template <typename Fn>
static LogicalResult runBinary(Operation *op, ExecutionContext &ctx, OperandKind kind,
                               ResultKind resultKind, Fn fn, bool isIntegerDivision = false) {
  const Tensor &a = ctx.get(op->getOperand(0));
  const Tensor &b = ctx.get(op->getOperand(1));
  if (failed(checkOperandKind(op, a, kind)) || failed(checkSameDType(op, {&a, &b})))
    return failure();
  FailureOr<SmallVector<int64_t, 6>> shape = getBroadcastShape(op, {&a, &b});
  if (failed(shape))
    return failure();
  if (isIntegerDivision && hasIntegerZero(b))
    return op->emitOpError() << "integer division by zero";
  DType resultDType = resultKind == ResultKind::Bool ? DType::Bool : a.getDType();
  Tensor result = Tensor::zeros(resultDType, *shape);
  visitComputeType(a.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto aData = getStored<T>(a);
    auto bData = getStored<T>(b);
    auto write = [&](auto out) {
      using Stored = typename decltype(out)::value_type;
      forEachBroadcastIndex<2>(*shape, {a.getShape(), b.getShape()},
                               [&](int64_t index, const std::array<int64_t, 2> &from) {
                                 out[index] =
                                     static_cast<Stored>(fn(static_cast<T>(aData[from[0]]),
                                                            static_cast<T>(bData[from[1]])));
                               });
    };
    if (resultKind == ResultKind::Bool)
      write(result.getInts());
    else
      write(getMutableStored<T>(result));
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

template <typename Fn>
static Kernel makeBinaryKernel(OperandKind kind, ResultKind resultKind, Fn fn) {
  return [kind, resultKind, fn](Operation *op, ExecutionContext &ctx) {
    return runBinary(op, ctx, kind, resultKind, fn);
  };
}

/// Integer division truncating toward zero (C++ and ONNX Runtime); the one overflowing case,
/// INT64_MIN / -1, wraps.
template <typename T> static T divide(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a / b;
  } else {
    if constexpr (std::is_signed_v<T>)
      if (b == -1)
        return wrappingSub(T(0), a);
    return a / b;
  }
}

/// The remainder with the dividend's sign (C fmod, ONNX fmod=1).
template <typename T> static T truncatedRemainder(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else {
    if constexpr (std::is_signed_v<T>)
      if (b == -1)
        return 0;
    return a % b;
  }
}

/// The remainder with the divisor's sign (Python's %, ONNX fmod=0).
template <typename T> static T flooredRemainder(T a, T b) {
  T remainder = truncatedRemainder(a, b);
  if constexpr (std::is_signed_v<T>)
    if (remainder != 0 && ((remainder < 0) != (b < 0)))
      remainder += b;
  return remainder;
}

static LogicalResult runDiv(Operation *op, ExecutionContext &ctx) {
  return runBinary(
      op, ctx, OperandKind::Numeric, ResultKind::SameAsOperands,
      [](auto a, auto b) { return divide(a, b); }, /*isIntegerDivision=*/true);
}

static LogicalResult runMod(Operation *op, ExecutionContext &ctx) {
  if (cast<OnnxModOp>(op).getFmod() != 0)
    return runBinary(
        op, ctx, OperandKind::Numeric, ResultKind::SameAsOperands,
        [](auto a, auto b) { return truncatedRemainder(a, b); }, /*isIntegerDivision=*/true);
  return runBinary(
      op, ctx, OperandKind::Numeric, ResultKind::SameAsOperands,
      [](auto a, auto b) { return flooredRemainder(a, b); }, /*isIntegerDivision=*/true);
}

//===----------------------------------------------------------------------===//
// Pow
//===----------------------------------------------------------------------===//

/// base^exponent by squaring, wrapping modulo 2^64 like numpy's integer power.
static int64_t integerPower(int64_t base, uint64_t exponent) {
  uint64_t result = 1, factor = static_cast<uint64_t>(base);
  for (; exponent; exponent >>= 1) {
    if (exponent & 1)
      result *= factor;
    factor *= factor;
  }
  return static_cast<int64_t>(result);
}

template <typename T> static bool isNegative(T value) {
  if constexpr (std::is_signed_v<T>)
    return value < 0;
  else
    return false;
}

/// Pow: the result has the base's dtype; the exponent may have any numeric dtype.
static LogicalResult runPow(Operation *op, ExecutionContext &ctx) {
  const Tensor &base = ctx.get(op->getOperand(0));
  const Tensor &exponent = ctx.get(op->getOperand(1));
  if (failed(checkOperandKind(op, base, OperandKind::Numeric)) ||
      failed(checkOperandKind(op, exponent, OperandKind::Numeric)))
    return failure();
  FailureOr<SmallVector<int64_t, 6>> shape = getBroadcastShape(op, {&base, &exponent});
  if (failed(shape))
    return failure();
  Tensor result = Tensor::zeros(base.getDType(), *shape);
  visitComputeType(base.getDType(), [&](auto baseTag) {
    using B = typename decltype(baseTag)::type;
    visitComputeType(exponent.getDType(), [&](auto exponentTag) {
      using E = typename decltype(exponentTag)::type;
      auto baseData = getStored<B>(base);
      auto exponentData = getStored<E>(exponent);
      auto out = getMutableStored<B>(result);
      forEachBroadcastIndex<2>(
          *shape, {base.getShape(), exponent.getShape()},
          [&](int64_t index, const std::array<int64_t, 2> &from) {
            B b = static_cast<B>(baseData[from[0]]);
            E e = static_cast<E>(exponentData[from[1]]);
            if constexpr (std::is_floating_point_v<B>) {
              // The exponent converts through double, whatever its type.
              out[index] = std::pow(b, static_cast<B>(static_cast<double>(e)));
            } else {
              if constexpr (std::is_integral_v<E>) {
                if (!isNegative(e)) {
                  out[index] = integerPower(static_cast<int64_t>(b), static_cast<uint64_t>(e));
                  return;
                }
              }
              // Fractional or negative powers of integers truncate, as in ONNX Runtime.
              result.setDouble(index, std::pow(static_cast<double>(b), static_cast<double>(e)));
            }
          });
    });
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Max, Min (variadic)
//===----------------------------------------------------------------------===//

template <typename Fn>
static LogicalResult runVariadic(Operation *op, ExecutionContext &ctx, Fn fn) {
  if (op->getNumOperands() == 0)
    return op->emitOpError() << "needs at least one input";
  SmallVector<const Tensor *> operands;
  for (Value operand : op->getOperands()) {
    operands.push_back(&ctx.get(operand));
    if (failed(checkOperandKind(op, *operands.back(), OperandKind::Numeric)))
      return failure();
  }
  if (failed(checkSameDType(op, operands)))
    return failure();
  FailureOr<SmallVector<int64_t, 6>> shape = getBroadcastShape(op, operands);
  if (failed(shape))
    return failure();
  DType dtype = operands.front()->getDType();
  // Folding pairwise equals the n-ary op: max and min are exact, and each partial result
  // broadcasts to the final shape.
  Tensor result = Tensor::zeros(dtype, *shape);
  visitComputeType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto out = getMutableStored<T>(result);
    auto first = getStored<T>(*operands.front());
    forEachBroadcastIndex<1>(
        *shape, {operands.front()->getShape()},
        [&](int64_t index, const std::array<int64_t, 1> &from) { out[index] = first[from[0]]; });
    for (const Tensor *operand : llvm::drop_begin(operands)) {
      auto data = getStored<T>(*operand);
      forEachBroadcastIndex<1>(*shape, {operand->getShape()},
                               [&](int64_t index, const std::array<int64_t, 1> &from) {
                                 out[index] = static_cast<StoredType<T>>(
                                     fn(static_cast<T>(out[index]), static_cast<T>(data[from[0]])));
                               });
    }
  });
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Clip, Where
//===----------------------------------------------------------------------===//

static LogicalResult runClip(Operation *op, ExecutionContext &ctx) {
  auto clip = cast<OnnxClipOp>(op);
  const Tensor &input = ctx.get(clip.getInput());
  if (failed(checkOperandKind(op, input, OperandKind::Numeric)))
    return failure();
  const Tensor *bounds[2] = {ctx.getOptional(clip.getMin()), ctx.getOptional(clip.getMax())};
  for (const Tensor *bound : bounds) {
    if (!bound)
      continue;
    if (bound->getNumElements() != 1)
      return op->emitOpError() << "bounds must hold one element, got " << bound->describe();
    if (failed(checkSameDType(op, {&input, bound})))
      return failure();
  }
  // Absent bounds do not clip; min is applied before max, so min > max gives max (numpy).
  bool hasLow = bounds[0] != nullptr, hasHigh = bounds[1] != nullptr;
  ctx.set(op->getResult(0), mapElements(input, [&](auto tag) {
            using T = typename decltype(tag)::type;
            T low = hasLow ? static_cast<T>(getStored<T>(*bounds[0])[0]) : T();
            T high = hasHigh ? static_cast<T>(getStored<T>(*bounds[1])[0]) : T();
            return [=](T value) {
              if (hasLow && value < low)
                value = low;
              if (hasHigh && value > high)
                value = high;
              return value;
            };
          }));
  return success();
}

static LogicalResult runWhere(Operation *op, ExecutionContext &ctx) {
  const Tensor &condition = ctx.get(op->getOperand(0));
  const Tensor &x = ctx.get(op->getOperand(1));
  const Tensor &y = ctx.get(op->getOperand(2));
  if (failed(checkOperandKind(op, condition, OperandKind::Bool)) ||
      failed(checkSameDType(op, {&x, &y})))
    return failure();
  FailureOr<SmallVector<int64_t, 6>> shape = getBroadcastShape(op, {&condition, &x, &y});
  if (failed(shape))
    return failure();
  Tensor result = Tensor::zeros(x.getDType(), *shape);
  ArrayRef<int64_t> conditionData = condition.getInts();
  visitComputeType(x.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto xData = getStored<T>(x);
    auto yData = getStored<T>(y);
    auto out = getMutableStored<T>(result);
    forEachBroadcastIndex<3>(*shape, {condition.getShape(), x.getShape(), y.getShape()},
                             [&](int64_t index, const std::array<int64_t, 3> &from) {
                               out[index] =
                                   conditionData[from[0]] ? xData[from[1]] : yData[from[2]];
                             });
  });
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void kiln::exec::registerElementwiseKernels(KernelRegistry &registry) {
  using Kind = OperandKind;
  auto addUnaryFloat = [&](StringRef name, auto fn) {
    registry.add(name, makeUnaryKernel(Kind::Float, onFloats(fn)));
  };
  addUnaryFloat(OnnxSqrtOp::getOperationName(), [](auto x) { return std::sqrt(x); });
  addUnaryFloat(OnnxReciprocalOp::getOperationName(), [](auto x) { return decltype(x)(1) / x; });
  addUnaryFloat(OnnxTanhOp::getOperationName(), [](auto x) { return std::tanh(x); });
  addUnaryFloat(OnnxErfOp::getOperationName(), [](auto x) { return std::erf(x); });
  addUnaryFloat(OnnxSigmoidOp::getOperationName(), [](auto x) { return sigmoid(x); });
  addUnaryFloat(OnnxCosOp::getOperationName(), [](auto x) { return std::cos(x); });
  addUnaryFloat(OnnxSinOp::getOperationName(), [](auto x) { return std::sin(x); });
  addUnaryFloat(OnnxExpOp::getOperationName(), [](auto x) { return std::exp(x); });
  addUnaryFloat(OnnxLogOp::getOperationName(), [](auto x) { return std::log(x); });

  registry.add(OnnxReluOp::getOperationName(),
               makeUnaryKernel(Kind::Numeric, [](auto x) { return relu(x); }));
  registry.add(OnnxAbsOp::getOperationName(),
               makeUnaryKernel(Kind::Numeric, [](auto x) -> decltype(x) {
                 using T = decltype(x);
                 if constexpr (std::is_floating_point_v<T>)
                   return std::fabs(x);
                 else if constexpr (std::is_unsigned_v<T>)
                   return x;
                 else
                   return x < 0 ? wrappingSub(T(0), x) : x;
               }));
  registry.add(OnnxNegOp::getOperationName(),
               makeUnaryKernel(Kind::Numeric, [](auto x) -> decltype(x) {
                 if constexpr (std::is_floating_point_v<decltype(x)>)
                   return -x;
                 else
                   return wrappingSub(decltype(x)(0), x);
               }));
  registry.add(OnnxNotOp::getOperationName(),
               makeUnaryKernel(Kind::Bool, [](auto x) -> decltype(x) { return x == 0; }));
  registry.add(OnnxIsNaNOp::getOperationName(), runIsNaN);
  registry.add(OnnxCastOp::getOperationName(), runCast);
  registry.add(OnnxClipOp::getOperationName(), runClip);

  auto same = ResultKind::SameAsOperands;
  registry.add(
      OnnxAddOp::getOperationName(),
      makeBinaryKernel(Kind::Numeric, same, [](auto a, auto b) { return wrappingAdd(a, b); }));
  registry.add(
      OnnxSubOp::getOperationName(),
      makeBinaryKernel(Kind::Numeric, same, [](auto a, auto b) { return wrappingSub(a, b); }));
  registry.add(
      OnnxMulOp::getOperationName(),
      makeBinaryKernel(Kind::Numeric, same, [](auto a, auto b) { return wrappingMul(a, b); }));
  registry.add(OnnxDivOp::getOperationName(), runDiv);
  registry.add(OnnxModOp::getOperationName(), runMod);
  registry.add(OnnxPowOp::getOperationName(), runPow);
  registry.add(OnnxAndOp::getOperationName(),
               makeBinaryKernel(Kind::Bool, same, [](auto a, auto b) { return a && b; }));
  registry.add(OnnxOrOp::getOperationName(),
               makeBinaryKernel(Kind::Bool, same, [](auto a, auto b) { return a || b; }));

  registry.add(OnnxMaxOp::getOperationName(), [](Operation *op, ExecutionContext &ctx) {
    return runVariadic(op, ctx, [](auto a, auto b) { return maxPropagatingNaN(a, b); });
  });
  registry.add(OnnxMinOp::getOperationName(), [](Operation *op, ExecutionContext &ctx) {
    return runVariadic(op, ctx, [](auto a, auto b) { return minPropagatingNaN(a, b); });
  });

  auto toBool = ResultKind::Bool;
  registry.add(OnnxEqualOp::getOperationName(),
               makeBinaryKernel(Kind::Any, toBool, [](auto a, auto b) { return a == b; }));
  registry.add(OnnxLessOp::getOperationName(),
               makeBinaryKernel(Kind::Any, toBool, [](auto a, auto b) { return a < b; }));
  registry.add(OnnxLessOrEqualOp::getOperationName(),
               makeBinaryKernel(Kind::Any, toBool, [](auto a, auto b) { return a <= b; }));
  registry.add(OnnxGreaterOp::getOperationName(),
               makeBinaryKernel(Kind::Any, toBool, [](auto a, auto b) { return a > b; }));
  registry.add(OnnxGreaterOrEqualOp::getOperationName(),
               makeBinaryKernel(Kind::Any, toBool, [](auto a, auto b) { return a >= b; }));
  registry.add(OnnxWhereOp::getOperationName(), runWhere);
}
