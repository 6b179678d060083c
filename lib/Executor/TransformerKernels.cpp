//===- TransformerKernels.cpp - CPU kernels of the fused transformer ops --===//
//
// kiln.linear (act(x W^T + bias) + residual), kiln.rotary, kiln.gelu, kiln.silu and
// kiln.swiglu. Each computes in float32 (double for f64 tensors) and rounds once to the element
// type when it stores its result, as the fused kernel it stands for would.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include <cmath>

using namespace mlir;

namespace kiln::exec {
namespace {

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

template <typename T> T geluErf(T x) {
  const T sqrtHalf = static_cast<T>(0.7071067811865476);
  return T(0.5) * x * (T(1) + std::erf(x * sqrtHalf));
}

/// PyTorch's approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
/// In the order PyTorch's exporters write it (`(x * 0.5) * (tanh((x + x^3 * 0.044715) * c) + 1)`),
/// so that the raised op rounds as the graph it replaces (the other order moved one bytelm_gpt2
/// logit by 2.5e-5).
template <typename T> T geluTanh(T x) {
  const T sqrtTwoOverPi = static_cast<T>(0.7978845608028654);
  T cube = x * x * x;
  return (x * T(0.5)) * (std::tanh((x + cube * T(0.044715)) * sqrtTwoOverPi) + T(1));
}

/// x * sigmoid(x): the Mul(x, Sigmoid(x)) that exporters emit, with ONNX Sigmoid's sigmoid.
template <typename T> T silu(T x) { return x * sigmoid(x); }

template <typename T> T activate(Activation activation, T x) {
  switch (activation) {
  case Activation::none:
    return x;
  case Activation::relu:
    return relu(x);
  case Activation::gelu_tanh:
    return geluTanh(x);
  case Activation::gelu_erf:
    return geluErf(x);
  case Activation::silu:
    return silu(x);
  }
  return x;
}

/// Runs an elementwise activation `fn` of a floating-point tensor, in float (double for f64).
template <typename Fn>
LogicalResult runActivation(Operation *op, ExecutionContext &ctx, Value input, Value output,
                            Fn fn) {
  const Tensor &tensor = ctx.get(input);
  if (failed(checkOperandKind(op, tensor, OperandKind::Float)))
    return failure();
  ctx.set(output, mapElements(tensor, [&](auto) { return onFloats(fn); }));
  return success();
}

LogicalResult runGelu(Operation *op, ExecutionContext &ctx) {
  auto gelu = cast<GeluOp>(op);
  bool tanhForm = gelu.getApproximation() == GeluApproximation::tanh;
  return runActivation(op, ctx, gelu.getInput(), gelu.getOutput(),
                       [tanhForm](auto x) { return tanhForm ? geluTanh(x) : geluErf(x); });
}

LogicalResult runSilu(Operation *op, ExecutionContext &ctx) {
  auto siluOp = cast<SiluOp>(op);
  return runActivation(op, ctx, siluOp.getInput(), siluOp.getOutput(),
                       [](auto x) { return silu(x); });
}

template <typename T> Tensor swiglu(const Tensor &gate, const Tensor &up) {
  Tensor result = Tensor::zeros(gate.getDType(), gate.getShape());
  ArrayRef<T> gates = getStored<T>(gate), ups = getStored<T>(up);
  MutableArrayRef<T> out = getMutableStored<T>(result);
  for (size_t i = 0, e = out.size(); i < e; ++i)
    out[i] = silu(gates[i]) * ups[i];
  result.normalize();
  return result;
}

LogicalResult runSwiglu(Operation *op, ExecutionContext &ctx) {
  auto swigluOp = cast<SwigluOp>(op);
  const Tensor &gate = ctx.get(swigluOp.getGate());
  const Tensor &up = ctx.get(swigluOp.getUp());
  if (failed(checkOperandKind(op, gate, OperandKind::Float)))
    return failure();
  if (gate.getShape() != up.getShape() || gate.getDType() != up.getDType())
    return op->emitOpError() << "gate " << gate.describe() << " and up " << up.describe()
                             << " must have the same type";
  ctx.set(swigluOp.getOutput(),
          computesInDouble(gate.getDType()) ? swiglu<double>(gate, up) : swiglu<float>(gate, up));
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.linear
//===----------------------------------------------------------------------===//

template <typename T>
Tensor linear(const Tensor &input, const Tensor &weight, const Tensor *bias, const Tensor *residual,
              Activation activation) {
  int64_t outFeatures = weight.getShape()[0], inFeatures = weight.getShape()[1];
  SmallVector<int64_t> shape = llvm::to_vector(input.getShape());
  shape.back() = outFeatures;
  Tensor result = Tensor::zeros(input.getDType(), shape);
  ArrayRef<T> x = getStored<T>(input), w = getStored<T>(weight);
  MutableArrayRef<T> y = getMutableStored<T>(result);
  ArrayRef<T> b = bias ? getStored<T>(*bias) : ArrayRef<T>();
  ArrayRef<T> r = residual ? getStored<T>(*residual) : ArrayRef<T>();
  int64_t rows = 1;
  for (int64_t dim : input.getShape().drop_back())
    rows *= dim;
  for (int64_t row = 0; row < rows; ++row) {
    const T *xRow = x.data() + row * inFeatures;
    for (int64_t o = 0; o < outFeatures; ++o) {
      // Weight rows are [in_features] (PyTorch layout), so both operands stream contiguously.
      const T *wRow = w.data() + o * inFeatures;
      T sum = 0;
      for (int64_t i = 0; i < inFeatures; ++i)
        sum += xRow[i] * wRow[i];
      if (bias)
        sum += b[o];
      // The epilogue order of the op: bias, activation, then the residual.
      T value = activate(activation, sum);
      if (residual)
        value += r[row * outFeatures + o];
      y[row * outFeatures + o] = value;
    }
  }
  result.normalize();
  return result;
}

LogicalResult runLinear(Operation *op, ExecutionContext &ctx) {
  auto linearOp = cast<LinearOp>(op);
  const Tensor &input = ctx.get(linearOp.getInput());
  const Tensor &weight = ctx.get(linearOp.getWeight());
  const Tensor *bias = ctx.getOptional(linearOp.getBias());
  const Tensor *residual = ctx.getOptional(linearOp.getResidual());
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  if (input.getRank() < 1 || weight.getRank() != 2 ||
      input.getShape().back() != weight.getShape()[1] || weight.getDType() != input.getDType())
    return op->emitOpError() << "input " << input.describe() << " does not match weight "
                             << weight.describe() << " ([out_features, in_features])";
  int64_t outFeatures = weight.getShape()[0];
  if (bias &&
      (bias->getShape() != ArrayRef<int64_t>(outFeatures) || bias->getDType() != input.getDType()))
    return op->emitOpError() << "bias " << bias->describe() << " must be [" << outFeatures
                             << "] of the input's type";
  SmallVector<int64_t> shape = llvm::to_vector(input.getShape());
  shape.back() = outFeatures;
  if (residual && (residual->getShape() != ArrayRef<int64_t>(shape) ||
                   residual->getDType() != input.getDType()))
    return op->emitOpError() << "residual " << residual->describe() << " must have the result "
                             << "shape " << formatShape(shape) << " and the input's type";
  Activation activation = linearOp.getActivation();
  ctx.set(linearOp.getOutput(), computesInDouble(input.getDType())
                                    ? linear<double>(input, weight, bias, residual, activation)
                                    : linear<float>(input, weight, bias, residual, activation));
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.rotary
//===----------------------------------------------------------------------===//

template <typename T>
Tensor rotary(const Tensor &input, const Tensor &cosTensor, const Tensor &sinTensor,
              int64_t rotaryDim, bool interleaved) {
  ArrayRef<int64_t> shape = input.getShape();
  int64_t batch = shape[0], heads = shape[1], seq = shape[2], headDim = shape[3];
  int64_t half = rotaryDim / 2;
  // cos/sin are [seq, R/2] or [batch, seq, R/2] with batch possibly 1.
  bool perBatch = cosTensor.getRank() == 3 && cosTensor.getShape()[0] != 1;
  ArrayRef<T> in = getStored<T>(input);
  ArrayRef<T> cosValues = getStored<T>(cosTensor), sinValues = getStored<T>(sinTensor);
  Tensor result = Tensor::zeros(input.getDType(), shape);
  MutableArrayRef<T> out = getMutableStored<T>(result);
  std::copy(in.begin(), in.end(), out.begin()); // dims from rotary_dim on pass through
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < seq; ++s) {
        int64_t vector = ((b * heads + h) * seq + s) * headDim;
        int64_t angles = ((perBatch ? b : 0) * seq + s) * half;
        rotatePairs(in.data() + vector, out.data() + vector, cosValues.data() + angles,
                    sinValues.data() + angles, rotaryDim, interleaved);
      }
    }
  }
  result.normalize();
  return result;
}

LogicalResult runRotary(Operation *op, ExecutionContext &ctx) {
  auto rotaryOp = cast<RotaryOp>(op);
  const Tensor &input = ctx.get(rotaryOp.getInput());
  const Tensor &cosTensor = ctx.get(rotaryOp.getCos());
  const Tensor &sinTensor = ctx.get(rotaryOp.getSin());
  if (failed(checkOperandKind(op, input, OperandKind::Float)))
    return failure();
  int64_t rotaryDim = static_cast<int64_t>(rotaryOp.getRotaryDim());
  if (input.getRank() != 4 || rotaryDim <= 0 || rotaryDim % 2 != 0 ||
      rotaryDim > input.getShape()[3])
    return op->emitOpError() << "input " << input.describe()
                             << " must be [batch, heads, seq, head_dim] with an even dim "
                             << rotaryDim << " <= head_dim";
  int64_t batch = input.getShape()[0], seq = input.getShape()[2];
  ArrayRef<int64_t> cosShape = cosTensor.getShape();
  bool validCos = (cosShape == ArrayRef<int64_t>({seq, rotaryDim / 2}) ||
                   (cosTensor.getRank() == 3 && (cosShape[0] == batch || cosShape[0] == 1) &&
                    cosShape.drop_front() == ArrayRef<int64_t>({seq, rotaryDim / 2}))) &&
                  sinTensor.getShape() == cosShape && cosTensor.getDType() == input.getDType() &&
                  sinTensor.getDType() == input.getDType();
  if (!validCos)
    return op->emitOpError() << "cos " << cosTensor.describe() << " and sin "
                             << sinTensor.describe() << " must be [seq, dim/2] or "
                             << "[batch, seq, dim/2] for input " << input.describe();
  bool interleaved = rotaryOp.getStyle() == RotaryStyle::interleaved;
  ctx.set(rotaryOp.getOutput(),
          computesInDouble(input.getDType())
              ? rotary<double>(input, cosTensor, sinTensor, rotaryDim, interleaved)
              : rotary<float>(input, cosTensor, sinTensor, rotaryDim, interleaved));
  return success();
}

} // namespace

void registerTransformerKernels(KernelRegistry &registry) {
  registry.add(LinearOp::getOperationName(), runLinear);
  registry.add(RotaryOp::getOperationName(), runRotary);
  registry.add(GeluOp::getOperationName(), runGelu);
  registry.add(SiluOp::getOperationName(), runSilu);
  registry.add(SwigluOp::getOperationName(), runSwiglu);
}

} // namespace kiln::exec
