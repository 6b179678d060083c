//===- ComputeType.h - C++ types the CPU kernels compute in -----*- C++ -*-===//
//
// Private to lib/Executor. A kernel computes a dtype's values in one C++ type: float for
// f32/f16/bf16 (float32 math), double for f64, uint64_t for u64 (so that division, remainder and
// comparisons are unsigned), int64_t for every other integer type and bool. Narrower integer
// types compute in int64 and wrap when the result tensor is normalized.
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

} // namespace kiln::exec

#endif // KILN_LIB_EXECUTOR_COMPUTETYPE_H
