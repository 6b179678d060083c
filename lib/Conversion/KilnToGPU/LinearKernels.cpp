//===- LinearKernels.cpp - GEMM templates: linear, MatMul, Gemm, Einsum ---===//
//
// Every contraction lowers to one launch of a GEMM kernel
//
//   Y[z, m, n] = epilogue(sum_k A[z, m, k] * B[z, k, n]),   z over the batch dims,
//
// where A is read at `aOff(z) + m * lda + k` (or `k * lda + m` for Gemm's transA), B at
// `bOff(z) + n * ldb + k` ("NT": kiln.linear's [N, K] weights, Gemm transB, a 1-D MatMul B)
// or `k * ldb + n` ("NN": MatMul), and Y is a fresh contiguous [batch, M, N] buffer. The
// epilogue is `act(alpha * acc + beta * C[m * cs0 + n * cs1]) + residual[m * N + n]`
// (kiln.linear: C is the bias with cs0 = 0, cs1 = 1; Gemm: alpha, beta and its broadcast C).
// Products accumulate in f32 (f64 for f64 tensors, the element type with wrap-around for
// integers) and are rounded once to the storage type when stored.
//
// Three kernels, chosen at compile time:
//  - tensor cores (f16/bf16 storage): mma.sync m16n8k16 with f32 accumulators. A block
//    computes a BMxBN tile (128x128 with 8 warps of 64x32, or 64x64 with 4 warps of 32x32),
//    staging BK=32 slices of A and B in shared memory through a 4-stage cp.async pipeline
//    (one barrier per slice). Tiles are stored in 16-byte chunks XOR-swizzled by row, so
//    that ldmatrix (x4; .trans for an NN B tile) and the cp.async writes are free of bank
//    conflicts. Operands whose contiguous dim is not 16-byte divisible (or Gemm's transA) are
//    loaded with plain guarded loads into the same layout instead of cp.async. The epilogue
//    runs on the accumulators and stores pairs of columns.
//  - SIMT (f32, and everything else: f64, integers, KILN_GEMM=simt): a BMxBN tile per block
//    of 256 threads (128x128 with 8x8 per thread, or 64x64 with 4x4), BK slices in shared
//    memory stored k-major ([k][m], [k][n]), double-buffered through registers (global loads
//    of slice k+1 are in flight while slice k is multiplied), one barrier per slice; fp32
//    FMA (llvm.intr.fma: no tf32, one rounding per product).
//  - GEMV (M <= 8, NT layout: decode): a block of 8 warps computes 2 or 4 output columns for
//    all M rows; each lane streams 16-byte vectors of the weight rows (HBM-bound) and of the
//    input rows, then warp shuffles and shared memory reduce the partial sums and one thread
//    per output applies the epilogue.
// The GEMV kernel is used as such when M is static. M is usually a run-time value (the
// sequence length, a batch): the plan has no branches, so for an NT product with a dynamic M
// the GEMM kernel also contains the GEMV path (8 rows, those past M zero) and takes it when
// M <= 8; the host sizes the grid for the path M takes ("gemv8..." in the name).
//
// Kernel ABI (after the buffers A, B, [C], [residual], Y): i64 scalars M, N, K, lda, ldb,
// [cs0, cs1], then per batch dim its size and the A and B strides (0 where the operand
// broadcasts). One grid dim: x = batch * (M tiles) * (N tiles), tiles in groups of 8 rows of
// tiles that walk the columns together (L2 reuse); GEMV: batch * (column groups).
// Where the contiguous dim of an operand is not known to be a multiple of the vector width
// (16 bytes) at compile time, the kernel checks it (and the strides) at run time and runs a
// version with element loads when it is not ("c" in the kernel name). Buffers are assumed
// 16-byte aligned (arena offsets are 256-byte aligned; views alias whole buffers).
//
// The environment variable KILN_GEMM, read when the op is lowered, is a comma-separated
// list: `simt` disables the tensor-core kernel (f16/bf16 use the SIMT kernel), `nogemv`
// disables the GEMV kernel and path, `tc=BMxBNxBKwWMxWNsS` and `simt-tile=BMxBNxBKrTMxTN`
// force a tile shape (for tuning on the GPU), e.g. KILN_GEMM=tc=128x256x32w2x4s3.
//
//===----------------------------------------------------------------------===//

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <map>

using namespace mlir;

namespace kiln::gpu_codegen {
namespace {

constexpr int64_t kDynamic = ShapedType::kDynamic;
/// Largest static M that takes the GEMV kernel.
constexpr int64_t kGemvMaxRows = 8;
/// Rows of tiles that a group of GEMM blocks walks the columns with (block ordering).
constexpr int64_t kGroupM = 8;

//===----------------------------------------------------------------------===//
// Device-side index arithmetic
//===----------------------------------------------------------------------===//

/// Index arithmetic that folds constants (the kernels mix static and run-time sizes).
class Ix {
public:
  Ix(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value c(int64_t value) { return arith::ConstantIndexOp::create(b, loc, value); }
  Value add(Value x, Value y) {
    auto cx = getConstantIntValue(x), cy = getConstantIntValue(y);
    if (cx && cy)
      return c(*cx + *cy);
    if (cx == 0)
      return y;
    if (cy == 0)
      return x;
    return arith::AddIOp::create(b, loc, x, y);
  }
  Value add(Value x, int64_t y) { return add(x, c(y)); }
  Value mul(Value x, Value y) {
    auto cx = getConstantIntValue(x), cy = getConstantIntValue(y);
    if (cx && cy)
      return c(*cx * *cy);
    if (cx == 0 || cy == 0)
      return c(0);
    if (cx == 1)
      return y;
    if (cy == 1)
      return x;
    return arith::MulIOp::create(b, loc, x, y);
  }
  Value mul(Value x, int64_t y) { return mul(x, c(y)); }
  Value div(Value x, int64_t y) {
    if (auto cx = getConstantIntValue(x))
      return c(*cx / y);
    if (y == 1)
      return x;
    return arith::DivUIOp::create(b, loc, x, c(y));
  }
  Value rem(Value x, int64_t y) {
    if (auto cx = getConstantIntValue(x))
      return c(*cx % y);
    if (y == 1)
      return c(0);
    return arith::RemUIOp::create(b, loc, x, c(y));
  }
  Value rem(Value x, Value y) {
    if (auto cy = getConstantIntValue(y))
      return rem(x, *cy);
    return arith::RemUIOp::create(b, loc, x, y);
  }
  Value ceilDiv(Value x, int64_t y) {
    if (auto cx = getConstantIntValue(x))
      return c((*cx + y - 1) / y);
    return arith::CeilDivUIOp::create(b, loc, x, c(y));
  }
  Value bitXor(Value x, Value y) {
    if (getConstantIntValue(y) == 0)
      return x;
    return arith::XOrIOp::create(b, loc, x, y);
  }
  /// x < y (unsigned).
  Value lt(Value x, Value y) {
    auto cx = getConstantIntValue(x), cy = getConstantIntValue(y);
    if (cx && cy)
      return arith::ConstantIntOp::create(b, loc, *cx < *cy, 1);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value lt(Value x, int64_t y) { return lt(x, c(y)); }
  Value both(Value p, Value q) {
    if (auto cp = getConstantIntValue(p))
      return *cp ? q : p;
    if (auto cq = getConstantIntValue(q))
      return *cq ? p : q;
    return arith::AndIOp::create(b, loc, p, q);
  }
  /// x % multiple == 0.
  Value isMultiple(Value x, int64_t multiple) {
    if (auto cx = getConstantIntValue(x))
      return arith::ConstantIntOp::create(b, loc, *cx % multiple == 0, 1);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rem(x, multiple), c(0));
  }
  Value select(Value p, Value x, Value y) {
    if (auto cp = getConstantIntValue(p))
      return *cp ? x : y;
    return arith::SelectOp::create(b, loc, p, x, y);
  }

private:
  OpBuilder &b;
  Location loc;
};

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

/// x * y + z with one rounding: llvm.intr.fma (fma.rn.f32), which kiln-approximate-math
/// leaves alone (it expands math.fma into a multiply and an add).
Value fma(OpBuilder &b, Location loc, Value x, Value y, Value z) {
  return LLVM::FMAOp::create(b, loc, x, y, z, LLVM::FastmathFlagsAttr());
}

/// Zero of a scalar or vector type.
Value zeroOf(OpBuilder &b, Location loc, Type type) {
  return arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
}

Type workgroupMemRef(ArrayRef<int64_t> shape, Type elementType) {
  auto space = gpu::AddressSpaceAttr::get(elementType.getContext(), gpu::AddressSpace::Workgroup);
  return MemRefType::get(shape, elementType, MemRefLayoutAttrInterface(), space);
}

/// The kernel's dynamic shared memory as a 1-D memref of `elements` x `elementType`.
Value sharedBuffer(OpBuilder &b, Location loc, Type elementType, int64_t elements) {
  Value raw = gpu::DynamicSharedMemoryOp::create(
      b, loc, cast<MemRefType>(workgroupMemRef({kDynamic}, b.getI8Type())));
  auto type = cast<MemRefType>(workgroupMemRef({elements}, elementType));
  return memref::ViewOp::create(b, loc, type, raw, arith::ConstantIndexOp::create(b, loc, 0),
                                ValueRange{});
}

int64_t byteWidth(Type type) {
  return static_cast<int64_t>(llvm::divideCeil(type.getIntOrFloatBitWidth(), 8));
}

/// Loads `vec` consecutive elements at `index` (a vector when vec > 1), or zeros where
/// `valid` is false. The address is clamped to 0 when invalid so that the load itself is
/// always in bounds (callers only load from non-empty buffers) and needs no branch.
Value guardedLoad(OpBuilder &b, Location loc, Value buffer, Value index, Value valid, int64_t vec) {
  Ix ix(b, loc);
  Type elementType = cast<MemRefType>(buffer.getType()).getElementType();
  Value safe = ix.select(valid, index, ix.c(0));
  Value loaded;
  if (vec == 1) {
    loaded = memref::LoadOp::create(b, loc, buffer, ValueRange{safe});
  } else {
    auto type = VectorType::get({vec}, elementType);
    loaded = vector::LoadOp::create(b, loc, type, buffer, ValueRange{safe}, false,
                                    llvm::MaybeAlign(vec * byteWidth(elementType)));
  }
  if (auto always = getConstantIntValue(valid); always && *always)
    return loaded;
  return arith::SelectOp::create(b, loc, valid, loaded, zeroOf(b, loc, loaded.getType()));
}

/// Alignment of a vector of `count` elements at an index multiple of `count` in shared
/// memory: the dynamic shared memory base is only 16-byte aligned.
uint64_t sharedAlignment(int64_t count, Type elementType) {
  return static_cast<uint64_t>(std::min<int64_t>(16, count * byteWidth(elementType)));
}

/// Element `i` of a value loaded by guardedLoad.
Value elementOf(OpBuilder &b, Location loc, Value loaded, int64_t i) {
  if (!isa<VectorType>(loaded.getType()))
    return loaded;
  return vector::ExtractOp::create(b, loc, loaded, ArrayRef<int64_t>{i});
}

//===----------------------------------------------------------------------===//
// The GEMM problem and its kernel parameters
//===----------------------------------------------------------------------===//

enum class GemmKind { TensorCore, Simt, Gemv, DecodeGemv };

/// Tile shape of a tensor-core kernel.
struct TensorCoreTile {
  int64_t bm, bn, bk, warpsM, warpsN, stages;
  int64_t threads() const { return 32 * warpsM * warpsN; }
  int64_t warpM() const { return bm / warpsM; }
  int64_t warpN() const { return bn / warpsN; }
};
constexpr TensorCoreTile kTensorCoreLarge = {128, 128, 32, 2, 4, 4};
constexpr TensorCoreTile kTensorCoreSmall = {64, 64, 32, 2, 2, 4};

/// Tile shape of a SIMT kernel: BMxBN per block, TMxTN per thread.
struct SimtTile {
  int64_t bm, bn, bk, tm, tn;
  int64_t threads() const { return (bm / tm) * (bn / tn); }
};
constexpr SimtTile kSimtLarge = {128, 128, 8, 8, 8};
constexpr SimtTile kSimtSmall = {64, 64, 16, 4, 4};
/// Padding of the SIMT shared-memory rows (keeps 16-byte alignment, spreads the transposed
/// stores over banks).
constexpr int64_t kSimtPad = 4;

constexpr int64_t kGemvWarps = 8;
constexpr int64_t kGemvUnroll = 2;
/// Decode GEMV: warps per block (each owns its columns), rows per row group, and the most
/// K steps whose loads are in flight at once for a single row and for a group of rows.
constexpr int64_t kDecodeGemvWarps = 4;
constexpr int64_t kDecodeGemvRows = 4;
constexpr int64_t kDecodeGemvUnrollGroup = 2;

/// Everything a GEMM kernel body depends on (its name encodes all of it).
struct GemmSpec {
  GemmKind kind = GemmKind::Simt;
  /// Element type of A, B, C, the residual and Y on the device.
  Type storage;
  /// What products accumulate in: f32, f64, or the integer element type.
  Type acc;
  bool aKContig = true; // A(m, k) at m * lda + k, else at k * lda + m
  bool bKContig = true; // B(k, n) at n * ldb + k, else at k * ldb + n
  /// Elements per global access along the contiguous dim (the static sizes, strides and
  /// offsets are multiples of it).
  int64_t vecA = 1, vecB = 1;
  /// Whether vecA/vecB hold only where a run-time check of the sizes, strides and batch
  /// offsets says so (the kernel falls back to element loads elsewhere).
  bool checkA = false, checkB = false;
  /// Static sizes (kDynamic: the scalar parameter is used).
  int64_t m = kDynamic, n = kDynamic, k = kDynamic, lda = kDynamic, ldb = kDynamic;
  double alpha = 1.0, beta = 1.0;
  bool hasAddend = false, hasResidual = false;
  Activation activation = Activation::none;
  unsigned batchDims = 0;
  /// A GEMM kernel that takes a GEMV path when M <= kGemvMaxRows at run time.
  bool smallM = false;
  /// Elements per global access of the GEMV path (both operands, unchecked), and of the
  /// decode GEMV (both operands; checked at run time where checkA/checkB say so).
  int64_t gemvVec = 1;
  TensorCoreTile tc = kTensorCoreLarge;
  SimtTile simt = kSimtLarge;
  /// Output columns of a GEMV block (a decode GEMV warp).
  int64_t gemvCols = 4;
  /// Decode GEMV: full K steps loaded at once for a single row and for a group of rows.
  int64_t decodeUnrollRow = 1, decodeUnrollGroup = 1;

