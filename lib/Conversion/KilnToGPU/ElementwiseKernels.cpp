//===- ElementwiseKernels.cpp - pointwise ops, fused chains, rotary ------===//
//
// Kernel templates of every pointwise op: the ONNX elementwise ops (numpy broadcasting, every
// element type the executor supports), kiln.gelu/silu/swiglu, Identity and Dropout (views),
// and the rotary embeddings (kiln.rotary, ONNX RotaryEmbedding).
//
// Pointwise ops share one builder: an N-ary broadcasting kernel whose scalar body is an
// *expression DAG*. Lowering a pointwise op (the root) first absorbs the pointwise ops that
// produce its operands and whose every user is already absorbed (single-use chains, and
// values used only inside the chain; Cast, Identity, Expand and inference Dropout are
// absorbed too): `Mul(x, Sigmoid(x))`, `Where(Expand(And(a, b)), 0, -inf)` or
// `Sin(Mul(...))` become one kernel, and the absorbed ops are never lowered on their own
// (the emitter only lowers what it is asked for). Constant operands of one element become
// immediates of the body. The kernel's name spells the DAG (op, operand types, arguments),
// the storage types and broadcast patterns of its leaves and the static sizes of the
// iteration space, so that identical expressions share one kernel (long names end in a hash
// of the whole spelling).
//
// Iteration space: the result's dims with static 1s dropped, and adjacent dims merged into
// one group where every leaf either spans both or broadcasts along both. Each leaf spans
// ('s') or broadcasts along ('b') each group; a leaf dim that the compiler cannot compare
// with the result's dim ('u': e.g. two different symbols) is read through a run-time check
// (its size is 1 or the result's), one group per such dim.
//   * One group, no 'u' (the common same-shape or scalar-operand case): a grid-stride loop
//     over the linear index; when every spanning buffer is aligned to the vector size
//     (checked at run time), threads first handle vectors of 16 bytes / widest element (at
//     most 8 elements) with vector loads and stores, then the tail one element at a time.
//   * Otherwise: each thread delinearises its first index and the grid stride once (the only
//     divisions), then walks the grid-stride loop with an odometer (per group: add, compare,
//     subtract); leaf offsets are dot products of the group indices with the leaf strides.
// Blocks are 256 threads; the grid is capped so that threads loop over several elements.
//
// Arithmetic follows the CPU executor (lib/Executor/ElementwiseKernels.cpp,
// TransformerKernels.cpp): floats compute in f32 (f64 in f64), integers in their own width
// with wrap-around (== the executor's int64 arithmetic then wrap), unsigned types with
// unsigned division, remainder and comparisons, bool as i1 (stored as i8). Max/Min propagate
// NaN, integer Div/Mod truncate (INT_MIN / -1 wraps; a zero divisor gives an unspecified
// value where the executor reports an error), Pow of integral exponents is a product by
// squaring (exact for integers; float bases: Pow(x, 2) == x * x), Sigmoid uses exp(-|x|) in
// the executor's two forms, GELU/SiLU/SwiGLU evaluate in the executor's order. Sin/Cos reduce
// their argument by multiples of pi/2 in f64 (no FMA needed; kiln-approximate-math expands
// math.fma into a multiply and an add) before their own minimax polynomials on [-pi/4, pi/4]:
// absolute error ~1e-7 for |x| up to ~4e6 (MLIR's approximation subtracts k * f32(pi/2), an
// error of 4e-8 per multiple of pi/2: ~1e-4 at x = 4000, as rotary angles reach). Other
// transcendental functions use MLIR's math approximations (f32 only: f64 tensors are refused
// for them).
//
// Rotary: one warp per (batch, head, position) row; lanes walk the rotated pairs (two loads
// and two stores each, in the executor's `cos * x1 - sin * x2` / `sin * x1 + cos * x2` order)
// and then copy the pass-through dims. The table row is the position (kiln.rotary with
// [seq, R/2] or [batch|1, seq, R/2] tables; ONNX RotaryEmbedding with the same tables, or
// with position_ids into [max_position, R/2] caches), the input [B, H, S, D] or, for ONNX's
// 3-D form, [B, S, H * D]. Input, tables and result may have different storage types (the
// emitter keeps rotary tables in f32 under fp16/bf16); each is converted on load/store.
//
//===----------------------------------------------------------------------===//

#include "../../Dialect/Kiln/Transforms/ConstantValues.h"
#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/Tensor.h"
#include "kiln/Executor/TensorAttr.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/xxhash.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace kiln::gpu_codegen {
namespace {

constexpr int32_t kBlockThreads = 256;
/// Grid caps: the linear loop needs no per-thread setup, the strided one amortises two
/// delinearisations per thread over the elements it visits.
constexpr int64_t kMaxLinearBlocks = 8192;
constexpr int64_t kMaxStridedBlocks = 2048;
/// At most this many ops are fused into one kernel.
constexpr size_t kMaxFusedOps = 64;
/// Longer kernel names keep a readable prefix and end in a hash of the full spelling.
constexpr size_t kMaxNameLength = 160;

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

Type elementTypeOf(Value value) { return cast<ShapedType>(value.getType()).getElementType(); }

/// The type a model element type computes in: f32 for f16/bf16/f32, f64, i1 for bool,
/// signless integers of the same width for integers.
Type scalarComputeType(Type model) {
  MLIRContext *context = model.getContext();
  if (auto floatType = dyn_cast<FloatType>(model))
    return floatType.isF64() ? model : Float32Type::get(context);
  return IntegerType::get(context, cast<IntegerType>(model).getWidth());
}

/// Unsigned integers (and bool, whose 0/1 compare as unsigned) use unsigned ops.
bool isUnsignedModel(Type model) {
  auto integer = dyn_cast<IntegerType>(model);
  return integer && (integer.isUnsigned() || integer.getWidth() == 1);
}

bool isFloatModel(Type model) { return isa<FloatType>(model); }

/// Kernel buffers hold signless integers (arith has no unsigned types).
Type bufferElementType(Type storage) {
  if (auto integer = dyn_cast<IntegerType>(storage))
    return IntegerType::get(storage.getContext(), integer.getWidth());
  return storage;
}

int64_t byteWidth(Type type) { return std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8); }

//===----------------------------------------------------------------------===//
// Device scalar helpers
//===----------------------------------------------------------------------===//

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value intConstant(OpBuilder &b, Location loc, Type type, int64_t value) {
  unsigned width = type.getIntOrFloatBitWidth();
  return arith::ConstantOp::create(
      b, loc, type, b.getIntegerAttr(type, APInt(width, static_cast<uint64_t>(value), true)));
}

Value boolConstant(OpBuilder &b, Location loc, bool value) {
  return intConstant(b, loc, b.getI1Type(), value ? 1 : 0);
}

Value select(OpBuilder &b, Location loc, Value condition, Value a, Value c) {
  return arith::SelectOp::create(b, loc, condition, a, c);
}

Value cmpf(OpBuilder &b, Location loc, arith::CmpFPredicate predicate, Value a, Value c) {
  return arith::CmpFOp::create(b, loc, predicate, a, c);
}

Value cmpi(OpBuilder &b, Location loc, arith::CmpIPredicate predicate, Value a, Value c) {
  return arith::CmpIOp::create(b, loc, predicate, a, c);
}

Value mulf(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::MulFOp::create(b, loc, a, c);
}
Value addf(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::AddFOp::create(b, loc, a, c);
}
Value subf(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::SubFOp::create(b, loc, a, c);
}
Value divf(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::DivFOp::create(b, loc, a, c);
}

/// Index arithmetic that folds constants (the kernels' index math is mostly static).
std::optional<int64_t> constantIndexOf(Value value) {
  if (auto constant = value.getDefiningOp<arith::ConstantIndexOp>())
    return constant.value();
  return std::nullopt;
}

/// Whether two host index values are provably equal: the same value or constant, or the
/// same arith op on equal operands (emitter.dims builds `symbol + offset` afresh each time).
bool sameIndex(Value a, Value c) {
  if (a == c)
    return true;
  auto ca = constantIndexOf(a), cc = constantIndexOf(c);
  if (ca || cc)
    return ca && cc && *ca == *cc;
  Operation *opA = a.getDefiningOp(), *opC = c.getDefiningOp();
  if (!opA || !opC || opA->getName() != opC->getName() || opA->getNumOperands() != 2 ||
      opC->getNumOperands() != 2 || opA->getNumResults() != 1 ||
      !isa<arith::AddIOp, arith::MulIOp, arith::SubIOp, arith::DivUIOp, arith::CeilDivUIOp,
           arith::RemUIOp, arith::MinUIOp, arith::MaxUIOp>(opA))
    return false;
  return sameIndex(opA->getOperand(0), opC->getOperand(0)) &&
         sameIndex(opA->getOperand(1), opC->getOperand(1));
}

Value indexMul(OpBuilder &b, Location loc, Value a, Value c) {
  auto ca = constantIndexOf(a), cc = constantIndexOf(c);
  if (ca && cc)
    return indexConstant(b, loc, *ca * *cc);
  if (ca == 1)
    return c;
  if (cc == 1)
    return a;
  return arith::MulIOp::create(b, loc, a, c);
}

Value indexAdd(OpBuilder &b, Location loc, Value a, Value c) {
  auto ca = constantIndexOf(a), cc = constantIndexOf(c);
  if (ca && cc)
    return indexConstant(b, loc, *ca + *cc);
  if (ca == 0)
    return c;
  if (cc == 0)
    return a;
  return arith::AddIOp::create(b, loc, a, c);
}

/// Storage element -> compute value (bool: != 0; f16/bf16: widened to f32).
Value storageToCompute(OpBuilder &b, Location loc, Value stored, Type model) {
  if (model.isInteger(1)) {
    Value zero = intConstant(b, loc, stored.getType(), 0);
    return cmpi(b, loc, arith::CmpIPredicate::ne, stored, zero);
  }
  Type compute = scalarComputeType(model);
  if (stored.getType() == compute)
    return stored;
  return arith::ExtFOp::create(b, loc, compute, stored);
}

/// Compute value -> storage element (bool: 0/1 byte; f32 rounded to f16/bf16).
Value computeToStorage(OpBuilder &b, Location loc, Value value, Type storage) {
  if (value.getType() == storage)
    return value;
  if (value.getType().isInteger(1))
    return arith::ExtUIOp::create(b, loc, storage, value);
  return arith::TruncFOp::create(b, loc, storage, value);
}

Value loadLeaf(OpBuilder &b, Location loc, Value buffer, Value index, Type model) {
  Value stored = memref::LoadOp::create(b, loc, buffer, ValueRange{index});
  return storageToCompute(b, loc, stored, model);
}

/// ONNX Cast between compute values (the executor's Tensor::castTo): float -> int truncates
/// through int64 and wraps, -> bool is != 0, unsigned sources zero-extend.
Value castScalar(OpBuilder &b, Location loc, Value value, Type fromModel, Type toModel) {
  Type from = value.getType();
  Type to = scalarComputeType(toModel);
  if (toModel.isInteger(1) && !fromModel.isInteger(1)) {
    if (isa<FloatType>(from))
      return cmpf(b, loc, arith::CmpFPredicate::UNE, value, floatConstant(b, loc, from, 0.0));
    return cmpi(b, loc, arith::CmpIPredicate::ne, value, intConstant(b, loc, from, 0));
  }
  if (from == to)
    return value;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, value);
    return arith::TruncFOp::create(b, loc, to, value);
  }
  if (fromFloat) {
    Value wide = arith::FPToSIOp::create(b, loc, b.getI64Type(), value);
    if (to.getIntOrFloatBitWidth() == 64)
      return wide;
    return arith::TruncIOp::create(b, loc, to, wide);
  }
  bool fromUnsigned = isUnsignedModel(fromModel);
  if (toFloat)
    return fromUnsigned ? arith::UIToFPOp::create(b, loc, to, value).getResult()
                        : arith::SIToFPOp::create(b, loc, to, value).getResult();
  unsigned fromWidth = from.getIntOrFloatBitWidth(), toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth < toWidth)
    return fromUnsigned ? arith::ExtUIOp::create(b, loc, to, value).getResult()
                        : arith::ExtSIOp::create(b, loc, to, value).getResult();
  return arith::TruncIOp::create(b, loc, to, value);
}

