//===- Tensor.cpp - Host tensors of the CPU reference executor ------------===//
//
// Element storage, rounding to the element types, and the packed byte layout. The f16 and bf16
// conversions are written with bit manipulation (round to nearest, ties to even, subnormals,
// infinities and NaNs kept) because they run on every element a kernel writes.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/Tensor.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <new>
#include <unistd.h>

using namespace kiln::exec;

//===----------------------------------------------------------------------===//
// DType properties
//===----------------------------------------------------------------------===//

Storage kiln::exec::getStorage(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::F16:
  case DType::BF16:
    return Storage::Float;
  case DType::F64:
    return Storage::Double;
  default:
    return Storage::Int;
  }
}

bool kiln::exec::isFloatingPoint(DType dtype) { return getStorage(dtype) != Storage::Int; }

bool kiln::exec::isSignedInteger(DType dtype) {
  return dtype == DType::I8 || dtype == DType::I16 || dtype == DType::I32 || dtype == DType::I64;
}

bool kiln::exec::isUnsignedInteger(DType dtype) {
  return dtype == DType::U8 || dtype == DType::U16 || dtype == DType::U32 || dtype == DType::U64;
}

size_t kiln::exec::getByteWidth(DType dtype) {
  switch (dtype) {
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    return 1;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
  case DType::U16:
    return 2;
  case DType::F32:
  case DType::I32:
  case DType::U32:
    return 4;
  case DType::F64:
  case DType::I64:
  case DType::U64:
    return 8;
  }
  llvm_unreachable("unknown dtype");
}

llvm::StringRef kiln::exec::getDTypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "float32";
  case DType::F16:
    return "float16";
  case DType::BF16:
    return "bfloat16";
  case DType::F64:
    return "float64";
  case DType::I8:
    return "int8";
  case DType::I16:
    return "int16";
  case DType::I32:
    return "int32";
  case DType::I64:
    return "int64";
  case DType::U8:
    return "uint8";
  case DType::U16:
    return "uint16";
  case DType::U32:
    return "uint32";
  case DType::U64:
    return "uint64";
  case DType::Bool:
    return "bool";
  }
  llvm_unreachable("unknown dtype");
}

std::optional<DType> kiln::exec::getDTypeOf(mlir::Type elementType) {
  if (elementType.isF32())
    return DType::F32;
  if (elementType.isF16())
    return DType::F16;
  if (elementType.isBF16())
    return DType::BF16;
  if (elementType.isF64())
    return DType::F64;
  auto integer = mlir::dyn_cast<mlir::IntegerType>(elementType);
  if (!integer)
    return std::nullopt;
  unsigned width = integer.getWidth();
  if (width == 1)
    return integer.isSignless() ? std::optional<DType>(DType::Bool) : std::nullopt;
  bool isUnsigned = integer.isUnsigned();
  switch (width) {
  case 8:
    return isUnsigned ? DType::U8 : DType::I8;
  case 16:
    return isUnsigned ? DType::U16 : DType::I16;
  case 32:
    return isUnsigned ? DType::U32 : DType::I32;
  case 64:
    return isUnsigned ? DType::U64 : DType::I64;
  default:
    return std::nullopt;
  }
}

mlir::Type kiln::exec::getMLIRType(DType dtype, mlir::MLIRContext *context) {
  using mlir::IntegerType;
  switch (dtype) {
  case DType::F32:
    return mlir::Float32Type::get(context);
  case DType::F16:
    return mlir::Float16Type::get(context);
  case DType::BF16:
    return mlir::BFloat16Type::get(context);
  case DType::F64:
    return mlir::Float64Type::get(context);
  case DType::I8:
    return IntegerType::get(context, 8);
  case DType::I16:
    return IntegerType::get(context, 16);
  case DType::I32:
    return IntegerType::get(context, 32);
  case DType::I64:
    return IntegerType::get(context, 64);
  case DType::U8:
    return IntegerType::get(context, 8, IntegerType::Unsigned);
  case DType::U16:
    return IntegerType::get(context, 16, IntegerType::Unsigned);
  case DType::U32:
    return IntegerType::get(context, 32, IntegerType::Unsigned);
  case DType::U64:
    return IntegerType::get(context, 64, IntegerType::Unsigned);
  case DType::Bool:
    return IntegerType::get(context, 1);
  }
  llvm_unreachable("unknown dtype");
}

