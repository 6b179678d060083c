//===- TensorTest.cpp - host tensors of the CPU reference executor --------===//
//
// Rounding to the element types (checked against llvm::APFloat on every half and many floats),
// integer wrap-around, the packed byte layout, ONNX Cast, and the MLIR type mapping.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/Tensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/APFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <random>

using namespace kiln::exec;

namespace {

/// The correctly rounded (ties to even) value of `value` in `semantics`, via APFloat.
double roundWithAPFloat(double value, const llvm::fltSemantics &semantics) {
  llvm::APFloat converted(value);
  bool losesInfo = false;
  converted.convert(semantics, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  converted.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return converted.convertToDouble();
}

/// Equal as values, with NaN equal to NaN and the sign of zero significant.
void expectSameDouble(double expected, double actual, double input) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << "input " << input;
    return;
  }
  EXPECT_EQ(expected, actual) << "input " << input;
  EXPECT_EQ(std::signbit(expected), std::signbit(actual)) << "input " << input;
}

double fromFloatBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(TensorTest, Float16RoundsToNearestEven) {
  EXPECT_EQ(roundToDType(DType::F16, 1.0 + std::ldexp(1.0, -11)), 1.0); // tie, down to even
  EXPECT_EQ(roundToDType(DType::F16, 1.0 + 3 * std::ldexp(1.0, -11)),
            1.0 + std::ldexp(1.0, -9)); // tie, up to even
  EXPECT_EQ(roundToDType(DType::F16, 65504.0), 65504.0);
  EXPECT_EQ(roundToDType(DType::F16, 65519.99), 65504.0);
  EXPECT_EQ(roundToDType(DType::F16, 65520.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(roundToDType(DType::F16, -1e6), -std::numeric_limits<double>::infinity());
  // Subnormals: the unit is 2^-24.
  EXPECT_EQ(roundToDType(DType::F16, std::ldexp(1.0, -24)), std::ldexp(1.0, -24));
  EXPECT_EQ(roundToDType(DType::F16, std::ldexp(1.0, -25)), 0.0); // tie, down to even (0)
  EXPECT_EQ(roundToDType(DType::F16, 3 * std::ldexp(1.0, -26)), std::ldexp(1.0, -24));
  EXPECT_EQ(roundToDType(DType::F16, 3 * std::ldexp(1.0, -25)), std::ldexp(1.0, -23));
  EXPECT_TRUE(std::signbit(roundToDType(DType::F16, -std::ldexp(1.0, -30))));
  EXPECT_TRUE(std::isnan(roundToDType(DType::F16, std::nan(""))));
  // Just above a tie in double but a tie once rounded to float: rounding double -> float ->
  // half would give 1.0; the correct result is the upper neighbour.
  EXPECT_EQ(roundToDType(DType::F16, 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)),
            1.0 + std::ldexp(1.0, -10));
}

TEST(TensorTest, Float16MatchesAPFloatOnManyValues) {
  std::mt19937 generator(7);
  std::uniform_int_distribution<uint32_t> bits;
  // Random float bit patterns, plus every float around the half range's edges.
  std::vector<uint32_t> patterns;
  for (int i = 0; i < 200000; ++i)
    patterns.push_back(bits(generator));
  for (uint32_t pattern = 0x33000000; pattern < 0x33000000 + 70000; pattern += 7)
    patterns.push_back(pattern); // around the smallest subnormal
  for (uint32_t pattern = 0x387fc000; pattern < 0x38804000; ++pattern)
    patterns.push_back(pattern); // subnormal/normal boundary
  for (uint32_t pattern = 0x477fe000 - 64; pattern < 0x47800000 + 64; ++pattern)
    patterns.push_back(pattern); // overflow boundary
  for (uint32_t pattern : patterns) {
    double value = fromFloatBits(pattern);
    expectSameDouble(roundWithAPFloat(value, llvm::APFloat::IEEEhalf()),
                     roundToDType(DType::F16, value), value);
    expectSameDouble(roundWithAPFloat(value, llvm::APFloat::BFloat()),
                     roundToDType(DType::BF16, value), value);
  }
  // Doubles that are not floats exercise the direct double rounding.
  std::uniform_real_distribution<double> uniform(-70000.0, 70000.0);
  for (int i = 0; i < 100000; ++i) {
    double value = uniform(generator) * std::ldexp(1.0, -static_cast<int>(i % 40));
    expectSameDouble(roundWithAPFloat(value, llvm::APFloat::IEEEhalf()),
                     roundToDType(DType::F16, value), value);
    expectSameDouble(roundWithAPFloat(value, llvm::APFloat::BFloat()),
                     roundToDType(DType::BF16, value), value);
  }
}

TEST(TensorTest, EveryHalfSurvivesTheByteLayout) {
  std::vector<char> bytes;
  for (uint32_t half = 0; half < 65536; ++half) {
    bytes.push_back(static_cast<char>(half & 0xff));
    bytes.push_back(static_cast<char>(half >> 8));
  }
  std::optional<Tensor> tensor = Tensor::fromBytes(DType::F16, {65536}, bytes);
  ASSERT_TRUE(tensor);
  std::vector<char> encoded = tensor->toBytes();
  for (uint32_t half = 0; half < 65536; ++half) {
    uint16_t decoded = static_cast<uint8_t>(encoded[2 * half]) |
                       static_cast<uint16_t>(static_cast<uint8_t>(encoded[2 * half + 1]) << 8);
    bool isNaN = (half & 0x7c00) == 0x7c00 && (half & 0x3ff);
    if (isNaN) // NaNs stay NaNs (quieted)
      EXPECT_TRUE((decoded & 0x7c00) == 0x7c00 && (decoded & 0x3ff)) << half;
    else
      EXPECT_EQ(decoded, half);
  }
  // Decoding agrees with APFloat.
  for (uint32_t half = 0; half < 65536; half += 1) {
    llvm::APFloat expected(llvm::APFloat::IEEEhalf(), llvm::APInt(16, half));
    bool losesInfo = false;
    expected.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    expectSameDouble(expected.convertToDouble(), tensor->getDouble(half), half);
  }
}

TEST(TensorTest, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(roundToDType(DType::BF16, 1.0 + std::ldexp(1.0, -8)), 1.0);
  EXPECT_EQ(roundToDType(DType::BF16, 1.0 + 3 * std::ldexp(1.0, -8)), 1.0 + std::ldexp(1.0, -6));
  EXPECT_EQ(roundToDType(DType::BF16, 3.4e38), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(roundToDType(DType::BF16, -std::nan(""))));
  Tensor tensor = Tensor::zeros(DType::BF16, {1});
  tensor.setDouble(0, 1.00390625); // 1 + 2^-8: a tie
  std::vector<char> bytes = tensor.toBytes();
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0x80);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 0x3f);
}