//===----------------------------------------------------------------------===//
// Scalar math
//===----------------------------------------------------------------------===//

/// The executor's sigmoid: 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) otherwise, so
/// that exp never overflows; exp(-|x|) is the exponential of both forms.
Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Type type = x.getType();
  Value one = floatConstant(b, loc, type, 1.0);
  Value magnitude = math::AbsFOp::create(b, loc, x);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, magnitude));
  Value denominator = addf(b, loc, one, e);
  Value positive = divf(b, loc, one, denominator);
  Value negative = divf(b, loc, e, denominator);
  Value zero = floatConstant(b, loc, type, 0.0);
  Value nonNegative = cmpf(b, loc, arith::CmpFPredicate::OGE, x, zero);
  return select(b, loc, nonNegative, positive, negative);
}

/// sin or cos of an f32: x = k * pi/2 + r with k = rint(x * 2/pi), reduced in f64 (exact
/// enough without FMA: |r| errs by ~1e-9 for |x| < 4e6, ~3e-8 at 1e9), then minimax
/// polynomials of sin and cos on [-pi/4, pi/4] in f32 and the quadrant k mod 4.
Value sinCos(OpBuilder &b, Location loc, Value x, bool isSine) {
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i64 = b.getI64Type();
  auto c = [&](float value) { return floatConstant(b, loc, f32, value); };
  auto d = [&](double value) { return floatConstant(b, loc, f64, value); };
  Value wide = arith::ExtFOp::create(b, loc, f64, x);
  // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
  Value magic = d(6755399441055744.0);
  Value scaled = mulf(b, loc, wide, d(0.63661977236758134308));
  Value shifted = addf(b, loc, scaled, magic);
  Value k = subf(b, loc, shifted, magic);
  Value quadrant = arith::AndIOp::create(b, loc, arith::BitcastOp::create(b, loc, i64, shifted),
                                         intConstant(b, loc, i64, 3));
  Value reduced = subf(b, loc, wide, mulf(b, loc, k, d(1.57079632679489661923)));
  Value r = arith::TruncFOp::create(b, loc, f32, reduced);
  Value z = mulf(b, loc, r, r);
  // sin(r) = r + r z (S1 + z (S2 + z S3)); cos(r) = 1 - z/2 + z^2 (C1 + z (C2 + z C3)).
  // (Operands are built in separate statements so that the op order does not depend on the
  // C++ compiler's argument evaluation order.)
  auto horner = [&](ArrayRef<float> coefficients) {
    Value sum = c(coefficients.back());
    for (float coefficient : llvm::reverse(coefficients.drop_back())) {
      Value product = mulf(b, loc, z, sum);
      sum = addf(b, loc, c(coefficient), product);
    }
    return sum;
  };
  Value sinPoly = horner({-1.6666654611e-1f, 8.3321608736e-3f, -1.9515295891e-4f});
  Value rz = mulf(b, loc, r, z);
  Value sinR = addf(b, loc, r, mulf(b, loc, rz, sinPoly));
  Value cosPoly = horner({4.166664568298827e-2f, -1.388731625493765e-3f, 2.443315711809948e-5f});
  Value halfZ = mulf(b, loc, c(0.5f), z);
  Value cosHead = subf(b, loc, c(1.0f), halfZ);
  Value zz = mulf(b, loc, z, z);
  Value cosR = addf(b, loc, cosHead, mulf(b, loc, zz, cosPoly));
  // sin(x) = sin r, cos r, -sin r, -cos r for k mod 4 = 0..3; cos(x) = sin(x + pi/2).
  Value one = intConstant(b, loc, i64, 1), two = intConstant(b, loc, i64, 2),
        three = intConstant(b, loc, i64, 3), zero = intConstant(b, loc, i64, 0);
  if (!isSine) {
    Value next = arith::AddIOp::create(b, loc, quadrant, one);
    quadrant = arith::AndIOp::create(b, loc, next, three);
  }
  Value low = arith::AndIOp::create(b, loc, quadrant, one);
  Value odd = cmpi(b, loc, arith::CmpIPredicate::ne, low, zero);
  Value negative = cmpi(b, loc, arith::CmpIPredicate::uge, quadrant, two);
  Value magnitude = select(b, loc, odd, cosR, sinR);
  Value negated = arith::NegFOp::create(b, loc, magnitude);
  return select(b, loc, negative, negated, magnitude);
}

/// base^n for a compile-time n >= 0 by squaring (n = 2 is base * base).
Value floatPowConstant(OpBuilder &b, Location loc, Value base, uint64_t n) {
  Value result, factor = base;
  while (true) {
    if (n & 1)
      result = result ? mulf(b, loc, result, factor) : factor;
    n >>= 1;
    if (!n)
      break;
    factor = mulf(b, loc, factor, factor);
  }
  return result ? result : floatConstant(b, loc, base.getType(), 1.0);
}

/// Loops over the `bits` low bits of the unsigned integer `n`: r *= f where the bit is set,
/// f *= f. Returns r (starting at `one`).
Value powBySquaring(OpBuilder &b, Location loc, Value base, Value n, unsigned bits, Value one) {
  bool isFloat = isa<FloatType>(base.getType());
  Type nType = n.getType();
  Value lower = indexConstant(b, loc, 0), upper = indexConstant(b, loc, bits),
        step = indexConstant(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, lower, upper, step, ValueRange{one, base, n},
      [&](OpBuilder &nb, Location nl, Value, ValueRange iter) {
        Value r = iter[0], f = iter[1], rest = iter[2];
        Value bit = arith::TruncIOp::create(nb, nl, nb.getI1Type(), rest);
        Value product = isFloat ? mulf(nb, nl, r, f)
                                : arith::MulIOp::create(nb, nl, r, f).getResult();
        Value square = isFloat ? mulf(nb, nl, f, f)
                               : arith::MulIOp::create(nb, nl, f, f).getResult();
        Value shifted = arith::ShRUIOp::create(nb, nl, rest, intConstant(nb, nl, nType, 1));
        scf::YieldOp::create(nb, nl, ValueRange{select(nb, nl, bit, product, r), square, shifted});
      });
  return loop.getResult(0);
}

/// pow of f32 values as C's powf: integral exponents below 2^24 by squaring (then 1/x for
/// negative ones), others as exp(e * log|b|) with C's special cases (negative base and
/// non-integral exponent: NaN; |base| = 1 with an integral exponent, or base = 1: 1).
Value floatPowRuntime(OpBuilder &b, Location loc, Value base, Value exponent) {
  Type type = base.getType();
  auto c = [&](double value) { return floatConstant(b, loc, type, value); };
  Value absBase = math::AbsFOp::create(b, loc, base);
  Value absExponent = math::AbsFOp::create(b, loc, exponent);
  Value floor = math::FloorOp::create(b, loc, exponent);
  Value integral = cmpf(b, loc, arith::CmpFPredicate::OEQ, floor, exponent);
  Value small = arith::AndIOp::create(
      b, loc, integral, cmpf(b, loc, arith::CmpFPredicate::OLT, absExponent, c(16777216.0)));
  Value n = arith::FPToSIOp::create(b, loc, b.getI32Type(),
                                    select(b, loc, small, absExponent, c(0.0)));
  Value squared = powBySquaring(b, loc, base, n, 24, c(1.0));
  Value negativeExponent = cmpf(b, loc, arith::CmpFPredicate::OLT, exponent, c(0.0));
  squared = select(b, loc, negativeExponent, divf(b, loc, c(1.0), squared), squared);

  Value logBase = math::LogOp::create(b, loc, absBase);
  Value general = math::ExpOp::create(b, loc, mulf(b, loc, exponent, logBase));
  Value one = c(1.0), nan = c(std::numeric_limits<double>::quiet_NaN());
  Value negativeBase = cmpf(b, loc, arith::CmpFPredicate::OLT, base, c(0.0));
  Value notIntegral = arith::XOrIOp::create(b, loc, integral, boolConstant(b, loc, true));
  Value undefined = arith::AndIOp::create(b, loc, negativeBase, notIntegral);
  general = select(b, loc, undefined, nan, general);
  Value unitMagnitude = cmpf(b, loc, arith::CmpFPredicate::OEQ, absBase, one);
  Value unitBase = arith::AndIOp::create(b, loc, integral, unitMagnitude);
  general = select(b, loc, unitBase, one, general);
  Value baseOne = cmpf(b, loc, arith::CmpFPredicate::OEQ, base, one);
  general = select(b, loc, baseOne, one, general);
  return select(b, loc, small, squared, general);
}

/// Integer base^exponent, wrapping (numpy/the executor): exponent >= 0 by squaring over all
/// its bits; negative exponents truncate 1 / base^-e: 1 for base 1, +-1 for base -1, else 0.
Value intPowRuntime(OpBuilder &b, Location loc, Value base, bool baseUnsigned, Value exponent,
                    bool exponentUnsigned) {
  Type type = base.getType();
  unsigned bits = exponent.getType().getIntOrFloatBitWidth();
  Value one = intConstant(b, loc, type, 1);
  Value result = powBySquaring(b, loc, base, exponent, bits, one);
  if (exponentUnsigned)
    return result;
  Type eType = exponent.getType();
  Value negative = cmpi(b, loc, arith::CmpIPredicate::slt, exponent, intConstant(b, loc, eType, 0));
  Value zero = intConstant(b, loc, type, 0);
  Value baseOne = cmpi(b, loc, arith::CmpIPredicate::eq, base, one);
  Value inverse = select(b, loc, baseOne, one, zero);
  if (!baseUnsigned) {
    Value minusOne = intConstant(b, loc, type, -1);
    Value odd = arith::TruncIOp::create(b, loc, b.getI1Type(), exponent);
    Value baseMinusOne = cmpi(b, loc, arith::CmpIPredicate::eq, base, minusOne);
    Value sign = select(b, loc, odd, minusOne, one);
    inverse = select(b, loc, baseMinusOne, sign, inverse);
  }
  return select(b, loc, negative, inverse, result);
}