//===----------------------------------------------------------------------===//
// Conversions between float, f16 and bf16 bits
//===----------------------------------------------------------------------===//

static uint32_t getFloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

static float getFloatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

static uint16_t floatToHalfBits(float value) {
  uint32_t bits = getFloatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    // Infinity stays infinity; a NaN keeps its top payload bits and stays quiet.
    if (magnitude == 0x7f800000)
      return sign | 0x7c00;
    return sign | 0x7e00 | static_cast<uint16_t>((magnitude >> 13) & 0x1ff);
  }
  // 65520 is halfway between the largest half (65504) and 2^16: it and above round to infinity.
  if (magnitude >= 0x477ff000)
    return sign | 0x7c00;
  if (magnitude < 0x38800000) {
    // Below 2^-14 the result is subnormal (or zero): its unit is 2^-24, and scaling by 2^24 is
    // exact in float, so rounding the scaled value to an integer is the correctly rounded result.
    float scaled = getFloatFromBits(magnitude) * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t exponent = (magnitude >> 23) - 127 + 15;
  uint32_t mantissa = magnitude & 0x7fffff;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t remainder = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1)))
    ++half;
  return sign | static_cast<uint16_t>(half);
}

static float halfBitsToFloat(uint16_t half) {
  uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31)
    return getFloatFromBits(sign | 0x7f800000 | (mantissa << 13));
  return getFloatFromBits(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

static uint16_t floatToBFloat16Bits(float value) {
  uint32_t bits = getFloatBits(value);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return static_cast<uint16_t>((bits >> 16) | 0x40); // quiet NaN
  // Round to nearest even on the dropped 16 bits; overflow carries into infinity.
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

static float bfloat16BitsToFloat(uint16_t bits) {
  return getFloatFromBits(static_cast<uint32_t>(bits) << 16);
}

/// Rounds a double to float with round-to-odd. Rounding that float again to f16 or bf16 (11 or 8
/// significant bits, at least 2 fewer than float's 24) then equals rounding the double directly,
/// which plain round-to-nearest twice would not.
static float roundToOddFloat(double value) {
  float rounded = static_cast<float>(value);
  if (static_cast<double>(rounded) == value || std::isnan(value))
    return rounded;
  if (std::fabs(static_cast<double>(rounded)) > std::fabs(value))
    rounded = std::nextafter(rounded, 0.0f);
  return getFloatFromBits(getFloatBits(rounded) | 1);
}

static float roundFloatTo(DType dtype, float value) {
  switch (dtype) {
  case DType::F16:
    return halfBitsToFloat(floatToHalfBits(value));
  case DType::BF16:
    return bfloat16BitsToFloat(floatToBFloat16Bits(value));
  default:
    return value;
  }
}

static float roundDoubleToFloatStorage(DType dtype, double value) {
  if (dtype == DType::F32)
    return static_cast<float>(value);
  return roundFloatTo(dtype, roundToOddFloat(value));
}

//===----------------------------------------------------------------------===//
// Integer wrap-around
//===----------------------------------------------------------------------===//

/// Wraps an int64 to the dtype's width (two's complement), or to 0/1 for bool.
static int64_t wrapInteger(DType dtype, int64_t value) {
  switch (dtype) {
  case DType::I8:
    return static_cast<int8_t>(value);
  case DType::I16:
    return static_cast<int16_t>(value);
  case DType::I32:
    return static_cast<int32_t>(value);
  case DType::U8:
    return static_cast<uint8_t>(value);
  case DType::U16:
    return static_cast<uint16_t>(value);
  case DType::U32:
    return static_cast<uint32_t>(value);
  case DType::Bool:
    return value != 0;
  default: // I64, U64: the int64 holds the bits.
    return value;
  }
}

/// Truncates toward zero and wraps modulo 2^64 (what a C cast does on x86 for in-range values
/// and numpy does in practice); NaN and infinity give 0.
static int64_t truncateToInt64(double value) {
  if (!std::isfinite(value))
    return 0;
  double truncated = std::trunc(value);
  constexpr double twoTo63 = 9223372036854775808.0;
  constexpr double twoTo64 = 18446744073709551616.0;
  if (truncated >= -twoTo63 && truncated < twoTo63)
    return static_cast<int64_t>(truncated);
  double modulo = std::fmod(truncated, twoTo64);
  if (modulo < 0)
    modulo += twoTo64;
  if (modulo >= twoTo64)
    return 0;
  return static_cast<int64_t>(static_cast<uint64_t>(modulo));
}

static double intToDouble(DType dtype, int64_t value) {
  if (dtype == DType::U64)
    return static_cast<double>(static_cast<uint64_t>(value));
  return static_cast<double>(value);
}

static int64_t doubleToInteger(DType dtype, double value) {
  if (dtype == DType::Bool)
    return value != 0.0; // NaN is true, as in numpy
  return wrapInteger(dtype, truncateToInt64(value));
}

double kiln::exec::roundToDType(DType dtype, double value) {
  switch (getStorage(dtype)) {
  case Storage::Float:
    return roundDoubleToFloatStorage(dtype, value);
  case Storage::Double:
    return value;
  case Storage::Int:
    return intToDouble(dtype, doubleToInteger(dtype, value));
  }
  llvm_unreachable("unknown storage");
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

llvm::SmallVector<int64_t, 6> kiln::exec::getStrides(llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t, 6> strides(shape.size(), 1);
  for (int64_t dim = static_cast<int64_t>(shape.size()) - 2; dim >= 0; --dim)
    strides[dim] = strides[dim + 1] * shape[dim + 1];
  return strides;
}

std::optional<int64_t> kiln::exec::getElementCount(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || llvm::MulOverflow(count, dim, count))
      return std::nullopt;
  }
  return count;
}

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

/// Bytes of host memory; a buffer larger than this cannot be served. Checking up front turns
/// what Linux's overcommit would make an OOM kill (when the zero fill touches the pages) into a
/// std::bad_alloc that the executor reports.
static uint64_t getPhysicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return UINT64_MAX;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
}