TEST(TensorTest, IntegersWrapToTheirWidth) {
  Tensor i8 = Tensor::zeros(DType::I8, {3});
  i8.setInt(0, 200);
  i8.setInt(1, -129);
  i8.setDouble(2, -3.9);
  EXPECT_EQ(i8.getInt(0), -56);
  EXPECT_EQ(i8.getInt(1), 127);
  EXPECT_EQ(i8.getInt(2), -3);

  Tensor u8 = Tensor::zeros(DType::U8, {2});
  u8.setInt(0, -1);
  u8.setDouble(1, 256.0 + 7.5);
  EXPECT_EQ(u8.getInt(0), 255);
  EXPECT_EQ(u8.getInt(1), 7);

  Tensor u64 = Tensor::zeros(DType::U64, {1});
  u64.setInt(0, -1);
  EXPECT_EQ(u64.getDouble(0), 18446744073709551615.0);
  u64.setDouble(0, 1e19);
  EXPECT_EQ(static_cast<uint64_t>(u64.getInt(0)), 10000000000000000000ull);

  Tensor i32 = Tensor::zeros(DType::I32, {1});
  i32.setInt(0, int64_t(1) << 32 | 5);
  EXPECT_EQ(i32.getInt(0), 5);
  i32.getInts()[0] = int64_t(1) << 31; // a raw write, wrapped by normalize()
  i32.normalize();
  EXPECT_EQ(i32.getInt(0), std::numeric_limits<int32_t>::min());

  Tensor flags = Tensor::zeros(DType::Bool, {3});
  flags.setDouble(0, 0.25);
  flags.setInt(1, -2);
  flags.setDouble(2, 0.0);
  EXPECT_EQ(flags.getInt(0), 1);
  EXPECT_EQ(flags.getInt(1), 1);
  EXPECT_EQ(flags.getInt(2), 0);
}