/// C's fmod of f32 or f64 values, exactly (the result is representable): long division of
/// the significands in integers, one bit per step (musl's algorithm). arith.remf would become
/// a libdevice call on NVPTX.
Value floatRemainder(OpBuilder &b, Location loc, Value x, Value y) {
  Type floatType = x.getType();
  unsigned width = floatType.getIntOrFloatBitWidth();
  unsigned mantissa = width == 64 ? 52 : 23, exponentBits = width - 1 - mantissa;
  Type intType = b.getIntegerType(width);
  auto ic = [&](int64_t value) { return intConstant(b, loc, intType, value); };
  using IP = arith::CmpIPredicate;
  auto shr = [&](Value v, Value n) { return arith::ShRUIOp::create(b, loc, v, n).getResult(); };
  auto shl = [&](Value v, Value n) { return arith::ShLIOp::create(b, loc, v, n).getResult(); };
  auto andi = [&](Value v, Value m) { return arith::AndIOp::create(b, loc, v, m).getResult(); };
  auto ori = [&](Value v, Value m) { return arith::OrIOp::create(b, loc, v, m).getResult(); };
  auto sub = [&](Value v, Value m) { return arith::SubIOp::create(b, loc, v, m).getResult(); };
  Value bitsX = arith::BitcastOp::create(b, loc, intType, x);
  Value bitsY = arith::BitcastOp::create(b, loc, intType, y);
  Value signMask = ic(static_cast<int64_t>(uint64_t(1) << (width - 1)));
  Value magnitudeMask = ic(static_cast<int64_t>((uint64_t(1) << (width - 1)) - 1));
  Value mantissaMask = ic(static_cast<int64_t>((uint64_t(1) << mantissa) - 1));
  Value implicitBit = ic(static_cast<int64_t>(uint64_t(1) << mantissa));
  Value exponentMask = ic((int64_t(1) << exponentBits) - 1);
  Value sign = andi(bitsX, signMask);
  Value absX = andi(bitsX, magnitudeMask), absY = andi(bitsY, magnitudeMask);
  Value expX = andi(shr(bitsX, ic(mantissa)), exponentMask);
  Value expY = andi(shr(bitsY, ic(mantissa)), exponentMask);
  // NaN for y = 0, y NaN, x inf or NaN; x itself (or a signed 0) when |x| <= |y|.
  Value yNaN = cmpf(b, loc, arith::CmpFPredicate::UNO, y, y);
  Value yZero = cmpi(b, loc, IP::eq, absY, ic(0));
  Value xNotFinite = cmpi(b, loc, IP::eq, expX, exponentMask);
  Value special = ori(ori(yZero, yNaN), xNotFinite);
  Value small = cmpi(b, loc, IP::ule, absX, absY);
  Value equal = cmpi(b, loc, IP::eq, absX, absY);
  Value trivial = arith::OrIOp::create(b, loc, special, small);
  // Significands with the implicit bit, subnormals normalised (their exponent goes <= 0).
  auto normalise = [&](Value bits, Value absBits, Value exponent) -> std::pair<Value, Value> {
    Value subnormal = cmpi(b, loc, IP::eq, exponent, ic(0));
    Value zeros = math::CountLeadingZerosOp::create(b, loc, absBits);
    Value shift = sub(zeros, ic(exponentBits)); // puts the leading 1 on the implicit bit
    Value subSignificand = shl(absBits, select(b, loc, subnormal, shift, ic(0)));
    Value subExponent = sub(ic(1), shift);
    Value significand = ori(andi(bits, mantissaMask), implicitBit);
    return {select(b, loc, subnormal, subSignificand, significand),
            select(b, loc, subnormal, subExponent, exponent)};
  };
  auto [sigX, exponentX] = normalise(bitsX, absX, expX);
  auto [sigY, exponentY] = normalise(bitsY, absY, expY);
  // One quotient bit per step: subtract when possible, shift.
  Value steps = select(b, loc, trivial, ic(0), sub(exponentX, exponentY));
  Value stepsIndex = arith::IndexCastOp::create(b, loc, b.getIndexType(), steps);
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), stepsIndex, indexConstant(b, loc, 1), ValueRange{sigX},
      [&](OpBuilder &nb, Location nl, Value, ValueRange iter) {
        Value difference = arith::SubIOp::create(nb, nl, iter[0], sigY);
        Value fits = cmpi(nb, nl, IP::sge, difference, intConstant(nb, nl, intType, 0));
        Value kept = select(nb, nl, fits, difference, iter[0]);
        scf::YieldOp::create(nb, nl,
                             ValueRange{arith::ShLIOp::create(nb, nl, kept,
                                                              intConstant(nb, nl, intType, 1))});
      });
  Value rest = loop.getResult(0);
  Value difference = sub(rest, sigY);
  Value fits = cmpi(b, loc, IP::sge, difference, ic(0));
  rest = select(b, loc, fits, difference, rest);
  Value zero = cmpi(b, loc, IP::eq, rest, ic(0));
  // Renormalise (rest < 2^(mantissa+1)) and pack, as a subnormal when the exponent is <= 0.
  Value safeRest = select(b, loc, zero, implicitBit, rest);
  Value shift = sub(math::CountLeadingZerosOp::create(b, loc, safeRest), ic(exponentBits));
  Value significand = shl(safeRest, shift);
  Value exponent = sub(exponentY, shift);
  Value normal = ori(sub(significand, implicitBit), shl(exponent, ic(mantissa)));
  // (Shift amounts stay below the width on the paths whose result is discarded too.)
  Value isNormal = cmpi(b, loc, IP::sgt, exponent, ic(0));
  Value denormalShift = arith::MinUIOp::create(b, loc, sub(ic(1), exponent), ic(width - 1));
  Value denormal = shr(significand, select(b, loc, isNormal, ic(0), denormalShift));
  Value packed = select(b, loc, isNormal, normal, denormal);
  Value result = arith::BitcastOp::create(b, loc, floatType, ori(packed, sign));
  Value signedZero = arith::BitcastOp::create(b, loc, floatType, sign);
  result = select(b, loc, zero, signedZero, result);
  Value smallResult = select(b, loc, equal, signedZero, x);
  result = select(b, loc, small, smallResult, result);
  Value nan = floatConstant(b, loc, floatType, std::numeric_limits<double>::quiet_NaN());
  return select(b, loc, special, nan, result);
}

/// Integer division truncating toward zero; x / -1 wraps (computed as 0 - x) and a zero
/// divisor reads as 1, so that the IR has no undefined division.
Value intDivide(OpBuilder &b, Location loc, Value a, Value d, bool isUnsigned) {
  Type type = a.getType();
  Value zero = intConstant(b, loc, type, 0), one = intConstant(b, loc, type, 1);
  Value bad = cmpi(b, loc, arith::CmpIPredicate::eq, d, zero);
  Value minusOne;
  if (!isUnsigned) {
    minusOne = cmpi(b, loc, arith::CmpIPredicate::eq, d, intConstant(b, loc, type, -1));
    bad = arith::OrIOp::create(b, loc, bad, minusOne);
  }
  Value safe = select(b, loc, bad, one, d);
  if (isUnsigned)
    return arith::DivUIOp::create(b, loc, a, safe);
  Value quotient = arith::DivSIOp::create(b, loc, a, safe);
  return select(b, loc, minusOne, arith::SubIOp::create(b, loc, zero, a), quotient);
}

/// Remainder with the dividend's sign (C's %, ONNX fmod=1), or with the divisor's sign
/// (Python's %, fmod=0) when `floored`.
Value intRemainder(OpBuilder &b, Location loc, Value a, Value d, bool isUnsigned, bool floored) {
  Type type = a.getType();
  Value zero = intConstant(b, loc, type, 0), one = intConstant(b, loc, type, 1);
  Value bad = cmpi(b, loc, arith::CmpIPredicate::eq, d, zero);
  if (!isUnsigned)
    bad = arith::OrIOp::create(
        b, loc, bad, cmpi(b, loc, arith::CmpIPredicate::eq, d, intConstant(b, loc, type, -1)));
  Value safe = select(b, loc, bad, one, d);
  if (isUnsigned)
    return arith::RemUIOp::create(b, loc, a, safe);
  Value remainder = arith::RemSIOp::create(b, loc, a, safe); // x % -1 == 0, x % 1 == 0
  if (!floored)
    return remainder;
  Value nonZero = cmpi(b, loc, arith::CmpIPredicate::ne, remainder, zero);
  Value remainderNegative = cmpi(b, loc, arith::CmpIPredicate::slt, remainder, zero);
  Value divisorNegative = cmpi(b, loc, arith::CmpIPredicate::slt, d, zero);
  Value signsDiffer = arith::XOrIOp::create(b, loc, remainderNegative, divisorNegative);
  Value adjust = arith::AndIOp::create(b, loc, nonZero, signsDiffer);
  return select(b, loc, adjust, arith::AddIOp::create(b, loc, remainder, d), remainder);
}

//===----------------------------------------------------------------------===//
// The pointwise ops
//===----------------------------------------------------------------------===//

/// Ops whose value at an element depends only on their operands at that element.
bool isPointwiseName(StringRef name) {
  static const llvm::StringSet<> names = {
      "kiln.onnx.Abs",     "kiln.onnx.Add",         "kiln.onnx.And",
      "kiln.onnx.Clip",    "kiln.onnx.Cos",         "kiln.onnx.Div",
      "kiln.onnx.Equal",   "kiln.onnx.Erf",         "kiln.onnx.Exp",
      "kiln.onnx.Greater", "kiln.onnx.GreaterOrEqual", "kiln.onnx.IsNaN",
      "kiln.onnx.Less",    "kiln.onnx.LessOrEqual", "kiln.onnx.Log",
      "kiln.onnx.Max",     "kiln.onnx.Min",         "kiln.onnx.Mod",
      "kiln.onnx.Mul",     "kiln.onnx.Neg",         "kiln.onnx.Not",
      "kiln.onnx.Or",      "kiln.onnx.Pow",         "kiln.onnx.Reciprocal",
      "kiln.onnx.Relu",    "kiln.onnx.Sigmoid",     "kiln.onnx.Sin",
      "kiln.onnx.Sqrt",    "kiln.onnx.Sub",         "kiln.onnx.Tanh",
      "kiln.onnx.Where",   "kiln.gelu",             "kiln.silu",
      "kiln.swiglu"};
  return names.contains(name);
}

/// Ops that need f32 transcendental approximations (MLIR has none for f64).
bool needsF32Math(StringRef name) {
  return llvm::is_contained({StringRef("kiln.onnx.Cos"), StringRef("kiln.onnx.Sin"),
                             StringRef("kiln.onnx.Erf"), StringRef("kiln.onnx.Exp"),
                             StringRef("kiln.onnx.Log"), StringRef("kiln.onnx.Sigmoid"),
                             StringRef("kiln.onnx.Tanh"), StringRef("kiln.gelu"),
                             StringRef("kiln.silu"), StringRef("kiln.swiglu")},
                            name);
}

/// Whether a Dropout is the identity: no training_mode, or a constant false one, or a
/// constant zero ratio. Otherwise `why` says what is not supported.
bool dropoutIsIdentity(OnnxDropoutOp dropout, std::string &why) {
  Value training = dropout.getTrainingMode();
  if (!training)
    return true;
  auto constantScalar = [](Value value) -> std::optional<double> {
    std::optional<exec::Tensor> tensor =
        value ? getConstantTensor(value) : std::optional<exec::Tensor>();
    if (!tensor || tensor->getNumElements() != 1)
      return std::nullopt;
    return tensor->getDouble(0);
  };
  std::optional<double> mode = constantScalar(training);
  if (mode && *mode == 0.0)
    return true;
  std::optional<double> ratio = constantScalar(dropout.getRatio());
  if (ratio && *ratio == 0.0)
    return true;
  why = mode ? "training-mode Dropout with a non-zero ratio"
             : "Dropout whose training_mode is not a constant";
  return false;
}

/// Ops an elementwise kernel may absorb as producers of its operands: the pointwise ops,
/// Cast, Identity, Expand (a broadcast, which the kernel's indexing does anyway) and inference
/// Dropout whose mask is unused.
bool isFusableProducer(Operation *op) {
  StringRef name = op->getName().getStringRef();
  if (isPointwiseName(name) || isa<OnnxCastOp, OnnxIdentityOp, OnnxExpandOp>(op))
    return true;
  if (auto dropout = dyn_cast<OnnxDropoutOp>(op)) {
    std::string why;
    return (!dropout.getMask() || dropout.getMask().use_empty()) &&
           dropoutIsIdentity(dropout, why);
  }
  return false;
}

/// Ops cheap enough to recompute for every element they are broadcast to.
bool isCheapToRecompute(Operation *op) {
  StringRef name = op->getName().getStringRef();
  return !needsF32Math(name) && name != "kiln.onnx.Pow" && name != "kiln.onnx.Mod";
}

/// The operands a node computes from (Dropout's ratio and training_mode, Expand's shape are
/// not data).
SmallVector<Value> dataOperands(Operation *op) {
  if (auto dropout = dyn_cast<OnnxDropoutOp>(op))
    return {dropout.getData()};
  if (auto expand = dyn_cast<OnnxExpandOp>(op))
    return {expand.getInput()};
  return SmallVector<Value>(op->getOperands());
}