  unsigned numInputs() const { return 2 + hasAddend + hasResidual; }
  unsigned numBuffers() const { return numInputs() + 1; }
  unsigned numScalars() const { return 5 + (hasAddend ? 2 : 0) + 3 * batchDims; }
  int64_t threads() const {
    switch (kind) {
    case GemmKind::TensorCore:
      return tc.threads();
    case GemmKind::Simt:
      return simt.threads();
    case GemmKind::Gemv:
      return 32 * kGemvWarps;
    case GemmKind::DecodeGemv:
      return 32 * kDecodeGemvWarps;
    }
    return 0;
  }
  int64_t tileM() const {
    switch (kind) {
    case GemmKind::TensorCore:
      return tc.bm;
    case GemmKind::Simt:
      return simt.bm;
    case GemmKind::Gemv:
      return m;
    case GemmKind::DecodeGemv:
      return kDecodeGemvRows;
    }
    return 1;
  }
  int64_t tileN() const {
    switch (kind) {
    case GemmKind::TensorCore:
      return tc.bn;
    case GemmKind::Simt:
      return simt.bn;
    case GemmKind::Gemv:
      return gemvCols;
    case GemmKind::DecodeGemv:
      return gemvCols * kDecodeGemvWarps;
    }
    return 1;
  }
  int64_t sharedBytes() const {
    switch (kind) {
    case GemmKind::TensorCore:
      return tc.stages * (tc.bm + tc.bn) * tc.bk * byteWidth(storage);
    case GemmKind::Simt:
      return 2 * simt.bk * (simt.bm + simt.bn + 2 * kSimtPad) * byteWidth(acc);
    case GemmKind::Gemv:
      return kGemvWarps * m * gemvCols * byteWidth(acc);
    case GemmKind::DecodeGemv:
      return 0;
    }
    return 0;
  }

  std::string name() const {
    std::string text;
    llvm::raw_string_ostream os(text);
    auto size = [&](int64_t value) {
      if (value == kDynamic)
        os << "x";
      else
        os << value;
    };
    auto bits = [&](double value) {
      os << llvm::format_hex_no_prefix(llvm::bit_cast<uint64_t>(value), 16);
    };
    switch (kind) {
    case GemmKind::TensorCore:
      os << "gemm_tc_";
      break;
    case GemmKind::Simt:
      os << "gemm_simt_";
      break;
    case GemmKind::Gemv:
      os << "gemv_";
      break;
    case GemmKind::DecodeGemv:
      os << "gemv_decode_";
      break;
    }
    os << typeName(storage) << "_" << (aKContig ? "k" : "m") << (bKContig ? "k" : "n");
    if (kind == GemmKind::Gemv) {
      os << "_M";
      size(m);
    }
    os << "_N";
    size(n);
    os << "_K";
    size(k);
    os << "_lda";
    size(lda);
    os << "_ldb";
    size(ldb);
    os << "_v" << vecA << (checkA ? "c" : "") << "x" << vecB << (checkB ? "c" : "");
    switch (kind) {
    case GemmKind::TensorCore:
      os << "_t" << tc.bm << "x" << tc.bn << "x" << tc.bk << "w" << tc.warpsM << "x" << tc.warpsN
         << "s" << tc.stages;
      break;
    case GemmKind::Simt:
      os << "_t" << simt.bm << "x" << simt.bn << "x" << simt.bk << "r" << simt.tm << "x" << simt.tn;
      break;
    case GemmKind::Gemv:
      os << "_c" << gemvCols;
      break;
    case GemmKind::DecodeGemv:
      os << "_c" << gemvCols << "w" << kDecodeGemvWarps << "r" << kDecodeGemvRows << "u"
         << decodeUnrollRow << "x" << decodeUnrollGroup;
      break;
    }
    if (alpha != 1.0) {
      os << "_alpha";
      bits(alpha);
    }
    if (hasAddend) {
      os << "_add";
      if (beta != 1.0) {
        os << "_beta";
        bits(beta);
      }
    }
    if (activation != Activation::none)
      os << "_" << stringifyActivation(activation);
    if (hasResidual)
      os << "_res";
    if (batchDims)
      os << "_b" << batchDims;
    if (smallM)
      os << "_gemv" << kGemvMaxRows << "c" << gemvCols << "v" << gemvVec;
    return text;
  }
};

/// Device values of a GEMM kernel: buffers, sizes, and the offsets of the current batch.
struct GemmArgs {
  Value a, b, addend, residual, y;
  Value m, n, k, lda, ldb, cs0, cs1;
  Value aOff, bOff, yOff;
  /// The block's tile of Y: rows blockM * tileM.., cols blockN * tileN...
  Value blockM, blockN;
  /// False (a constant) in the version of the kernel for misaligned A or B: their pieces are
  /// read element by element (null: aligned).
  Value alignedA, alignedB;
};

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

/// kiln.linear's activation, computed in f32 as the CPU executor does it.
Value activate(OpBuilder &b, Location loc, Value x, Activation activation) {
  Type type = x.getType();
  auto constant = [&](double value) { return floatConstant(b, loc, type, value); };
  switch (activation) {
  case Activation::none:
    return x;
  case Activation::relu: {
    // NaN stays NaN (ONNX Relu): `ugt` holds for unordered operands.
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x, constant(0.0));
    return arith::SelectOp::create(b, loc, positive, x, constant(0.0));
  }
  case Activation::gelu_erf: {
    // 0.5 * x * (1 + erf(x * sqrt(1/2)))
    Value scaled = arith::MulFOp::create(b, loc, x, constant(0.7071067811865476));
    Value erf = math::ErfOp::create(b, loc, scaled);
    Value onePlus = arith::AddFOp::create(b, loc, constant(1.0), erf);
    Value half = arith::MulFOp::create(b, loc, constant(0.5), x);
    return arith::MulFOp::create(b, loc, half, onePlus);
  }
  case Activation::gelu_tanh: {
    // (x * 0.5) * (tanh((x + x^3 * 0.044715) * sqrt(2/pi)) + 1), the exporters' order.
    Value square = arith::MulFOp::create(b, loc, x, x);
    Value cube = arith::MulFOp::create(b, loc, square, x);
    Value inner =
        arith::AddFOp::create(b, loc, x, arith::MulFOp::create(b, loc, cube, constant(0.044715)));
    Value tanh = math::TanhOp::create(
        b, loc, arith::MulFOp::create(b, loc, inner, constant(0.7978845608028654)));
    Value half = arith::MulFOp::create(b, loc, x, constant(0.5));
    return arith::MulFOp::create(b, loc, half, arith::AddFOp::create(b, loc, tanh, constant(1.0)));
  }
  case Activation::silu: {
    // x * sigmoid(x); sigmoid as 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) otherwise
    // (exp never overflows), e = exp(-|x|).
    Value e =
        math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x)));
    Value denominator = arith::AddFOp::create(b, loc, constant(1.0), e);
    Value nonNegative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, x, constant(0.0));
    Value numerator = arith::SelectOp::create(b, loc, nonNegative, constant(1.0), e);
    Value sigmoid = arith::DivFOp::create(b, loc, numerator, denominator);
    return arith::MulFOp::create(b, loc, x, sigmoid);
  }
  }
  return x;
}

void guarded(OpBuilder &b, Location loc, Value condition,
             function_ref<void(OpBuilder &, Location)> body);

/// The final value of output element (row, col) of the current batch, from its accumulated
/// value (in the accumulator type).
Value finishOutput(OpBuilder &b, Location loc, const GemmSpec &spec, const GemmArgs &args,
                   Value acc, Value row, Value col) {
  Ix ix(b, loc);
  Type type = spec.acc;
  bool isFloat = isa<FloatType>(type);
  auto scale = [&](Value value, double factor) -> Value {
    if (factor == 1.0)
      return value;
    if (isFloat)
      return arith::MulFOp::create(b, loc, value, floatConstant(b, loc, type, factor));
    Value constant = arith::ConstantOp::create(
        b, loc, type, b.getIntegerAttr(type, static_cast<int64_t>(factor)));
    return arith::MulIOp::create(b, loc, value, constant);
  };
  auto plus = [&](Value x, Value y) -> Value {
    if (isFloat)
      return arith::AddFOp::create(b, loc, x, y);
    return arith::AddIOp::create(b, loc, x, y);
  };
  Value value = scale(acc, spec.alpha);
  if (spec.hasAddend) {
    Value index = ix.add(ix.mul(row, args.cs0), ix.mul(col, args.cs1));
    Value addend = loadElement(b, loc, args.addend, index, type);
    value = plus(value, scale(addend, spec.beta));
  }
  if (spec.activation != Activation::none)
    value = activate(b, loc, value, spec.activation);
  if (spec.hasResidual)
    value = plus(value, loadElement(b, loc, args.residual, ix.add(ix.mul(row, args.n), col), type));
  return value;
}

/// Finishes and stores output elements (row, col + i) of the current batch, i < acc.size(),
/// skipping those outside Y. When N is static and a multiple of the run length (and col is
/// a multiple too, which callers guarantee), the run is all inside or all outside and goes to
/// memory as one vector store.
void storeOutputs(OpBuilder &b, Location loc, const GemmSpec &spec, const GemmArgs &args,
                  ArrayRef<Value> acc, Value row, Value col) {
  Ix ix(b, loc);
  int64_t count = acc.size();
  bool vectorized = count > 1 && spec.n != kDynamic && spec.n % count == 0;
  if (vectorized) {
    guarded(
        b, loc, ix.both(ix.lt(row, args.m), ix.lt(col, args.n)), [&](OpBuilder &b, Location loc) {
          Ix ix(b, loc);
          SmallVector<Value> values;
          for (int64_t i = 0; i < count; ++i)
            values.push_back(
                convertScalar(b, loc, finishOutput(b, loc, spec, args, acc[i], row, ix.add(col, i)),
                              spec.storage));
          auto type = VectorType::get({count}, spec.storage);
          Value vector = vector::FromElementsOp::create(b, loc, type, values);
          Value index = ix.add(args.yOff, ix.add(ix.mul(row, args.n), col));
          vector::StoreOp::create(
              b, loc, vector, args.y, ValueRange{index}, false,
              llvm::MaybeAlign(std::min<int64_t>(16, count * byteWidth(spec.storage))));
        });
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    Value c = ix.add(col, i);
    guarded(b, loc, ix.both(ix.lt(row, args.m), ix.lt(c, args.n)), [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      Value value = finishOutput(b, loc, spec, args, acc[i], row, c);
      storeElement(b, loc, value, args.y, ix.add(args.yOff, ix.add(ix.mul(row, args.n), c)));
    });
  }
}

//===----------------------------------------------------------------------===//
// Staging operand tiles in shared memory
//===----------------------------------------------------------------------===//

/// A tile of one operand in global memory, seen along its contiguous ("inner") dim: element
/// (o, i) of the tile is at `base + (outer0 + o) * ld + inner0 + i` and exists where
/// outer0 + o < outerLimit and inner0 + i < innerLimit. `vec` divides innerSize; it divides
/// innerLimit, ld and base too (a `vec`-wide piece is entirely inside or outside the matrix,
/// and aligned) where `aligned` holds: always when `aligned` is null, else where that run-time
/// predicate is true (pieces are read element by element where it is false).
struct GlobalTile {
  Value buffer, base, ld;
  Value outer0, outerLimit, inner0, innerLimit;
  int64_t outerSize, innerSize, vec;
  Value aligned = Value();
};

/// One `vec`-wide piece of a tile that a thread moves: tile element (o, i) onwards.
struct Piece {
  Value o, i;
  /// False for the pieces past the end of the tile in a last partial round (null when every
  /// thread has a piece).
  Value taken;
  /// The piece's row is inside the matrix (and taken).
  Value rowValid;
  /// The piece's first element is inside the matrix (and taken).
  Value valid;
};

/// Walks the tile in `vec`-wide pieces spread over `threads` threads (consecutive threads
/// take consecutive pieces of a row: coalesced reads): body(piece) for each piece of thread
/// `tid`.
void forEachPiece(OpBuilder &b, Location loc, const GlobalTile &tile, Value tid, int64_t threads,
                  function_ref<void(OpBuilder &, Location, const Piece &)> body) {
  Ix ix(b, loc);
  int64_t perRow = tile.innerSize / tile.vec;
  int64_t pieces = tile.outerSize * perRow;
  for (int64_t round = 0; round * threads < pieces; ++round) {
    Value q = ix.add(tid, round * threads);
    Piece piece;
    piece.taken = (round + 1) * threads <= pieces ? Value() : ix.lt(q, pieces);
    piece.o = ix.div(q, perRow);
    piece.i = ix.mul(ix.rem(q, perRow), tile.vec);
    piece.rowValid = ix.lt(ix.add(tile.outer0, piece.o), tile.outerLimit);
    if (piece.taken)
      piece.rowValid = ix.both(piece.rowValid, piece.taken);
    piece.valid = ix.both(piece.rowValid, ix.lt(ix.add(tile.inner0, piece.i), tile.innerLimit));
    body(b, loc, piece);
  }
}

/// Runs `body` under scf.if (`condition`), or directly when `condition` is null or true
/// (never when it is false).
void guarded(OpBuilder &b, Location loc, Value condition,
             function_ref<void(OpBuilder &, Location)> body) {
  std::optional<int64_t> known = condition ? getConstantIntValue(condition) : std::nullopt;
  if (!condition || (known && *known)) {
    body(b, loc);
    return;
  }
  if (known)
    return;
  scf::IfOp::create(b, loc, condition, [&](OpBuilder &b, Location loc) {
    body(b, loc);
    scf::YieldOp::create(b, loc);
  });
}

Value globalIndex(Ix &ix, const GlobalTile &tile, Value o, Value i) {
  return ix.add(tile.base, ix.add(ix.mul(ix.add(tile.outer0, o), tile.ld), ix.add(tile.inner0, i)));
}

/// Loads a piece element by element (any alignment; elements past innerLimit are zeros).
Value loadPieceElements(OpBuilder &b, Location loc, const GlobalTile &tile, const Piece &piece,
                        Value enabled) {
  Ix ix(b, loc);
  SmallVector<Value> elements;
  for (int64_t e = 0; e < tile.vec; ++e) {
    Value i = ix.add(piece.i, e);
    Value valid = ix.both(piece.rowValid, ix.lt(ix.add(tile.inner0, i), tile.innerLimit));
    if (enabled)
      valid = ix.both(valid, enabled);
    elements.push_back(
        guardedLoad(b, loc, tile.buffer, globalIndex(ix, tile, piece.o, i), valid, 1));
  }
  if (tile.vec == 1)
    return elements.front();
  auto type = VectorType::get({tile.vec}, elements.front().getType());
  return vector::FromElementsOp::create(b, loc, type, elements);
}