template <typename T> static std::shared_ptr<std::vector<T>> allocateZeros(int64_t count) {
  static const uint64_t physicalMemory = getPhysicalMemoryBytes();
  if (static_cast<uint64_t>(count) > physicalMemory / sizeof(T))
    throw std::bad_alloc();
  return std::make_shared<std::vector<T>>(static_cast<size_t>(count));
}

Tensor Tensor::zeros(DType dtype, llvm::ArrayRef<int64_t> shape) {
  std::optional<int64_t> count = getElementCount(shape);
  if (!count)
    throw std::bad_alloc();
  Tensor tensor;
  tensor.dtype = dtype;
  tensor.shape.assign(shape.begin(), shape.end());
  tensor.numElements = *count;
  switch (getStorage(dtype)) {
  case Storage::Float:
    tensor.floatData = allocateZeros<float>(*count);
    break;
  case Storage::Double:
    tensor.doubleData = allocateZeros<double>(*count);
    break;
  case Storage::Int:
    tensor.intData = allocateZeros<int64_t>(*count);
    break;
  }
  return tensor;
}

template <typename T> static T readLittleEndian(const char *data) {
  return llvm::support::endian::read<T, llvm::endianness::little>(data);
}

template <typename T> static void writeLittleEndian(char *data, T value) {
  llvm::support::endian::write<T, llvm::endianness::little>(data, value);
}