/// A short spelling of the op and the operand types its semantics depend on, for kernel
/// names. Each op has a fixed number of type and argument tokens, so names are unambiguous.
std::string opToken(Operation *op) {
  StringRef name = op->getName().getStringRef();
  name.consume_front("kiln.onnx.");
  name.consume_front("kiln.");
  std::string token;
  if (auto clip = dyn_cast<OnnxClipOp>(op)) {
    token = std::string("clip") + (clip.getMin() ? "l" : "") + (clip.getMax() ? "h" : "");
  } else if (isa<OnnxMaxOp, OnnxMinOp>(op)) {
    token = name.lower() + std::to_string(op->getNumOperands());
  } else if (auto mod = dyn_cast<OnnxModOp>(op)) {
    token = mod.getFmod() ? "fmod" : "mod";
  } else if (auto gelu = dyn_cast<GeluOp>(op)) {
    token = gelu.getApproximation() == GeluApproximation::tanh ? "gelut" : "gelu";
  } else {
    static const llvm::StringMap<StringRef> shortNames = {
        {"GreaterOrEqual", "ge"}, {"Greater", "gt"},   {"LessOrEqual", "le"},
        {"Less", "lt"},           {"Equal", "eq"},     {"Reciprocal", "recip"},
        {"Sigmoid", "sigmoid"},   {"Identity", "id"},  {"Dropout", "id"},
        {"Expand", "id"}};
    auto it = shortNames.find(name);
    token = it != shortNames.end() ? it->second.str() : name.lower();
  }
  // Operand types: the first data operand; Pow's exponent; Cast's and comparisons' result.
  SmallVector<Value> operands = dataOperands(op);
  Type first = operands.empty() ? elementTypeOf(op->getResult(0)) : elementTypeOf(operands[0]);
  if (isa<OnnxWhereOp>(op))
    first = elementTypeOf(operands[1]);
  token += "_" + typeName(first);
  if (isa<OnnxPowOp>(op))
    token += "_" + typeName(elementTypeOf(operands[1]));
  if (isa<OnnxCastOp>(op))
    token += "_" + typeName(elementTypeOf(op->getResult(0)));
  return token;
}

/// A node argument as the body builder sees it: its compute value, its model type, and its
/// value when it is a compile-time immediate.
struct Arg {
  Value value;
  Type model;
  std::optional<double> constant;
};

/// Errors for node ops the builder cannot compute (emitted on the op; nothing is built).
LogicalResult checkNodeSupported(Operation *op, ArrayRef<Arg> args) {
  StringRef name = op->getName().getStringRef();
  Type first = args.empty() ? elementTypeOf(op->getResult(0)) : args.front().model;
  if (needsF32Math(name) && first.isF64())
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": f64 is not supported (the kernels approximate transcendental "
                              "functions in f32 only)";
  if (isa<OnnxPowOp>(op)) {
    Type base = args[0].model;
    bool integralConstant = args[1].constant && std::isfinite(*args[1].constant) &&
                            std::floor(*args[1].constant) == *args[1].constant &&
                            std::fabs(*args[1].constant) < 16777216.0;
    if (base.isF64() && !integralConstant)
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": f64 powers with a non-constant or fractional exponent are "
                                "not supported (no f64 exp/log approximation)";
  }
  return success();
}

/// The compute value of node `op` from its arguments (the executor's semantics).
Value buildNode(OpBuilder &b, Location loc, Operation *op, ArrayRef<Arg> args) {
  Type resultModel = elementTypeOf(op->getResult(0));
  Value a = args.empty() ? Value() : args[0].value;
  Value c = args.size() > 1 ? args[1].value : Value();
  Type model = args.empty() ? resultModel : args[0].model;
  bool isFloat = isFloatModel(model);
  bool isUnsigned = isUnsignedModel(model);
  Type type = a ? a.getType() : Type();
  auto fc = [&](double value) { return floatConstant(b, loc, type, value); };
  auto ic = [&](int64_t value) { return intConstant(b, loc, type, value); };
  using FP = arith::CmpFPredicate;
  using IP = arith::CmpIPredicate;
  auto isNaN = [&](Value x) { return cmpf(b, loc, FP::UNO, x, x); };
  auto less = [&](Value x, Value y) -> Value {
    return isFloat ? cmpf(b, loc, FP::OLT, x, y)
                   : cmpi(b, loc, isUnsigned ? IP::ult : IP::slt, x, y);
  };

  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case<OnnxIdentityOp, OnnxDropoutOp, OnnxExpandOp>([&](auto) { return a; })
      .Case<OnnxCastOp>([&](auto) { return castScalar(b, loc, a, model, resultModel); })
      .Case<OnnxAddOp>([&](auto) -> Value {
        return isFloat ? addf(b, loc, a, c) : arith::AddIOp::create(b, loc, a, c).getResult();
      })
      .Case<OnnxSubOp>([&](auto) -> Value {
        return isFloat ? subf(b, loc, a, c) : arith::SubIOp::create(b, loc, a, c).getResult();
      })
      .Case<OnnxMulOp>([&](auto) -> Value {
        return isFloat ? mulf(b, loc, a, c) : arith::MulIOp::create(b, loc, a, c).getResult();
      })
      .Case<OnnxDivOp>([&](auto) -> Value {
        return isFloat ? divf(b, loc, a, c) : intDivide(b, loc, a, c, isUnsigned);
      })
      .Case<OnnxModOp>([&](OnnxModOp mod) -> Value {
        if (isFloat) // fmod=1 (the verifier's rule for floats)
          return floatRemainder(b, loc, a, c);
        return intRemainder(b, loc, a, c, isUnsigned, /*floored=*/mod.getFmod() == 0);
      })
      .Case<OnnxPowOp>([&](auto) -> Value {
        Type exponentModel = args[1].model;
        std::optional<double> constant = args[1].constant;
        if (isFloat) {
          // The exponent converts to the base's type (through double in the executor).
          if (constant && std::isfinite(*constant) && std::floor(*constant) == *constant &&
              std::fabs(*constant) < 16777216.0) {
            Value power = floatPowConstant(b, loc, a, static_cast<uint64_t>(std::fabs(*constant)));
            return *constant < 0 ? divf(b, loc, fc(1.0), power) : power;
          }
          Value exponent = castScalar(b, loc, c, exponentModel, model);
          return floatPowRuntime(b, loc, a, exponent);
        }
        if (!isFloatModel(exponentModel))
          return intPowRuntime(b, loc, a, isUnsigned, c, isUnsignedModel(exponentModel));
        // Integer base, float exponent: integral exponents exactly, others through f32
        // powf truncated toward zero (the executor truncates a double pow).
        Value floor = math::FloorOp::create(b, loc, c);
        Value integral = cmpf(b, loc, FP::OEQ, floor, c);
        Value whole = arith::FPToSIOp::create(b, loc, b.getI64Type(), c);
        Value exact = intPowRuntime(b, loc, a, isUnsigned, whole, /*exponentUnsigned=*/false);
        Value baseF32 = castScalar(b, loc, a, model, b.getF32Type());
        Value exponentF32 = castScalar(b, loc, c, exponentModel, b.getF32Type());
        Value fractional = castScalar(b, loc, floatPowRuntime(b, loc, baseF32, exponentF32),
                                      b.getF32Type(), model);
        return select(b, loc, integral, exact, fractional);
      })
      .Case<OnnxAndOp>([&](auto) { return arith::AndIOp::create(b, loc, a, c).getResult(); })
      .Case<OnnxOrOp>([&](auto) { return arith::OrIOp::create(b, loc, a, c).getResult(); })
      .Case<OnnxNotOp>([&](auto) {
        return arith::XOrIOp::create(b, loc, a, boolConstant(b, loc, true)).getResult();
      })
      .Case<OnnxNegOp>([&](auto) -> Value {
        return isFloat ? arith::NegFOp::create(b, loc, a).getResult()
                       : arith::SubIOp::create(b, loc, ic(0), a).getResult();
      })
      .Case<OnnxAbsOp>([&](auto) -> Value {
        if (isFloat)
          return math::AbsFOp::create(b, loc, a);
        if (isUnsigned)
          return a;
        Value zero = ic(0);
        Value negative = cmpi(b, loc, IP::slt, a, zero);
        return select(b, loc, negative, arith::SubIOp::create(b, loc, zero, a), a);
      })
      .Case<OnnxReluOp>([&](auto) -> Value {
        if (isFloat) { // max(x, 0) keeping NaN, +0 for -0 (the executor's relu)
          Value zero = fc(0.0);
          Value nan = isNaN(a);
          Value positive = cmpf(b, loc, FP::OGT, a, zero);
          return select(b, loc, nan, a, select(b, loc, positive, a, zero));
        }
        Value zero = ic(0);
        Value positive = cmpi(b, loc, isUnsigned ? IP::ugt : IP::sgt, a, zero);
        return select(b, loc, positive, a, zero);
      })
      .Case<OnnxSqrtOp>([&](auto) { return math::SqrtOp::create(b, loc, a).getResult(); })
      .Case<OnnxReciprocalOp>([&](auto) { return divf(b, loc, fc(1.0), a); })
      .Case<OnnxTanhOp>([&](auto) { return math::TanhOp::create(b, loc, a).getResult(); })
      .Case<OnnxErfOp>([&](auto) { return math::ErfOp::create(b, loc, a).getResult(); })
      .Case<OnnxExpOp>([&](auto) { return math::ExpOp::create(b, loc, a).getResult(); })
      .Case<OnnxLogOp>([&](auto) { return math::LogOp::create(b, loc, a).getResult(); })
      .Case<OnnxSigmoidOp>([&](auto) { return sigmoid(b, loc, a); })
      .Case<OnnxSinOp>([&](auto) { return sinCos(b, loc, a, /*isSine=*/true); })
      .Case<OnnxCosOp>([&](auto) { return sinCos(b, loc, a, /*isSine=*/false); })
      .Case<OnnxIsNaNOp>([&](auto) { return isNaN(a); })
      .Case<OnnxEqualOp>([&](auto) {
        return isFloat ? cmpf(b, loc, FP::OEQ, a, c) : cmpi(b, loc, IP::eq, a, c);
      })
      .Case<OnnxLessOp>([&](auto) { return less(a, c); })
      .Case<OnnxGreaterOp>([&](auto) { return less(c, a); })
      .Case<OnnxLessOrEqualOp>([&](auto) {
        return isFloat ? cmpf(b, loc, FP::OLE, a, c)
                       : cmpi(b, loc, isUnsigned ? IP::ule : IP::sle, a, c);
      })
      .Case<OnnxGreaterOrEqualOp>([&](auto) {
        return isFloat ? cmpf(b, loc, FP::OGE, a, c)
                       : cmpi(b, loc, isUnsigned ? IP::uge : IP::sge, a, c);
      })
      .Case<OnnxWhereOp>([&](auto) { return select(b, loc, a, args[1].value, args[2].value); })
      .Case<OnnxMaxOp, OnnxMinOp>([&](Operation *) -> Value {
        // Left fold, NaN winning (numpy's maximum/minimum, as the executor).
        bool isMax = isa<OnnxMaxOp>(op);
        Value result = a;
        for (const Arg &next : args.drop_front()) {
          Value y = next.value;
          Value pick = isMax ? select(b, loc, less(result, y), y, result)
                             : select(b, loc, less(y, result), y, result);
          if (isFloat) {
            Value resultNaN = isNaN(result);
            Value yNaN = isNaN(y);
            pick = select(b, loc, resultNaN, result, select(b, loc, yNaN, y, pick));
          }
          result = pick;
        }
        return result;
      })
      .Case<OnnxClipOp>([&](OnnxClipOp clip) -> Value {
        // min first, then max: min > max gives max (numpy); NaN stays.
        Value value = a;
        unsigned next = 1;
        if (clip.getMin()) {
          Value low = args[next++].value;
          value = select(b, loc, less(value, low), low, value);
        }
        if (clip.getMax()) {
          Value high = args[next++].value;
          value = select(b, loc, less(high, value), high, value);
        }
        return value;
      })
      .Case<GeluOp>([&](GeluOp gelu) -> Value {
        if (gelu.getApproximation() == GeluApproximation::tanh) {
          // (x * 0.5) * (tanh((x + x^3 * 0.044715) * sqrt(2/pi)) + 1), the exporters' order.
          Value cube = mulf(b, loc, mulf(b, loc, a, a), a);
          Value sum = addf(b, loc, a, mulf(b, loc, cube, fc(0.044715)));
          Value inner = mulf(b, loc, sum, fc(0.7978845608028654));
          Value half = mulf(b, loc, a, fc(0.5));
          Value tanh = math::TanhOp::create(b, loc, inner);
          return mulf(b, loc, half, addf(b, loc, tanh, fc(1.0)));
        }
        // 0.5 * x * (1 + erf(x * sqrt(1/2))).
        Value half = mulf(b, loc, fc(0.5), a);
        Value erf = math::ErfOp::create(b, loc, mulf(b, loc, a, fc(0.7071067811865476)));
        return mulf(b, loc, half, addf(b, loc, fc(1.0), erf));
      })
      .Case<SiluOp>([&](auto) { return mulf(b, loc, a, sigmoid(b, loc, a)); })
      .Case<SwigluOp>([&](auto) {
        Value silu = mulf(b, loc, a, sigmoid(b, loc, a));
        return mulf(b, loc, silu, c);
      })
      .Default([&](Operation *) -> Value {
        llvm_unreachable("buildNode: not a pointwise op");
      });
}