enum class LoadMode {
  /// One (aligned) vector load per piece where the tile says so at run time, else loads
  /// element by element.
  Checked,
  /// Element by element.
  Elements,
};

/// Loads this thread's pieces of `tile` into registers: zeros outside the matrix, and
/// everywhere when `enabled` (if given) is false.
SmallVector<Value> loadPieces(OpBuilder &b, Location loc, const GlobalTile &tile, Value tid,
                              int64_t threads, Value enabled = Value(),
                              LoadMode mode = LoadMode::Checked) {
  SmallVector<Value> pieces;
  forEachPiece(b, loc, tile, tid, threads, [&](OpBuilder &b, Location loc, const Piece &piece) {
    Ix ix(b, loc);
    if (mode == LoadMode::Elements) {
      pieces.push_back(loadPieceElements(b, loc, tile, piece, enabled));
      return;
    }
    Value valid = enabled ? ix.both(piece.valid, enabled) : piece.valid;
    auto vectorLoad = [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      return guardedLoad(b, loc, tile.buffer, globalIndex(ix, tile, piece.o, piece.i), valid,
                         tile.vec);
    };
    if (!tile.aligned) {
      pieces.push_back(vectorLoad(b, loc));
      return;
    }
    if (auto known = getConstantIntValue(tile.aligned)) {
      pieces.push_back(*known ? vectorLoad(b, loc)
                              : loadPieceElements(b, loc, tile, piece, enabled));
      return;
    }
    auto choice = scf::IfOp::create(
        b, loc, tile.aligned,
        [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, vectorLoad(b, loc)); },
        [&](OpBuilder &b, Location loc) {
          scf::YieldOp::create(b, loc, loadPieceElements(b, loc, tile, piece, enabled));
        });
    pieces.push_back(choice.getResult(0));
  });
  return pieces;
}

/// Where element (o, i) of a tile goes in shared memory.
using SharedIndex = function_ref<Value(Ix &, Value o, Value i)>;

/// Stores pieces loaded by loadPieces into shared memory, converted to its element type:
/// as one vector where `contiguous` says that a piece's elements are consecutive in shared
/// memory too, else element by element.
void storePieces(OpBuilder &b, Location loc, const GlobalTile &tile, Value tid, int64_t threads,
                 ArrayRef<Value> pieces, Value shared, SharedIndex sharedIndex, bool contiguous) {
  Type sharedType = cast<MemRefType>(shared.getType()).getElementType();
  unsigned next = 0;
  forEachPiece(b, loc, tile, tid, threads, [&](OpBuilder &b, Location loc, const Piece &where) {
    Value piece = pieces[next++];
    Value o = where.o, i = where.i;
    guarded(b, loc, where.taken, [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      if (contiguous && tile.vec > 1) {
        auto type = VectorType::get({tile.vec}, sharedType);
        Value converted = piece;
        if (type != piece.getType())
          converted = arith::ExtFOp::create(b, loc, type, piece);
        vector::StoreOp::create(b, loc, converted, shared, ValueRange{sharedIndex(ix, o, i)}, false,
                                llvm::MaybeAlign(sharedAlignment(tile.vec, sharedType)));
        return;
      }
      for (int64_t e = 0; e < tile.vec; ++e) {
        Value element = convertScalar(b, loc, elementOf(b, loc, piece, e), sharedType);
        memref::StoreOp::create(b, loc, element, shared,
                                ValueRange{sharedIndex(ix, o, ix.add(i, e))});
      }
    });
  });
}

/// Copies a tile into shared memory without changing the element type: with cp.async
/// (zero-filled outside the matrix) when `async` (and the tile is aligned at run time, if it
/// asks), else with loads and stores.
void copyTile(OpBuilder &b, Location loc, const GlobalTile &tile, Value tid, int64_t threads,
              Value shared, SharedIndex sharedIndex, bool async, bool contiguous) {
  if (!async) {
    SmallVector<Value> pieces = loadPieces(b, loc, tile, tid, threads);
    storePieces(b, loc, tile, tid, threads, pieces, shared, sharedIndex, contiguous);
    return;
  }
  Type elementType = cast<MemRefType>(tile.buffer.getType()).getElementType();
  bool bypassL1 = tile.vec * byteWidth(elementType) == 16;
  auto asyncCopies = [&](OpBuilder &b, Location loc) {
    forEachPiece(b, loc, tile, tid, threads, [&](OpBuilder &b, Location loc, const Piece &piece) {
      guarded(b, loc, piece.taken, [&](OpBuilder &b, Location loc) {
        Ix ix(b, loc);
        // Outside the matrix: no bytes are read (src-size 0), the bytes in
        // shared memory are zeroed; the address still points into the buffer.
        Value source = ix.select(piece.valid, globalIndex(ix, tile, piece.o, piece.i), ix.c(0));
        Value sourceElements = ix.select(piece.valid, ix.c(tile.vec), ix.c(0));
        nvgpu::DeviceAsyncCopyOp::create(b, loc, shared,
                                         ValueRange{sharedIndex(ix, piece.o, piece.i)}, tile.buffer,
                                         ValueRange{source}, b.getIndexAttr(tile.vec),
                                         sourceElements, bypassL1 ? b.getUnitAttr() : UnitAttr());
      });
    });
  };
  auto elementCopies = [&](OpBuilder &b, Location loc) {
    SmallVector<Value> pieces = loadPieces(b, loc, tile, tid, threads, Value(), LoadMode::Elements);
    storePieces(b, loc, tile, tid, threads, pieces, shared, sharedIndex, contiguous);
  };
  if (!tile.aligned) {
    asyncCopies(b, loc);
    return;
  }
  if (auto known = getConstantIntValue(tile.aligned)) {
    if (*known)
      asyncCopies(b, loc);
    else
      elementCopies(b, loc);
    return;
  }
  scf::IfOp::create(
      b, loc, tile.aligned,
      [&](OpBuilder &b, Location loc) {
        asyncCopies(b, loc);
        scf::YieldOp::create(b, loc);
      },
      [&](OpBuilder &b, Location loc) {
        SmallVector<Value> pieces =
            loadPieces(b, loc, tile, tid, threads, Value(), LoadMode::Elements);
        storePieces(b, loc, tile, tid, threads, pieces, shared, sharedIndex, contiguous);
        scf::YieldOp::create(b, loc);
      });
}

/// Offset of element (row, col) of a [rows][cols] tile of 16-bit elements in shared memory:
/// rows are stored in 16-byte chunks whose index is XORed with a function of the row, so
/// that the 8 row addresses of an ldmatrix 8x8 matrix (and the cp.async writes) fall into 8
/// different 16-byte bank groups.
Value swizzle(Ix &ix, Value row, Value col, int64_t cols) {
  int64_t chunks = cols / 8;
  int64_t rowsPerLine = std::max<int64_t>(1, 8 / chunks);
  int64_t period = std::min<int64_t>(8, chunks);
  Value pattern = ix.rem(ix.div(row, rowsPerLine), period);
  Value chunk = ix.bitXor(ix.div(col, 8), pattern);
  return ix.add(ix.mul(row, cols), ix.add(ix.mul(chunk, 8), ix.rem(col, 8)));
}

/// The bm x bk tile of A at (m0, k0), along A's contiguous dim.
GlobalTile tileOfA(const GemmSpec &spec, const GemmArgs &args, Value m0, Value k0, int64_t bm,
                   int64_t bk) {
  GlobalTile tile =
      spec.aKContig
          ? GlobalTile{args.a, args.aOff, args.lda, m0, args.m, k0, args.k, bm, bk, spec.vecA}
          : GlobalTile{args.a, args.aOff, args.lda, k0, args.k, m0, args.m, bk, bm, spec.vecA};
  tile.aligned = args.alignedA;
  return tile;
}

/// The bk x bn tile of B at (k0, n0), along B's contiguous dim.
GlobalTile tileOfB(const GemmSpec &spec, const GemmArgs &args, Value n0, Value k0, int64_t bn,
                   int64_t bk) {
  GlobalTile tile =
      spec.bKContig
          ? GlobalTile{args.b, args.bOff, args.ldb, n0, args.n, k0, args.k, bn, bk, spec.vecB}
          : GlobalTile{args.b, args.bOff, args.ldb, k0, args.k, n0, args.n, bk, bn, spec.vecB};
  tile.aligned = args.alignedB;
  return tile;
}

//===----------------------------------------------------------------------===//
// Tensor-core kernel
//===----------------------------------------------------------------------===//

/// A block computes a bm x bn tile of Y; warp (warpRow, warpCol) a warpM x warpN part of it
/// as (warpM / 16) x (warpN / 8) mma.sync m16n8k16 tiles with f32 accumulators. Stage s of
/// shared memory holds A as [bm][bk] and B as [bn][bk] (NT) or [bk][bn] (NN), swizzled.
struct TensorCoreKernel {
  const GemmSpec &spec;
  const TensorCoreTile &tile;
  Value shared;
  Value tid, lane, warpRow, warpCol;

  int64_t stageElements() const { return (tile.bm + tile.bn) * tile.bk; }
  int64_t fragmentsM() const { return tile.warpM() / 16; }
  int64_t fragmentsN() const { return tile.warpN() / 8; }
  int64_t accumulators() const { return fragmentsM() * fragmentsN() * 4; }

  /// Issues the copies of k-slice `slice` into stage `stage`.
  void loadSlice(OpBuilder &b, Location loc, const GemmArgs &args, Value m0, Value n0, Value slice,
                 Value stage) {
    Ix ix(b, loc);
    Value aStage = ix.mul(stage, stageElements());
    Value bStage = ix.add(aStage, tile.bm * tile.bk);
    Value k0 = ix.mul(slice, tile.bk);
    int64_t bytes = byteWidth(spec.storage);
    GlobalTile a = tileOfA(spec, args, m0, k0, tile.bm, tile.bk);
    if (spec.aKContig) {
      auto index = [&](Ix &ix, Value o, Value i) {
        return ix.add(aStage, swizzle(ix, o, i, tile.bk));
      };
      copyTile(b, loc, a, tid, tile.threads(), shared, index, spec.vecA * bytes >= 4, true);
    } else {
      // Gemm transA: A is [K, M]; transposed element by element into [bm][bk].
      auto index = [&](Ix &ix, Value o, Value i) {
        return ix.add(aStage, swizzle(ix, i, o, tile.bk));
      };
      copyTile(b, loc, a, tid, tile.threads(), shared, index, false, false);
    }
    GlobalTile t = tileOfB(spec, args, n0, k0, tile.bn, tile.bk);
    auto index = [&](Ix &ix, Value o, Value i) {
      return ix.add(bStage,
                    spec.bKContig ? swizzle(ix, o, i, tile.bk) : swizzle(ix, o, i, tile.bn));
    };
    copyTile(b, loc, t, tid, tile.threads(), shared, index, spec.vecB * bytes >= 4, true);
  }

  /// The four 32-bit registers of an ldmatrix.x4 whose lane addresses element `index`, as
  /// mma operands (vector<2xf16>, or i32 for bf16).
  SmallVector<Value> loadMatrix(OpBuilder &b, Location loc, Value index, bool transpose) {
    auto type = VectorType::get({4, 2}, spec.storage);
    Value loaded = nvgpu::LdMatrixOp::create(b, loc, type, shared, ValueRange{index}, transpose, 4);
    SmallVector<Value> registers;
    for (int64_t r = 0; r < 4; ++r) {
      Value pair = vector::ExtractOp::create(b, loc, loaded, ArrayRef<int64_t>{r});
      if (spec.storage.isBF16())
        pair = LLVM::BitcastOp::create(b, loc, b.getI32Type(), pair);
      registers.push_back(pair);
    }
    return registers;
  }

  /// acc += the product of the slice in stage `stage`.
  SmallVector<Value> multiplySlice(OpBuilder &b, Location loc, Value stage,
                                   SmallVector<Value> acc) {
    Ix ix(b, loc);
    Value aStage = ix.mul(stage, stageElements());
    Value bStage = ix.add(aStage, tile.bm * tile.bk);
    Value lane16 = ix.rem(lane, 16), laneHigh = ix.div(lane, 16);
    Value lane8 = ix.rem(lane, 8), laneMid = ix.rem(ix.div(lane, 8), 2);
    Type f32 = b.getF32Type();
    auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes ptxType = spec.storage.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;

    for (int64_t kk = 0; kk < tile.bk / 16; ++kk) {
      // A: matrices (rows 0-7, k 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) are a0..a3;
      // lane l addresses row l % 16 at k (l / 16) * 8.
      SmallVector<SmallVector<Value>> aFragments;
      for (int64_t i = 0; i < fragmentsM(); ++i) {
        Value row = ix.add(ix.mul(warpRow, tile.warpM()), ix.add(lane16, i * 16));
        Value col = ix.add(ix.mul(laneHigh, 8), kk * 16);
        aFragments.push_back(
            loadMatrix(b, loc, ix.add(aStage, swizzle(ix, row, col, tile.bk)), false));
      }
      // B: one ldmatrix.x4 gives b0, b1 of two n8 tiles: matrices (n 0-7, k 0-7),
      // (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15). From a [bk][bn] tile the same
      // matrices are read transposed.
      SmallVector<SmallVector<Value>> bFragments;
      for (int64_t j = 0; j < fragmentsN() / 2; ++j) {
        Value nBase = ix.add(ix.mul(warpCol, tile.warpN()), j * 16);
        SmallVector<Value> registers;
        if (spec.bKContig) {
          Value row = ix.add(nBase, ix.add(lane8, ix.mul(laneHigh, 8)));
          Value col = ix.add(ix.mul(laneMid, 8), kk * 16);
          registers = loadMatrix(b, loc, ix.add(bStage, swizzle(ix, row, col, tile.bk)), false);
        } else {
          Value row = ix.add(ix.add(lane8, ix.mul(laneMid, 8)), kk * 16);
          Value col = ix.add(nBase, ix.mul(laneHigh, 8));
          registers = loadMatrix(b, loc, ix.add(bStage, swizzle(ix, row, col, tile.bn)), true);
        }
        bFragments.push_back({registers[0], registers[1]});
        bFragments.push_back({registers[2], registers[3]});
      }
      for (int64_t i = 0; i < fragmentsM(); ++i) {
        for (int64_t j = 0; j < fragmentsN(); ++j) {
          int64_t base = (i * fragmentsN() + j) * 4;
          SmallVector<Value> c(acc.begin() + base, acc.begin() + base + 4);
          Value d = NVVM::MmaOp::create(
              b, loc, resultType, aFragments[i], bFragments[j], c, {16, 8, 16}, std::nullopt,
              std::nullopt, std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
          for (int64_t r = 0; r < 4; ++r)
            acc[base + r] = LLVM::ExtractValueOp::create(b, loc, d, ArrayRef<int64_t>{r});
        }
      }
    }
    return acc;
  }

  void build(OpBuilder &b, Location loc, const GemmArgs &args) {
    Ix ix(b, loc);
    Value m0 = ix.mul(args.blockM, tile.bm);
    Value n0 = ix.mul(args.blockN, tile.bn);
    Value slices = ix.ceilDiv(args.k, tile.bk);

    // Prologue: slices 0 .. stages-2 in flight, one commit group per slice (empty past the
    // last slice, so that the group count below stays uniform).
    for (int64_t s = 0; s + 1 < tile.stages; ++s) {
      guarded(b, loc, ix.lt(ix.c(s), slices), [&](OpBuilder &b, Location loc) {
        Ix ix(b, loc);
        loadSlice(b, loc, args, m0, n0, ix.c(s), ix.c(s));
      });
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    }

    SmallVector<Value> init(accumulators(), floatConstant(b, loc, b.getF32Type(), 0.0));
    auto loop = scf::ForOp::create(
        b, loc, ix.c(0), slices, ix.c(1), init,
        [&](OpBuilder &b, Location loc, Value slice, ValueRange carried) {
          Ix ix(b, loc);
          // Slice `slice` has landed once at most stages-2 groups are pending. The barrier
          // publishes it to all warps and tells them that the stage refilled below (read
          // in the previous iteration) is free.
          NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(tile.stages - 2));
          gpu::BarrierOp::create(b, loc);
          Value next = ix.add(slice, tile.stages - 1);
          guarded(b, loc, ix.lt(next, slices), [&](OpBuilder &b, Location loc) {
            Ix ix(b, loc);
            loadSlice(b, loc, args, m0, n0, next, ix.rem(next, tile.stages));
          });
          NVVM::CpAsyncCommitGroupOp::create(b, loc);
          SmallVector<Value> acc =
              multiplySlice(b, loc, ix.rem(slice, tile.stages), SmallVector<Value>(carried));
          scf::YieldOp::create(b, loc, acc);
        });
    NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(0));