std::optional<Tensor> Tensor::fromBytes(DType dtype, llvm::ArrayRef<int64_t> shape,
                                        llvm::ArrayRef<char> bytes) {
  std::optional<int64_t> count = getElementCount(shape);
  size_t width = getByteWidth(dtype);
  if (!count || bytes.size() / width != static_cast<uint64_t>(*count) || bytes.size() % width != 0)
    return std::nullopt;
  Tensor tensor = zeros(dtype, shape);
  const char *data = bytes.data();
  // One loop per dtype keeps the per-element work to the decode itself (weights are large).
  auto decodeInto = [&](auto &storage, auto decodeElement) {
    for (int64_t i = 0; i < *count; ++i)
      storage[i] = decodeElement(data + i * width);
  };
  switch (dtype) {
  case DType::F32:
    decodeInto(*tensor.floatData, [](const char *element) {
      return getFloatFromBits(readLittleEndian<uint32_t>(element));
    });
    break;
  case DType::F16:
    decodeInto(*tensor.floatData, [](const char *element) {
      return halfBitsToFloat(readLittleEndian<uint16_t>(element));
    });
    break;
  case DType::BF16:
    decodeInto(*tensor.floatData, [](const char *element) {
      return bfloat16BitsToFloat(readLittleEndian<uint16_t>(element));
    });
    break;
  case DType::F64:
    decodeInto(*tensor.doubleData, [](const char *element) {
      uint64_t bits = readLittleEndian<uint64_t>(element);
      double value;
      std::memcpy(&value, &bits, sizeof(value));
      return value;
    });
    break;
  case DType::I8:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return static_cast<int8_t>(*element); });
    break;
  case DType::I16:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return readLittleEndian<int16_t>(element); });
    break;
  case DType::I32:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return readLittleEndian<int32_t>(element); });
    break;
  case DType::I64:
  case DType::U64:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return readLittleEndian<int64_t>(element); });
    break;
  case DType::U8:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return static_cast<uint8_t>(*element); });
    break;
  case DType::U16:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return readLittleEndian<uint16_t>(element); });
    break;
  case DType::U32:
    decodeInto(*tensor.intData,
               [](const char *element) -> int64_t { return readLittleEndian<uint32_t>(element); });
    break;
  case DType::Bool:
    decodeInto(*tensor.intData, [](const char *element) -> int64_t { return *element != 0; });
    break;
  }
  return tensor;
}

std::vector<char> Tensor::toBytes() const {
  size_t width = getByteWidth(dtype);
  std::vector<char> bytes(static_cast<size_t>(numElements) * width);
  for (int64_t i = 0; i < numElements; ++i) {
    char *element = bytes.data() + i * width;
    switch (dtype) {
    case DType::F32:
      writeLittleEndian<uint32_t>(element, getFloatBits((*floatData)[i]));
      break;
    case DType::F16:
      writeLittleEndian<uint16_t>(element, floatToHalfBits((*floatData)[i]));
      break;
    case DType::BF16:
      writeLittleEndian<uint16_t>(element, floatToBFloat16Bits((*floatData)[i]));
      break;
    case DType::F64: {
      uint64_t bits;
      std::memcpy(&bits, &(*doubleData)[i], sizeof(bits));
      writeLittleEndian<uint64_t>(element, bits);
      break;
    }
    case DType::I8:
    case DType::U8:
    case DType::Bool:
      *element = static_cast<char>((*intData)[i]);
      break;
    case DType::I16:
    case DType::U16:
      writeLittleEndian<uint16_t>(element, static_cast<uint16_t>((*intData)[i]));
      break;
    case DType::I32:
    case DType::U32:
      writeLittleEndian<uint32_t>(element, static_cast<uint32_t>((*intData)[i]));
      break;
    case DType::I64:
    case DType::U64:
      writeLittleEndian<uint64_t>(element, static_cast<uint64_t>((*intData)[i]));
      break;
    }
  }
  return bytes;
}

llvm::ArrayRef<float> Tensor::getFloats() const {
  assert(floatData && "tensor does not hold floats");
  return *floatData;
}

llvm::MutableArrayRef<float> Tensor::getFloats() {
  assert(floatData && "tensor does not hold floats");
  return *floatData;
}

llvm::ArrayRef<double> Tensor::getDoubles() const {
  assert(doubleData && "tensor does not hold doubles");
  return *doubleData;
}

llvm::MutableArrayRef<double> Tensor::getDoubles() {
  assert(doubleData && "tensor does not hold doubles");
  return *doubleData;
}

llvm::ArrayRef<int64_t> Tensor::getInts() const {
  assert(intData && "tensor does not hold integers");
  return *intData;
}

llvm::MutableArrayRef<int64_t> Tensor::getInts() {
  assert(intData && "tensor does not hold integers");
  return *intData;
}