//===----------------------------------------------------------------------===//
// Expressions: the fused DAG of a kernel
//===----------------------------------------------------------------------===//

struct ExprRef {
  enum Kind : uint8_t { Leaf, Immediate, Node } kind;
  unsigned index;
};

struct Immediate {
  Type model;
  double floatValue = 0.0;
  int64_t intValue = 0;
};

struct ExprNode {
  Operation *op;
  SmallVector<ExprRef> args;
};

struct Expression {
  SmallVector<Value> leaves;        // original values, in first-use order
  SmallVector<Immediate> immediates;
  SmallVector<ExprNode> nodes;      // arguments before users; the root last
  ExprRef result;
  Type resultModel;
};

/// A one-element constant operand as an immediate of the kernel body.
std::optional<Immediate> immediateOf(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() != 1)
    return std::nullopt;
  std::optional<exec::Tensor> tensor = getConstantTensor(value);
  if (!tensor)
    return std::nullopt;
  Immediate immediate;
  immediate.model = type.getElementType();
  if (isFloatModel(immediate.model))
    immediate.floatValue = tensor->getDouble(0);
  else
    immediate.intValue = tensor->getInt(0);
  return immediate;
}

/// The spelling of an immediate: its type and bits in the compute type.
std::string immediateToken(const Immediate &immediate) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "k" << typeName(immediate.model) << "x";
  Type compute = scalarComputeType(immediate.model);
  if (compute.isF32())
    os << llvm::format_hex_no_prefix(
        llvm::bit_cast<uint32_t>(static_cast<float>(immediate.floatValue)), 8);
  else if (compute.isF64())
    os << llvm::format_hex_no_prefix(llvm::bit_cast<uint64_t>(immediate.floatValue), 16);
  else
    os << llvm::format_hex_no_prefix(
        APInt(compute.getIntOrFloatBitWidth(), static_cast<uint64_t>(immediate.intValue), true)
            .getZExtValue(),
        1);
  return text;
}

/// Whether `value` (dims `dims`) has the root's dims `out` (leading 1s aside): inlining its
/// producer recomputes nothing.
bool hasResultDims(ArrayRef<Value> dims, ArrayRef<Value> out) {
  if (dims.size() > out.size())
    return false;
  size_t lead = out.size() - dims.size();
  for (size_t i = 0; i < out.size(); ++i) {
    if (i < lead) {
      if (constantIndexOf(out[i]) != 1)
        return false;
      continue;
    }
    if (!sameIndex(dims[i - lead], out[i]))
      return false;
  }
  return true;
}

/// Collects the DAG of `root` and the producers it absorbs. Fails (with an error) when a
/// dim cannot be computed or a node is not supported.
FailureOr<Expression> collectExpression(Operation *root, ArrayRef<Value> outDims,
                                        KernelEmitter &emitter) {
  llvm::SetVector<Operation *> fused;
  fused.insert(root);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < fused.size() && fused.size() < kMaxFusedOps; ++i) {
      for (Value operand : dataOperands(fused[i])) {
        Operation *producer = operand.getDefiningOp();
        if (!producer || fused.contains(producer) || !isFusableProducer(producer) ||
            producer->getBlock() != root->getBlock())
          continue;
        if (!llvm::all_of(producer->getUsers(),
                          [&](Operation *user) { return fused.contains(user); }))
          continue;
        if (!isa<RankedTensorType>(operand.getType()))
          continue;
        if (!isCheapToRecompute(producer)) {
          FailureOr<SmallVector<Value>> dims = emitter.dims(operand, root);
          if (failed(dims))
            return failure();
          if (!hasResultDims(*dims, outDims))
            continue;
        }
        fused.insert(producer);
        changed = true;
        if (fused.size() >= kMaxFusedOps)
          break;
      }
    }
  }

  Expression expr;
  expr.resultModel = elementTypeOf(root->getResult(0));
  DenseMap<Value, ExprRef> visited;
  std::function<ExprRef(Value)> visit = [&](Value value) -> ExprRef {
    if (auto it = visited.find(value); it != visited.end())
      return it->second;
    ExprRef ref;
    Operation *producer = value.getDefiningOp();
    if (producer && fused.contains(producer)) {
      ExprNode node{producer, {}};
      for (Value operand : dataOperands(producer))
        node.args.push_back(visit(operand));
      expr.nodes.push_back(std::move(node));
      ref = {ExprRef::Node, static_cast<unsigned>(expr.nodes.size() - 1)};
    } else if (std::optional<Immediate> immediate = immediateOf(value)) {
      expr.immediates.push_back(*immediate);
      ref = {ExprRef::Immediate, static_cast<unsigned>(expr.immediates.size() - 1)};
    } else {
      expr.leaves.push_back(value);
      ref = {ExprRef::Leaf, static_cast<unsigned>(expr.leaves.size() - 1)};
    }
    visited[value] = ref;
    return ref;
  };
  expr.result = visit(root->getResult(0));

  // Refuse what the body cannot compute before anything is built.
  for (const ExprNode &node : expr.nodes) {
    SmallVector<Arg> args;
    for (auto [ref, operand] : llvm::zip_equal(node.args, dataOperands(node.op))) {
      Arg arg{Value(), elementTypeOf(operand), std::nullopt};
      if (ref.kind == ExprRef::Immediate) {
        const Immediate &immediate = expr.immediates[ref.index];
        arg.constant = isFloatModel(immediate.model) ? immediate.floatValue
                                                     : static_cast<double>(immediate.intValue);
      }
      args.push_back(arg);
    }
    if (failed(checkNodeSupported(node.op, args)))
      return failure();
  }
  return expr;
}

/// The spelling of the DAG: per node, its op token and arguments (a<leaf>, n<node>,
/// k<immediate>).
std::string expressionKey(const Expression &expr) {
  auto refToken = [&](ExprRef ref) -> std::string {
    switch (ref.kind) {
    case ExprRef::Leaf:
      return "a" + std::to_string(ref.index);
    case ExprRef::Node:
      return "n" + std::to_string(ref.index);
    case ExprRef::Immediate:
      return immediateToken(expr.immediates[ref.index]);
    }
    llvm_unreachable("unknown reference");
  };
  std::string key;
  for (const ExprNode &node : expr.nodes) {
    if (!key.empty())
      key += "_";
    key += opToken(node.op);
    for (ExprRef arg : node.args)
      key += "_" + refToken(arg);
  }
  if (expr.result.kind != ExprRef::Node)
    key += (key.empty() ? "" : "_") + std::string("out_") + refToken(expr.result);
  return key;
}

/// Materialises the compute value of immediate `immediate`.
Value materializeImmediate(OpBuilder &b, Location loc, const Immediate &immediate) {
  Type compute = scalarComputeType(immediate.model);
  if (isFloatModel(immediate.model))
    return floatConstant(b, loc, compute,
                         compute.isF32() ? static_cast<double>(static_cast<float>(
                                               immediate.floatValue))
                                         : immediate.floatValue);
  if (immediate.model.isInteger(1))
    return boolConstant(b, loc, immediate.intValue != 0);
  return intConstant(b, loc, compute, immediate.intValue);
}

/// Evaluates the DAG on leaf compute values.
Value evaluate(OpBuilder &b, Location loc, const Expression &expr, ArrayRef<Value> leafValues) {
  SmallVector<Value> nodeValues;
  auto valueOf = [&](ExprRef ref) -> Value {
    switch (ref.kind) {
    case ExprRef::Leaf:
      return leafValues[ref.index];
    case ExprRef::Node:
      return nodeValues[ref.index];
    case ExprRef::Immediate:
      return materializeImmediate(b, loc, expr.immediates[ref.index]);
    }
    llvm_unreachable("unknown reference");
  };
  for (const ExprNode &node : expr.nodes) {
    SmallVector<Arg> args;
    for (auto [ref, operand] : llvm::zip_equal(node.args, dataOperands(node.op))) {
      Arg arg{valueOf(ref), elementTypeOf(operand), std::nullopt};
      if (ref.kind == ExprRef::Immediate) {
        const Immediate &immediate = expr.immediates[ref.index];
        arg.constant = isFloatModel(immediate.model) ? immediate.floatValue
                                                     : static_cast<double>(immediate.intValue);
      }
      args.push_back(arg);
    }
    nodeValues.push_back(buildNode(b, loc, node.op, args));
  }
  return valueOf(expr.result);
}

//===----------------------------------------------------------------------===//
// Iteration space and broadcasting
//===----------------------------------------------------------------------===//

/// How a leaf reads along a group of result dims.
enum class Span : char { Spans = 's', Broadcast = 'b', Unknown = 'u' };

struct Layout {
  SmallVector<Value> groupSizes;                 // host index values
  SmallVector<std::optional<int64_t>> staticSizes;
  SmallVector<SmallVector<Span>> spans;          // [leaf][group]
  SmallVector<SmallVector<Value>> leafDims;      // [leaf][group], host dims of 'u' groups
  Value count;                                   // host: the number of result elements

  bool isLinear() const {
    if (groupSizes.size() != 1)
      return false;
    for (const SmallVector<Span> &leaf : spans)
      if (leaf[0] == Span::Unknown)
        return false;
    return true;
  }
};

/// Classifies leaf dim `dim` against result dim `out`.
FailureOr<Span> classifyDim(Value dim, Value out, Operation *root, unsigned leafIndex) {
  auto cd = constantIndexOf(dim), co = constantIndexOf(out);
  if (sameIndex(dim, out))
    return Span::Spans;
  if (cd == 1)
    return Span::Broadcast;
  if (cd && co)
    return root->emitError() << "GPU lowering of " << root->getName() << ": operand "
                             << leafIndex << " has dim " << *cd
                             << ", which does not broadcast to " << *co;
  // A static dim other than 1 fixes the result's dim; a dynamic one is 1 or the result's.
  if (cd)
    return Span::Spans;
  if (co == 1)
    return Span::Spans;
  return Span::Unknown;
}

FailureOr<Layout> buildLayout(Operation *root, ArrayRef<Value> outDims, ArrayRef<Value> leaves,
                              KernelEmitter &emitter) {
  size_t rank = outDims.size();
  SmallVector<SmallVector<Span>> dimSpans(leaves.size());  // [leaf][result dim]
  SmallVector<SmallVector<Value>> dimSizes(leaves.size()); // [leaf][result dim]
  for (auto [k, leaf] : llvm::enumerate(leaves)) {
    FailureOr<SmallVector<Value>> dims = emitter.dims(leaf, root);
    if (failed(dims))
      return failure();
    if (dims->size() > rank)
      return root->emitError() << "GPU lowering of " << root->getName() << ": operand " << k
                               << " has a higher rank than the result";
    size_t lead = rank - dims->size();
    for (size_t i = 0; i < rank; ++i) {
      if (i < lead) {
        dimSpans[k].push_back(constantIndexOf(outDims[i]) == 1 ? Span::Spans : Span::Broadcast);
        dimSizes[k].push_back(Value());
        continue;
      }
      FailureOr<Span> span = classifyDim((*dims)[i - lead], outDims[i], root, k);
      if (failed(span))
        return failure();
      dimSpans[k].push_back(*span);
      dimSizes[k].push_back((*dims)[i - lead]);
    }
  }

  Layout layout;
  layout.spans.resize(leaves.size());
  layout.leafDims.resize(leaves.size());
  SmallVector<size_t> previous;
  SmallVector<SmallVector<Value>> groupDims;
  for (size_t i = 0; i < rank; ++i) {
    if (constantIndexOf(outDims[i]) == 1)
      continue; // every leaf has size 1 there
    bool merge = !groupDims.empty();
    for (size_t k = 0; k < leaves.size() && merge; ++k) {
      Span span = dimSpans[k][i];
      merge = span != Span::Unknown && span == layout.spans[k].back();
    }
    if (merge) {
      groupDims.back().push_back(outDims[i]);
      continue;
    }
    groupDims.push_back({outDims[i]});
    for (size_t k = 0; k < leaves.size(); ++k) {
      layout.spans[k].push_back(dimSpans[k][i]);
      layout.leafDims[k].push_back(dimSpans[k][i] == Span::Unknown ? dimSizes[k][i] : Value());
    }
  }
  if (groupDims.empty()) {
    // A single element: every leaf holds one element too.
    groupDims.push_back({emitter.index(1)});
    for (size_t k = 0; k < leaves.size(); ++k) {
      layout.spans[k].push_back(Span::Spans);
      layout.leafDims[k].push_back(Value());
    }
  }
  for (ArrayRef<Value> group : groupDims) {
    Value size = emitter.product(ValueRange(group));
    layout.groupSizes.push_back(size);
    layout.staticSizes.push_back(constantIndexOf(size));
  }
  layout.count = emitter.product(ValueRange(layout.groupSizes));
  return layout;
}