    // Accumulator r of tile (i, j) is row g + (r / 2) * 8, col 2 t + r % 2 of the 16x8
    // tile, g = lane / 4, t = lane % 4.
    Value group = ix.div(lane, 4), quad = ix.rem(lane, 4);
    Value rowBase = ix.add(m0, ix.mul(warpRow, tile.warpM()));
    Value colBase = ix.add(n0, ix.mul(warpCol, tile.warpN()));
    for (int64_t i = 0; i < fragmentsM(); ++i)
      for (int64_t j = 0; j < fragmentsN(); ++j)
        for (int64_t half = 0; half < 2; ++half) {
          Value row = ix.add(rowBase, ix.add(group, i * 16 + half * 8));
          Value col = ix.add(colBase, ix.add(ix.mul(quad, 2), j * 8));
          int64_t first = (i * fragmentsN() + j) * 4 + half * 2;
          storeOutputs(b, loc, spec, args, {loop.getResult(first), loop.getResult(first + 1)}, row,
                       col);
        }
  }
};

//===----------------------------------------------------------------------===//
// SIMT kernel
//===----------------------------------------------------------------------===//

/// A block computes a bm x bn tile of Y, thread (tx, ty) a tm x tn part of it (groups of 4
/// rows/cols spread over the tile). Each of the two shared buffers holds a k-slice of A as
/// [bk][bm + pad] and of B as [bk][bn + pad], in the accumulator type.
struct SimtKernel {
  const GemmSpec &spec;
  const SimtTile &tile;
  Value shared;
  Value tid;

  int64_t aRow() const { return tile.bm + kSimtPad; }
  int64_t bRow() const { return tile.bn + kSimtPad; }
  int64_t bufferElements() const { return tile.bk * (aRow() + bRow()); }

  std::pair<GlobalTile, GlobalTile> tiles(Ix &ix, const GemmArgs &args, Value m0, Value n0,
                                          Value slice) {
    Value k0 = ix.mul(slice, tile.bk);
    return {tileOfA(spec, args, m0, k0, tile.bm, tile.bk),
            tileOfB(spec, args, n0, k0, tile.bn, tile.bk)};
  }

  size_t aPieces(const GlobalTile &a) const {
    return llvm::divideCeil(a.outerSize * (a.innerSize / a.vec), tile.threads());
  }

  SmallVector<Value> load(OpBuilder &b, Location loc, const GemmArgs &args, Value m0, Value n0,
                          Value slice, Value enabled) {
    Ix ix(b, loc);
    auto [a, t] = tiles(ix, args, m0, n0, slice);
    SmallVector<Value> pieces = loadPieces(b, loc, a, tid, tile.threads(), enabled);
    llvm::append_range(pieces, loadPieces(b, loc, t, tid, tile.threads(), enabled));
    return pieces;
  }

  void store(OpBuilder &b, Location loc, const GemmArgs &args, Value m0, Value n0, Value slice,
             Value buffer, ArrayRef<Value> pieces) {
    Ix ix(b, loc);
    auto [a, t] = tiles(ix, args, m0, n0, slice);
    Value aBase = ix.mul(buffer, bufferElements());
    Value bBase = ix.add(aBase, tile.bk * aRow());
    auto aIndex = [&](Ix &ix, Value o, Value i) {
      return spec.aKContig ? ix.add(aBase, ix.add(ix.mul(i, aRow()), o))
                           : ix.add(aBase, ix.add(ix.mul(o, aRow()), i));
    };
    auto bIndex = [&](Ix &ix, Value o, Value i) {
      return spec.bKContig ? ix.add(bBase, ix.add(ix.mul(i, bRow()), o))
                           : ix.add(bBase, ix.add(ix.mul(o, bRow()), i));
    };
    size_t split = aPieces(a);
    storePieces(b, loc, a, tid, tile.threads(), pieces.take_front(split), shared, aIndex,
                !spec.aKContig && isa<FloatType>(spec.acc));
    storePieces(b, loc, t, tid, tile.threads(), pieces.drop_front(split), shared, bIndex,
                !spec.bKContig && isa<FloatType>(spec.acc));
  }

  /// Row (col) of element r of the thread's register tile: groups of 4 consecutive rows,
  /// `size * 4 / count` apart, so that a warp's 16-byte reads of a shared k row are
  /// contiguous.
  Value tileOffset(Ix &ix, Value thread, int64_t size, int64_t count, int64_t r) {
    return ix.add(ix.mul(thread, 4), (r / 4) * (size * 4 / count) + r % 4);
  }

  SmallVector<Value> multiply(OpBuilder &b, Location loc, Value buffer, Value tx, Value ty,
                              SmallVector<Value> acc) {
    Ix ix(b, loc);
    Value aBase = ix.mul(buffer, bufferElements());
    Value bBase = ix.add(aBase, tile.bk * aRow());
    bool isFloat = isa<FloatType>(spec.acc);
    auto v4 = VectorType::get({4}, spec.acc);
    llvm::MaybeAlign align(sharedAlignment(4, spec.acc));
    for (int64_t kk = 0; kk < tile.bk; ++kk) {
      SmallVector<Value> aValues, bValues;
      for (int64_t r = 0; r < tile.tm; r += 4) {
        Value index = ix.add(aBase, ix.add(tileOffset(ix, ty, tile.bm, tile.tm, r), kk * aRow()));
        Value v = vector::LoadOp::create(b, loc, v4, shared, ValueRange{index}, false, align);
        for (int64_t e = 0; e < 4; ++e)
          aValues.push_back(elementOf(b, loc, v, e));
      }
      for (int64_t c = 0; c < tile.tn; c += 4) {
        Value index = ix.add(bBase, ix.add(tileOffset(ix, tx, tile.bn, tile.tn, c), kk * bRow()));
        Value v = vector::LoadOp::create(b, loc, v4, shared, ValueRange{index}, false, align);
        for (int64_t e = 0; e < 4; ++e)
          bValues.push_back(elementOf(b, loc, v, e));
      }
      for (int64_t r = 0; r < tile.tm; ++r)
        for (int64_t c = 0; c < tile.tn; ++c) {
          Value &sum = acc[r * tile.tn + c];
          if (isFloat) {
            sum = fma(b, loc, aValues[r], bValues[c], sum);
          } else {
            Value product = arith::MulIOp::create(b, loc, aValues[r], bValues[c]);
            sum = arith::AddIOp::create(b, loc, sum, product);
          }
        }
    }
    return acc;
  }

  void build(OpBuilder &b, Location loc, const GemmArgs &args) {
    Ix ix(b, loc);
    Value m0 = ix.mul(args.blockM, tile.bm);
    Value n0 = ix.mul(args.blockN, tile.bn);
    int64_t threadsN = tile.bn / tile.tn;
    Value tx = ix.rem(tid, threadsN), ty = ix.div(tid, threadsN);
    Value slices = ix.ceilDiv(args.k, tile.bk);

    guarded(b, loc, ix.lt(ix.c(0), slices), [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      SmallVector<Value> pieces = load(b, loc, args, m0, n0, ix.c(0), Value());
      store(b, loc, args, m0, n0, ix.c(0), ix.c(0), pieces);
    });
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> init(tile.tm * tile.tn, zeroOf(b, loc, spec.acc));
    auto loop =
        scf::ForOp::create(b, loc, ix.c(0), slices, ix.c(1), init,
                           [&](OpBuilder &b, Location loc, Value slice, ValueRange carried) {
                             Ix ix(b, loc);
                             Value next = ix.add(slice, 1);
                             Value hasNext = ix.lt(next, slices);
                             // The next slice's loads are in flight while this one is multiplied;
                             // they are stored into the other buffer, which nobody reads since the
                             // last barrier.
                             SmallVector<Value> pieces = load(b, loc, args, m0, n0, next, hasNext);
                             SmallVector<Value> acc = multiply(b, loc, ix.rem(slice, 2), tx, ty,
                                                               SmallVector<Value>(carried));
                             guarded(b, loc, hasNext, [&](OpBuilder &b, Location loc) {
                               Ix ix(b, loc);
                               store(b, loc, args, m0, n0, next, ix.rem(next, 2), pieces);
                             });
                             gpu::BarrierOp::create(b, loc);
                             scf::YieldOp::create(b, loc, acc);
                           });

    for (int64_t r = 0; r < tile.tm; ++r)
      for (int64_t c = 0; c < tile.tn; c += 4) {
        Value row = ix.add(m0, tileOffset(ix, ty, tile.bm, tile.tm, r));
        Value col = ix.add(n0, tileOffset(ix, tx, tile.bn, tile.tn, c));
        SmallVector<Value> run;
        for (int64_t e = 0; e < 4; ++e)
          run.push_back(loop.getResult(r * tile.tn + c + e));
        storeOutputs(b, loc, spec, args, run, row, col);
      }
  }
};

//===----------------------------------------------------------------------===//
// GEMV kernel
//===----------------------------------------------------------------------===//

/// A block of kGemvWarps warps computes `cols` output columns for all M (static, small)
/// rows. Lane l of warp w reads the vec-wide pieces k = (w * 32 + l) * vec + j * 256 * vec
/// of the weight rows and input rows (NT layout: both contiguous in k); the per-lane sums
/// are reduced across the warp with shuffles and across warps in shared memory.
struct GemvKernel {
  const GemmSpec &spec;
  Value shared; // memref<warps * rows * cols x acc>
  Value tid;
  /// Rows computed: M (static), or kGemvMaxRows of which those past the run-time M are
  /// zeros (`guardRows`).
  int64_t rows;
  bool guardRows;
  int64_t warps;

  void build(OpBuilder &b, Location loc, const GemmArgs &args) {
    Ix ix(b, loc);
    int64_t cols = spec.gemvCols, vec = spec.gemvVec, outputs = rows * cols;
    // Two steps in flight for a few rows; one for 8 (registers: the GEMV path shares the
    // GEMM kernel's budget).
    int64_t unroll = rows <= 4 ? kGemvUnroll : 1;
    Value warp = ix.div(tid, 32), lane = ix.rem(tid, 32);
    Value n0 = ix.mul(args.blockN, cols);
    // The block's first row: row groups of `rows` (the guarded path), else all M rows.
    Value row0 = guardRows ? ix.mul(args.blockM, rows) : ix.c(0);
    int64_t step = warps * 32 * vec;
    Value start = ix.mul(ix.add(ix.mul(warp, 32), lane), vec);
    SmallVector<Value> colInside;
    for (int64_t c = 0; c < cols; ++c)
      colInside.push_back(ix.lt(ix.add(n0, c), args.n));

    Type acc = spec.acc;
    SmallVector<Value> init(outputs, zeroOf(b, loc, acc));
    auto loop = scf::ForOp::create(
        b, loc, start, args.k, ix.c(step * unroll), init,
        [&](OpBuilder &b, Location loc, Value k0, ValueRange carried) {
          Ix ix(b, loc);
          SmallVector<Value> sums(carried);
          // All loads of the unrolled steps first (more bytes in flight), then the FMAs.
          SmallVector<SmallVector<Value>> weights, inputs;
          for (int64_t u = 0; u < unroll; ++u) {
            Value k = ix.add(k0, u * step);
            Value kInside = u == 0 ? ix.lt(ix.c(0), ix.c(1)) : ix.lt(k, args.k);
            SmallVector<Value> w, x;
            for (int64_t c = 0; c < cols; ++c) {
              Value index = ix.add(args.bOff, ix.add(ix.mul(ix.add(n0, c), args.ldb), k));
              w.push_back(guardedLoad(b, loc, args.b, index, ix.both(kInside, colInside[c]), vec));
            }
            for (int64_t m = 0; m < rows; ++m) {
              Value row = ix.add(row0, m);
              Value index = ix.add(args.aOff, ix.add(ix.mul(row, args.lda), k));
              Value valid = guardRows ? ix.both(kInside, ix.lt(row, args.m)) : kInside;
              x.push_back(guardedLoad(b, loc, args.a, index, valid, vec));
            }
            weights.push_back(w);
            inputs.push_back(x);
          }
          auto widen = [&](Value v) -> Value {
            if (auto type = dyn_cast<VectorType>(v.getType()))
              if (type.getElementType() != acc)
                return arith::ExtFOp::create(b, loc, VectorType::get({vec}, acc), v);
            return convertScalar(b, loc, v, isa<VectorType>(v.getType()) ? v.getType() : acc);
          };
          for (int64_t u = 0; u < unroll; ++u) {
            SmallVector<Value> w, x;
            for (Value v : weights[u])
              w.push_back(widen(v));
            for (Value v : inputs[u])
              x.push_back(widen(v));
            for (int64_t e = 0; e < vec; ++e)
              for (int64_t m = 0; m < rows; ++m)
                for (int64_t c = 0; c < cols; ++c) {
                  Value &sum = sums[m * cols + c];
                  sum = fma(b, loc, elementOf(b, loc, x[m], e), elementOf(b, loc, w[c], e), sum);
                }
          }
          scf::YieldOp::create(b, loc, sums);
        });

    // Warp sums, then lane 0 of each warp publishes them.
    SmallVector<Value> sums(loop.getResults());
    for (Value &sum : sums)
      for (int32_t offset = 16; offset >= 1; offset /= 2) {
        Value other = gpu::ShuffleOp::create(b, loc, sum, offset, 32, gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        sum = arith::AddFOp::create(b, loc, sum, other);
      }
    guarded(b, loc, ix.lt(lane, 1), [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      for (int64_t j = 0; j < outputs; ++j)
        memref::StoreOp::create(b, loc, sums[j], shared,
                                ValueRange{ix.add(ix.mul(warp, outputs), j)});
    });
    gpu::BarrierOp::create(b, loc);
    guarded(b, loc, ix.lt(tid, outputs), [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      Value total = zeroOf(b, loc, acc);
      for (int64_t w = 0; w < warps; ++w) {
        Value partial =
            memref::LoadOp::create(b, loc, shared, ValueRange{ix.add(tid, w * outputs)});
        total = arith::AddFOp::create(b, loc, total, partial);
      }
      Value row = ix.add(row0, ix.div(tid, cols));
      Value col = ix.add(n0, ix.rem(tid, cols));
      storeOutputs(b, loc, spec, args, {total}, row, col);
    });
  }
};

//===----------------------------------------------------------------------===//
// Decode GEMV kernel
//===----------------------------------------------------------------------===//

/// The decode entry's GEMV (NT, M dynamic: the batch of a decode step, any size). Block
/// (column block j, row group g) has kDecodeGemvWarps independent warps; warp w computes
/// the `cols` output columns n0 = (j * warps + w) * cols.. of the kDecodeGemvRows rows
/// row0 = g * rows.. over the whole K. Lane l reads the vec-wide pieces k = s * 32 * vec +
/// l * vec (step s) of the weight rows and the input rows (both contiguous in k: 16-byte
/// loads, a warp reads 512 contiguous bytes of a row per step) and accumulates them in f32
/// in step order; a butterfly of xor shuffles sums the 32 lanes. No shared memory, no
/// barrier. Full steps go in groups of `unroll` (all their loads, then the FMAs), then the
/// remaining full steps, then the partial last step (lanes whose piece starts before K).
/// A row group with a single row (M = 1, or the last group when M = 4k + 1) runs a loop for
/// that row only; other groups compute all their rows (those past M read row M - 1 and are
/// not stored). Both loops give an output the same products in the same order and the same
/// shuffle tree, so its value does not depend on M or on its group (batch invariance).
struct DecodeGemvKernel {
  const GemmSpec &spec;
  Value tid;

