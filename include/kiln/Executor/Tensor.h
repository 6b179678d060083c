//===- Tensor.h - Host tensors of the CPU reference executor ----*- C++ -*-===//
//
// A Tensor is an n-d array on the host with an ONNX element type. The executor computes in
// float32 ("float32 math"), so every floating type narrower than f64 is stored as float values
// that are rounded to the element type after each write (setDouble/normalize); f64 keeps doubles,
// and every integer type and bool is stored as int64 values wrapped to the type's range. Three
// storage classes keep the kernels short while results stay bit-faithful to the element type.
//
// Tensors are cheap to copy: copies share the element buffer. Kernels treat inputs as immutable
// and allocate fresh outputs; the one exception is an update in place of a buffer no other Tensor
// shares (hasExclusiveBuffer), as kiln.kv_cache.write does with a cache at its last use.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_EXECUTOR_TENSOR_H
#define KILN_EXECUTOR_TENSOR_H

#include "mlir/IR/Types.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace kiln::exec {

/// Element types the executor holds (the ONNX tensor types Kiln supports).
enum class DType : uint8_t { F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, Bool };

/// How a DType's values are held in memory by Tensor.
enum class Storage : uint8_t { Float, Double, Int };

Storage getStorage(DType dtype);
bool isFloatingPoint(DType dtype);
bool isSignedInteger(DType dtype);
bool isUnsignedInteger(DType dtype);
/// Bytes per element in the dtype's packed little-endian layout (numpy, ONNX raw_data).
size_t getByteWidth(DType dtype);
/// numpy's name of the dtype ("float32", "int64", "bool", ...).
llvm::StringRef getDTypeName(DType dtype);

/// The DType of an MLIR element type (f32, f16, bf16, f64, iN signless, uiN, i1), if supported.
std::optional<DType> getDTypeOf(mlir::Type elementType);
/// The MLIR element type of a DType (signless iN for signed, uiN for unsigned, i1 for bool).
mlir::Type getMLIRType(DType dtype, mlir::MLIRContext *context);

/// Rounds `value` to the nearest value representable in `dtype` (f16/bf16 rounding, integer
/// truncation and wrap-around, bool to 0/1) and returns it as a double.
double roundToDType(DType dtype, double value);

class Tensor {
public:
  Tensor() = default;

  /// A zero-filled tensor. Throws std::bad_alloc when the buffer cannot be allocated; the
  /// executor turns that into a diagnostic.
  static Tensor zeros(DType dtype, llvm::ArrayRef<int64_t> shape);
  /// Decodes `bytes` in the dtype's packed little-endian layout (bool: one byte per element).
  /// Returns std::nullopt when the byte count does not match the shape.
  static std::optional<Tensor> fromBytes(DType dtype, llvm::ArrayRef<int64_t> shape,
                                         llvm::ArrayRef<char> bytes);
  /// Encodes the elements in the dtype's packed little-endian layout.
  std::vector<char> toBytes() const;

  DType getDType() const { return dtype; }
  llvm::ArrayRef<int64_t> getShape() const { return shape; }
  int64_t getRank() const { return static_cast<int64_t>(shape.size()); }
  int64_t getNumElements() const { return numElements; }
  bool isNull() const { return !floatData && !doubleData && !intData; }

  /// Element storage, by storage class. Calling the accessor of another class asserts.
  llvm::ArrayRef<float> getFloats() const;
  llvm::MutableArrayRef<float> getFloats();
  llvm::ArrayRef<double> getDoubles() const;
  llvm::MutableArrayRef<double> getDoubles();
  llvm::ArrayRef<int64_t> getInts() const;
  llvm::MutableArrayRef<int64_t> getInts();

  /// Element `index` (row-major) as a double, whatever the storage.
  double getDouble(int64_t index) const;
  /// Element `index` as an int64 (floats are truncated toward zero).
  int64_t getInt(int64_t index) const;
  /// Stores `value` rounded to the element type.
  void setDouble(int64_t index, double value);
  /// Stores an integer value (wrapped to the element type; floats convert).
  void setInt(int64_t index, int64_t value);
  /// Rounds every element to the element type after a kernel wrote raw float/int values.
  void normalize();

  /// The same elements with another shape of equal element count (shares the buffer).
  Tensor reshaped(llvm::ArrayRef<int64_t> newShape) const;
  /// A deep copy: the same elements in a buffer of its own.
  Tensor clone() const;
  /// Whether no other Tensor shares this one's element buffer, so that writing through the
  /// mutable accessors changes no other value (the executor's in-place updates check this).
  bool hasExclusiveBuffer() const;
  /// A converted copy with ONNX Cast semantics (float to int truncates toward zero; NaN/inf to
  /// int is implementation-defined and gives 0 here; to bool is value != 0).
  Tensor castTo(DType target) const;

  /// "float32[1, 64, 256]".
  std::string describe() const;

private:
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t, 6> shape;
  int64_t numElements = 0;
  std::shared_ptr<std::vector<float>> floatData;
  std::shared_ptr<std::vector<double>> doubleData;
  std::shared_ptr<std::vector<int64_t>> intData;
};

/// Row-major strides of `shape` (in elements).
llvm::SmallVector<int64_t, 6> getStrides(llvm::ArrayRef<int64_t> shape);
/// Product of the dims; std::nullopt on int64 overflow.
std::optional<int64_t> getElementCount(llvm::ArrayRef<int64_t> shape);

} // namespace kiln::exec

#endif // KILN_EXECUTOR_TENSOR_H