//===----------------------------------------------------------------------===//
// The elementwise kernel
//===----------------------------------------------------------------------===//

struct KernelPlan {
  const Expression *expr;
  const Layout *layout;
  SmallVector<Type> leafModels;
  SmallVector<Type> leafBuffers; // signless storage element types
  Type outModel;
  Type outBuffer;
  unsigned vectorWidth = 1;
};

/// Elements per vector access: 16 bytes of the widest spanning buffer, at most 8.
unsigned chooseVectorWidth(const KernelPlan &plan) {
  int64_t widest = byteWidth(plan.outBuffer);
  for (auto [k, type] : llvm::enumerate(plan.leafBuffers))
    if (plan.layout->spans[k][0] == Span::Spans)
      widest = std::max(widest, byteWidth(type));
  return static_cast<unsigned>(std::clamp<int64_t>(16 / widest, 1, 8));
}

std::string layoutKey(const KernelPlan &plan) {
  std::string key = "o_" + typeName(plan.outModel) + "_" + typeName(plan.outBuffer) + "_g";
  for (auto [g, size] : llvm::enumerate(plan.layout->staticSizes))
    key += (g ? "x" : "") + (size ? std::to_string(*size) : std::string("d"));
  for (size_t k = 0; k < plan.leafBuffers.size(); ++k) {
    key += "_l_" + typeName(plan.leafModels[k]) + "_" + typeName(plan.leafBuffers[k]) + "_";
    for (Span span : plan.layout->spans[k])
      key += static_cast<char>(span);
  }
  if (plan.vectorWidth > 1)
    key += "_v" + std::to_string(plan.vectorWidth);
  return key;
}

std::string kernelName(StringRef prefix, const std::string &exprKey, const std::string &layout) {
  std::string name = (prefix + "_" + exprKey + "__" + layout).str();
  if (name.size() <= kMaxNameLength)
    return name;
  std::string hash;
  llvm::raw_string_ostream os(hash);
  os << llvm::format_hex_no_prefix(llvm::xxh3_64bits(name), 16);
  return (prefix + "_" + StringRef(exprKey).take_front(kMaxNameLength - 40) + "_h" + hash).str();
}

/// for (i = start + tid; i < count; i += gridDim.x * blockDim.x) body(i, iterArgs).
scf::ForOp threadLoop(OpBuilder &b, Location loc, Value start, Value count, ValueRange init,
                      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)> body) {
  Value first = indexAdd(b, loc, start, globalThreadIndex(b, loc));
  Value step = arith::MulIOp::create(b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::x),
                                     gpu::BlockDimOp::create(b, loc, gpu::Dimension::x));
  return scf::ForOp::create(b, loc, first, count, step, init,
                            [&](OpBuilder &nb, Location nl, Value i, ValueRange iter) {
                              SmallVector<Value> next = body(nb, nl, i, iter);
                              scf::YieldOp::create(nb, nl, next);
                            });
}

/// Linear kernel: one group, every leaf spans it or is a scalar.
void buildLinearBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const KernelPlan &plan,
                     Value count) {
  const Expression &expr = *plan.expr;
  size_t numLeaves = expr.leaves.size();
  Value output = kernel.getArgument(numLeaves);
  Value zero = indexConstant(b, loc, 0);
  Value nonEmpty = cmpi(b, loc, arith::CmpIPredicate::ugt, count, zero);
  auto ifOp = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());

  // Scalar leaves (broadcast everywhere) are read once.
  SmallVector<Value> scalars(numLeaves);
  for (size_t k = 0; k < numLeaves; ++k)
    if (plan.layout->spans[k][0] == Span::Broadcast)
      scalars[k] = loadLeaf(b, loc, kernel.getArgument(k), zero, plan.leafModels[k]);

  Value start = zero;
  unsigned width = plan.vectorWidth;
  if (width > 1) {
    // Vector accesses need every spanning buffer aligned to the vector's size.
    Value aligned = boolConstant(b, loc, true);
    auto checkAlignment = [&](Value buffer, Type element) {
      Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
      Value misaligned =
          arith::RemUIOp::create(b, loc, address, indexConstant(b, loc, width * byteWidth(element)));
      aligned = arith::AndIOp::create(b, loc, aligned,
                                      cmpi(b, loc, arith::CmpIPredicate::eq, misaligned, zero));
    };
    checkAlignment(output, plan.outBuffer);
    for (size_t k = 0; k < numLeaves; ++k)
      if (!scalars[k])
        checkAlignment(kernel.getArgument(k), plan.leafBuffers[k]);
    Value vectors = arith::DivUIOp::create(b, loc, count, indexConstant(b, loc, width));
    auto vectorIf = scf::IfOp::create(b, loc, TypeRange{b.getIndexType()}, aligned,
                                      /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard thenGuard(b);
      b.setInsertionPointToStart(vectorIf.thenBlock());
      threadLoop(b, loc, zero, vectors, {}, [&](OpBuilder &nb, Location nl, Value j, ValueRange) {
        Value base = arith::MulIOp::create(nb, nl, j, indexConstant(nb, nl, width));
        SmallVector<Value> loaded(numLeaves);
        for (size_t k = 0; k < numLeaves; ++k)
          if (!scalars[k])
            loaded[k] = vector::LoadOp::create(
                nb, nl, VectorType::get({width}, plan.leafBuffers[k]), kernel.getArgument(k),
                ValueRange{base}, /*nontemporal=*/false,
                llvm::MaybeAlign(width * byteWidth(plan.leafBuffers[k])));
        SmallVector<Value> lanes;
        for (unsigned lane = 0; lane < width; ++lane) {
          SmallVector<Value> leafValues(numLeaves);
          for (size_t k = 0; k < numLeaves; ++k)
            leafValues[k] = scalars[k] ? scalars[k]
                                       : storageToCompute(nb, nl,
                                                          vector::ExtractOp::create(
                                                              nb, nl, loaded[k],
                                                              ArrayRef<int64_t>{lane}),
                                                          plan.leafModels[k]);
          lanes.push_back(
              computeToStorage(nb, nl, evaluate(nb, nl, expr, leafValues), plan.outBuffer));
        }
        Value vector = vector::FromElementsOp::create(
            nb, nl, VectorType::get({width}, plan.outBuffer), lanes);
        vector::StoreOp::create(nb, nl, vector, output, ValueRange{base}, /*nontemporal=*/false,
                                llvm::MaybeAlign(width * byteWidth(plan.outBuffer)));
        return SmallVector<Value>();
      });
      scf::YieldOp::create(b, loc, ValueRange{arith::MulIOp::create(
                                       b, loc, vectors, indexConstant(b, loc, width))});
    }
    {
      OpBuilder::InsertionGuard elseGuard(b);
      b.setInsertionPointToStart(vectorIf.elseBlock());
      scf::YieldOp::create(b, loc, ValueRange{zero});
    }
    start = vectorIf.getResult(0);
  }

  // The tail (or everything when unaligned), one element per iteration.
  threadLoop(b, loc, start, count, {}, [&](OpBuilder &nb, Location nl, Value i, ValueRange) {
    SmallVector<Value> leafValues(numLeaves);
    for (size_t k = 0; k < numLeaves; ++k)
      leafValues[k] = scalars[k] ? scalars[k]
                                 : loadLeaf(nb, nl, kernel.getArgument(k), i, plan.leafModels[k]);
    storeElement(nb, nl, evaluate(nb, nl, expr, leafValues), output, i);
    return SmallVector<Value>();
  });
}

/// Strided kernel: several groups or run-time broadcasts. Delinearises the first index and
/// the grid stride once per thread, then carries the group indices like an odometer.
void buildStridedBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const KernelPlan &plan,
                      ArrayRef<Value> sizes, ArrayRef<SmallVector<Value>> unknownDims,
                      Value count) {
  const Expression &expr = *plan.expr;
  const Layout &layout = *plan.layout;
  size_t numLeaves = expr.leaves.size(), numGroups = sizes.size();
  Value output = kernel.getArgument(numLeaves);
  Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
  Value tid = globalThreadIndex(b, loc);
  Value step = arith::MulIOp::create(b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::x),
                                     gpu::BlockDimOp::create(b, loc, gpu::Dimension::x));
  auto ifOp = scf::IfOp::create(b, loc, cmpi(b, loc, arith::CmpIPredicate::ult, tid, count),
                                /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());

  // Leaf strides per group (row-major over the groups the leaf spans; a 'u' group counts
  // with the leaf's own size), and scalar leaves.
  SmallVector<SmallVector<Value>> strides(numLeaves, SmallVector<Value>(numGroups));
  SmallVector<Value> scalars(numLeaves);
  for (size_t k = 0; k < numLeaves; ++k) {
    Value running = one;
    bool any = false;
    for (int64_t g = static_cast<int64_t>(numGroups) - 1; g >= 0; --g) {
      Span span = layout.spans[k][g];
      if (span == Span::Broadcast)
        continue;
      any = true;
      strides[k][g] = running;
      running = indexMul(b, loc, running, span == Span::Spans ? sizes[g] : unknownDims[k][g]);
    }
    if (!any)
      scalars[k] = loadLeaf(b, loc, kernel.getArgument(k), zero, plan.leafModels[k]);
  }
  SmallVector<Value> first = delinearize(b, loc, tid, sizes);
  SmallVector<Value> stepIndices = delinearize(b, loc, step, sizes);

  threadLoop(b, loc, zero, count, first,
             [&](OpBuilder &nb, Location nl, Value i, ValueRange indices) {
               SmallVector<Value> leafValues(numLeaves);
               for (size_t k = 0; k < numLeaves; ++k) {
                 if (scalars[k]) {
                   leafValues[k] = scalars[k];
                   continue;
                 }
                 if (llvm::all_of(layout.spans[k], [](Span s) { return s == Span::Spans; })) {
                   // Has the result's shape: reads at the result's index.
                   leafValues[k] = loadLeaf(nb, nl, kernel.getArgument(k), i, plan.leafModels[k]);
                   continue;
                 }
                 Value offset = indexConstant(nb, nl, 0);
                 for (size_t g = 0; g < numGroups; ++g) {
                   Span span = layout.spans[k][g];
                   if (span == Span::Broadcast)
                     continue;
                   Value index = indices[g];
                   if (span == Span::Unknown) // a size-1 dim broadcasts at run time
                     index = select(nb, nl,
                                    cmpi(nb, nl, arith::CmpIPredicate::eq, unknownDims[k][g],
                                         indexConstant(nb, nl, 1)),
                                    indexConstant(nb, nl, 0), index);
                   offset = indexAdd(nb, nl, offset, indexMul(nb, nl, index, strides[k][g]));
                 }
                 leafValues[k] = loadLeaf(nb, nl, kernel.getArgument(k), offset, plan.leafModels[k]);
               }
               storeElement(nb, nl, evaluate(nb, nl, expr, leafValues), output, i);
               // Advance by the grid stride: each inner index and stride index is below its
               // group size, so one conditional subtraction carries.
               SmallVector<Value> next(numGroups);
               Value carry = indexConstant(nb, nl, 0);
               for (int64_t g = static_cast<int64_t>(numGroups) - 1; g >= 1; --g) {
                 Value sum = indexAdd(nb, nl, indexAdd(nb, nl, indices[g], stepIndices[g]), carry);
                 Value over = cmpi(nb, nl, arith::CmpIPredicate::uge, sum, sizes[g]);
                 next[g] = select(nb, nl, over, arith::SubIOp::create(nb, nl, sum, sizes[g]), sum);
                 Value one = indexConstant(nb, nl, 1), zero = indexConstant(nb, nl, 0);
                 carry = select(nb, nl, over, one, zero);
               }
               next[0] = indexAdd(nb, nl, indexAdd(nb, nl, indices[0], stepIndices[0]), carry);
               return next;
             });
}