  /// Values of this lane's piece of a row of `buffer` at `base + k` (vec elements): one
  /// vector, or `vec` scalars (element loads: an operand misaligned at run time). `partial`:
  /// in the last step, where elements past K are zeros.
  SmallVector<Value> loadPiece(OpBuilder &b, Location loc, const GemmArgs &args, Value buffer,
                               Value base, Value k, bool vector, bool partial) const {
    Ix ix(b, loc);
    int64_t vec = spec.gemvVec;
    Value always = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (vector && vec > 1)
      return {guardedLoad(b, loc, buffer, ix.add(base, k), always, vec)};
    SmallVector<Value> elements;
    for (int64_t e = 0; e < vec; ++e) {
      Value valid = partial ? ix.lt(ix.add(k, e), args.k) : always;
      elements.push_back(guardedLoad(b, loc, buffer, ix.add(base, ix.add(k, e)), valid, 1));
    }
    return elements;
  }

  /// A piece's values in the accumulator type.
  SmallVector<Value> widen(OpBuilder &b, Location loc, ArrayRef<Value> piece) const {
    Type acc = spec.acc;
    SmallVector<Value> values;
    if (piece.size() == 1 && isa<VectorType>(piece.front().getType())) {
      Value v = piece.front();
      auto type = cast<VectorType>(v.getType());
      if (type.getElementType() != acc)
        v = arith::ExtFOp::create(b, loc, VectorType::get(type.getShape(), acc), v);
      for (int64_t e = 0; e < type.getNumElements(); ++e)
        values.push_back(vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{e}));
      return values;
    }
    for (Value v : piece)
      values.push_back(convertScalar(b, loc, v, acc));
    return values;
  }

  /// The products of `count` consecutive steps from k (this lane's first piece) added to
  /// `sums` (rows x cols): the loads of all steps first, then the FMAs in k order.
  SmallVector<Value> steps(OpBuilder &b, Location loc, const GemmArgs &args,
                           ArrayRef<Value> xBase, ArrayRef<Value> wBase, Value k, int64_t count,
                           bool partial, SmallVector<Value> sums) const {
    Ix ix(b, loc);
    int64_t rows = xBase.size(), cols = wBase.size(), step = 32 * spec.gemvVec;
    // alignedA/B are null in the aligned version of the kernel (16-byte loads), false in the
    // version for misaligned operands (element loads).
    bool vectorA = !args.alignedA, vectorB = !args.alignedB;
    SmallVector<SmallVector<SmallVector<Value>>> x(count), w(count);
    for (int64_t u = 0; u < count; ++u) {
      Value ku = ix.add(k, u * step);
      for (Value base : wBase)
        w[u].push_back(loadPiece(b, loc, args, args.b, base, ku, vectorB, partial));
      for (Value base : xBase)
        x[u].push_back(loadPiece(b, loc, args, args.a, base, ku, vectorA, partial));
    }
    for (int64_t u = 0; u < count; ++u) {
      SmallVector<SmallVector<Value>> xs, ws;
      for (auto &piece : x[u])
        xs.push_back(widen(b, loc, piece));
      for (auto &piece : w[u])
        ws.push_back(widen(b, loc, piece));
      for (int64_t e = 0; e < spec.gemvVec; ++e)
        for (int64_t m = 0; m < rows; ++m)
          for (int64_t c = 0; c < cols; ++c) {
            Value &sum = sums[m * cols + c];
            sum = fma(b, loc, xs[m][e], ws[c][e], sum);
          }
    }
    return sums;
  }

  /// This lane's partial sums of rows x cols outputs (rows of A at xBase, rows of B at
  /// wBase) over its pieces of K.
  SmallVector<Value> accumulate(OpBuilder &b, Location loc, const GemmArgs &args, Value lane,
                                ArrayRef<Value> xBase, ArrayRef<Value> wBase,
                                int64_t unroll) const {
    Ix ix(b, loc);
    int64_t step = 32 * spec.gemvVec, span = unroll * step;
    Value start = ix.mul(lane, spec.gemvVec);
    SmallVector<Value> sums(xBase.size() * wBase.size(), zeroOf(b, loc, spec.acc));
    // Full steps (every lane's piece inside K) in groups of `unroll`.
    Value fullSteps = ix.div(args.k, step);
    Value groups = ix.div(fullSteps, unroll);
    std::optional<int64_t> knownGroups = getConstantIntValue(groups);
    if (knownGroups == 1) {
      sums = steps(b, loc, args, xBase, wBase, start, unroll, false, sums);
    } else if (knownGroups != 0) {
      auto loop = scf::ForOp::create(
          b, loc, ix.c(0), ix.mul(groups, span), ix.c(span), sums,
          [&](OpBuilder &b, Location loc, Value k0, ValueRange carried) {
            Ix ix(b, loc);
            scf::YieldOp::create(b, loc,
                                 steps(b, loc, args, xBase, wBase, ix.add(k0, start), unroll,
                                       false, SmallVector<Value>(carried)));
          });
      sums = SmallVector<Value>(loop.getResults());
    }
    // The remaining full steps: unrolled where K is static, else one per iteration.
    Value done = ix.mul(groups, span);
    if (auto known = getConstantIntValue(fullSteps)) {
      if (int64_t rest = *known % unroll)
        sums = steps(b, loc, args, xBase, wBase, ix.add(done, start), rest, false, sums);
    } else {
      auto loop = scf::ForOp::create(
          b, loc, done, ix.mul(fullSteps, step), ix.c(step), sums,
          [&](OpBuilder &b, Location loc, Value k0, ValueRange carried) {
            Ix ix(b, loc);
            scf::YieldOp::create(b, loc,
                                 steps(b, loc, args, xBase, wBase, ix.add(k0, start), 1, false,
                                       SmallVector<Value>(carried)));
          });
      sums = SmallVector<Value>(loop.getResults());
    }
    // The partial last step: the lanes whose piece starts before K.
    if (auto known = getConstantIntValue(args.k); known && *known % step == 0)
      return sums;
    Value last = ix.add(ix.mul(fullSteps, step), start);
    auto tail = scf::IfOp::create(
        b, loc, ix.lt(last, args.k),
        [&](OpBuilder &b, Location loc) {
          scf::YieldOp::create(b, loc,
                               steps(b, loc, args, xBase, wBase, last, 1, true, sums));
        },
        [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, sums); });
    return SmallVector<Value>(tail.getResults());
  }

  /// Sums the lanes' partial sums (butterfly: every lane gets every total).
  static void reduceWarp(OpBuilder &b, Location loc, SmallVector<Value> &sums) {
    for (Value &sum : sums)
      for (int32_t offset = 16; offset >= 1; offset /= 2) {
        Value other = gpu::ShuffleOp::create(b, loc, sum, offset, 32, gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        sum = arith::AddFOp::create(b, loc, sum, other);
      }
  }

  void build(OpBuilder &b, Location loc, const GemmArgs &args) const {
    Ix ix(b, loc);
    int64_t cols = spec.gemvCols, rows = kDecodeGemvRows;
    Value warp = ix.div(tid, 32), lane = ix.rem(tid, 32);
    Value n0 = ix.mul(ix.add(ix.mul(args.blockN, kDecodeGemvWarps), warp), cols);
    Value row0 = ix.mul(args.blockM, rows);
    // Warps past the last column have nothing to do (no barrier: they may leave).
    guarded(b, loc, ix.lt(n0, args.n), [&](OpBuilder &b, Location loc) {
      Ix ix(b, loc);
      // Rows of B (columns of Y) and of A, clamped into the matrices: a column past N or a
      // row past M reads the last one, and its results are not stored.
      auto clamp = [&](Value index, Value size) -> Value {
        Value last = arith::SubIOp::create(b, loc, size, ix.c(1));
        return arith::MinUIOp::create(b, loc, index, last);
      };
      SmallVector<Value> wBase, xBase;
      for (int64_t c = 0; c < cols; ++c) {
        Value col = c == 0 ? n0 : clamp(ix.add(n0, c), args.n);
        wBase.push_back(ix.add(args.bOff, ix.mul(col, args.ldb)));
      }
      for (int64_t m = 0; m < rows; ++m) {
        Value row = m == 0 ? row0 : clamp(ix.add(row0, m), args.m);
        xBase.push_back(ix.add(args.aOff, ix.mul(row, args.lda)));
      }
      scf::IfOp::create(
          b, loc, ix.lt(ix.add(row0, 1), args.m),
          [&](OpBuilder &b, Location loc) {
            // Two rows or more in this group: all `rows` rows; lane r stores row row0 + r.
            Ix ix(b, loc);
            SmallVector<Value> sums =
                accumulate(b, loc, args, lane, xBase, wBase, spec.decodeUnrollGroup);
            reduceWarp(b, loc, sums);
            guarded(b, loc, ix.lt(lane, rows), [&](OpBuilder &b, Location loc) {
              Ix ix(b, loc);
              SmallVector<Value> run;
              for (int64_t c = 0; c < cols; ++c) {
                Value value = sums[c];
                for (int64_t m = 1; m < rows; ++m) {
                  Value mine = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                                     ix.c(m));
                  value = arith::SelectOp::create(b, loc, mine, sums[m * cols + c], value);
                }
                run.push_back(value);
              }
              storeOutputs(b, loc, spec, args, run, ix.add(row0, lane), n0);
            });
            scf::YieldOp::create(b, loc);
          },
          [&](OpBuilder &b, Location loc) {
            // One row (row0 = M - 1): lane 0 stores it.
            Ix ix(b, loc);
            SmallVector<Value> sums = accumulate(
                b, loc, args, lane, ArrayRef<Value>(xBase).take_front(1), wBase,
                spec.decodeUnrollRow);
            reduceWarp(b, loc, sums);
            guarded(b, loc, ix.lt(lane, 1), [&](OpBuilder &b, Location loc) {
              storeOutputs(b, loc, spec, args, sums, row0, n0);
            });
            scf::YieldOp::create(b, loc);
          });
    });
  }
};

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

