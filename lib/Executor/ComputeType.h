//===- ComputeType.h - Compute types and shared arithmetic ------*- C++ -*-===//
//
// Private to lib/Executor. A kernel computes a dtype's values in one C++ type: float for
// f32/f16/bf16 (float32 math), double for f64, uint64_t for u64 (so that division, remainder and
// comparisons are unsigned), int64_t for every other integer type and bool. Narrower integer
// types compute in int64 and wrap when the result tensor is normalized. Also here: the scalar
// arithmetic that several kernel families share, so that each op family computes it alike.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_EXECUTOR_COMPUTETYPE_H
#define KILN_LIB_EXECUTOR_COMPUTETYPE_H

#include "kiln/Executor/Tensor.h"

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace kiln::exec {

/// Names a compute type for visitComputeType's callback.
template <typename T> struct ComputeTag { using type = T; };

/// Calls fn(ComputeTag<T>{}) with the compute type of `dtype`.
template <typename Fn> void visitComputeType(DType dtype, Fn &&fn) {
  switch (getStorage(dtype)) {
  case Storage::Float:
    fn(ComputeTag<float>{});
    return;
  case Storage::Double:
    fn(ComputeTag<double>{});
    return;
  case Storage::Int:
    if (dtype == DType::U64)
      fn(ComputeTag<uint64_t>{});
    else
      fn(ComputeTag<int64_t>{});
    return;
  }
}

/// The element type Tensor stores a compute type's values in (u64 values are held as int64 bits).
template <typename T>
using StoredType = std::conditional_t<std::is_same_v<T, uint64_t>, int64_t, T>;

/// Calls fn(ComputeTag<S>{}) with the type S that Tensor stores `dtype`'s values in (float,
/// double or int64_t). For kernels that only move values, or only add and multiply (which wrap
/// alike for signed and unsigned integers), so that u64 needs no code of its own.
template <typename Fn> void visitStorageType(DType dtype, Fn &&fn) {
  visitComputeType(dtype,
                   [&](auto tag) { fn(ComputeTag<StoredType<typename decltype(tag)::type>>{}); });
}

/// Whether a floating-point kernel computes in double (f64 tensors) rather than float.
inline bool computesInDouble(DType dtype) { return getStorage(dtype) == Storage::Double; }

/// The storage of `tensor`, which must have compute type T (read with static_cast<T>).
template <typename T> llvm::ArrayRef<StoredType<T>> getStored(const Tensor &tensor) {
  if constexpr (std::is_same_v<T, float>)
    return tensor.getFloats();
  else if constexpr (std::is_same_v<T, double>)
    return tensor.getDoubles();
  else
    return tensor.getInts();
}

template <typename T> llvm::MutableArrayRef<StoredType<T>> getMutableStored(Tensor &tensor) {
  if constexpr (std::is_same_v<T, float>)
    return tensor.getFloats();
  else if constexpr (std::is_same_v<T, double>)
    return tensor.getDoubles();
  else
    return tensor.getInts();
}

/// A tensor of `input`'s dtype and shape whose element i is f(input[i]), computed in the dtype's
/// compute type T and rounded to the dtype. `makeFn(ComputeTag<T>{})` returns f (so that f can
/// hold values of type T, as Clip's bounds); it is instantiated for every compute type.
template <typename MakeFn> Tensor mapElements(const Tensor &input, MakeFn &&makeFn) {
  Tensor result = Tensor::zeros(input.getDType(), input.getShape());
  visitComputeType(input.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto fn = makeFn(tag);
    auto in = getStored<T>(input);
    auto out = getMutableStored<T>(result);
    for (size_t i = 0, e = in.size(); i < e; ++i)
      out[i] = static_cast<StoredType<T>>(fn(static_cast<T>(in[i])));
  });
  result.normalize();
  return result;
}

/// Wraps a function of floating-point values for mapElements: the integer instantiation, which
/// the kernel's operand check keeps from running, returns its input.
template <typename Fn> auto onFloats(Fn fn) {
  return [fn](auto value) -> decltype(value) {
    if constexpr (std::is_floating_point_v<decltype(value)>)
      return fn(value);
    else
      return value;
  };
}

template <typename T> bool isNaNValue(T value) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(value);
  else
    return false;
}

/// The larger of two values, NaN winning (numpy's maximum, which ONNX's reference follows).
template <typename T> T maxPropagatingNaN(T a, T b) {
  if (isNaNValue(a))
    return a;
  if (isNaNValue(b))
    return b;
  return a < b ? b : a;
}

template <typename T> T minPropagatingNaN(T a, T b) {
  if (isNaNValue(a))
    return a;
  if (isNaNValue(b))
    return b;
  return b < a ? b : a;
}

/// Integer arithmetic that wraps modulo 2^64 instead of overflowing (signed overflow is UB);
/// floats use the plain operators.
template <typename T> T wrappingAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else
    return a + b;
}

template <typename T> T wrappingSub(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  else
    return a - b;
}

template <typename T> T wrappingMul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else
    return a * b;
}

/// max(x, 0), keeping NaN as numpy's maximum(x, 0) (the ONNX reference) does. ONNX Relu and
/// kiln.linear's relu epilogue share it.
template <typename T> T relu(T x) {
  if (isNaNValue(x))
    return x;
  return x > T(0) ? x : T(0);
}

/// 1 / (1 + exp(-x)) in two forms so that exp never overflows: exp(-x) for x >= 0, exp(x)
/// otherwise. ONNX Sigmoid and the fused kiln.silu / kiln.swiglu share it, so that a fused op
/// computes exactly what the Mul(x, Sigmoid(x)) it replaces computes.
template <typename T> T sigmoid(T x) {
  if (x >= 0)
    return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

/// Rotates the rotaryDim / 2 pairs of `x` into `y` by the angles whose cosines and sines are
/// `cos[p]` and `sin[p]`: pairs (p, p + rotaryDim / 2), or (2p, 2p + 1) when `interleaved`.
/// Elements from rotaryDim on are not touched. ONNX RotaryEmbedding and kiln.rotary share it.
template <typename T>
void rotatePairs(const T *x, T *y, const T *cos, const T *sin, int64_t rotaryDim,
                 bool interleaved) {
  int64_t half = rotaryDim / 2;
  for (int64_t p = 0; p < half; ++p) {
    int64_t first = interleaved ? 2 * p : p;
    int64_t second = interleaved ? 2 * p + 1 : p + half;
    T x1 = x[first], x2 = x[second];
    y[first] = cos[p] * x1 - sin[p] * x2;
    y[second] = sin[p] * x1 + cos[p] * x2;
  }
}

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_COMPUTETYPE_H