/// min(value, cap) on the host.
Value hostMin(KernelEmitter &emitter, Value value, int64_t cap) {
  if (auto constant = constantIndexOf(value))
    return emitter.index(std::min(*constant, cap));
  return arith::MinUIOp::create(emitter.host(), emitter.loc(), value, emitter.index(cap));
}

/// Builds (or reuses) and launches the kernel of `expr` producing a tensor of type
/// `resultType` with dims `outDims`. `root` receives the errors.
FailureOr<Value> emitElementwise(Operation *root, const Expression &expr,
                                 RankedTensorType resultType, ArrayRef<Value> outDims,
                                 StringRef prefix, KernelEmitter &emitter) {
  SmallVector<Value> hostLeaves;
  for (Value leaf : expr.leaves) {
    Value host = emitter.tensor(leaf);
    if (!host)
      return failure();
    hostLeaves.push_back(host);
  }
  FailureOr<Layout> layout = buildLayout(root, outDims, expr.leaves, emitter);
  if (failed(layout))
    return failure();

  KernelPlan plan;
  plan.expr = &expr;
  plan.layout = &*layout;
  for (auto [leaf, host] : llvm::zip_equal(expr.leaves, hostLeaves)) {
    plan.leafModels.push_back(elementTypeOf(leaf));
    plan.leafBuffers.push_back(bufferElementType(elementTypeOf(host)));
  }
  plan.outModel = expr.resultModel;
  plan.outBuffer = bufferElementType(resultType.getElementType());
  bool linear = layout->isLinear();
  if (linear)
    plan.vectorWidth = chooseVectorWidth(plan);

  // Scalars: the dynamic group sizes, then the leaf sizes of 'u' groups.
  SmallVector<Value> scalars;
  for (auto [size, known] : llvm::zip_equal(layout->groupSizes, layout->staticSizes))
    if (!known)
      scalars.push_back(size);
  for (size_t k = 0; k < expr.leaves.size(); ++k)
    for (Value dim : layout->leafDims[k])
      if (dim)
        scalars.push_back(dim);

  std::string name = kernelName(prefix, expressionKey(expr), layoutKey(plan));
  size_t numBuffers = expr.leaves.size() + 1;
  BlockSize block = {kBlockThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, plan.leafBuffers, {plan.outBuffer}, scalars.size(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        unsigned scalarIndex = 0;
        SmallVector<Value> sizes;
        for (std::optional<int64_t> known : layout->staticSizes)
          sizes.push_back(known ? indexConstant(b, loc, *known)
                                : scalarArgument(b, loc, f, numBuffers, scalarIndex++));
        SmallVector<SmallVector<Value>> unknownDims(expr.leaves.size());
        for (size_t k = 0; k < expr.leaves.size(); ++k)
          for (Value dim : layout->leafDims[k])
            unknownDims[k].push_back(dim ? scalarArgument(b, loc, f, numBuffers, scalarIndex++)
                                         : Value());
        Value count = sizes.front();
        for (Value size : ArrayRef<Value>(sizes).drop_front())
          count = indexMul(b, loc, count, size);
        if (linear)
          buildLinearBody(b, loc, f, plan, count);
        else
          buildStridedBody(b, loc, f, plan, sizes, unknownDims, count);
      });

  int64_t perBlock = kBlockThreads * static_cast<int64_t>(plan.vectorWidth);
  Value blocks = hostMin(emitter, emitter.ceilDiv(layout->count, perBlock),
                         linear ? kMaxLinearBlocks : kMaxStridedBlocks);
  return emitter
      .launch(kernel, hostLeaves, {ResultSpec{resultType, SmallVector<Value>(outDims)}}, scalars,
              {blocks, emitter.index(1), emitter.index(1)}, block)
      .front();
}

//===----------------------------------------------------------------------===//
// Templates
//===----------------------------------------------------------------------===//

/// A pointwise op and the pointwise producers it absorbs -> one kernel.
LogicalResult lowerPointwise(Operation *op, KernelEmitter &emitter) {
  Value result = op->getResult(0);
  if (!isa<RankedTensorType>(result.getType()))
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": unranked results are not supported";
  FailureOr<SmallVector<Value>> outDims = emitter.dims(result, op);
  if (failed(outDims))
    return failure();
  FailureOr<Expression> expr = collectExpression(op, *outDims, emitter);
  if (failed(expr))
    return failure();
  FailureOr<Value> launched = emitElementwise(op, *expr, emitter.storageTensorType(result),
                                              *outDims, "ew", emitter);
  if (failed(launched))
    return failure();
  emitter.setResult(result, *launched);
  return success();
}

/// `source` (the host tensor of `input`) as the host tensor of `result`, which has the same
/// shape: a view, after a conversion where their storage types differ (a value the rotary
/// tables need in f32 can feed an Identity whose result is stored in f16).
Value reuseAs(Value source, Value result, ArrayRef<Value> dims, KernelEmitter &emitter) {
  RankedTensorType type = emitter.storageTensorType(result);
  Value converted = emitter.convert(source, dims, type.getElementType());
  return emitter.view(converted, type, dims);
}

/// Identity: the operand's buffer seen with the result's type.
LogicalResult lowerIdentity(Operation *op, KernelEmitter &emitter) {
  Value source = emitter.tensor(op->getOperand(0));
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(op->getResult(0), op);
  if (failed(dims))
    return failure();
  emitter.setResult(op->getResult(0), reuseAs(source, op->getResult(0), *dims, emitter));
  return success();
}

/// Inference Dropout: the data as a view; the optional mask is all true.
LogicalResult lowerDropout(Operation *op, KernelEmitter &emitter) {
  auto dropout = cast<OnnxDropoutOp>(op);
  std::string why;
  if (!dropoutIsIdentity(dropout, why))
    return op->emitError() << "GPU lowering of " << op->getName() << ": " << why
                           << " is not supported";
  Value source = emitter.tensor(dropout.getData());
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(dropout.getOutput(), op);
  if (failed(dims))
    return failure();
  emitter.setResult(dropout.getOutput(), reuseAs(source, dropout.getOutput(), *dims, emitter));
  Value mask = dropout.getMask();
  if (!mask || mask.use_empty())
    return success();
  FailureOr<SmallVector<Value>> maskDims = emitter.dims(mask, op);
  if (failed(maskDims))
    return failure();
  Expression ones;
  ones.resultModel = elementTypeOf(mask);
  Immediate truth;
  truth.model = ones.resultModel;
  truth.intValue = 1;
  ones.immediates.push_back(truth);
  ones.result = {ExprRef::Immediate, 0};
  FailureOr<Value> launched =
      emitElementwise(op, ones, emitter.storageTensorType(mask), *maskDims, "fill", emitter);
  if (failed(launched))
    return failure();
  emitter.setResult(mask, *launched);
  return success();
}

//===----------------------------------------------------------------------===//
// Rotary embeddings
//===----------------------------------------------------------------------===//

/// Where the cos/sin row of a (batch, position) comes from.
enum class TableKind { Seq, BatchSeq, PositionIds };

struct RotarySpec {
  Value input, cos, sin, positionIds;
  bool interleaved = false;
  bool bshd = false; // ONNX's 3-D input [B, S, H * D]; else [B, H, S, D]
  int64_t heads = 0; // static head count of the 3-D form
  int64_t headDim = 0;
  int64_t rotaryDim = 0;
  TableKind table = TableKind::Seq;
};

/// One warp per row of head_dim elements; 8 rows per block.
constexpr int64_t kRotaryRowsPerBlock = kBlockThreads / 32;