gpu::GPUFuncOp buildGemmKernel(KernelEmitter &emitter, const GemmSpec &spec) {
  SmallVector<Type> inputs(spec.numInputs(), spec.storage);
  BlockSize block = {static_cast<int32_t>(spec.threads()), 1, 1};
  return emitter.getOrCreateKernel(
      spec.name(), inputs, {spec.storage}, spec.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        Ix ix(b, loc);
        unsigned buffers = spec.numBuffers();
        auto scalar = [&](unsigned i) { return scalarArgument(b, loc, f, buffers, i); };
        auto sized = [&](int64_t size, unsigned i) {
          return size == kDynamic ? scalar(i) : ix.c(size);
        };
        GemmArgs args;
        unsigned next = 0;
        args.a = f.getArgument(next++);
        args.b = f.getArgument(next++);
        if (spec.hasAddend)
          args.addend = f.getArgument(next++);
        if (spec.hasResidual)
          args.residual = f.getArgument(next++);
        args.y = f.getArgument(next++);
        args.m = sized(spec.kind == GemmKind::Gemv ? spec.m : kDynamic, 0);
        args.n = sized(spec.n, 1);
        args.k = sized(spec.k, 2);
        args.lda = sized(spec.lda, 3);
        args.ldb = sized(spec.ldb, 4);
        unsigned nextScalar = 5;
        if (spec.hasAddend) {
          args.cs0 = scalar(nextScalar++);
          args.cs1 = scalar(nextScalar++);
        }
        SmallVector<Value> batchSizes, aStrides, bStrides;
        for (unsigned d = 0; d < spec.batchDims; ++d) {
          batchSizes.push_back(scalar(nextScalar++));
          aStrides.push_back(scalar(nextScalar++));
          bStrides.push_back(scalar(nextScalar++));
        }

        Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
        Value blockX = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
        Value shared;
        switch (spec.kind) {
        case GemmKind::TensorCore:
          shared = sharedBuffer(b, loc, spec.storage, spec.sharedBytes() / byteWidth(spec.storage));
          break;
        case GemmKind::Simt:
        case GemmKind::Gemv:
          shared = sharedBuffer(b, loc, spec.acc, spec.sharedBytes() / byteWidth(spec.acc));
          break;
        case GemmKind::DecodeGemv:
          break;
        }

        // One grid dim: block x = batch * (tiles per batch) + tile. The GEMV kernel's tiles
        // are column groups; the GEMM kernels' tiles go in groups of kGroupM rows of tiles
        // that walk the columns together (blocks running at the same time share rows of A
        // and columns of B in L2), as Triton's grouped ordering does.
        // The GEMV path of a GEMM kernel (`rowGroups`) has tiles of kGemvMaxRows rows. The
        // decode GEMV's tiles are (column block, row group), the row groups of a column
        // block adjacent (they read the same weights at about the same time: L2).
        auto placeBlock = [&](OpBuilder &b, Location loc, GemmArgs &args, bool gemv,
                              bool rowGroups) {
          Ix ix(b, loc);
          bool decode = spec.kind == GemmKind::DecodeGemv;
          Value tilesN = ix.ceilDiv(args.n, gemv ? spec.gemvCols : spec.tileN());
          Value tilesM = !gemv      ? ix.ceilDiv(args.m, spec.tileM())
                         : rowGroups ? ix.ceilDiv(args.m, kGemvMaxRows)
                                     : ix.c(1);
          Value perBatch = ix.mul(tilesM, tilesN);
          Value batch = ix.c(0), tile = blockX;
          if (spec.batchDims) {
            batch = arith::DivUIOp::create(b, loc, blockX, perBatch);
            tile = arith::RemUIOp::create(b, loc, blockX, perBatch);
          }
          if (decode) {
            args.blockM = ix.rem(tile, tilesM);
            args.blockN = arith::DivUIOp::create(b, loc, tile, tilesM);
          } else if (gemv) {
            args.blockM = rowGroups ? arith::DivUIOp::create(b, loc, tile, tilesN) : ix.c(0);
            args.blockN = rowGroups ? ix.rem(tile, tilesN) : tile;
          } else {
            Value groupTiles = ix.mul(tilesN, kGroupM);
            Value group = arith::DivUIOp::create(b, loc, tile, groupTiles);
            Value inGroup = ix.rem(tile, groupTiles);
            Value firstRow = ix.mul(group, kGroupM);
            Value rows = arith::MinUIOp::create(
                b, loc, arith::SubIOp::create(b, loc, tilesM, firstRow), ix.c(kGroupM));
            args.blockM = ix.add(firstRow, ix.rem(inGroup, rows));
            args.blockN = arith::DivUIOp::create(b, loc, inGroup, rows);
          }
          args.aOff = args.bOff = args.yOff = ix.c(0);
          Value rest = batch;
          for (int d = static_cast<int>(spec.batchDims) - 1; d >= 0; --d) {
            Value index = d == 0 ? rest : ix.rem(rest, batchSizes[d]);
            if (d != 0)
              rest = arith::DivUIOp::create(b, loc, rest, batchSizes[d]);
            args.aOff = ix.add(args.aOff, ix.mul(index, aStrides[d]));
            args.bOff = ix.add(args.bOff, ix.mul(index, bStrides[d]));
          }
          if (spec.batchDims)
            args.yOff = ix.mul(batch, ix.mul(args.m, args.n));
        };

        auto runKernel = [&](OpBuilder &b, Location loc, const GemmArgs &args) {
          Ix ix(b, loc);
          switch (spec.kind) {
          case GemmKind::TensorCore: {
            Value lane = ix.rem(tid, 32), warp = ix.div(tid, 32);
            TensorCoreKernel kernel{spec,
                                    spec.tc,
                                    shared,
                                    tid,
                                    lane,
                                    ix.div(warp, spec.tc.warpsN),
                                    ix.rem(warp, spec.tc.warpsN)};
            kernel.build(b, loc, args);
            break;
          }
          case GemmKind::Simt: {
            SimtKernel kernel{spec, spec.simt, shared, tid};
            kernel.build(b, loc, args);
            break;
          }
          case GemmKind::Gemv: {
            GemvKernel kernel{spec, shared, tid, spec.m, false, kGemvWarps};
            kernel.build(b, loc, args);
            break;
          }
          case GemmKind::DecodeGemv: {
            DecodeGemvKernel kernel{spec, tid};
            kernel.build(b, loc, args);
            break;
          }
          }
        };

        // The GEMM (or GEMV) kernel, in two versions where operands are checked at run time:
        // vector loads (cp.async) when they are aligned, element loads otherwise.
        auto gemm = [&](OpBuilder &b, Location loc) {
          Ix ix(b, loc);
          GemmArgs placed = args;
          placeBlock(b, loc, placed, spec.kind == GemmKind::Gemv, false);
          if (!spec.checkA && !spec.checkB) {
            runKernel(b, loc, placed);
            return;
          }
          auto aligned = [&](Value ld, Value extent, Value offset, int64_t vec) {
            Value result = ix.isMultiple(ld, vec);
            result = ix.both(result, ix.isMultiple(extent, vec));
            return ix.both(result, ix.isMultiple(offset, vec));
          };
          Value allAligned = arith::ConstantIntOp::create(b, loc, 1, 1);
          if (spec.checkA)
            allAligned =
                ix.both(allAligned, aligned(placed.lda, spec.aKContig ? placed.k : placed.m,
                                            placed.aOff, spec.vecA));
          if (spec.checkB)
            allAligned =
                ix.both(allAligned, aligned(placed.ldb, spec.bKContig ? placed.k : placed.n,
                                            placed.bOff, spec.vecB));
          scf::IfOp::create(
              b, loc, allAligned,
              [&](OpBuilder &b, Location loc) {
                runKernel(b, loc, placed);
                scf::YieldOp::create(b, loc);
              },
              [&](OpBuilder &b, Location loc) {
                GemmArgs unaligned = placed;
                Value no = arith::ConstantIntOp::create(b, loc, 0, 1);
                if (spec.checkA)
                  unaligned.alignedA = no;
                if (spec.checkB)
                  unaligned.alignedB = no;
                runKernel(b, loc, unaligned);
                scf::YieldOp::create(b, loc);
              });
        };

        if (!spec.smallM) {
          gemm(b, loc);
          return;
        }
        // M <= kGemvMaxRows at run time: the GEMV path (kGemvMaxRows rows, those past M
        // zeros) on the same threads, with a grid the host sized for it.
        scf::IfOp::create(
            b, loc, ix.lt(args.m, kGemvMaxRows + 1),
            [&](OpBuilder &b, Location loc) {
              GemmArgs placed = args;
              placeBlock(b, loc, placed, true, true);
              placed.alignedA = placed.alignedB = Value();
              Value reduction = sharedBuffer(b, loc, spec.acc,
                                             spec.threads() / 32 * kGemvMaxRows * spec.gemvCols);
              GemvKernel kernel{spec, reduction, tid, kGemvMaxRows, true, spec.threads() / 32};
              kernel.build(b, loc, placed);
              scf::YieldOp::create(b, loc);
            },
            [&](OpBuilder &b, Location loc) {
              gemm(b, loc);
              scf::YieldOp::create(b, loc);
            });
      });
}

//===----------------------------------------------------------------------===//
// Host side
//===----------------------------------------------------------------------===//

struct GemmOptions {
  bool tensorCores = true;
  bool gemv = true;
  std::optional<TensorCoreTile> tc;
  std::optional<SimtTile> simt;
};

/// Parses "128x128x32w2x4s4" (tensor cores) or "128x128x8r8x8" (SIMT).
template <size_t N>
bool parseNumbers(StringRef text, StringRef separators, std::array<int64_t, N> &numbers) {
  for (size_t i = 0; i < N; ++i) {
    size_t end = i + 1 < N ? text.find(separators[i]) : text.size();
    if (end == StringRef::npos || text.take_front(end).getAsInteger(10, numbers[i]) ||
        numbers[i] <= 0)
      return false;
    text = text.drop_front(std::min(end + 1, text.size()));
  }
  return true;
}

bool isPowerOfTwo(int64_t value) { return value > 0 && (value & (value - 1)) == 0; }

/// KILN_GEMM (see the file comment): `simt`, `nogemv`, `tc=BMxBNxBKwWMxWNsS`,
/// `simt-tile=BMxBNxBKrTMxTN`, comma-separated.
FailureOr<GemmOptions> readOptions(Operation *op, const Target &target) {
  GemmOptions options;
  const char *text = std::getenv("KILN_GEMM");
  if (!text)
    return options;
  SmallVector<StringRef> words;
  StringRef(text).split(words, ',', -1, false);
  int64_t sharedLimit = target.smVersion >= 90 ? 227 * 1024 : 163 * 1024;
  for (StringRef word : words) {
    word = word.trim();
    std::array<int64_t, 6> tc;
    std::array<int64_t, 5> simt;
    if (word == "simt") {
      options.tensorCores = false;
    } else if (word == "nogemv") {
      options.gemv = false;
    } else if (word.consume_front("tc=") && parseNumbers(word, "xxwxs", tc)) {
      TensorCoreTile tile{tc[0], tc[1], tc[2], tc[3], tc[4], tc[5]};
      bool valid = tile.bm % (16 * tile.warpsM) == 0 && tile.bn % (16 * tile.warpsN) == 0 &&
                   tile.bk % 16 == 0 && isPowerOfTwo(tile.bk) && tile.bk <= 64 &&
                   tile.bn % 64 == 0 && tile.stages >= 2 && tile.threads() <= 1024 &&
                   tile.stages * (tile.bm + tile.bn) * tile.bk * 2 <= sharedLimit;
      if (!valid)
        return op->emitError() << "KILN_GEMM: tensor-core tile '" << word
                               << "' is not supported (bm a multiple of 16 * warps in m, bn "
                                  "of 64 and of 16 * warps in n, bk 16, 32 or 64, at least "
                                  "2 stages, at most 1024 threads, shared memory within "
                               << sharedLimit << " bytes)";
      options.tc = tile;
    } else if (word.consume_front("simt-tile=") && parseNumbers(word, "xxrx", simt)) {
      SimtTile tile{simt[0], simt[1], simt[2], simt[3], simt[4]};
      bool valid = tile.tm % 4 == 0 && tile.tn % 4 == 0 && tile.bm % tile.tm == 0 &&
                   tile.bn % tile.tn == 0 && tile.threads() <= 1024 &&
                   2 * tile.bk * (tile.bm + tile.bn + 2 * kSimtPad) * 8 <= sharedLimit;
      if (!valid)
        return op->emitError() << "KILN_GEMM: SIMT tile '" << word
                               << "' is not supported (tm and tn multiples of 4 dividing bm "
                                  "and bn, at most 1024 threads)";
      options.simt = tile;
    } else {
      return op->emitError() << "KILN_GEMM: unknown option '" << word
                             << "' (simt, nogemv, tc=BMxBNxBKwWMxWNsS, "
                                "simt-tile=BMxBNxBKrTMxTN)";
    }
  }
  return options;
}

std::optional<int64_t> constantOf(Value value) { return getConstantIntValue(value); }
int64_t staticOr(Value value) { return constantOf(value).value_or(kDynamic); }

/// One GEMM launch being prepared on the host.
struct GemmLaunch {
  GemmSpec spec;
  Value a, b, addend, residual;      // host tensors
  Value m, n, k, lda, ldb, cs0, cs1; // host index values
  SmallVector<Value> batchSizes, aStrides, bStrides;
  RankedTensorType resultType;
  SmallVector<Value> resultDims;
};

/// Elements per global access of an operand: the largest count, at most 16 bytes, that
/// divides every static value of `values` (its sizes and strides along the contiguous dim).
/// Where some are only known at run time, the kernel checks them (`checked`).
struct Width {
  int64_t elements = 1;
  bool checked = false;
};
Width vectorWidth(Type storage, ArrayRef<Value> values) {
  Width width;
  width.elements = std::max<int64_t>(1, 16 / byteWidth(storage));
  for (Value value : values) {
    std::optional<int64_t> constant = constantOf(value);
    if (!constant) {
      width.checked = true;
      continue;
    }
    while (width.elements > 1 && *constant % width.elements != 0)
      width.elements /= 2;
  }
  width.checked &= width.elements > 1;
  return width;
}

void setWidthA(GemmSpec &spec, Width width) {
  spec.vecA = width.elements;
  spec.checkA = width.checked;
}
void setWidthB(GemmSpec &spec, Width width) {
  spec.vecB = width.elements;
  spec.checkB = width.checked;
}

/// What products accumulate in, or null if the element type is not supported.
Type accumulatorType(Type storage) {
  if (storage.isF16() || storage.isBF16() || storage.isF32())
    return Float32Type::get(storage.getContext());
  if (storage.isF64())
    return storage;
  if (auto integer = dyn_cast<IntegerType>(storage); integer && integer.getWidth() >= 8)
    return storage;
  return nullptr;
}

class HostMath {
public:
  explicit HostMath(KernelEmitter &emitter) : e(emitter) {}
  Value sub(Value a, int64_t b) {
    if (auto c = constantOf(a))
      return e.index(*c - b);
    return arith::SubIOp::create(e.host(), e.loc(), a, e.index(b));
  }
  Value min(Value a, int64_t b) {
    if (auto c = constantOf(a))
      return e.index(std::min(*c, b));
    return arith::MinUIOp::create(e.host(), e.loc(), a, e.index(b));
  }
  /// `stride` if the operand's dim `dim` spans the result's dim `full`, 0 where it
  /// broadcasts (size 1). Decided at compile time where the dims are known, else at run
  /// time as stride * min(dim - 1, 1) (a dim of a non-empty result is >= 1).
  Value broadcastStride(Value dim, Value full, Value stride) {
    if (dim == full)
      return stride;
    auto c = constantOf(dim);
    if (c == 1)
      return e.index(0);
    if (c && constantOf(full) == c)
      return stride;
    return e.mul(stride, min(sub(dim, 1), 1));
  }

private:
  KernelEmitter &e;
};