double Tensor::getDouble(int64_t index) const {
  assert(index >= 0 && index < numElements && "element index out of range");
  switch (getStorage(dtype)) {
  case Storage::Float:
    return (*floatData)[index];
  case Storage::Double:
    return (*doubleData)[index];
  case Storage::Int:
    return intToDouble(dtype, (*intData)[index]);
  }
  llvm_unreachable("unknown storage");
}

int64_t Tensor::getInt(int64_t index) const {
  assert(index >= 0 && index < numElements && "element index out of range");
  switch (getStorage(dtype)) {
  case Storage::Float:
    return truncateToInt64((*floatData)[index]);
  case Storage::Double:
    return truncateToInt64((*doubleData)[index]);
  case Storage::Int:
    return (*intData)[index];
  }
  llvm_unreachable("unknown storage");
}

void Tensor::setDouble(int64_t index, double value) {
  assert(index >= 0 && index < numElements && "element index out of range");
  switch (getStorage(dtype)) {
  case Storage::Float:
    (*floatData)[index] = roundDoubleToFloatStorage(dtype, value);
    return;
  case Storage::Double:
    (*doubleData)[index] = value;
    return;
  case Storage::Int:
    (*intData)[index] = doubleToInteger(dtype, value);
    return;
  }
}

void Tensor::setInt(int64_t index, int64_t value) {
  assert(index >= 0 && index < numElements && "element index out of range");
  switch (getStorage(dtype)) {
  case Storage::Float:
    // int64 to float rounds once; f16/bf16 then round again, exact for every int that fits.
    (*floatData)[index] = roundFloatTo(dtype, static_cast<float>(value));
    return;
  case Storage::Double:
    (*doubleData)[index] = static_cast<double>(value);
    return;
  case Storage::Int:
    (*intData)[index] = wrapInteger(dtype, value);
    return;
  }
}

void Tensor::normalize() {
  switch (getStorage(dtype)) {
  case Storage::Float:
    if (dtype != DType::F32)
      for (float &value : *floatData)
        value = roundFloatTo(dtype, value);
    return;
  case Storage::Double:
    return;
  case Storage::Int:
    if (dtype != DType::I64 && dtype != DType::U64)
      for (int64_t &value : *intData)
        value = wrapInteger(dtype, value);
    return;
  }
}

Tensor Tensor::reshaped(llvm::ArrayRef<int64_t> newShape) const {
  assert(getElementCount(newShape) == numElements && "reshape changes the element count");
  Tensor result = *this;
  result.shape.assign(newShape.begin(), newShape.end());
  return result;
}

Tensor Tensor::clone() const {
  Tensor result = *this;
  if (floatData)
    result.floatData = std::make_shared<std::vector<float>>(*floatData);
  if (doubleData)
    result.doubleData = std::make_shared<std::vector<double>>(*doubleData);
  if (intData)
    result.intData = std::make_shared<std::vector<int64_t>>(*intData);
  return result;
}

bool Tensor::hasExclusiveBuffer() const {
  if (floatData)
    return floatData.use_count() == 1;
  if (doubleData)
    return doubleData.use_count() == 1;
  return intData && intData.use_count() == 1;
}

Tensor Tensor::castTo(DType target) const {
  Tensor result = zeros(target, shape);
  Storage from = getStorage(dtype), to = getStorage(target);
  for (int64_t i = 0; i < numElements; ++i) {
    if (from == Storage::Int) {
      int64_t value = (*intData)[i];
      if (to == Storage::Int) {
        result.setInt(i, value);
      } else if (dtype == DType::U64) {
        // Convert from the unsigned value directly (one rounding) rather than via double.
        uint64_t unsignedValue = static_cast<uint64_t>(value);
        if (to == Storage::Double)
          (*result.doubleData)[i] = static_cast<double>(unsignedValue);
        else
          (*result.floatData)[i] = roundFloatTo(target, static_cast<float>(unsignedValue));
      } else {
        result.setInt(i, value);
      }
      continue;
    }
    double value = from == Storage::Float ? (*floatData)[i] : (*doubleData)[i];
    result.setDouble(i, value);
  }
  return result;
}

std::string Tensor::describe() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << getDTypeName(dtype) << "[";
  llvm::interleaveComma(shape, os);
  os << "]";
  return text;
}