LogicalResult emitRotary(Operation *op, const RotarySpec &spec, KernelEmitter &emitter) {
  Value result = op->getResult(0);
  Value input = emitter.tensor(spec.input);
  Value cos = input ? emitter.tensor(spec.cos) : Value();
  Value sin = cos ? emitter.tensor(spec.sin) : Value();
  Value ids = (sin && spec.positionIds) ? emitter.tensor(spec.positionIds) : Value();
  if (!sin || (spec.positionIds && !ids))
    return failure();
  FailureOr<SmallVector<Value>> inDims = emitter.dims(spec.input, op);
  if (failed(inDims))
    return failure();
  FailureOr<SmallVector<Value>> tableDims = emitter.dims(spec.cos, op);
  if (failed(tableDims))
    return failure();
  SmallVector<Value> &dims = *inDims;

  // Rows are (b, h, s) for [B, H, S, D] and (b, s, h) for [B, S, H*D]: scalars are the row
  // count, S, H, the table's batch size (1 broadcasts) and rows (positions in the cache).
  Value batch = dims[0];
  Value seq = spec.bshd ? dims[1] : dims[2];
  Value heads = spec.bshd ? emitter.index(spec.heads) : dims[1];
  Value rows = emitter.product(ValueRange{batch, heads, seq});
  Value tableBatch = spec.table == TableKind::BatchSeq ? (*tableDims)[0] : emitter.index(1);
  Value tableRows = (*tableDims)[0];

  Type inModel = elementTypeOf(spec.input);
  Type inBuffer = bufferElementType(elementTypeOf(input));
  Type tableBuffer = bufferElementType(elementTypeOf(cos));
  if (elementTypeOf(sin) != elementTypeOf(cos))
    sin = emitter.convert(sin, *tableDims, elementTypeOf(cos));
  // The result's storage type may differ from the input's (rotary tables stay f32).
  RankedTensorType resultType = emitter.storageTensorType(result);
  Type outBuffer = bufferElementType(resultType.getElementType());
  SmallVector<Type> inputTypes = {inBuffer, tableBuffer, tableBuffer};
  SmallVector<Value> hostInputs = {input, cos, sin};
  Type idsModel;
  if (ids) {
    idsModel = elementTypeOf(spec.positionIds);
    inputTypes.push_back(bufferElementType(elementTypeOf(ids)));
    hostInputs.push_back(ids);
  }
  Type tableModel = elementTypeOf(spec.cos);

  std::string name;
  llvm::raw_string_ostream os(name);
  os << "rotary_" << (spec.interleaved ? "interleaved" : "half") << "_"
     << (spec.bshd ? "bshd" : "bhsd") << "_"
     << (spec.table == TableKind::Seq        ? "seq"
         : spec.table == TableKind::BatchSeq ? "batchseq"
                                             : "pos" + typeName(idsModel))
     << "_" << typeName(inModel) << "_" << typeName(inBuffer) << "_" << typeName(tableBuffer)
     << "_" << typeName(outBuffer) << "_d" << spec.headDim << "_r" << spec.rotaryDim;

  unsigned numBuffers = inputTypes.size() + 1;
  BlockSize block = {kBlockThreads, 1, 1};
  int64_t half = spec.rotaryDim / 2;
  int64_t units = half + (spec.headDim - spec.rotaryDim);
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, inputTypes, {outBuffer}, 5, block, [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        Value x = f.getArgument(0), cosTable = f.getArgument(1), sinTable = f.getArgument(2);
        Value positions = ids ? f.getArgument(3) : Value();
        Value out = f.getArgument(numBuffers - 1);
        Value rowCount = scalarArgument(b, loc, f, numBuffers, 0);
        Value seqLen = scalarArgument(b, loc, f, numBuffers, 1);
        Value headCount = scalarArgument(b, loc, f, numBuffers, 2);
        Value tableBatchSize = scalarArgument(b, loc, f, numBuffers, 3);
        Value tableRowCount = scalarArgument(b, loc, f, numBuffers, 4);
        auto ci = [&](OpBuilder &nb, Location nl, int64_t v) { return indexConstant(nb, nl, v); };
        Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
        Value lane = arith::RemUIOp::create(b, loc, thread, ci(b, loc, 32));
        Value warp = arith::DivUIOp::create(b, loc, thread, ci(b, loc, 32));
        Value firstRow = arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                                  ci(b, loc, kRotaryRowsPerBlock)),
            warp);
        Value rowStep = arith::MulIOp::create(
            b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::x),
            ci(b, loc, kRotaryRowsPerBlock));
        scf::ForOp::create(
            b, loc, firstRow, rowCount, rowStep, ValueRange{},
            [&](OpBuilder &rb, Location rl, Value row, ValueRange) {
              // (b, s) of the row.
              Value s, bIndex;
              if (spec.bshd) {
                Value bs = arith::DivUIOp::create(rb, rl, row, headCount);
                s = arith::RemUIOp::create(rb, rl, bs, seqLen);
                bIndex = arith::DivUIOp::create(rb, rl, bs, seqLen);
              } else {
                s = arith::RemUIOp::create(rb, rl, row, seqLen);
                bIndex = arith::DivUIOp::create(
                    rb, rl, row, arith::MulIOp::create(rb, rl, headCount, seqLen));
              }
              Value tableRow;
              Value valid = boolConstant(rb, rl, true);
              if (spec.table == TableKind::PositionIds) {
                Value at = arith::AddIOp::create(
                    rb, rl, arith::MulIOp::create(rb, rl, bIndex, seqLen), s);
                Value position = loadElement(rb, rl, positions, at, rb.getI64Type());
                Value limit = arith::IndexCastOp::create(rb, rl, rb.getI64Type(), tableRowCount);
                // Out-of-range ids (an error in the executor) give NaN instead of a wild read.
                valid = arith::AndIOp::create(
                    rb, rl,
                    cmpi(rb, rl, arith::CmpIPredicate::sge, position,
                         intConstant(rb, rl, rb.getI64Type(), 0)),
                    cmpi(rb, rl, arith::CmpIPredicate::slt, position, limit));
                tableRow = select(rb, rl, valid,
                                  arith::IndexCastOp::create(rb, rl, rb.getIndexType(), position),
                                  ci(rb, rl, 0));
              } else {
                Value tableB = select(
                    rb, rl, cmpi(rb, rl, arith::CmpIPredicate::eq, tableBatchSize, ci(rb, rl, 1)),
                    ci(rb, rl, 0), bIndex);
                tableRow = arith::AddIOp::create(
                    rb, rl, arith::MulIOp::create(rb, rl, tableB, seqLen), s);
              }
              Value rowBase = arith::MulIOp::create(rb, rl, row, ci(rb, rl, spec.headDim));
              Value tableBase = arith::MulIOp::create(rb, rl, tableRow, ci(rb, rl, half));
              scf::ForOp::create(
                  rb, rl, lane, ci(rb, rl, units), ci(rb, rl, 32), ValueRange{},
                  [&](OpBuilder &ub, Location ul, Value u, ValueRange) {
                    Value rotated = cmpi(ub, ul, arith::CmpIPredicate::ult, u, ci(ub, ul, half));
                    auto ifOp = scf::IfOp::create(ub, ul, rotated, /*withElseRegion=*/true);
                    {
                      OpBuilder::InsertionGuard g(ub);
                      ub.setInsertionPointToStart(ifOp.thenBlock());
                      Value first = spec.interleaved
                                        ? arith::MulIOp::create(ub, ul, u, ci(ub, ul, 2)).getResult()
                                        : u;
                      Value second = arith::AddIOp::create(
                          ub, ul, first, ci(ub, ul, spec.interleaved ? 1 : half));
                      Value i1 = arith::AddIOp::create(ub, ul, rowBase, first);
                      Value i2 = arith::AddIOp::create(ub, ul, rowBase, second);
                      Value x1 = loadLeaf(ub, ul, x, i1, inModel);
                      Value x2 = loadLeaf(ub, ul, x, i2, inModel);
                      Value at = arith::AddIOp::create(ub, ul, tableBase, u);
                      Value c = loadLeaf(ub, ul, cosTable, at, tableModel);
                      Value sn = loadLeaf(ub, ul, sinTable, at, tableModel);
                      if (c.getType() != x1.getType()) {
                        c = castScalar(ub, ul, c, tableModel, inModel);
                        sn = castScalar(ub, ul, sn, tableModel, inModel);
                      }
                      if (spec.table == TableKind::PositionIds) {
                        Value nan = floatConstant(ub, ul, c.getType(),
                                                  std::numeric_limits<double>::quiet_NaN());
                        c = select(ub, ul, valid, c, nan);
                        sn = select(ub, ul, valid, sn, nan);
                      }
                      // cos * x1 - sin * x2 and sin * x1 + cos * x2 (the executor's order).
                      Value cx1 = mulf(ub, ul, c, x1), sx2 = mulf(ub, ul, sn, x2);
                      Value y1 = subf(ub, ul, cx1, sx2);
                      Value sx1 = mulf(ub, ul, sn, x1), cx2 = mulf(ub, ul, c, x2);
                      Value y2 = addf(ub, ul, sx1, cx2);
                      storeElement(ub, ul, y1, out, i1);
                      storeElement(ub, ul, y2, out, i2);
                    }
                    {
                      OpBuilder::InsertionGuard g(ub);
                      ub.setInsertionPointToStart(ifOp.elseBlock());
                      Value d = arith::AddIOp::create(ub, ul, u, ci(ub, ul, spec.rotaryDim - half));
                      Value at = arith::AddIOp::create(ub, ul, rowBase, d);
                      storeElement(ub, ul, loadLeaf(ub, ul, x, at, inModel), out, at);
                    }
                    scf::YieldOp::create(ub, ul);
                  });
              scf::YieldOp::create(rb, rl);
            });
      });

  Value blocks = hostMin(emitter, emitter.ceilDiv(rows, kRotaryRowsPerBlock), 65535);
  Value launched =
      emitter
          .launch(kernel, hostInputs, {ResultSpec{resultType, SmallVector<Value>(dims)}},
                  {rows, seq, heads, tableBatch, tableRows},
                  {blocks, emitter.index(1), emitter.index(1)}, block)
          .front();
  emitter.setResult(result, launched);
  return success();
}

/// Static dim `i` of `value`, if known.
std::optional<int64_t> staticDim(KernelEmitter &emitter, Value value, unsigned i) {
  RankedTensorType type = emitter.storageTensorType(value);
  if (i >= type.getRank() || type.isDynamicDim(i))
    return std::nullopt;
  return type.getDimSize(i);
}

LogicalResult lowerKilnRotary(Operation *op, KernelEmitter &emitter) {
  auto rotary = cast<RotaryOp>(op);
  RotarySpec spec;
  spec.input = rotary.getInput();
  spec.cos = rotary.getCos();
  spec.sin = rotary.getSin();
  spec.interleaved = rotary.getStyle() == RotaryStyle::interleaved;
  spec.rotaryDim = static_cast<int64_t>(rotary.getRotaryDim());
  std::optional<int64_t> headDim = staticDim(emitter, spec.input, 3);
  if (!headDim)
    return op->emitError() << "GPU lowering of kiln.rotary: a dynamic head_dim is not supported";
  spec.headDim = *headDim;
  if (spec.rotaryDim > spec.headDim || spec.rotaryDim % 2 != 0 || spec.rotaryDim <= 0)
    return op->emitError() << "GPU lowering of kiln.rotary: dim " << spec.rotaryDim
                           << " must be even, positive and at most head_dim " << spec.headDim;
  int64_t tableRank = cast<RankedTensorType>(spec.cos.getType()).getRank();
  spec.table = tableRank == 2 ? TableKind::Seq : TableKind::BatchSeq;
  if (std::optional<int64_t> width = staticDim(emitter, spec.cos, tableRank - 1);
      width && *width != spec.rotaryDim / 2)
    return op->emitError() << "GPU lowering of kiln.rotary: cos/sin rows hold " << *width
                           << " angles, expected " << spec.rotaryDim / 2;
  return emitRotary(op, spec, emitter);
}

LogicalResult lowerOnnxRotaryEmbedding(Operation *op, KernelEmitter &emitter) {
  auto rotary = cast<OnnxRotaryEmbeddingOp>(op);
  RotarySpec spec;
  spec.input = rotary.getInput();
  spec.cos = rotary.getCosCache();
  spec.sin = rotary.getSinCache();
  spec.positionIds = rotary.getPositionIds();
  spec.interleaved = rotary.getInterleaved() != 0;
  auto inputType = dyn_cast<RankedTensorType>(spec.input.getType());
  auto cosType = dyn_cast<RankedTensorType>(spec.cos.getType());
  if (!inputType || !cosType || !isa<RankedTensorType>(spec.sin.getType()) ||
      (spec.positionIds && !isa<RankedTensorType>(spec.positionIds.getType())))
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": unranked operands are not supported";
  spec.bshd = inputType.getRank() == 3;
  if (spec.bshd) {
    std::optional<int64_t> hidden = staticDim(emitter, spec.input, 2);
    auto numHeads = rotary.getNumHeads();
    if (!hidden || !numHeads || *numHeads <= 0 || *hidden % static_cast<int64_t>(*numHeads))
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": a 3-D input needs a static hidden size divisible by num_heads";
    spec.heads = static_cast<int64_t>(*numHeads);
    spec.headDim = *hidden / spec.heads;
  } else {
    std::optional<int64_t> headDim = staticDim(emitter, spec.input, 3);
    if (!headDim)
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": a dynamic head size is not supported";
    spec.headDim = *headDim;
  }
  spec.rotaryDim = static_cast<int64_t>(rotary.getRotaryEmbeddingDim());
  if (spec.rotaryDim == 0)
    spec.rotaryDim = spec.headDim;
  if (spec.rotaryDim > spec.headDim || spec.rotaryDim % 2 != 0)
    return op->emitError() << "GPU lowering of " << op->getName() << ": rotary_embedding_dim "
                           << spec.rotaryDim << " must be even and at most the head size "
                           << spec.headDim;
  spec.table = spec.positionIds ? TableKind::PositionIds : TableKind::BatchSeq;
  if (cosType.getRank() != (spec.positionIds ? 2 : 3))
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": cos_cache must be [max_position, dim/2] with position_ids, "
                              "[batch, seq, dim/2] without";
  if (std::optional<int64_t> width = staticDim(emitter, spec.cos, cosType.getRank() - 1);
      width && *width != spec.rotaryDim / 2)
    return op->emitError() << "GPU lowering of " << op->getName() << ": cos_cache rows hold "
                           << *width << " angles, expected " << spec.rotaryDim / 2;
  return emitRotary(op, spec, emitter);
}

} // namespace

void populateElementwiseLowerings(KernelLowerings &lowerings) {
  for (StringRef name :
       {"kiln.onnx.Abs",     "kiln.onnx.Add",         "kiln.onnx.And",
        "kiln.onnx.Clip",    "kiln.onnx.Cos",         "kiln.onnx.Div",
        "kiln.onnx.Equal",   "kiln.onnx.Erf",         "kiln.onnx.Exp",
        "kiln.onnx.Greater", "kiln.onnx.GreaterOrEqual", "kiln.onnx.IsNaN",
        "kiln.onnx.Less",    "kiln.onnx.LessOrEqual", "kiln.onnx.Log",
        "kiln.onnx.Max",     "kiln.onnx.Min",         "kiln.onnx.Mod",
        "kiln.onnx.Mul",     "kiln.onnx.Neg",         "kiln.onnx.Not",
        "kiln.onnx.Or",      "kiln.onnx.Pow",         "kiln.onnx.Reciprocal",
        "kiln.onnx.Relu",    "kiln.onnx.Sigmoid",     "kiln.onnx.Sin",
        "kiln.onnx.Sqrt",    "kiln.onnx.Sub",         "kiln.onnx.Tanh",
        "kiln.onnx.Where",   "kiln.gelu",             "kiln.silu",
        "kiln.swiglu"}) {
    assert(isPointwiseName(name) && "pointwise op list out of sync");
    lowerings[name] = lowerPointwise;
  }
  lowerings["kiln.onnx.Identity"] = lowerIdentity;
  lowerings["kiln.onnx.Dropout"] = lowerDropout;
  lowerings["kiln.rotary"] = lowerKilnRotary;
  lowerings["kiln.onnx.RotaryEmbedding"] = lowerOnnxRotaryEmbedding;
}

} // namespace kiln::gpu_codegen