/// Picks the kernel, builds it and launches it; returns the result tensor.
Value emitGemm(KernelEmitter &e, Operation *op, GemmLaunch &g) {
  GemmSpec &spec = g.spec;
  FailureOr<GemmOptions> parsed = readOptions(op, e.target());
  if (failed(parsed))
    return Value();
  GemmOptions options = *parsed;
  std::optional<int64_t> staticM = constantOf(g.m);
  spec.n = staticOr(g.n);
  spec.k = staticOr(g.k);
  spec.lda = staticOr(g.lda);
  spec.ldb = staticOr(g.ldb);
  spec.batchDims = g.batchSizes.size();

  bool halfPrecision = spec.storage.isF16() || spec.storage.isBF16();
  auto function = op->getParentOfType<func::FuncOp>();
  auto entry = function ? function->getAttrOfType<StringAttr>("kiln.entry") : StringAttr();
  bool decode = entry && entry.getValue() == "decode";
  if (options.gemv && staticM && *staticM >= 1 && *staticM <= kGemvMaxRows && spec.aKContig &&
      spec.bKContig && spec.acc.isF32()) {
    spec.kind = GemmKind::Gemv;
    spec.m = *staticM;
    // The GEMV kernel reads both with one width and checks nothing at run time.
    int64_t vec = std::min(spec.checkA ? 1 : spec.vecA, spec.checkB ? 1 : spec.vecB);
    spec.vecA = spec.vecB = spec.gemvVec = vec;
    spec.checkA = spec.checkB = false;
    spec.gemvCols = spec.n != kDynamic && spec.n < 2048 ? 2 : 4;
  } else if (options.gemv && !staticM && decode && spec.aKContig && spec.bKContig &&
             spec.acc.isF32()) {
    // A decode step (M = its batch, only known at run time): the decode GEMV for every M,
    // so that a row's result does not depend on how many rows there are (batched
    // generation gives B = 1's tokens), and none of the GEMM's shared memory and threads.
    spec.kind = GemmKind::DecodeGemv;
    int64_t vec = std::min(spec.vecA, spec.vecB);
    spec.vecA = spec.vecB = spec.gemvVec = vec;
    spec.checkA &= vec > 1;
    spec.checkB &= vec > 1;
    // Columns per warp: enough warps for the GPU on narrow layers (N = 768: 768 warps),
    // more weight bytes in flight per lane on wide ones.
    spec.gemvCols = spec.n == kDynamic || spec.n >= 8192 ? 4 : spec.n >= 2048 ? 2 : 1;
    // Full K steps per group: 16-byte loads of cols * unroll weight pieces in flight per
    // lane for one row (32 registers of them, 64 for 4 columns), fewer for a group of rows
    // (their input pieces add up); no more steps than K has.
    spec.decodeUnrollRow = spec.gemvCols == 1 ? 8 : 4;
    spec.decodeUnrollGroup = kDecodeGemvUnrollGroup;
    if (spec.k != kDynamic) {
      int64_t fullSteps = std::max<int64_t>(1, spec.k / (32 * vec));
      spec.decodeUnrollRow = std::min(spec.decodeUnrollRow, fullSteps);
      spec.decodeUnrollGroup = std::min(spec.decodeUnrollGroup, fullSteps);
    }
  } else {
    // Large tiles when they fill the GPU (about 132 SMs), or when M is unknown and N large.
    bool large;
    if (staticM && spec.n != kDynamic)
      large = llvm::divideCeil(*staticM, 128) * llvm::divideCeil(spec.n, 128) >= 100;
    else
      large = spec.n == kDynamic || spec.n >= 2048;
    if (halfPrecision && options.tensorCores) {
      spec.kind = GemmKind::TensorCore;
      spec.tc = options.tc.value_or(large ? kTensorCoreLarge : kTensorCoreSmall);
    } else {
      spec.kind = GemmKind::Simt;
      spec.simt = options.simt.value_or(large ? kSimtLarge : kSimtSmall);
    }
    // M only known at run time (a sequence length, a batch): the kernel also has a GEMV
    // path for M <= kGemvMaxRows, and the grid is sized for the path M takes.
    if (options.gemv && !staticM && spec.aKContig && spec.bKContig && spec.acc.isF32()) {
      spec.smallM = true;
      spec.gemvCols = spec.n != kDynamic && spec.n < 2048 ? 2 : 4;
      spec.gemvVec = std::min(spec.checkA ? 1 : spec.vecA, spec.checkB ? 1 : spec.vecB);
    }
  }

  gpu::GPUFuncOp kernel = buildGemmKernel(e, spec);

  SmallVector<Value> inputs = {g.a, g.b};
  if (spec.hasAddend)
    inputs.push_back(g.addend);
  if (spec.hasResidual)
    inputs.push_back(g.residual);
  SmallVector<Value> scalars = {g.m, g.n, g.k, g.lda, g.ldb};
  if (spec.hasAddend)
    llvm::append_range(scalars, ArrayRef<Value>{g.cs0, g.cs1});
  // All tiles of all batches along x (see buildGemmKernel).
  Value gridX = e.ceilDiv(g.n, spec.tileN());
  if (spec.kind != GemmKind::Gemv)
    gridX = e.mul(gridX, e.ceilDiv(g.m, spec.tileM()));
  Value batchCount = e.product(ValueRange(g.batchSizes));
  gridX = e.mul(gridX, batchCount);
  for (unsigned d = 0; d < spec.batchDims; ++d)
    llvm::append_range(scalars, ArrayRef<Value>{g.batchSizes[d], g.aStrides[d], g.bStrides[d]});
  if (spec.smallM) {
    // gridX = M <= kGemvMaxRows ? GEMV blocks : GEMM blocks, in the plan's arithmetic:
    // large = min(M / (kGemvMaxRows + 1), 1).
    OpBuilder &h = e.host();
    Value large = arith::MinUIOp::create(
        h, e.loc(), arith::DivUIOp::create(h, e.loc(), g.m, e.index(kGemvMaxRows + 1)),
        e.index(1));
    Value small = arith::SubIOp::create(h, e.loc(), e.index(1), large);
    Value gemvX = e.mul(e.ceilDiv(g.n, spec.gemvCols), batchCount);
    gridX = e.add(e.mul(small, gemvX), e.mul(large, gridX));
    // No blocks at all when M = 0 (A is empty: the GEMV path may not even read its first
    // element).
    gridX = e.mul(gridX, HostMath(e).min(g.m, 1));
  }
  BlockSize block = {static_cast<int32_t>(spec.threads()), 1, 1};
  return e
      .launch(kernel, inputs, {ResultSpec{g.resultType, g.resultDims}}, scalars,
              {gridX, e.index(1), e.index(1)}, block, spec.sharedBytes())
      .front();
}

