//===- AttentionKernels.h - shared by the attention templates --*- C++ -*-===//
//
// Private to lib/Conversion/KilnToGPU: the device-side builder of the attention kernels
// (AttentionKernels.cpp), which the KV-cache kernels (KVCacheKernels.cpp) reuse, and the
// tiled FlashAttention lowering of `kiln.kv_cache.attention ... prefill`.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_CONVERSION_KILNTOGPU_ATTENTIONKERNELS_H
#define KILN_LIB_CONVERSION_KILNTOGPU_ATTENTIONKERNELS_H

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <limits>
#include <string>

namespace kiln::gpu_codegen::attention {

/// The hex bits of an f32, for kernel names.
std::string floatBits(float value);

/// A builder with the location bound and short names for the arithmetic the kernels use.
struct KB {
  mlir::OpBuilder &b;
  mlir::Location loc;
  /// exp() with the rounding error of x * log2(e) compensated (~2 ulp instead of ~|x| ulp);
  /// the f32 kernels, which the f32 reference comparisons run, use it.
  bool accurateExp = false;

  mlir::Value idx(int64_t v) { return mlir::arith::ConstantIndexOp::create(b, loc, v); }
  mlir::Value i32(int32_t v) { return mlir::arith::ConstantIntOp::create(b, loc, v, 32); }
  mlir::Value f32(double v) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF32Type(), b.getF32FloatAttr(v));
  }
  mlir::Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }
  mlir::Value zero(mlir::Type type) {
    return mlir::arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
  }

  mlir::Value add(mlir::Value x, mlir::Value y) {
    if (mlir::isa<mlir::FloatType>(x.getType()))
      return mlir::arith::AddFOp::create(b, loc, x, y);
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
  mlir::Value sub(mlir::Value x, mlir::Value y) {
    if (mlir::isa<mlir::FloatType>(x.getType()))
      return mlir::arith::SubFOp::create(b, loc, x, y);
    return mlir::arith::SubIOp::create(b, loc, x, y);
  }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    if (mlir::isa<mlir::FloatType>(x.getType()) || mlir::isa<mlir::VectorType>(x.getType()))
      return mlir::arith::MulFOp::create(b, loc, x, y);
    return mlir::arith::MulIOp::create(b, loc, x, y);
  }
  mlir::Value add(mlir::Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
  mlir::Value mul(mlir::Value x, int64_t y) { return y == 1 ? x : mul(x, idx(y)); }
  mlir::Value divu(mlir::Value x, int64_t y) {
    return y == 1 ? x : mlir::arith::DivUIOp::create(b, loc, x, idx(y)).getResult();
  }
  mlir::Value remu(mlir::Value x, int64_t y) {
    return y == 1 ? idx(0) : mlir::arith::RemUIOp::create(b, loc, x, idx(y)).getResult();
  }
  mlir::Value divf(mlir::Value x, mlir::Value y) {
    return mlir::arith::DivFOp::create(b, loc, x, y);
  }
  mlir::Value fma(mlir::Value x, mlir::Value y, mlir::Value z) {
    return mlir::math::FmaOp::create(b, loc, x, y, z);
  }
  mlir::Value maxf(mlir::Value x, mlir::Value y) {
    return mlir::arith::MaximumFOp::create(b, loc, x, y);
  }
  /// 2^x: the hardware's ex2.approx.ftz (2 ulp; 0 for -inf and below 2^-126).
  mlir::Value exp2(mlir::Value x) {
    return mlir::LLVM::CallIntrinsicOp::create(b, loc, b.getF32Type(),
                                               b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f32"),
                                               mlir::ValueRange{x})
        .getResult(0);
  }
  /// e^x = 2^(x log2 e), one MUFU instruction instead of a polynomial, as FlashAttention does.
  /// The product x * log2(e) has a rounding error of up to |x| 2^-24 relative; `accurateExp`
  /// adds it back: hi + lo = x log2(e) with lo from an FMA, e^x = 2^hi (1 + lo ln 2).
  mlir::Value exp(mlir::Value x) {
    if (!accurateExp)
      return exp2(mul(x, f32(1.4426950408889634)));
    constexpr double log2eExact = 1.4426950408889634;
    constexpr float log2e = static_cast<float>(log2eExact); // rounded to f32
    constexpr double log2eLow = log2eExact - static_cast<double>(log2e);
    // Below -104 the result flushes to 0 anyway; the clamp keeps -inf out of the FMAs.
    mlir::Value clamped = maxf(x, f32(-104.0));
    mlir::Value hi = mul(clamped, f32(log2e));
    mlir::Value lo = fma(clamped, f32(log2e), mlir::arith::NegFOp::create(b, loc, hi));
    lo = fma(clamped, f32(log2eLow), lo);
    mlir::Value power = exp2(hi);
    return fma(power, mul(lo, f32(0.6931471805599453)), power);
  }
  /// tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|) (absolute error ~1e-7).
  mlir::Value tanh(mlir::Value x) {
    // Plain selects instead of absf/copysign, which GPU-to-NVVM sends to libdevice.
    mlir::Value negative = cmpf(mlir::arith::CmpFPredicate::OLT, x, f32(0.0));
    mlir::Value minusX = mlir::arith::NegFOp::create(b, loc, x);
    mlir::Value magnitude = select(negative, minusX, x);
    mlir::Value t = exp(mul(magnitude, f32(-2.0)));
    mlir::Value one = f32(1.0);
    mlir::Value positive = divf(sub(one, t), add(one, t));
    return select(negative, mlir::arith::NegFOp::create(b, loc, positive), positive);
  }
  mlir::Value minsi(mlir::Value x, mlir::Value y) {
    return mlir::arith::MinSIOp::create(b, loc, x, y);
  }
  mlir::Value maxsi(mlir::Value x, mlir::Value y) {
    return mlir::arith::MaxSIOp::create(b, loc, x, y);
  }

  mlir::Value cmpi(mlir::arith::CmpIPredicate p, mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpIOp::create(b, loc, p, x, y);
  }
  mlir::Value ult(mlir::Value x, mlir::Value y) {
    return cmpi(mlir::arith::CmpIPredicate::ult, x, y);
  }
  mlir::Value slt(mlir::Value x, mlir::Value y) {
    return cmpi(mlir::arith::CmpIPredicate::slt, x, y);
  }
  mlir::Value sgt(mlir::Value x, mlir::Value y) {
    return cmpi(mlir::arith::CmpIPredicate::sgt, x, y);
  }
  mlir::Value cmpf(mlir::arith::CmpFPredicate p, mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpFOp::create(b, loc, p, x, y);
  }
  mlir::Value andi(mlir::Value x, mlir::Value y) {
    return mlir::arith::AndIOp::create(b, loc, x, y);
  }
  mlir::Value ori(mlir::Value x, mlir::Value y) { return mlir::arith::OrIOp::create(b, loc, x, y); }
  mlir::Value select(mlir::Value c, mlir::Value x, mlir::Value y) {
    return mlir::arith::SelectOp::create(b, loc, c, x, y);
  }

  mlir::Value load(mlir::Value memref, mlir::Value index) {
    return mlir::memref::LoadOp::create(b, loc, memref, mlir::ValueRange{index});
  }
  void store(mlir::Value value, mlir::Value memref, mlir::Value index) {
    mlir::memref::StoreOp::create(b, loc, value, memref, mlir::ValueRange{index});
  }
  mlir::Value convert(mlir::Value value, mlir::Type to) { return convertScalar(b, loc, value, to); }
  /// An i64 (or other integer) value as an index.
  mlir::Value toIndex(mlir::Value value) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
  }

  /// `value` of lane `lane` (an index) of the warp.
  mlir::Value shuffleIdx(mlir::Value value, mlir::Value lane) {
    mlir::Value laneI32 = mlir::arith::IndexCastOp::create(b, loc, b.getI32Type(), lane);
    return mlir::gpu::ShuffleOp::create(b, loc, value, laneI32, i32(32),
                                        mlir::gpu::ShuffleMode::IDX)
        .getShuffleResult();
  }
  mlir::Value shuffleXor(mlir::Value value, int32_t mask) {
    return mlir::gpu::ShuffleOp::create(b, loc, value, mask, 32, mlir::gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// Max / sum over the lanes whose ids differ only in the bits of `laneMask` (31: the warp).
  mlir::Value laneMax(mlir::Value value, int32_t laneMask) {
    for (int32_t bit = 16; bit >= 1; bit /= 2)
      if (laneMask & bit)
        value = maxf(value, shuffleXor(value, bit));
    return value;
  }
  mlir::Value laneSum(mlir::Value value, int32_t laneMask) {
    for (int32_t bit = 16; bit >= 1; bit /= 2)
      if (laneMask & bit)
        value = add(value, shuffleXor(value, bit));
    return value;
  }
  void barrier() { mlir::gpu::BarrierOp::create(b, loc); }
};

using ValuesFn =
    llvm::function_ref<llvm::SmallVector<mlir::Value>(KB &, mlir::Value, mlir::ValueRange)>;

/// scf.for from `lb` to `ub` by `step` carrying `inits`; returns the final values.
llvm::SmallVector<mlir::Value> forLoop(KB &kb, mlir::Value lb, mlir::Value ub, mlir::Value step,
                                       mlir::ValueRange inits, ValuesFn body);

/// scf.for without loop-carried values.
void forEach(KB &kb, mlir::Value lb, mlir::Value ub, mlir::Value step,
             llvm::function_ref<void(KB &, mlir::Value)> body);

/// scf.if yielding values built by `thenFn` / `elseFn` (both give the same types).
llvm::SmallVector<mlir::Value>
ifElse(KB &kb, mlir::Value cond, llvm::function_ref<llvm::SmallVector<mlir::Value>(KB &)> thenFn,
       llvm::function_ref<llvm::SmallVector<mlir::Value>(KB &)> elseFn);

void ifThen(KB &kb, mlir::Value cond, llvm::function_ref<void(KB &)> thenFn);

/// The initial state of an online softmax over `rows` query rows, in the order the attention
/// loops carry it: max[rows] = -inf, sum[rows] = 0, then acc[rows][accPerRow] = 0.
llvm::SmallVector<mlir::Value> onlineSoftmaxInits(KB &kb, int64_t rows, int64_t accPerRow);

/// `kiln.kv_cache.attention ... prefill`: the FlashAttention-2 kernels of kiln.attention
/// (tensor cores or SIMT, as for kiln.attention) with K and V read in place from the cache.
mlir::LogicalResult lowerKVCachePrefillAttention(mlir::Operation *op, KernelEmitter &emitter);

} // namespace kiln::gpu_codegen::attention

#endif // KILN_LIB_CONVERSION_KILNTOGPU_ATTENTIONKERNELS_H