TEST(TensorTest, BytesRoundTripForEveryDType) {
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I8,
                          DType::I16, DType::I32, DType::I64,  DType::U8,  DType::U16,
                          DType::U32, DType::U64, DType::Bool};
  for (DType dtype : dtypes) {
    Tensor tensor = Tensor::zeros(dtype, {2, 2});
    const double values[] = {0.0, 1.0, 100.0, 3.0};
    for (int i = 0; i < 4; ++i)
      tensor.setDouble(i, values[i]);
    std::vector<char> bytes = tensor.toBytes();
    EXPECT_EQ(bytes.size(), 4 * getByteWidth(dtype)) << getDTypeName(dtype).str();
    std::optional<Tensor> decoded = Tensor::fromBytes(dtype, {2, 2}, bytes);
    ASSERT_TRUE(decoded);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(decoded->getDouble(i), tensor.getDouble(i)) << getDTypeName(dtype).str();
    EXPECT_FALSE(Tensor::fromBytes(dtype, {2, 3}, bytes)) << getDTypeName(dtype).str();
  }
  // Little-endian, two's complement.
  std::vector<char> bytes = {'\xfe', '\xff', '\x01', '\x00'};
  std::optional<Tensor> i16 = Tensor::fromBytes(DType::I16, {2}, bytes);
  ASSERT_TRUE(i16);
  EXPECT_EQ(i16->getInt(0), -2);
  EXPECT_EQ(i16->getInt(1), 1);
}

TEST(TensorTest, CastFollowsOnnx) {
  Tensor floats = Tensor::zeros(DType::F32, {6});
  const double values[] = {-1.7, 2.9, 0.0, std::nan(""), 300.0, 65519.0};
  for (int i = 0; i < 6; ++i)
    floats.setDouble(i, values[i]);

  Tensor i8 = floats.castTo(DType::I8);
  EXPECT_EQ(i8.getDType(), DType::I8);
  EXPECT_EQ(i8.getInt(0), -1); // toward zero
  EXPECT_EQ(i8.getInt(1), 2);
  EXPECT_EQ(i8.getInt(3), 0);  // NaN
  EXPECT_EQ(i8.getInt(4), 44); // 300 wraps

  Tensor flags = floats.castTo(DType::Bool);
  EXPECT_EQ(flags.getInt(0), 1);
  EXPECT_EQ(flags.getInt(2), 0);
  EXPECT_EQ(flags.getInt(3), 1); // NaN != 0

  Tensor halves = floats.castTo(DType::F16);
  EXPECT_EQ(halves.getDouble(5), 65504.0);
  EXPECT_EQ(halves.getDouble(0), roundToDType(DType::F16, -1.7));

  Tensor u64 = Tensor::zeros(DType::U64, {1});
  u64.setInt(0, -1);
  EXPECT_EQ(u64.castTo(DType::F32).getDouble(0), 18446744073709551616.0);
  EXPECT_EQ(u64.castTo(DType::I64).getInt(0), -1);

  Tensor ints = Tensor::zeros(DType::I64, {1});
  ints.setInt(0, 2049);
  EXPECT_EQ(ints.castTo(DType::F16).getDouble(0), 2048.0);
  EXPECT_EQ(ints.castTo(DType::U8).getInt(0), 1);
}