/// Host tensors of `values` (null entries stay null); fails if one could not be lowered.
LogicalResult hostTensors(KernelEmitter &e, ArrayRef<Value> values,
                          SmallVectorImpl<Value> &tensors) {
  for (Value value : values) {
    if (!value) {
      tensors.push_back(Value());
      continue;
    }
    Value tensor = e.tensor(value);
    if (!tensor)
      return failure();
    tensors.push_back(tensor);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.linear
//===----------------------------------------------------------------------===//

/// kiln.linear -> one GEMM (GEMV for a small static M): A = input as [M, K] (M the product
/// of the leading dims), B = weight [N, K], bias as the addend, activation and residual in
/// the epilogue.
LogicalResult lowerLinear(Operation *op, KernelEmitter &e) {
  auto linear = cast<LinearOp>(op);
  SmallVector<Value> tensors;
  if (failed(hostTensors(
          e, {linear.getInput(), linear.getWeight(), linear.getBias(), linear.getResidual()},
          tensors)))
    return failure();
  FailureOr<SmallVector<Value>> inDims = e.dims(linear.getInput(), op);
  if (failed(inDims))
    return failure();
  FailureOr<SmallVector<Value>> weightDims = e.dims(linear.getWeight(), op);
  if (failed(weightDims))
    return failure();
  FailureOr<SmallVector<Value>> outDims = e.dims(linear.getOutput(), op);
  if (failed(outDims))
    return failure();

  GemmLaunch g;
  g.resultType = e.storageTensorType(linear.getOutput());
  g.resultDims = *outDims;
  GemmSpec &spec = g.spec;
  spec.storage = g.resultType.getElementType();
  spec.acc = accumulatorType(spec.storage);
  if (!spec.acc || !isa<FloatType>(spec.acc))
    return op->emitError() << "GPU lowering of kiln.linear: element type " << spec.storage
                           << " is not supported";
  if (spec.acc.isF64() && linear.getActivation() != Activation::none)
    return op->emitError() << "GPU lowering of kiln.linear: activation "
                           << stringifyActivation(linear.getActivation())
                           << " on f64 is not supported";
  size_t rank = inDims->size();
  g.a = tensors[0];
  g.b = tensors[1];
  g.m = e.product(*inDims, 0, rank - 1);
  g.k = inDims->back();
  g.n = (*weightDims)[0];
  g.lda = g.k;
  g.ldb = (*weightDims)[1];
  setWidthA(spec, vectorWidth(spec.storage, {g.k}));
  setWidthB(spec, vectorWidth(spec.storage, {g.ldb}));
  if (tensors[2]) {
    spec.hasAddend = true;
    g.addend = tensors[2];
    g.cs0 = e.index(0);
    g.cs1 = e.index(1);
  }
  if (tensors[3]) {
    spec.hasResidual = true;
    g.residual = tensors[3];
  }
  spec.activation = linear.getActivation();
  Value result = emitGemm(e, op, g);
  if (!result)
    return failure();
  e.setResult(linear.getOutput(), result);
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.onnx.MatMul
//===----------------------------------------------------------------------===//

/// numpy matmul: A [..., M, K] (a 1-D A is [1, K]) times B [..., K, N] (a 1-D B is a
/// column: read as an NT [1, K] operand). When B has no batch (or only size-1 batch dims)
/// A's batch folds into M; otherwise the kernel walks the result's batch dims with each
/// operand's strides (0 where it broadcasts).
LogicalResult lowerMatMul(Operation *op, KernelEmitter &e) {
  auto matmul = cast<OnnxMatMulOp>(op);
  auto aType = dyn_cast<RankedTensorType>(matmul.getA().getType());
  auto bType = dyn_cast<RankedTensorType>(matmul.getB().getType());
  auto outType = dyn_cast<RankedTensorType>(matmul.getOutput().getType());
  if (!aType || !bType || !outType)
    return op->emitError() << "GPU lowering of MatMul: unranked operands are not supported";
  SmallVector<Value> tensors;
  if (failed(hostTensors(e, {matmul.getA(), matmul.getB()}, tensors)))
    return failure();
  FailureOr<SmallVector<Value>> aDims = e.dims(matmul.getA(), op);
  if (failed(aDims))
    return failure();
  FailureOr<SmallVector<Value>> bDims = e.dims(matmul.getB(), op);
  if (failed(bDims))
    return failure();
  FailureOr<SmallVector<Value>> outDims = e.dims(matmul.getOutput(), op);
  if (failed(outDims))
    return failure();
  size_t ra = aDims->size(), rb = bDims->size();
  if (ra == 0 || rb == 0)
    return op->emitError() << "GPU lowering of MatMul: operands must have rank >= 1";

  GemmLaunch g;
  g.resultType = e.storageTensorType(matmul.getOutput());
  g.resultDims = *outDims;
  GemmSpec &spec = g.spec;
  spec.storage = g.resultType.getElementType();
  spec.acc = accumulatorType(spec.storage);
  if (!spec.acc)
    return op->emitError() << "GPU lowering of MatMul: element type " << aType.getElementType()
                           << " is not supported";
  g.a = tensors[0];
  g.b = tensors[1];
  bool aVector = ra == 1, bVector = rb == 1;
  g.m = aVector ? e.index(1) : (*aDims)[ra - 2];
  g.k = (*aDims)[ra - 1];
  g.n = bVector ? e.index(1) : (*bDims)[rb - 1];
  g.lda = g.k;
  spec.aKContig = true;
  setWidthA(spec, vectorWidth(spec.storage, {g.k}));
  if (bVector) {
    spec.bKContig = true;
    g.ldb = g.k;
    setWidthB(spec, vectorWidth(spec.storage, {g.k}));
  } else {
    spec.bKContig = false;
    g.ldb = g.n;
    setWidthB(spec, vectorWidth(spec.storage, {g.n}));
  }

  ArrayRef<Value> aBatch = ArrayRef<Value>(*aDims).drop_back(aVector ? 1 : 2);
  ArrayRef<Value> bBatch = ArrayRef<Value>(*bDims).drop_back(bVector ? 1 : 2);
  size_t batchRank = outDims->size() - (aVector ? 0 : 1) - (bVector ? 0 : 1);
  ArrayRef<Value> outBatch = ArrayRef<Value>(*outDims).take_front(batchRank);
  bool bBroadcasts = llvm::all_of(bBatch, [](Value dim) { return constantOf(dim) == 1; });
  if (bBroadcasts && !aVector) {
    // [..., M, K] x [K, N]: one [batch * M, K] x [K, N] product.
    g.m = e.mul(e.product(aBatch, 0, aBatch.size()), g.m);
  } else {
    HostMath math(e);
    Value aMatrix = e.mul(g.m, g.k), bMatrix = e.mul(g.k, g.n);
    for (size_t d = 0; d < batchRank; ++d) {
      auto strideOf = [&](ArrayRef<Value> batch, Value matrix) -> Value {
        int64_t offset = static_cast<int64_t>(d) - static_cast<int64_t>(batchRank - batch.size());
        if (offset < 0)
          return e.index(0);
        Value stride = e.mul(e.product(batch, offset + 1, batch.size()), matrix);
        return math.broadcastStride(batch[offset], outBatch[d], stride);
      };
      g.batchSizes.push_back(outBatch[d]);
      g.aStrides.push_back(strideOf(aBatch, aMatrix));
      g.bStrides.push_back(strideOf(bBatch, bMatrix));
    }
  }
  Value result = emitGemm(e, op, g);
  if (!result)
    return failure();
  e.setResult(matmul.getOutput(), result);
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.onnx.Gemm
//===----------------------------------------------------------------------===//

/// alpha * op(A) * op(B) + beta * C: transA reads A as [K, M] (staged through registers on
/// tensor cores), transB reads B as [N, K] (NT); C broadcasts to [M, N] through its two
/// strides.
LogicalResult lowerGemm(Operation *op, KernelEmitter &e) {
  auto gemm = cast<OnnxGemmOp>(op);
  SmallVector<Value> tensors;
  if (failed(hostTensors(e, {gemm.getA(), gemm.getB(), gemm.getC()}, tensors)))
    return failure();
  FailureOr<SmallVector<Value>> aDims = e.dims(gemm.getA(), op);
  if (failed(aDims))
    return failure();
  FailureOr<SmallVector<Value>> bDims = e.dims(gemm.getB(), op);
  if (failed(bDims))
    return failure();
  FailureOr<SmallVector<Value>> outDims = e.dims(gemm.getOutput(), op);
  if (failed(outDims))
    return failure();
  if (aDims->size() != 2 || bDims->size() != 2)
    return op->emitError() << "GPU lowering of Gemm: A and B must be 2-D";

  GemmLaunch g;
  g.resultType = e.storageTensorType(gemm.getOutput());
  g.resultDims = *outDims;
  GemmSpec &spec = g.spec;
  spec.storage = g.resultType.getElementType();
  spec.acc = accumulatorType(spec.storage);
  if (!spec.acc)
    return op->emitError() << "GPU lowering of Gemm: element type "
                           << getElementTypeOrSelf(gemm.getA().getType()) << " is not supported";
  spec.alpha = gemm.getAlpha().convertToDouble();
  spec.beta = gemm.getBeta().convertToDouble();
  if (!isa<FloatType>(spec.acc) &&
      (spec.alpha != std::trunc(spec.alpha) || spec.beta != std::trunc(spec.beta)))
    return op->emitError() << "GPU lowering of Gemm: non-integral alpha or beta on integer "
                              "tensors is not supported";
  bool transA = gemm.getTransA() != 0, transB = gemm.getTransB() != 0;
  g.a = tensors[0];
  g.b = tensors[1];
  g.m = (*aDims)[transA ? 1 : 0];
  g.k = (*aDims)[transA ? 0 : 1];
  g.n = (*bDims)[transB ? 0 : 1];
  g.lda = (*aDims)[1];
  g.ldb = (*bDims)[1];
  spec.aKContig = !transA;
  spec.bKContig = transB;
  setWidthA(spec, vectorWidth(spec.storage, {g.lda}));
  setWidthB(spec, vectorWidth(spec.storage, {g.ldb}));
  if (tensors[2]) {
    FailureOr<SmallVector<Value>> cDims = e.dims(gemm.getC(), op);
    if (failed(cDims))
      return failure();
    if (cDims->size() > 2)
      return op->emitError() << "GPU lowering of Gemm: C must have rank <= 2";
    HostMath math(e);
    spec.hasAddend = true;
    g.addend = tensors[2];
    g.cs0 = e.index(0);
    g.cs1 = e.index(0);
    if (cDims->size() >= 1)
      g.cs1 = math.broadcastStride(cDims->back(), g.n, e.index(1));
    if (cDims->size() == 2)
      g.cs0 = math.broadcastStride((*cDims)[0], g.m, (*cDims)[1]);
  }
  Value result = emitGemm(e, op, g);
  if (!result)
    return failure();
  e.setResult(gemm.getOutput(), result);
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.onnx.Einsum
//===----------------------------------------------------------------------===//

/// Labels of an einsum term: letters (their character codes) and, for "...", ids from
/// kEllipsis on (right-aligned across the terms, as numpy does).
constexpr int kEllipsis = 256;

/// The labels of `term` on an operand of rank `rank` whose "..." covers the last `covered`
/// of `ellipsisRank` ellipsis dims; fails on a term that does not fit.
FailureOr<SmallVector<int>> einsumLabels(StringRef term, int64_t rank, int64_t *covered,
                                         int64_t ellipsisRank = -1) {
  SmallVector<int> letters;
  std::optional<size_t> ellipsis;
  for (size_t i = 0; i < term.size();) {
    if (term.substr(i).starts_with("...")) {
      if (ellipsis)
        return failure();
      ellipsis = letters.size();
      i += 3;
      continue;
    }
    if (!llvm::isAlpha(term[i]))
      return failure();
    letters.push_back(static_cast<unsigned char>(term[i]));
    ++i;
  }
  int64_t count = rank - static_cast<int64_t>(letters.size());
  if (rank < 0) // the output: covers every ellipsis dim
    count = ellipsisRank;
  if (ellipsis ? count < 0 : count != 0)
    return failure();
  if (covered)
    *covered = ellipsis ? count : 0;
  if (ellipsis) {
    int64_t total = ellipsisRank < 0 ? count : ellipsisRank;
    SmallVector<int> dims;
    for (int64_t i = 0; i < count; ++i)
      dims.push_back(kEllipsis + static_cast<int>(total - count + i));
    letters.insert(letters.begin() + *ellipsis, dims.begin(), dims.end());
  }
  return letters;
}

std::string labelName(int label) {
  if (label >= kEllipsis)
    return "...";
  return std::string(1, static_cast<char>(label));
}

/// Two-operand einsums that are a (batched) matrix product: every label is a batch label
/// (both inputs and the output), a row label (one input and the output), or a contracted
/// label (both inputs, not the output). The output lists the batch labels first, then the
/// rows of one operand, then those of the other; each group of row or contracted labels is
/// a run of adjacent dims in the same order in every term that has it (so that it flattens
/// to one dim), and each operand's innermost dim belongs to one of its groups. Batch labels
/// broadcast (size 1 against a larger size); other labels must have equal sizes.
LogicalResult lowerEinsum(Operation *op, KernelEmitter &e) {
  auto einsum = cast<OnnxEinsumOp>(op);
  auto refuse = [&](const Twine &why) {
    return op->emitError() << "GPU lowering of Einsum '" << einsum.getEquation() << "': " << why
                           << " is not supported";
  };
  if (einsum.getInputs().size() != 2)
    return refuse("an equation with " + Twine(einsum.getInputs().size()) +
                  " inputs (only two-operand contractions)");
  Value inputs[2] = {einsum.getInputs()[0], einsum.getInputs()[1]};
  Value output = einsum.getOutput();
  for (Value v : {inputs[0], inputs[1], output})
    if (!isa<RankedTensorType>(v.getType()))
      return refuse("an unranked operand");

  std::string compact;
  for (char c : einsum.getEquation())
    if (c != ' ')
      compact.push_back(c);
  StringRef lhs = compact, rhs;
  bool explicitOutput = StringRef(compact).contains("->");
  if (explicitOutput)
    std::tie(lhs, rhs) = StringRef(compact).split("->");
  auto [termA, termB] = lhs.split(',');
  SmallVector<int> labels[2];
  int64_t covered[2], ellipsisRank = 0;
  StringRef terms[2] = {termA, termB};
  for (int i = 0; i < 2; ++i) {
    int64_t rank = cast<RankedTensorType>(inputs[i].getType()).getRank();
    if (failed(einsumLabels(terms[i], rank, &covered[i])))
      return refuse("term '" + terms[i] + "'");
    ellipsisRank = std::max(ellipsisRank, covered[i]);
  }
  for (int i = 0; i < 2; ++i)
    labels[i] = *einsumLabels(terms[i], cast<RankedTensorType>(inputs[i].getType()).getRank(),
                              nullptr, ellipsisRank);
  SmallVector<int> outLabels;
  if (explicitOutput) {
    FailureOr<SmallVector<int>> parsed = einsumLabels(rhs, -1, nullptr, ellipsisRank);
    if (failed(parsed))
      return refuse("output term '" + rhs + "'");
    outLabels = *parsed;
  } else {
    std::map<int, int> occurrences;
    for (int i = 0; i < 2; ++i)
      for (int label : labels[i])
        ++occurrences[label];
    for (int64_t i = 0; i < ellipsisRank; ++i)
      outLabels.push_back(kEllipsis + static_cast<int>(i));
    for (auto [label, count] : occurrences)
      if (label < kEllipsis && count == 1)
        outLabels.push_back(label);
  }
  if (static_cast<int64_t>(outLabels.size()) != cast<RankedTensorType>(output.getType()).getRank())
    return refuse("an output term that does not match the result");

  auto position = [](ArrayRef<int> list, int label) -> int {
    auto it = llvm::find(list, label);
    return it == list.end() ? -1 : static_cast<int>(it - list.begin());
  };
  for (int i = 0; i < 2; ++i)
    for (int label : labels[i])
      if (llvm::count(labels[i], label) > 1)
        return refuse("a repeated label ('" + labelName(label) + "', a diagonal)");
  for (int i = 0; i < 2; ++i)
    for (int label : labels[i])
      if (position(labels[1 - i], label) < 0 && position(outLabels, label) < 0)
        return refuse("a sum over a dim of one operand ('" + labelName(label) + "')");

  // Batch labels lead the output; then at most two runs of row labels.
  auto isBatch = [&](int label) {
    return position(labels[0], label) >= 0 && position(labels[1], label) >= 0;
  };
  size_t batchRank = 0;
  while (batchRank < outLabels.size() && isBatch(outLabels[batchRank]))
    ++batchRank;
  SmallVector<int> runs[2];
  int runOwner[2] = {-1, -1};
  int runCount = 0;
  for (size_t p = batchRank; p < outLabels.size(); ++p) {
    int label = outLabels[p];
    if (isBatch(label))
      return refuse("a batch label ('" + labelName(label) + "') after the row labels");
    int owner = position(labels[0], label) >= 0 ? 0 : 1;
    if (runCount == 0 || runOwner[runCount - 1] != owner) {
      if (runCount == 2)
        return refuse("interleaved row labels of the two operands");
      runOwner[runCount++] = owner;
    }
    runs[runCount - 1].push_back(label);
  }
  // The row operand R provides Y's rows (the first run when there are two), C its columns.
  int r = runCount == 2 && runOwner[0] == 1 ? 1 : 0;
  int c = 1 - r;
  SmallVector<int> rowGroup, colGroup, kGroup;
  for (int i = 0; i < runCount; ++i)
    (runOwner[i] == r ? rowGroup : colGroup) = runs[i];
  // Labels in both inputs but not in the output are contracted, in R's order.
  for (int label : labels[r])
    if (position(labels[c], label) >= 0 && position(outLabels, label) < 0)
      kGroup.push_back(label);

  // Host tensors, dims and row-major strides.
  SmallVector<Value> tensors;
  if (failed(hostTensors(e, {inputs[0], inputs[1]}, tensors)))
    return failure();
  SmallVector<SmallVector<Value>> dims, strides;
  for (int i = 0; i < 2; ++i) {
    FailureOr<SmallVector<Value>> d = e.dims(inputs[i], op);
    if (failed(d))
      return failure();
    dims.push_back(*d);
    SmallVector<Value> s(d->size());
    for (size_t k = 0; k < d->size(); ++k)
      s[k] = e.product(*d, k + 1, d->size());
    strides.push_back(s);
  }
  FailureOr<SmallVector<Value>> outDims = e.dims(output, op);
  if (failed(outDims))
    return failure();
  auto dimOf = [&](int operand, int label) {
    return dims[operand][position(labels[operand], label)];
  };
  auto strideOf = [&](int operand, int label) {
    return strides[operand][position(labels[operand], label)];
  };
  auto sameSize = [](Value x, Value y) {
    return x == y || (constantOf(x) && constantOf(x) == constantOf(y));
  };
  for (int label : kGroup)
    if (!sameSize(dimOf(r, label), dimOf(c, label)))
      return refuse("contracted label '" + labelName(label) +
                    "' with sizes that may differ (broadcast)");

  // A group flattens when it is a run of adjacent dims, in order, in every term with it.
  auto adjacent = [&](ArrayRef<int> group, ArrayRef<int> list) {
    int first = position(list, group.front());
    for (auto [i, label] : llvm::enumerate(group))
      if (position(list, label) != first + static_cast<int>(i))
        return false;
    return true;
  };
  for (auto [group, what] : {std::pair<ArrayRef<int>, const char *>{rowGroup, "row"},
                             {colGroup, "column"},
                             {kGroup, "contracted"}}) {
    if (group.empty())
      continue;
    for (int i = 0; i < 2; ++i)
      if (position(labels[i], group.front()) >= 0 && !adjacent(group, labels[i]))
        return refuse(std::string(what) + " labels that are not adjacent in the same order in "
                                          "every term");
    if (group.data() != kGroup.data() && !adjacent(group, outLabels))
      return refuse(std::string(what) + " labels that are not adjacent in the output");
  }

  GemmLaunch g;
  g.resultType = e.storageTensorType(output);
  g.resultDims = *outDims;
  GemmSpec &spec = g.spec;
  spec.storage = g.resultType.getElementType();
  spec.acc = accumulatorType(spec.storage);
  if (!spec.acc)
    return refuse("element type " + typeName(spec.storage));
  g.a = tensors[r];
  g.b = tensors[c];
  auto extent = [&](int operand, ArrayRef<int> group) {
    Value result = e.index(1);
    for (int label : group)
      result = e.mul(result, dimOf(operand, label));
    return result;
  };
  auto groupStride = [&](int operand, ArrayRef<int> group) {
    return strideOf(operand, group.back());
  };
  g.m = extent(r, rowGroup);
  g.n = extent(c, colGroup);
  g.k = kGroup.empty() ? e.index(1) : extent(r, kGroup);
  // Which group is innermost in each operand decides its layout.
  auto innermost = [&](int operand, ArrayRef<int> group) {
    return !group.empty() && labels[operand].back() == group.back();
  };
  SmallVector<Value> aValues, bValues;
  if (innermost(r, kGroup) || (kGroup.empty() && !innermost(r, rowGroup) && rowGroup.empty())) {
    spec.aKContig = true;
    g.lda = rowGroup.empty() ? g.k : groupStride(r, rowGroup);
    aValues = {g.k, g.lda};
  } else if (innermost(r, rowGroup)) {
    spec.aKContig = false;
    g.lda = kGroup.empty() ? g.m : groupStride(r, kGroup);
    aValues = {g.m, g.lda};
  } else {
    return refuse("an operand whose innermost dim is a batch dim");
  }
  if (innermost(c, kGroup) || (kGroup.empty() && !innermost(c, colGroup) && colGroup.empty())) {
    spec.bKContig = true;
    g.ldb = colGroup.empty() ? g.k : groupStride(c, colGroup);
    bValues = {g.k, g.ldb};
  } else if (innermost(c, colGroup)) {
    spec.bKContig = false;
    g.ldb = kGroup.empty() ? g.n : groupStride(c, kGroup);
    bValues = {g.n, g.ldb};
  } else {
    return refuse("an operand whose innermost dim is a batch dim");
  }
  HostMath math(e);
  for (size_t d = 0; d < batchRank; ++d) {
    int label = outLabels[d];
    Value size = (*outDims)[d];
    g.batchSizes.push_back(size);
    g.aStrides.push_back(math.broadcastStride(dimOf(r, label), size, strideOf(r, label)));
    g.bStrides.push_back(math.broadcastStride(dimOf(c, label), size, strideOf(c, label)));
    aValues.push_back(g.aStrides.back());
    bValues.push_back(g.bStrides.back());
  }
  setWidthA(spec, vectorWidth(spec.storage, aValues));
  setWidthB(spec, vectorWidth(spec.storage, bValues));
  Value result = emitGemm(e, op, g);
  if (!result)
    return failure();
  e.setResult(output, result);
  return success();
}
} // namespace

void populateLinearLowerings(KernelLowerings &lowerings) {
  lowerings["kiln.linear"] = lowerLinear;
  lowerings["kiln.onnx.MatMul"] = lowerMatMul;
  lowerings["kiln.onnx.Gemm"] = lowerGemm;
  lowerings["kiln.onnx.Einsum"] = lowerEinsum;
}

} // namespace kiln::gpu_codegen