TEST(TensorTest, ShapesAndSharing) {
  Tensor tensor = Tensor::zeros(DType::F32, {2, 3});
  EXPECT_EQ(tensor.describe(), "float32[2, 3]");
  EXPECT_EQ(Tensor::zeros(DType::I64, {}).describe(), "int64[]");
  EXPECT_EQ(Tensor::zeros(DType::I64, {}).getNumElements(), 1);
  EXPECT_FALSE(Tensor::zeros(DType::F32, {0, 4}).isNull());
  EXPECT_TRUE(Tensor().isNull());

  Tensor reshaped = tensor.reshaped({3, 2});
  reshaped.setDouble(5, 4.5);
  EXPECT_EQ(tensor.getDouble(5), 4.5); // shares the buffer
  EXPECT_EQ(reshaped.describe(), "float32[3, 2]");

  EXPECT_EQ(getStrides({2, 3, 4}), (llvm::SmallVector<int64_t, 6>{12, 4, 1}));
  EXPECT_EQ(getElementCount({2, 3, 4}), 24);
  EXPECT_EQ(getElementCount({}), 1);
  EXPECT_FALSE(getElementCount({int64_t(1) << 40, int64_t(1) << 40}));
  EXPECT_FALSE(getElementCount({2, -1}));
}

TEST(TensorTest, ZerosThrowsBadAllocForImpossibleBuffers) {
  // The executor turns std::bad_alloc into a diagnostic at the op, so every way an allocation can
  // be impossible must arrive as one: an element count that overflows int64, a negative dim, and
  // a buffer larger than the host's memory (checked up front, for every storage class).
  for (DType dtype : {DType::F32, DType::F64, DType::I8}) {
    EXPECT_THROW(Tensor::zeros(dtype, {int64_t(1) << 40, int64_t(1) << 40}), std::bad_alloc);
    EXPECT_THROW(Tensor::zeros(dtype, {2, -1}), std::bad_alloc);
    EXPECT_THROW(Tensor::zeros(dtype, {int64_t(1) << 61}), std::bad_alloc);
  }
  EXPECT_EQ(Tensor::zeros(DType::F32, {0, int64_t(1) << 61}).getNumElements(), 0);
}

TEST(TensorTest, MlirTypeMapping) {
  mlir::MLIRContext context;
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I8,
                          DType::I16, DType::I32, DType::I64,  DType::U8,  DType::U16,
                          DType::U32, DType::U64, DType::Bool};
  for (DType dtype : dtypes)
    EXPECT_EQ(getDTypeOf(getMLIRType(dtype, &context)), dtype) << getDTypeName(dtype).str();
  mlir::Builder builder(&context);
  EXPECT_EQ(getDTypeOf(builder.getIntegerType(64)), DType::I64);
  EXPECT_EQ(getDTypeOf(builder.getIntegerType(8, /*isSigned=*/false)), DType::U8);
  EXPECT_EQ(getDTypeOf(builder.getI1Type()), DType::Bool);
  EXPECT_FALSE(getDTypeOf(builder.getIndexType()));
  EXPECT_FALSE(getDTypeOf(builder.getIntegerType(4)));
  EXPECT_TRUE(getMLIRType(DType::U16, &context).isUnsignedInteger(16));
  EXPECT_TRUE(getMLIRType(DType::I16, &context).isSignlessInteger(16));
  EXPECT_EQ(getDTypeName(DType::BF16), "bfloat16");
  EXPECT_TRUE(isFloatingPoint(DType::BF16));
  EXPECT_FALSE(isFloatingPoint(DType::Bool));
  EXPECT_TRUE(isUnsignedInteger(DType::U32));
  EXPECT_TRUE(isSignedInteger(DType::I8));
  EXPECT_EQ(getStorage(DType::F16), Storage::Float);
  EXPECT_EQ(getStorage(DType::Bool), Storage::Int);
}

} // namespace
