//===- AttentionKernels.cpp - FlashAttention kernels for kiln.attention ---===//
//
// kiln.attention and the ONNX Attention ops the fusion left over lower to one of two
// FlashAttention-2 style kernels. Both stream K/V tiles of one KV head through shared memory,
// keep the running row max / row sum (online softmax) and the output accumulator in registers
// in f32, and never materialise the [q_len, kv_len] scores:
//
// * `attention_mma_*` (f16/bf16 storage, head_dim % 16 == 0 and <= 128, v_head_dim % 8 == 0 and
//   <= 128): 4 warps; a block owns BLOCK_M = 64 query rows (16 per warp) and walks the keys in
//   tiles of BLOCK_N = 64. Q K^T and P V are `nvvm.mma.sync` m16n8k16 (f16 or bf16 in, f32
//   accumulate). Q's A fragments stay in registers for the whole kernel; K's B fragments come
//   from `ldmatrix.x4`, V's from `ldmatrix.x4.trans`; P is converted to f16/bf16 in registers
//   (the accumulator layout of two n-tiles of S is the A layout of one k-step of P). K/V tiles
//   are double-buffered: tile i + 1 arrives through cp.async (16-byte copies, zero-filled past
//   kv_len) while tile i is computed. Shared memory: 2 stages x (K [64][D + 8] + V [64][Dv + 8])
//   in the storage type (rows padded by 16 bytes: ldmatrix rows hit distinct banks); Q is
//   staged once through stage 1. 20 KiB for D = 32, 36 KiB for 64, 68 KiB for 128.
// * `attention_simt_*` (any storage, head_dim and v_head_dim <= 256): 4 warps, each owning R
//   query rows (R = 4, 2 above 128); per tile of BLOCK_N = 32 keys a lane computes the scores
//   of one key (K rows padded to D + 1 floats: conflict-free), the warp reduces max / sum with
//   shuffles, and for P V a lane owns ceil(Dv / 32) output columns, P broadcast by shuffles.
//   Shared memory (f32): Q [4R][D], K [32][D + 1], V [32][32 ceil(Dv / 32)]: 10 KiB for
//   D = 32, 40 KiB for 128, 72 KiB for 256. e^x compensates the rounding of x log2(e), as the
//   f32 reference comparisons run this kernel.
//
// e^x is 2^(x log2 e) with the hardware's ex2.approx (one MUFU instruction, as in
// FlashAttention), not the polynomial of kiln-approximate-math.
//
// Rows of a block are (query, head of the KV group) pairs, query-major: row r of the problem
// is query r / group of query head kv_head * group + r % group. A block therefore serves all the
// query heads that read one KV head (GQA/MQA natively: K/V are read once per block, never
// repeated per head), and its queries are contiguous, so causal attention skips every key tile
// past the block's last query and masks element-wise only the tiles that cross the diagonal.
// Grid: x = ceil(group * q_len / BLOCK_M), y = batch * kv_heads.
//
// Semantics follow the CPU executor (lib/Executor/AttentionKernels.cpp): scores = scale * q.k,
// then softcap (softcap * tanh(s / softcap)), then the mask (additive, or boolean: false = -inf),
// then causal (-inf for key j > i + causal_offset), then softmax and P V. A row with every key
// masked gives 0 in kiln.attention and NaN in ONNX Attention. Tensors are addressed through
// (batch, head, seq) strides, so ONNX's 3-D [batch, seq, heads * size] layout needs no
// transpose, and the mask through four broadcast strides (0 along broadcast dims).
//
// kiln.kv_cache.attention ... prefill runs the same kernels (`kv_cache_prefill_{mma,simt}_*`)
// with K and V read in place from the KV cache: their parameters are (q, cache, positions,
// slots, out), the K/V batch stride is the cache's slot stride, two extra scalars give the
// layer's K and V offsets within a slot, and the device reads start = positions[0] (kv_len =
// start + q_len, causal offset start: the diagonal is bottom-right) and the slot slots[0].
//
// KILN_ATTENTION=simt in the environment of the compiler forces the SIMT kernel.
//
//===----------------------------------------------------------------------===//

#include "AttentionKernels.h"

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <limits>

using namespace mlir;

namespace kiln::gpu_codegen::attention {

std::string floatBits(float value) {
  uint32_t bits;
  static_assert(sizeof(bits) == sizeof(value));
  std::memcpy(&bits, &value, sizeof(bits));
  return llvm::utohexstr(bits, /*LowerCase=*/true, /*Width=*/8);
}

//===----------------------------------------------------------------------===//
// Device-side IR helpers (KB is in AttentionKernels.h)
//===----------------------------------------------------------------------===//

/// scf.for from `lb` to `ub` by `step` carrying `inits`; returns the final values.
SmallVector<Value> onlineSoftmaxInits(KB &kb, int64_t rows, int64_t accPerRow) {
  SmallVector<Value> inits;
  for (int64_t r = 0; r < rows; ++r)
    inits.push_back(kb.negInf());
  for (int64_t r = 0; r < rows; ++r)
    inits.push_back(kb.f32(0.0));
  for (int64_t i = 0; i < rows * accPerRow; ++i)
    inits.push_back(kb.f32(0.0));
  return inits;
}

SmallVector<Value> forLoop(KB &kb, Value lb, Value ub, Value step, ValueRange inits,
                           ValuesFn body) {
  auto loop = scf::ForOp::create(
      kb.b, kb.loc, lb, ub, step, inits,
      [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
        KB inner{nb, nl, kb.accurateExp};
        SmallVector<Value> results = body(inner, iv, args);
        scf::YieldOp::create(nb, nl, results);
      });
  return SmallVector<Value>(loop.getResults());
}

/// scf.for without loop-carried values.
void forEach(KB &kb, Value lb, Value ub, Value step,
             function_ref<void(KB &, Value)> body) {
  forLoop(kb, lb, ub, step, {}, [&](KB &inner, Value iv, ValueRange) {
    body(inner, iv);
    return SmallVector<Value>{};
  });
}

/// scf.if yielding values built by `thenFn` / `elseFn` (both give the same types).
SmallVector<Value> ifElse(KB &kb, Value cond, function_ref<SmallVector<Value>(KB &)> thenFn,
                          function_ref<SmallVector<Value>(KB &)> elseFn) {
  auto op = scf::IfOp::create(
      kb.b, kb.loc, cond,
      [&](OpBuilder &nb, Location nl) {
        KB inner{nb, nl, kb.accurateExp};
        scf::YieldOp::create(nb, nl, thenFn(inner));
      },
      [&](OpBuilder &nb, Location nl) {
        KB inner{nb, nl, kb.accurateExp};
        scf::YieldOp::create(nb, nl, elseFn(inner));
      });
  return SmallVector<Value>(op.getResults());
}

void ifThen(KB &kb, Value cond, function_ref<void(KB &)> thenFn) {
  scf::IfOp::create(kb.b, kb.loc, cond, [&](OpBuilder &nb, Location nl) {
    KB inner{nb, nl, kb.accurateExp};
    thenFn(inner);
    scf::YieldOp::create(nb, nl);
  });
}

} // namespace kiln::gpu_codegen::attention

namespace kiln::gpu_codegen {
namespace {

using namespace attention;

//===----------------------------------------------------------------------===//
// The problem
//===----------------------------------------------------------------------===//

enum class MaskKind { None, Additive, Boolean };

/// Everything a kernel body depends on at compile time; all of it is in the kernel name.
struct AttentionSpec {
  Type storage;           // element type of Q, K, V and the output in memory
  int64_t headDim = 0;    // D
  int64_t vHeadDim = 0;   // Dv
  int64_t group = 1;      // query heads per KV head
  float scale = 1.0f;
  float softcap = 0.0f;   // 0: none
  bool causal = false;
  MaskKind mask = MaskKind::None;
  Type maskStorage;       // storage element type of the mask (i8 for boolean masks)
  bool nanForEmptyRows = false; // ONNX Attention: a fully masked row is NaN (kiln: 0)
  // kiln.kv_cache.attention ... prefill: K and V are read in place from a KV cache, one buffer
  // of element type `kvStorage`. The parameters are (q, cache, positions, slots, out); the
  // scalars end with the element offsets of the layer's K and V within a slot (kKBase,
  // kVBase) and the slot stride is the K/V batch stride. The device reads start = positions[0]
  // and slot = slots[0] (the block's batch; Q and O get batch stride 0): kv_len = start +
  // q_len, and query i sees keys j <= start + i (the diagonal is bottom-right).
  bool kvCache = false;
  Type kvStorage;
};

/// The i64 scalar parameters of every attention kernel, in order.
enum ScalarParam : unsigned {
  kQLen,
  kKvLen,
  kKvHeads,
  kCausalOffset, // query i sees keys j <= i + offset (may be negative)
  kQStride,      // 3 strides each: batch, head, seq (the head_dim stride is 1)
  kKStride = kQStride + 3,
  kVStride = kKStride + 3,
  kOStride = kVStride + 3,
  kMaskStride = kOStride + 3, // 4 strides: batch, head, query, key (0 = broadcast)
  kMaskKeys = kMaskStride + 4, // keys at or past this index are masked (ONNX pads short masks)
  kNumScalars,
  // Only with AttentionSpec::kvCache: the element offsets of K and V in the cache (past the
  // slot offset).
  kKBase = kNumScalars,
  kVBase,
  kNumCacheScalars
};

/// Host values of one launch.
struct AttentionLaunch {
  Value q, k, v, mask; // host tensors (mask may be null; k = v = the cache with kvCache)
  Value positions, slots; // host tensors, with kvCache only
  Value batch, qLen, kvLen;
  int64_t numHeads = 0, numKvHeads = 0;
  SmallVector<Value> scalars; // kNumScalars index values
  ResultSpec result;
};

enum class Variant { Simt, Mma };

//===----------------------------------------------------------------------===//
// Device-side IR helpers
//===----------------------------------------------------------------------===//

/// A typed 1-D view of `numElements` elements at `byteOffset` of the dynamic shared memory.
Value sharedView(KB &kb, Value dynamicShared, int64_t byteOffset, Type elementType,
                 int64_t numElements) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(kb.b.getContext(), gpu::AddressSpace::Workgroup);
  auto type = MemRefType::get({numElements}, elementType, MemRefLayoutAttrInterface(), workgroup);
  return memref::ViewOp::create(kb.b, kb.loc, type, dynamicShared, kb.idx(byteOffset),
                                ValueRange{});
}

/// The kernel's parameters and the position of its block in the problem.
struct DeviceProblem {
  Value q, k, v, mask, out;
  Value scalars[kNumCacheScalars];
  Value kBase, vBase;    // offsets of K and V in a KV cache (null otherwise)
  Value batch, kvHead;   // of this block
  Value rowBase;         // first problem row of this block
  Value totalRows;       // group * q_len
  Value tid, warp, lane;
};

DeviceProblem loadProblem(KB &kb, gpu::GPUFuncOp kernel, const AttentionSpec &spec,
                          int64_t blockRows) {
  DeviceProblem p;
  unsigned arg = 0;
  Value positions, slots;
  p.q = kernel.getArgument(arg++);
  if (spec.kvCache) {
    p.k = p.v = kernel.getArgument(arg++);
    positions = kernel.getArgument(arg++);
    slots = kernel.getArgument(arg++);
  } else {
    p.k = kernel.getArgument(arg++);
    p.v = kernel.getArgument(arg++);
  }
  if (spec.mask != MaskKind::None)
    p.mask = kernel.getArgument(arg++);
  p.out = kernel.getArgument(arg++);
  unsigned numScalars = spec.kvCache ? kNumCacheScalars : kNumScalars;
  for (unsigned i = 0; i < numScalars; ++i)
    p.scalars[i] = scalarArgument(kb.b, kb.loc, kernel, arg, i);
  p.tid = gpu::ThreadIdOp::create(kb.b, kb.loc, gpu::Dimension::x);
  p.warp = kb.divu(p.tid, 32);
  p.lane = kb.remu(p.tid, 32);
  Value rowTile = gpu::BlockIdOp::create(kb.b, kb.loc, gpu::Dimension::x);
  Value batchHead = gpu::BlockIdOp::create(kb.b, kb.loc, gpu::Dimension::y);
  p.batch = arith::DivUIOp::create(kb.b, kb.loc, batchHead, p.scalars[kKvHeads]);
  p.kvHead = arith::RemUIOp::create(kb.b, kb.loc, batchHead, p.scalars[kKvHeads]);
  p.rowBase = kb.mul(rowTile, blockRows);
  p.totalRows = kb.mul(p.scalars[kQLen], spec.group);
  if (spec.kvCache) {
    // One sequence at consecutive positions start .. start + q_len - 1 of slot slots[0].
    Value start = kb.toIndex(kb.load(positions, kb.idx(0)));
    p.scalars[kCausalOffset] = start;
    p.scalars[kKvLen] = kb.add(start, p.scalars[kQLen]);
    p.batch = kb.toIndex(kb.load(slots, kb.idx(0)));
    p.kBase = p.scalars[kKBase];
    p.vBase = p.scalars[kVBase];
  }
  return p;
}

/// One problem row: (query, head), and whether it exists.
struct RowInfo {
  Value valid, query, head;
};

RowInfo rowInfo(KB &kb, const DeviceProblem &p, const AttentionSpec &spec, Value row) {
  RowInfo info;
  info.valid = kb.ult(row, p.totalRows);
  info.query = kb.divu(row, spec.group);
  info.head = kb.add(kb.mul(p.kvHead, spec.group), kb.remu(row, spec.group));
  return info;
}

/// Element offset of (batch, head, seq) in a tensor with strides at `strideParam`.
Value tensorOffset(KB &kb, const DeviceProblem &p, unsigned strideParam, Value batch,
                   Value head, Value seq) {
  Value offset = kb.mul(batch, p.scalars[strideParam]);
  offset = kb.add(offset, kb.mul(head, p.scalars[strideParam + 1]));
  return kb.add(offset, kb.mul(seq, p.scalars[strideParam + 2]));
}

/// Element offset of key or value `seq` of (batch, head): tensorOffset past `base` (the K or V
/// offset of a KV cache's layer; null for plain K/V tensors).
Value kvOffset(KB &kb, const DeviceProblem &p, unsigned strideParam, Value base, Value batch,
               Value head, Value seq) {
  Value offset = tensorOffset(kb, p, strideParam, batch, head, seq);
  return base ? kb.add(base, offset) : offset;
}

/// The end of the keys any row of this block sees: kv_len, or for causal attention just past
/// the last query's diagonal (clamped to [0, kv_len]).
Value blockKeyEnd(KB &kb, const DeviceProblem &p, const AttentionSpec &spec,
                  int64_t blockRows) {
  Value kvLen = p.scalars[kKvLen];
  if (!spec.causal)
    return kvLen;
  Value lastRow = kb.sub(kb.minsi(kb.add(p.rowBase, blockRows), p.totalRows), kb.idx(1));
  Value lastQuery = kb.divu(lastRow, spec.group);
  Value end = kb.add(kb.add(lastQuery, p.scalars[kCausalOffset]), kb.idx(1));
  return kb.minsi(kb.maxsi(end, kb.idx(0)), kvLen);
}

/// The score of (row, key) after scale, softcap, mask and causal masking. `key` may be past
/// kv_len (then -inf).
Value finishScore(KB &kb, const DeviceProblem &p, const AttentionSpec &spec, Value dot,
                  const RowInfo &row, Value key, bool checkKeyBounds, bool applyCausal) {
  Value s = kb.mul(dot, kb.f32(spec.scale));
  if (spec.softcap > 0) {
    Value cap = kb.f32(spec.softcap);
    s = kb.mul(cap, kb.tanh(kb.divf(s, cap)));
  }
  Value negInf = kb.negInf();
  if (spec.mask != MaskKind::None) {
    // Only rows that exist and keys the mask covers are read; the rest is -inf.
    Value inside = kb.andi(row.valid, kb.ult(key, p.scalars[kMaskKeys]));
    Value bias = ifElse(
        kb, inside,
        [&](KB &t) -> SmallVector<Value> {
          Value offset = t.mul(p.batch, p.scalars[kMaskStride]);
          offset = t.add(offset, t.mul(row.head, p.scalars[kMaskStride + 1]));
          offset = t.add(offset, t.mul(row.query, p.scalars[kMaskStride + 2]));
          offset = t.add(offset, t.mul(key, p.scalars[kMaskStride + 3]));
          Value element = t.load(p.mask, offset);
          if (spec.mask == MaskKind::Boolean) {
            Value attend = t.cmpi(arith::CmpIPredicate::ne, element, t.zero(element.getType()));
            return {t.select(attend, t.f32(0.0), t.negInf())};
          }
          return {t.convert(element, t.b.getF32Type())};
        },
        [&](KB &e) -> SmallVector<Value> { return {e.negInf()}; })[0];
    s = kb.add(s, bias);
  }
  if (spec.causal && applyCausal) {
    Value limit = kb.add(row.query, p.scalars[kCausalOffset]);
    s = kb.select(kb.sgt(key, limit), negInf, s);
  }
  if (checkKeyBounds)
    s = kb.select(kb.ult(key, p.scalars[kKvLen]), s, negInf);
  return s;
}

/// One step of the online softmax of a row: the new running max and the factor that rescales
/// what was accumulated so far. `tileMax` is the row's max over the new tile. A running max of
/// -inf (every key so far masked) is replaced by 0 so that exp(-inf - max) is 0, never NaN.
struct SoftmaxStep {
  Value newMax, safeMax, alpha;
};

SoftmaxStep softmaxStep(KB &kb, Value oldMax, Value tileMax) {
  SoftmaxStep step;
  step.newMax = kb.maxf(oldMax, tileMax);
  Value empty = kb.cmpf(arith::CmpFPredicate::OEQ, step.newMax, kb.negInf());
  step.safeMax = kb.select(empty, kb.f32(0.0), step.newMax);
  step.alpha = kb.exp(kb.sub(oldMax, step.safeMax));
  return step;
}

/// The output of a row from its accumulator, final max and sum.
Value finishOutput(KB &kb, const DeviceProblem &p, const AttentionSpec &spec, Value acc,
                   Value rowMax, Value rowSum) {
  Value empty = kb.cmpf(arith::CmpFPredicate::OEQ, rowMax, kb.negInf());
  Value emptyValue = kb.f32(0.0);
  if (spec.nanForEmptyRows) {
    // ONNX: softmax over keys that are all masked is NaN (no keys at all gives 0).
    Value anyKeys = kb.ult(kb.idx(0), p.scalars[kKvLen]);
    emptyValue = kb.select(anyKeys, kb.f32(std::numeric_limits<double>::quiet_NaN()),
                           emptyValue);
  }
  return kb.select(empty, emptyValue, kb.mul(acc, kb.divf(kb.f32(1.0), rowSum)));
}

/// Copies a tile of `numRows` rows of `rowLength` elements from global `source` into shared
/// `target` at element `targetBase` (row stride `targetStride`), converting to the target's
/// element type; rows for which `rowValid` is false are zero. `rowOffset` gives the global
/// offset of a row's first element. With `vectorOk` (a runtime i1; only where the element types
/// match and rowLength is a multiple of 8) a thread moves 8 elements (16 bytes) at a time, with
/// `async` through cp.async (nvgpu.device_async_copy, zero-filling invalid rows): the caller
/// commits and waits for the group. Without `vectorOk` the copy is synchronous.
void copyTile(KB &kb, Value tid, int64_t numThreads, Value source, Value target, Value targetBase,
              int64_t numRows, int64_t rowLength, int64_t targetStride,
              function_ref<Value(KB &, Value)> rowValid,
              function_ref<Value(KB &, Value)> rowOffset, Value vectorOk, bool async = false) {
  Type targetType = cast<MemRefType>(target.getType()).getElementType();
  auto scalarCopy = [&](KB &kb) {
    forEach(kb, tid, kb.idx(numRows * rowLength), kb.idx(numThreads), [&](KB &t, Value e) {
      Value r = t.divu(e, rowLength);
      Value c = t.remu(e, rowLength);
      Value value = ifElse(
          t, rowValid(t, r),
          [&](KB &y) -> SmallVector<Value> {
            return {loadElement(y.b, y.loc, source, y.add(rowOffset(y, r), c), targetType)};
          },
          [&](KB &n) -> SmallVector<Value> { return {n.zero(targetType)}; })[0];
      t.store(value, target, t.add(targetBase, t.add(t.mul(r, targetStride), c)));
    });
  };
  if (!vectorOk) {
    scalarCopy(kb);
    return;
  }
  auto vectorCopy = [&](KB &kb) {
    constexpr int64_t width = 8;
    int64_t chunks = rowLength / width;
    auto vectorType = VectorType::get({width}, targetType);
    int64_t bytes = width * targetType.getIntOrFloatBitWidth() / 8;
    forEach(kb, tid, kb.idx(numRows * chunks), kb.idx(numThreads), [&](KB &t, Value e) {
      Value r = t.divu(e, chunks);
      Value c = t.mul(t.remu(e, chunks), width);
      Value targetIndex = t.add(targetBase, t.add(t.mul(r, targetStride), c));
      if (async) {
        // Invalid rows copy 0 source elements (cp.async zero-fills) from element 0.
        Value valid = rowValid(t, r);
        Value sourceIndex = ifElse(
            t, valid, [&](KB &y) -> SmallVector<Value> { return {y.add(rowOffset(y, r), c)}; },
            [&](KB &n) -> SmallVector<Value> { return {n.idx(0)}; })[0];
        Value sourceElements = t.select(valid, t.idx(width), t.idx(0));
        nvgpu::DeviceAsyncCopyOp::create(t.b, t.loc, target, ValueRange{targetIndex}, source,
                                         ValueRange{sourceIndex}, t.b.getIndexAttr(width),
                                         sourceElements, t.b.getUnitAttr());
        return;
      }
      Value value = ifElse(
          t, rowValid(t, r),
          [&](KB &y) -> SmallVector<Value> {
            return {vector::LoadOp::create(y.b, y.loc, vectorType, source,
                                           ValueRange{y.add(rowOffset(y, r), c)},
                                           /*nontemporal=*/false, llvm::MaybeAlign(bytes))
                        .getResult()};
          },
          [&](KB &n) -> SmallVector<Value> { return {n.zero(vectorType)}; })[0];
      vector::StoreOp::create(t.b, t.loc, value, target, ValueRange{targetIndex},
                              /*nontemporal=*/false, llvm::MaybeAlign(bytes));
    });
  };
  scf::IfOp::create(
      kb.b, kb.loc, vectorOk,
      [&](OpBuilder &nb, Location nl) {
        KB inner{nb, nl, kb.accurateExp};
        vectorCopy(inner);
        scf::YieldOp::create(nb, nl);
      },
      [&](OpBuilder &nb, Location nl) {
        KB inner{nb, nl, kb.accurateExp};
        scalarCopy(inner);
        scf::YieldOp::create(nb, nl);
      });
}

/// Whether 8-element vector accesses of `buffer` along the head dim are aligned: the base is
/// 16-byte aligned and every stride at `strideParam` (and `offset`, if any) is a multiple of 8
/// elements.
Value vectorAccessOk(KB &kb, const DeviceProblem &p, Value buffer, unsigned strideParam,
                     Value offset = {}) {
  Value pointer = memref::ExtractAlignedPointerAsIndexOp::create(kb.b, kb.loc, buffer);
  Value ok = kb.cmpi(arith::CmpIPredicate::eq, kb.remu(pointer, 16), kb.idx(0));
  for (unsigned i = 0; i < 3; ++i)
    ok = kb.andi(ok, kb.cmpi(arith::CmpIPredicate::eq, kb.remu(p.scalars[strideParam + i], 8),
                             kb.idx(0)));
  if (offset)
    ok = kb.andi(ok, kb.cmpi(arith::CmpIPredicate::eq, kb.remu(offset, 8), kb.idx(0)));
  return ok;
}

//===----------------------------------------------------------------------===//
// SIMT flash kernel
//===----------------------------------------------------------------------===//

constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = 32 * kWarps;
constexpr int64_t kSimtKeys = 32; // BLOCK_N: one key per lane

struct SimtTiling {
  int64_t rowsPerWarp;  // R
  int64_t blockRows;    // BLOCK_M = 4 R
  int64_t vTiles;       // ceil(Dv / 32): output columns per lane
  int64_t kStride;      // D + 1
  int64_t vStride;      // 32 * vTiles
  int64_t qBytes, kBytes, vBytes;
  int64_t sharedBytes() const { return qBytes + kBytes + vBytes; }
};

SimtTiling simtTiling(const AttentionSpec &spec) {
  SimtTiling t;
  t.rowsPerWarp = spec.headDim > 128 || spec.vHeadDim > 128 ? 2 : 4;
  t.blockRows = kWarps * t.rowsPerWarp;
  t.vTiles = (spec.vHeadDim + 31) / 32;
  t.kStride = spec.headDim + 1;
  t.vStride = 32 * t.vTiles;
  t.qBytes = 4 * t.blockRows * spec.headDim;
  t.kBytes = 4 * kSimtKeys * t.kStride;
  t.vBytes = 4 * kSimtKeys * t.vStride;
  // Every part starts 16-byte aligned.
  t.qBytes = (t.qBytes + 15) / 16 * 16;
  t.kBytes = (t.kBytes + 15) / 16 * 16;
  return t;
}

void buildSimtBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const AttentionSpec &spec) {
  KB kb{b, loc, /*accurateExp=*/true};
  SimtTiling tiling = simtTiling(spec);
  const int64_t D = spec.headDim, Dv = spec.vHeadDim, R = tiling.rowsPerWarp;
  const int64_t T = tiling.vTiles;
  DeviceProblem p = loadProblem(kb, kernel, spec, tiling.blockRows);
  Type f32 = b.getF32Type();

  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value shared = gpu::DynamicSharedMemoryOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface(),
                              workgroup));
  Value qs = sharedView(kb, shared, 0, f32, tiling.blockRows * D);
  Value ks = sharedView(kb, shared, tiling.qBytes, f32, kSimtKeys * tiling.kStride);
  Value vs = sharedView(kb, shared, tiling.qBytes + tiling.kBytes, f32, kSimtKeys * tiling.vStride);

  // Q tile -> shared (f32); rows past the problem are zero. The barrier at the top of the key
  // loop orders these stores before any read.
  copyTile(
      kb, p.tid, kThreads, p.q, qs, kb.idx(0), tiling.blockRows, D, D,
      [&](KB &t, Value r) { return t.ult(t.add(p.rowBase, r), p.totalRows); },
      [&](KB &t, Value r) {
        RowInfo info = rowInfo(t, p, spec, t.add(p.rowBase, r));
        return tensorOffset(t, p, kQStride, p.batch, info.head, info.query);
      },
      Value());

  // The rows of this warp.
  SmallVector<RowInfo> rows;
  SmallVector<Value> localRows;
  for (int64_t k = 0; k < R; ++k) {
    Value local = kb.add(kb.mul(p.warp, R), k);
    localRows.push_back(local);
    rows.push_back(rowInfo(kb, p, spec, kb.add(p.rowBase, local)));
  }

  Value keyEnd = blockKeyEnd(kb, p, spec, tiling.blockRows);
  Value numTiles = kb.divu(kb.add(keyEnd, kSimtKeys - 1), kSimtKeys);

  // Loop-carried: max[R], sum[R] (lane-partial), acc[R][T].
  SmallVector<Value> inits = onlineSoftmaxInits(kb, R, T);

  SmallVector<Value> final = forLoop(
      kb, kb.idx(0), numTiles, kb.idx(1), inits,
      [&](KB &t, Value tile, ValueRange args) -> SmallVector<Value> {
        SmallVector<Value> maxes(args.take_front(R));
        SmallVector<Value> sums(args.slice(R, R));
        SmallVector<Value> acc(args.drop_front(2 * R));
        Value keyBase = t.mul(tile, kSimtKeys);

        // K and V tiles -> shared (keys past kv_len are zero).
        t.barrier();
        auto keyValid = [&](KB &y, Value r) {
          return y.ult(y.add(keyBase, r), p.scalars[kKvLen]);
        };
        copyTile(
            t, p.tid, kThreads, p.k, ks, t.idx(0), kSimtKeys, D, tiling.kStride, keyValid,
            [&](KB &y, Value r) {
              return kvOffset(y, p, kKStride, p.kBase, p.batch, p.kvHead, y.add(keyBase, r));
            },
            Value());
        copyTile(
            t, p.tid, kThreads, p.v, vs, t.idx(0), kSimtKeys, Dv, tiling.vStride, keyValid,
            [&](KB &y, Value r) {
              return kvOffset(y, p, kVStride, p.vBase, p.batch, p.kvHead, y.add(keyBase, r));
            },
            Value());
        if (tiling.vStride != Dv) {
          // Zero the padding columns so that P V reads no uninitialised memory.
          int64_t pad = tiling.vStride - Dv;
          forEach(t, p.tid, t.idx(kSimtKeys * pad), t.idx(kThreads), [&](KB &y, Value e) {
            Value r = y.divu(e, pad), c = y.add(y.remu(e, pad), Dv);
            y.store(y.f32(0.0), vs, y.add(y.mul(r, tiling.vStride), c));
          });
        }
        t.barrier();

        // Scores: lane j computes the dot products of key keyBase + j with the warp's rows.
        Value kRow = t.mul(p.lane, tiling.kStride);
        SmallVector<Value> qRows;
        for (int64_t k = 0; k < R; ++k)
          qRows.push_back(t.mul(localRows[k], D));
        auto dotStep = [&](KB &y, Value d, SmallVector<Value> &dots) {
          Value kv = y.load(ks, y.add(kRow, d));
          for (int64_t k = 0; k < R; ++k)
            dots[k] = y.fma(y.load(qs, y.add(qRows[k], d)), kv, dots[k]);
        };
        constexpr int64_t unroll = 8;
        int64_t mainD = D / unroll * unroll;
        SmallVector<Value> dots(R, t.f32(0.0));
        if (mainD > 0)
          dots = forLoop(t, t.idx(0), t.idx(mainD), t.idx(unroll), dots,
                         [&](KB &y, Value d0, ValueRange in) -> SmallVector<Value> {
                           SmallVector<Value> out(in);
                           for (int64_t u = 0; u < unroll; ++u)
                             dotStep(y, y.add(d0, u), out);
                           return out;
                         });
        for (int64_t d = mainD; d < D; ++d)
          dotStep(t, t.idx(d), dots);

        // Online softmax per row.
        Value key = t.add(keyBase, p.lane);
        SmallVector<Value> probs(R), newMaxes(R), newSums(R), newAcc(acc);
        for (int64_t k = 0; k < R; ++k) {
          Value s = finishScore(t, p, spec, dots[k], rows[k], key, /*checkKeyBounds=*/true,
                                /*applyCausal=*/true);
          SoftmaxStep step = softmaxStep(t, maxes[k], t.laneMax(s, 31));
          probs[k] = t.exp(t.sub(s, step.safeMax));
          newMaxes[k] = step.newMax;
          newSums[k] = t.fma(sums[k], step.alpha, probs[k]);
          for (int64_t c = 0; c < T; ++c)
            newAcc[k * T + c] = t.mul(acc[k * T + c], step.alpha);
        }

        // P V: key j's probabilities come from lane j.
        newAcc = forLoop(t, t.idx(0), t.idx(kSimtKeys), t.idx(1), newAcc,
                         [&](KB &y, Value j, ValueRange in) -> SmallVector<Value> {
                           SmallVector<Value> out(in);
                           SmallVector<Value> vRow;
                           Value vBase = y.add(y.mul(j, tiling.vStride), p.lane);
                           for (int64_t c = 0; c < T; ++c)
                             vRow.push_back(y.load(vs, y.add(vBase, 32 * c)));
                           for (int64_t k = 0; k < R; ++k) {
                             Value pj = y.shuffleIdx(probs[k], j);
                             for (int64_t c = 0; c < T; ++c)
                               out[k * T + c] = y.fma(pj, vRow[c], out[k * T + c]);
                           }
                           return out;
                         });

        SmallVector<Value> results(newMaxes);
        results.append(newSums);
        results.append(newAcc);
        return results;
      });

  // Normalise and store.
  for (int64_t k = 0; k < R; ++k) {
    Value rowMax = final[k];
    Value rowSum = kb.laneSum(final[R + k], 31);
    ifThen(kb, rows[k].valid, [&](KB &t) {
      Value base = tensorOffset(t, p, kOStride, p.batch, rows[k].head, rows[k].query);
      for (int64_t c = 0; c < T; ++c) {
        Value column = t.add(p.lane, 32 * c);
        Value value = finishOutput(t, p, spec, final[2 * R + k * T + c], rowMax, rowSum);
        auto store = [&](KB &y) { storeElement(y.b, y.loc, value, p.out, y.add(base, column)); };
        if (32 * (c + 1) <= Dv)
          store(t);
        else
          ifThen(t, t.ult(column, t.idx(Dv)), store);
      }
    });
  }
}

//===----------------------------------------------------------------------===//
// Tensor-core flash kernel (nvgpu.mma.sync m16n8k16)
//===----------------------------------------------------------------------===//

constexpr int64_t kMmaRows = 64; // BLOCK_M: 16 per warp
constexpr int64_t kMmaKeys = 64; // BLOCK_N

/// Shared memory of the tensor-core kernel: two stages (double buffering), each a K tile
/// [64][D + 8] followed by a V tile [64][Dv + 8], in elements of the storage type.
struct MmaTiling {
  int64_t kStride, vStride;   // padded row strides (elements) of the K and V tiles
  int64_t kElements, stageElements;
  int64_t sharedBytes() const { return 2 * 2 * stageElements; }
};

MmaTiling mmaTiling(const AttentionSpec &spec) {
  MmaTiling t;
  t.kStride = spec.headDim + 8;
  t.vStride = spec.vHeadDim + 8;
  // Q [64][D + 8] is staged through the K tile of stage 1, which has the same size.
  t.kElements = kMmaKeys * t.kStride;
  t.stageElements = t.kElements + kMmaKeys * t.vStride;
  return t;
}

bool mmaSupports(const AttentionSpec &spec) {
  return (spec.storage.isF16() || spec.storage.isBF16()) && spec.headDim % 16 == 0 &&
         spec.headDim <= 128 && spec.vHeadDim % 8 == 0 && spec.vHeadDim <= 128 &&
         (!spec.kvCache || spec.kvStorage == spec.storage);
}

/// One warp-wide m16n8k16 MMA with f32 accumulation: `a` holds the 4 A pairs of this lane, `b`
/// the 2 B pairs (vector<2 x f16/bf16>), `c` the 4 accumulators; returns the 4 new ones.
/// (nvvm.mma.sync directly: nvgpu.mma.sync does not lower bf16.)
SmallVector<Value> mmaSync(KB &kb, ArrayRef<Value> a, ArrayRef<Value> b, ArrayRef<Value> c) {
  Type element = cast<VectorType>(a.front().getType()).getElementType();
  bool bf16 = element.isBF16();
  auto operand = [&](Value pair) -> Value {
    if (!bf16)
      return pair;
    // bf16 operands are packed in i32 registers.
    return LLVM::BitcastOp::create(kb.b, kb.loc, kb.b.getI32Type(), pair);
  };
  SmallVector<Value> aOperands, bOperands;
  for (Value pair : a)
    aOperands.push_back(operand(pair));
  for (Value pair : b)
    bOperands.push_back(operand(pair));
  Type f32 = kb.b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(kb.b.getContext(), {f32, f32, f32, f32});
  NVVM::MMATypes type = bf16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  auto mma = NVVM::MmaOp::create(
      kb.b, kb.loc, resultType, aOperands, bOperands, c, ArrayRef<int64_t>{16, 8, 16},
      std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value> results;
  for (int64_t i = 0; i < 4; ++i)
    results.push_back(LLVM::ExtractValueOp::create(kb.b, kb.loc, mma.getResult(), i));
  return results;
}

void buildMmaBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const AttentionSpec &spec) {
  KB kb{b, loc};
  MmaTiling tiling = mmaTiling(spec);
  const int64_t D = spec.headDim, Dv = spec.vHeadDim;
  const int64_t kSteps = D / 16;            // k-steps of Q K^T
  const int64_t sTiles = kMmaKeys / 8;      // n-tiles of S
  const int64_t pSteps = kMmaKeys / 16;     // k-steps of P V
  const int64_t oTiles = Dv / 8;            // n-tiles of O
  Type element = spec.storage;
  auto pairType = VectorType::get({2}, element);

  DeviceProblem p = loadProblem(kb, kernel, spec, kMmaRows);
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value shared = gpu::DynamicSharedMemoryOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface(),
                              workgroup));
  // One view of both stages; stage s's K tile starts at s * stageElements, its V tile
  // kElements later.
  Value tiles = sharedView(kb, shared, 0, element, 2 * tiling.stageElements);
  auto kBase = [&](KB &t, Value stage) { return t.mul(stage, tiling.stageElements); };
  auto vBase = [&](KB &t, Value stage) {
    return t.add(t.mul(stage, tiling.stageElements), tiling.kElements);
  };

  // Fragment coordinates (PTX ISA, mma.m16n8k16 with .f16/.bf16): group g = lane / 4 owns rows
  // g and g + 8 of the warp's 16 rows of A and C, and column g of B; t = lane % 4 owns columns
  // (A, C) or rows (B) 2t, 2t + 1 and, for A and B, 2t + 8, 2t + 9.
  //   A pairs: (g, 2t..), (g + 8, 2t..), (g, 2t + 8..), (g + 8, 2t + 8..)
  //   B pairs: (k = 2t.., n = g), (k = 2t + 8.., n = g)
  //   C:       (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1)
  Value g = kb.divu(p.lane, 4);
  Value tig = kb.remu(p.lane, 4);
  Value twoT = kb.mul(tig, 2);
  Value warpRow = kb.mul(p.warp, 16);

  Value qVector = vectorAccessOk(kb, p, p.q, kQStride);
  Value kVector = vectorAccessOk(kb, p, p.k, kKStride, p.kBase);
  Value vVector = vectorAccessOk(kb, p, p.v, kVStride, p.vBase);

  auto loadPair = [&](KB &t, Value memref, Value index) {
    return vector::LoadOp::create(t.b, t.loc, pairType, memref, ValueRange{index},
                                  /*nontemporal=*/false, llvm::MaybeAlign(4))
        .getResult();
  };
  auto pairOf = [&](KB &t, Value x, Value y) {
    return vector::FromElementsOp::create(t.b, t.loc, pairType, ValueRange{x, y}).getResult();
  };
  // ldmatrix of `count` (2 or 4) 8x8 blocks of a shared tile; `index` is the element this lane
  // addresses (row l % 8 of block l / 8). Register i of the result holds block i.
  auto ldmatrix = [&](KB &t, Value memref, Value index, int64_t count, bool transpose) {
    auto type = VectorType::get({count, 2}, element);
    return nvgpu::LdMatrixOp::create(t.b, t.loc, type, memref, ValueRange{index}, transpose,
                                     static_cast<uint32_t>(count))
        .getResult();
  };
  auto pairAt = [&](KB &t, Value fragments, int64_t i) {
    return vector::ExtractOp::create(t.b, t.loc, fragments, ArrayRef<int64_t>{i}).getResult();
  };
  Value laneRow = kb.remu(p.lane, 8), laneBlock = kb.divu(p.lane, 8);

  // Q tile -> shared (through the K tile of stage 1) -> A fragments in registers for the whole
  // kernel.
  Value qBase = kb.idx(tiling.stageElements);
  copyTile(
      kb, p.tid, kThreads, p.q, tiles, qBase, kMmaRows, D, tiling.kStride,
      [&](KB &t, Value r) { return t.ult(t.add(p.rowBase, r), p.totalRows); },
      [&](KB &t, Value r) {
        RowInfo info = rowInfo(t, p, spec, t.add(p.rowBase, r));
        return tensorOffset(t, p, kQStride, p.batch, info.head, info.query);
      },
      qVector);
  kb.barrier();
  SmallVector<SmallVector<Value>> qFragments;
  {
    Value rowA = kb.add(qBase, kb.mul(kb.add(warpRow, g), tiling.kStride));
    Value rowB = kb.add(rowA, 8 * tiling.kStride);
    for (int64_t s = 0; s < kSteps; ++s) {
      Value col = kb.add(twoT, 16 * s);
      Value col8 = kb.add(col, 8);
      qFragments.push_back(
          {loadPair(kb, tiles, kb.add(rowA, col)), loadPair(kb, tiles, kb.add(rowB, col)),
           loadPair(kb, tiles, kb.add(rowA, col8)), loadPair(kb, tiles, kb.add(rowB, col8))});
    }
  }

  // The two rows of this lane.
  RowInfo rowA = rowInfo(kb, p, spec, kb.add(p.rowBase, kb.add(warpRow, g)));
  RowInfo rowB = rowInfo(kb, p, spec, kb.add(p.rowBase, kb.add(kb.add(warpRow, g), 8)));
  Value keyEnd = blockKeyEnd(kb, p, spec, kMmaRows);
  Value numTiles = kb.divu(kb.add(keyEnd, kMmaKeys - 1), kMmaKeys);
  // A tile whose last key is past this (the first query's diagonal) needs causal masking.
  Value firstQuery = kb.divu(p.rowBase, spec.group);
  Value diagonal = kb.add(firstQuery, p.scalars[kCausalOffset]);

  // Loop-carried: maxA, maxB, sumA, sumB (lane-partial), O accumulators [oTiles][4].
  SmallVector<Value> inits = {kb.negInf(), kb.negInf(), kb.f32(0.0), kb.f32(0.0)};
  for (int64_t i = 0; i < 4 * oTiles; ++i)
    inits.push_back(kb.f32(0.0));

  // K/V tiles stream through two stages: tile i lands in stage i % 2 through cp.async (16 bytes
  // a copy; a synchronous copy where the tensors are not 16-byte aligned), tile i + 1 is in
  // flight while tile i is computed. Per iteration: barrier (every warp is done with the stage
  // about to be refilled), issue tile i + 1, commit, wait for tile i's group, barrier (tile i is
  // visible to every warp), compute.
  auto issueTile = [&](KB &t, Value tile) {
    Value keyBase = t.mul(tile, kMmaKeys);
    Value stage = t.remu(tile, 2);
    auto keyValid = [&](KB &y, Value r) { return y.ult(y.add(keyBase, r), p.scalars[kKvLen]); };
    copyTile(
        t, p.tid, kThreads, p.k, tiles, kBase(t, stage), kMmaKeys, D, tiling.kStride, keyValid,
        [&](KB &y, Value r) {
          return kvOffset(y, p, kKStride, p.kBase, p.batch, p.kvHead, y.add(keyBase, r));
        },
        kVector, /*async=*/true);
    copyTile(
        t, p.tid, kThreads, p.v, tiles, vBase(t, stage), kMmaKeys, Dv, tiling.vStride, keyValid,
        [&](KB &y, Value r) {
          return kvOffset(y, p, kVStride, p.vBase, p.batch, p.kvHead, y.add(keyBase, r));
        },
        vVector, /*async=*/true);
  };
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto commit = [&](KB &t) {
    return nvgpu::DeviceAsyncCreateGroupOp::create(t.b, t.loc, tokenType, ValueRange{})
        .getResult();
  };
  auto wait = [&](KB &t, Value group, int32_t pending) {
    nvgpu::DeviceAsyncWaitOp::create(t.b, t.loc, group, t.b.getI32IntegerAttr(pending));
  };
  // Prologue: tile 0 into stage 0 (Q's fragments come from stage 1, which tile 1 refills only
  // after the loop's first barrier).
  ifThen(kb, kb.ult(kb.idx(0), numTiles), [&](KB &t) { issueTile(t, t.idx(0)); });
  commit(kb);

  SmallVector<Value> final = forLoop(
      kb, kb.idx(0), numTiles, kb.idx(1), inits,
      [&](KB &t, Value tile, ValueRange args) -> SmallVector<Value> {
        Value keyBase = t.mul(tile, kMmaKeys);
        Value stage = t.remu(tile, 2);
        Value kTile = kBase(t, stage), vTile = vBase(t, stage);
        t.barrier();
        Value next = t.add(tile, 1);
        ifThen(t, t.ult(next, numTiles), [&](KB &y) { issueTile(y, next); });
        wait(t, commit(t), 1);
        t.barrier();

        // S = Q K^T: n-tile n covers keys 8n..8n+7; its B fragment (k = d, n = key) of k-step
        // s is the pair of 8x8 blocks (keys 8n.., d 16s..) and (keys 8n.., d 16s + 8..) of the
        // K tile, which ldmatrix (not transposed) distributes exactly as B: lane l gets row
        // l / 4 = g, columns 2t, 2t + 1. One ldmatrix.x4 serves two k-steps.
        SmallVector<Value> scores; // element e of n-tile n at 4n + e
        for (int64_t n = 0; n < sTiles; ++n) {
          SmallVector<Value> c(4, t.f32(0.0));
          for (int64_t s = 0; s < kSteps; s += 2) {
            int64_t count = s + 1 < kSteps ? 4 : 2;
            // Lane l addresses row l % 8 of block l / 8: (d block 2s + l / 8).
            Value row = t.add(laneRow, 8 * n);
            Value col = t.add(t.mul(t.remu(laneBlock, count), 8), 16 * s);
            Value frags =
                ldmatrix(t, tiles, t.add(kTile, t.add(t.mul(row, tiling.kStride), col)), count, false);
            c = mmaSync(t, qFragments[s], {pairAt(t, frags, 0), pairAt(t, frags, 1)}, c);
            if (count == 4)
              c = mmaSync(t, qFragments[s + 1], {pairAt(t, frags, 2), pairAt(t, frags, 3)}, c);
          }
          scores.append(c);
        }

        // Scale, softcap, mask; key bounds and causal masking only on the tiles that need them.
        auto finish = [&](KB &y, bool elementwise) -> SmallVector<Value> {
          SmallVector<Value> out;
          for (int64_t n = 0; n < sTiles; ++n)
            for (int64_t e = 0; e < 4; ++e) {
              Value key = y.add(keyBase, y.add(twoT, 8 * n + e % 2));
              out.push_back(finishScore(y, p, spec, scores[4 * n + e], e < 2 ? rowA : rowB, key,
                                        elementwise, elementwise));
            }
          return out;
        };
        Value tileEnd = t.add(keyBase, kMmaKeys);
        Value needsMask = t.sgt(tileEnd, p.scalars[kKvLen]);
        if (spec.causal)
          needsMask = t.ori(needsMask, t.sgt(t.sub(tileEnd, t.idx(1)), diagonal));
        scores = ifElse(
            t, needsMask, [&](KB &y) { return finish(y, true); },
            [&](KB &y) { return finish(y, false); });

        // Online softmax of rows A (elements 0, 1) and B (elements 2, 3); the 4 lanes of a
        // group hold a row between them.
        Value rowMaxes[2] = {t.negInf(), t.negInf()};
        for (int64_t n = 0; n < sTiles; ++n)
          for (int64_t e = 0; e < 4; ++e)
            rowMaxes[e / 2] = t.maxf(rowMaxes[e / 2], scores[4 * n + e]);
        SoftmaxStep steps[2];
        for (int64_t r = 0; r < 2; ++r)
          steps[r] = softmaxStep(t, args[r], t.laneMax(rowMaxes[r], 3));
        Value sums[2] = {t.mul(args[2], steps[0].alpha), t.mul(args[3], steps[1].alpha)};
        SmallVector<Value> probs;
        for (int64_t n = 0; n < sTiles; ++n)
          for (int64_t e = 0; e < 4; ++e) {
            Value prob = t.exp(t.sub(scores[4 * n + e], steps[e / 2].safeMax));
            sums[e / 2] = t.add(sums[e / 2], prob);
            probs.push_back(t.convert(prob, element));
          }

        // P as A fragments: k-step s of P V is S n-tiles 2s (keys 16s + 2t..) and 2s + 1 (keys
        // 16s + 8 + 2t..), whose C elements are exactly the A pairs.
        SmallVector<SmallVector<Value>> pFragments;
        for (int64_t s = 0; s < pSteps; ++s) {
          const Value *lo = probs.data() + 8 * s, *hi = lo + 4;
          pFragments.push_back({pairOf(t, lo[0], lo[1]), pairOf(t, lo[2], lo[3]),
                                pairOf(t, hi[0], hi[1]), pairOf(t, hi[2], hi[3])});
        }

        // O = O * alpha + P V. The B fragment of k-step s, n-tile n holds keys 16s + 2t, + 1
        // (and + 8, + 9) of column 8n + g: the 8x8 blocks (keys 16s.., columns 8n..) and (keys
        // 16s + 8.., columns 8n..) of the V tile, transposed by ldmatrix.trans. One
        // ldmatrix.x4 serves two n-tiles.
        SmallVector<SmallVector<Value>> acc(oTiles);
        for (int64_t n = 0; n < oTiles; ++n)
          for (int64_t e = 0; e < 4; ++e)
            acc[n].push_back(t.mul(args[4 + 4 * n + e], steps[e / 2].alpha));
        for (int64_t s = 0; s < pSteps; ++s)
          for (int64_t n = 0; n < oTiles; n += 2) {
            int64_t count = n + 1 < oTiles ? 4 : 2;
            // Lane l addresses row l % 8 of block l / 8: keys 16s + 8 (l / 8 % 2) + l % 8,
            // columns 8 (n + l / 16).
            Value block = t.remu(laneBlock, count);
            Value key = t.add(t.add(t.mul(t.remu(block, 2), 8), laneRow), 16 * s);
            Value col = t.mul(t.add(t.divu(block, 2), n), 8);
            Value frags =
                ldmatrix(t, tiles, t.add(vTile, t.add(t.mul(key, tiling.vStride), col)), count, true);
            acc[n] = mmaSync(t, pFragments[s], {pairAt(t, frags, 0), pairAt(t, frags, 1)}, acc[n]);
            if (count == 4)
              acc[n + 1] =
                  mmaSync(t, pFragments[s], {pairAt(t, frags, 2), pairAt(t, frags, 3)}, acc[n + 1]);
          }
        SmallVector<Value> results = {steps[0].newMax, steps[1].newMax, sums[0], sums[1]};
        for (int64_t n = 0; n < oTiles; ++n)
          results.append(acc[n]);
        return results;
      });

  // No copy is left in flight when the kernel ends (the last group is empty).
  wait(kb, commit(kb), 0);

  // Normalise and store: rows A and B, columns 8n + 2t, + 1.
  for (int64_t r = 0; r < 2; ++r) {
    const RowInfo &row = r == 0 ? rowA : rowB;
    Value rowMax = final[r];
    Value rowSum = kb.laneSum(final[2 + r], 3);
    ifThen(kb, row.valid, [&](KB &t) {
      Value base = tensorOffset(t, p, kOStride, p.batch, row.head, row.query);
      for (int64_t n = 0; n < oTiles; ++n)
        for (int64_t e = 0; e < 2; ++e) {
          Value value = finishOutput(t, p, spec, final[4 + 4 * n + 2 * r + e], rowMax, rowSum);
          storeElement(t.b, t.loc, value, p.out, t.add(base, t.add(twoT, 8 * n + e)));
        }
    });
  }
}

//===----------------------------------------------------------------------===//
// Host side
//===----------------------------------------------------------------------===//

std::string kernelName(const AttentionSpec &spec, Variant variant) {
  std::string name;
  llvm::raw_string_ostream os(name);
  if (spec.kvCache)
    os << "kv_cache_prefill_";
  else
    os << "attention_";
  os << (variant == Variant::Mma ? "mma" : "simt") << "_" << typeName(spec.storage);
  if (spec.kvCache && spec.kvStorage != spec.storage)
    os << "_cache_" << typeName(spec.kvStorage);
  os << "_d" << spec.headDim << "_dv" << spec.vHeadDim << "_g" << spec.group;
  if (spec.causal)
    os << "_causal";
  if (spec.mask == MaskKind::Additive)
    os << "_mask_" << typeName(spec.maskStorage);
  else if (spec.mask == MaskKind::Boolean)
    os << "_boolmask";
  os << "_scale" << floatBits(spec.scale);
  if (spec.softcap > 0)
    os << "_softcap" << floatBits(spec.softcap);
  if (spec.nanForEmptyRows)
    os << "_nanrows";
  return name;
}

/// Whether the tensor-core kernel may be used: KILN_ATTENTION=simt forces the SIMT one.
bool simtForced() {
  const char *choice = std::getenv("KILN_ATTENTION");
  return choice && StringRef(choice).equals_insensitive("simt");
}

/// Host stride of a mask dim of size `dim` whose elements are `own` apart: 0 when the dim
/// broadcasts (size 1). Dynamic dims use min/max (which the runtime's plan evaluates) instead
/// of a select: own * clamp(dim - 1, 0, 1).
Value hostBroadcastStride(KernelEmitter &emitter, Value dim, Value own) {
  if (auto constant = dim.getDefiningOp<arith::ConstantIndexOp>())
    return constant.value() == 1 ? emitter.index(0) : own;
  OpBuilder &h = emitter.host();
  Location loc = emitter.loc();
  Value minusOne = arith::SubIOp::create(h, loc, dim, emitter.index(1));
  Value atMostOne = arith::MinSIOp::create(h, loc, minusOne, emitter.index(1));
  Value factor = arith::MaxSIOp::create(h, loc, atMostOne, emitter.index(0));
  return emitter.mul(own, factor);
}

Value hostMin(KernelEmitter &emitter, Value a, Value b) {
  auto ca = a.getDefiningOp<arith::ConstantIndexOp>();
  auto cb = b.getDefiningOp<arith::ConstantIndexOp>();
  if (ca && cb)
    return emitter.index(std::min(ca.value(), cb.value()));
  return arith::MinUIOp::create(emitter.host(), emitter.loc(), a, b);
}

/// Mask strides (batch, head, query, key) and the number of keys it covers. `dims` are the
/// mask's dims, right-aligned to [batch, heads, q_len, kv_len]; a dim of 1 broadcasts (stride
/// 0), except the key dim with `padKeys` (ONNX: a short key dim is padded with -inf instead).
void maskParams(KernelEmitter &emitter, ArrayRef<Value> dims, Value kvLen, bool padKeys,
                SmallVectorImpl<Value> &scalars) {
  size_t rank = dims.size();
  Value strides[4];
  for (int i = 0; i < 4; ++i)
    strides[i] = emitter.index(0);
  Value own = emitter.index(1);
  for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
    size_t scoreDim = 4 - rank + d;
    bool keys = d == static_cast<int64_t>(rank) - 1;
    strides[scoreDim] = keys && padKeys ? own : hostBroadcastStride(emitter, dims[d], own);
    own = emitter.mul(own, dims[d]);
  }
  for (Value stride : strides)
    scalars.push_back(stride);
  scalars.push_back(padKeys ? hostMin(emitter, dims.back(), kvLen) : kvLen);
}

LogicalResult emitAttention(Operation *op, KernelEmitter &emitter, AttentionSpec spec,
                            AttentionLaunch &launch) {
  Variant variant = mmaSupports(spec) && !simtForced() ? Variant::Mma : Variant::Simt;
  if (variant == Variant::Simt && (spec.headDim > 256 || spec.vHeadDim > 256))
    return op->emitError() << "GPU lowering of attention: head_dim " << spec.headDim
                           << " / v_head_dim " << spec.vHeadDim
                           << " is not supported (at most 256)";
  SmallVector<Type> inputTypes = {spec.storage, spec.storage, spec.storage};
  SmallVector<Value> inputs = {launch.q, launch.k, launch.v};
  if (spec.kvCache) {
    Type i64 = IntegerType::get(op->getContext(), 64);
    inputTypes = {spec.storage, spec.kvStorage, i64, i64};
    inputs = {launch.q, launch.k, launch.positions, launch.slots};
  }
  if (spec.mask != MaskKind::None) {
    inputTypes.push_back(spec.maskStorage);
    inputs.push_back(launch.mask);
  }
  BlockSize block = {static_cast<int32_t>(kThreads), 1, 1};
  int64_t blockRows, sharedBytes;
  if (variant == Variant::Mma) {
    blockRows = kMmaRows;
    sharedBytes = mmaTiling(spec).sharedBytes();
  } else {
    SimtTiling tiling = simtTiling(spec);
    blockRows = tiling.blockRows;
    sharedBytes = tiling.sharedBytes();
  }
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      kernelName(spec, variant), inputTypes, {spec.storage},
      spec.kvCache ? kNumCacheScalars : kNumScalars, block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        if (variant == Variant::Mma)
          buildMmaBody(b, loc, f, spec);
        else
          buildSimtBody(b, loc, f, spec);
      });
  Value rows = emitter.mul(launch.qLen, emitter.index(spec.group));
  Grid grid = {emitter.ceilDiv(rows, blockRows), emitter.mul(launch.batch, emitter.index(launch.numKvHeads)),
               emitter.index(1)};
  SmallVector<Value> results =
      emitter.launch(kernel, inputs, {launch.result}, launch.scalars, grid, block, sharedBytes);
  emitter.setResult(op->getResult(0), results.front());
  return success();
}

/// Fills `spec.mask`/`maskStorage` from a mask value's element type.
void setMaskKind(KernelEmitter &emitter, Value mask, AttentionSpec &spec) {
  Type element = cast<ShapedType>(mask.getType()).getElementType();
  spec.mask = element.isInteger(1) ? MaskKind::Boolean : MaskKind::Additive;
  spec.maskStorage = emitter.storageType(element);
}

/// Checks the storage type of Q/K/V: f32, f16 or bf16.
LogicalResult checkStorage(Operation *op, Type storage) {
  if (storage.isF32() || storage.isF16() || storage.isBF16())
    return success();
  return op->emitError() << "GPU lowering of attention: element type " << storage
                         << " is not supported (f32, f16 or bf16 storage)";
}

/// Row-major (batch, head, seq) strides of a [batch, heads, seq, size] tensor.
void stridesBHSD(KernelEmitter &emitter, Value heads, Value seq, int64_t size,
                 SmallVectorImpl<Value> &scalars) {
  Value seqStride = emitter.index(size);
  Value headStride = emitter.mul(seq, seqStride);
  scalars.push_back(emitter.mul(heads, headStride));
  scalars.push_back(headStride);
  scalars.push_back(seqStride);
}

/// (batch, head, seq) strides of a [batch, seq, heads * size] tensor.
void stridesBSHD(KernelEmitter &emitter, Value heads, Value seq, int64_t size,
                 SmallVectorImpl<Value> &scalars) {
  Value seqStride = emitter.mul(heads, emitter.index(size));
  scalars.push_back(emitter.mul(seq, seqStride));
  scalars.push_back(emitter.index(size));
  scalars.push_back(seqStride);
}

/// kiln.attention.
LogicalResult lowerKilnAttention(Operation *op, KernelEmitter &emitter) {
  auto attention = cast<AttentionOp>(op);
  AttentionSpec spec;
  spec.storage = emitter.storageType(getElementTypeOrSelf(attention.getQuery().getType()));
  if (failed(checkStorage(op, spec.storage)))
    return failure();
  spec.headDim = static_cast<int64_t>(attention.getHeadDim());
  int64_t vHeadDim = emitter.storageTensorType(attention.getValue()).getShape()[3];
  if (ShapedType::isDynamic(vHeadDim))
    return op->emitError() << "GPU lowering of kiln.attention: a dynamic v_head_dim is not "
                              "supported";
  spec.vHeadDim = vHeadDim;
  AttentionLaunch launch;
  launch.numHeads = static_cast<int64_t>(attention.getNumHeads());
  launch.numKvHeads = static_cast<int64_t>(attention.getNumKvHeads());
  spec.group = launch.numHeads / launch.numKvHeads;
  spec.scale = attention.getScale().convertToFloat();
  spec.softcap = attention.getSoftcap().convertToFloat();
  spec.causal = attention.getCausal();
  if (Value mask = attention.getMask()) {
    if (cast<RankedTensorType>(mask.getType()).getRank() > 4)
      return op->emitError() << "GPU lowering of kiln.attention: a mask of rank > 4 is not "
                                "supported";
    setMaskKind(emitter, mask, spec);
  }

  launch.q = emitter.tensor(attention.getQuery());
  launch.k = emitter.tensor(attention.getKey());
  launch.v = emitter.tensor(attention.getValue());
  if (!launch.q || !launch.k || !launch.v)
    return failure();
  if (Value mask = attention.getMask()) {
    launch.mask = emitter.tensor(mask);
    if (!launch.mask)
      return failure();
  }
  auto qDims = emitter.dims(attention.getQuery(), op);
  auto kDims = emitter.dims(attention.getKey(), op);
  if (failed(qDims) || failed(kDims))
    return failure();
  launch.batch = (*qDims)[0];
  launch.qLen = (*qDims)[2];
  launch.kvLen = (*kDims)[2];
  Value heads = emitter.index(launch.numHeads), kvHeads = emitter.index(launch.numKvHeads);

  SmallVector<Value> &s = launch.scalars;
  s.push_back(launch.qLen);
  s.push_back(launch.kvLen);
  s.push_back(kvHeads);
  // Bottom-right alignment: query i sees keys j <= i + kv_len - q_len.
  auto kvConst = launch.kvLen.getDefiningOp<arith::ConstantIndexOp>();
  auto qConst = launch.qLen.getDefiningOp<arith::ConstantIndexOp>();
  if (kvConst && qConst)
    s.push_back(emitter.index(kvConst.value() - qConst.value()));
  else
    s.push_back(
        arith::SubIOp::create(emitter.host(), emitter.loc(), launch.kvLen, launch.qLen));
  stridesBHSD(emitter, heads, launch.qLen, spec.headDim, s);
  stridesBHSD(emitter, kvHeads, launch.kvLen, spec.headDim, s);
  stridesBHSD(emitter, kvHeads, launch.kvLen, spec.vHeadDim, s);
  stridesBHSD(emitter, heads, launch.qLen, spec.vHeadDim, s);
  if (Value mask = attention.getMask()) {
    auto maskDims = emitter.dims(mask, op);
    if (failed(maskDims))
      return failure();
    maskParams(emitter, *maskDims, launch.kvLen, /*padKeys=*/false, s);
  } else {
    for (int i = 0; i < 4; ++i)
      s.push_back(emitter.index(0));
    s.push_back(launch.kvLen);
  }
  // The result is [batch, heads, q_len, v_head_dim].
  SmallVector<Value> outDims = {launch.batch, heads, launch.qLen, emitter.index(spec.vHeadDim)};
  launch.result = {emitter.storageTensorType(attention.getOutput()), outDims};
  return emitAttention(op, emitter, spec, launch);
}

/// kiln.onnx.Attention (opset 23) without past K/V and the scores output.
LogicalResult lowerOnnxAttention(Operation *op, KernelEmitter &emitter) {
  auto attention = cast<OnnxAttentionOp>(op);
  auto unsupported = [&](StringRef what) {
    return op->emitError() << "GPU lowering of ONNX Attention: " << what << " is not supported";
  };
  if (attention.getPastKey() || attention.getPastValue())
    return unsupported("past_key/past_value (a KV cache)");
  if (Value scores = attention.getQkMatmulOutput(); scores && !scores.use_empty())
    return unsupported("the qk_matmul_output result");
  Value q = attention.getQ(), k = attention.getK(), v = attention.getV();
  for (Value value : {q, k, v})
    if (!isa<RankedTensorType>(value.getType()))
      return unsupported("an unranked Q, K or V");
  RankedTensorType qType = emitter.storageTensorType(q);
  RankedTensorType kType = emitter.storageTensorType(k);
  RankedTensorType vType = emitter.storageTensorType(v);
  int64_t rank = qType.getRank();

  AttentionSpec spec;
  spec.storage = qType.getElementType();
  if (failed(checkStorage(op, spec.storage)))
    return failure();
  AttentionLaunch launch;
  if (rank == 4) {
    launch.numHeads = qType.getShape()[1];
    launch.numKvHeads = kType.getShape()[1];
    spec.headDim = qType.getShape()[3];
    spec.vHeadDim = vType.getShape()[3];
    if (kType.getShape()[3] != spec.headDim)
      return unsupported("K and Q head sizes that differ or are dynamic");
  } else {
    launch.numHeads = static_cast<int64_t>(attention.getQNumHeads().value_or(0));
    launch.numKvHeads = static_cast<int64_t>(attention.getKvNumHeads().value_or(0));
    int64_t qHidden = qType.getShape()[2], vHidden = vType.getShape()[2];
    if (launch.numHeads <= 0 || launch.numKvHeads <= 0 || ShapedType::isDynamic(qHidden) ||
        ShapedType::isDynamic(vHidden))
      return unsupported("3-D inputs with dynamic hidden sizes");
    spec.headDim = qHidden / launch.numHeads;
    spec.vHeadDim = vHidden / launch.numKvHeads;
    if (qHidden % launch.numHeads != 0 || vHidden % launch.numKvHeads != 0 ||
        kType.getShape()[2] != launch.numKvHeads * spec.headDim)
      return unsupported("3-D hidden sizes that do not split into the head counts");
  }
  for (int64_t size : {launch.numHeads, launch.numKvHeads, spec.headDim, spec.vHeadDim})
    if (ShapedType::isDynamic(size) || size <= 0)
      return unsupported("dynamic head counts or head sizes");
  if (launch.numHeads % launch.numKvHeads != 0)
    return unsupported("query heads that are not a multiple of the KV heads");
  spec.group = launch.numHeads / launch.numKvHeads;
  // Default scale 1/sqrt(head_size), computed in double and rounded once, as the executor does.
  spec.scale = attention.getScale()
                   ? attention.getScale()->convertToFloat()
                   : static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.headDim)));
  spec.softcap = attention.getSoftcap().convertToFloat();
  spec.causal = static_cast<int64_t>(attention.getIsCausal()) != 0;
  spec.nanForEmptyRows = true;
  Value mask = attention.getAttnMask();
  if (mask) {
    auto maskType = dyn_cast<RankedTensorType>(mask.getType());
    if (!maskType || maskType.getRank() < 1 || maskType.getRank() > 4)
      return unsupported("an attn_mask that is unranked or not of rank 1 to 4");
    setMaskKind(emitter, mask, spec);
  }

  launch.q = emitter.tensor(q);
  launch.k = emitter.tensor(k);
  launch.v = emitter.tensor(v);
  if (!launch.q || !launch.k || !launch.v)
    return failure();
  if (mask) {
    launch.mask = emitter.tensor(mask);
    if (!launch.mask)
      return failure();
  }
  auto qDims = emitter.dims(q, op);
  auto kDims = emitter.dims(k, op);
  if (failed(qDims) || failed(kDims))
    return failure();
  launch.batch = (*qDims)[0];
  launch.qLen = (*qDims)[rank == 4 ? 2 : 1];
  launch.kvLen = (*kDims)[rank == 4 ? 2 : 1];
  Value heads = emitter.index(launch.numHeads), kvHeads = emitter.index(launch.numKvHeads);

  SmallVector<Value> &s = launch.scalars;
  s.push_back(launch.qLen);
  s.push_back(launch.kvLen);
  s.push_back(kvHeads);
  // Without past keys ONNX aligns the diagonal top-left: query i sees keys j <= i.
  s.push_back(emitter.index(0));
  auto strides = rank == 4 ? stridesBHSD : stridesBSHD;
  strides(emitter, heads, launch.qLen, spec.headDim, s);
  strides(emitter, kvHeads, launch.kvLen, spec.headDim, s);
  strides(emitter, kvHeads, launch.kvLen, spec.vHeadDim, s);
  strides(emitter, heads, launch.qLen, spec.vHeadDim, s);
  if (mask) {
    auto maskDims = emitter.dims(mask, op);
    if (failed(maskDims))
      return failure();
    maskParams(emitter, *maskDims, launch.kvLen, /*padKeys=*/true, s);
  } else {
    for (int i = 0; i < 4; ++i)
      s.push_back(emitter.index(0));
    s.push_back(launch.kvLen);
  }
  // The result is [batch, heads, q_len, v_head_dim] or [batch, q_len, heads * v_head_dim].
  SmallVector<Value> outDims;
  if (rank == 4)
    outDims = {launch.batch, heads, launch.qLen, emitter.index(spec.vHeadDim)};
  else
    outDims = {launch.batch, launch.qLen, emitter.index(launch.numHeads * spec.vHeadDim)};
  RankedTensorType outType = emitter.storageTensorType(attention.getOutput());
  SmallVector<int64_t> outShape(outType.getShape());
  for (auto [i, dim] : llvm::enumerate(outDims))
    if (auto constant = dim.getDefiningOp<arith::ConstantIndexOp>())
      outShape[i] = constant.value();
  launch.result = {RankedTensorType::get(outShape, outType.getElementType()), outDims};
  if (failed(emitAttention(op, emitter, spec, launch)))
    return failure();
  // Without a past, the present K/V are K and V themselves (4-D only: 3-D would need a
  // transpose to [batch, heads, seq, size]).
  Value presentKey = attention.getPresentKey(), presentValue = attention.getPresentValue();
  if (presentKey && (!presentKey.use_empty() || !presentValue.use_empty())) {
    if (rank != 4)
      return unsupported("present_key/present_value of 3-D inputs");
    emitter.setResult(presentKey, emitter.view(launch.k, emitter.storageTensorType(presentKey),
                                               *kDims));
    auto vDims = emitter.dims(v, op);
    if (failed(vDims))
      return failure();
    emitter.setResult(presentValue,
                      emitter.view(launch.v, emitter.storageTensorType(presentValue), *vDims));
  }
  return success();
}

} // namespace

LogicalResult attention::lowerKVCachePrefillAttention(Operation *op, KernelEmitter &emitter) {
  auto attention = cast<KVCacheAttentionOp>(op);
  KVCacheType cacheType = attention.getCache().getType();
  AttentionSpec spec;
  spec.storage = emitter.storageTensorType(attention.getQuery()).getElementType();
  if (failed(checkStorage(op, spec.storage)))
    return failure();
  AttentionLaunch launch;
  launch.q = emitter.tensor(attention.getQuery());
  Value cache = emitter.tensor(attention.getCache());
  launch.positions = emitter.tensor(attention.getPositions());
  launch.slots = emitter.tensor(attention.getSlots());
  if (!launch.q || !cache || !launch.positions || !launch.slots)
    return failure();
  launch.k = launch.v = cache;
  spec.kvStorage = cast<RankedTensorType>(cache.getType()).getElementType();
  if (failed(checkStorage(op, spec.kvStorage)))
    return failure();
  const int64_t D = cacheType.getHeadDim(), M = cacheType.getMaxSeq();
  launch.numHeads = static_cast<int64_t>(attention.getNumHeads());
  launch.numKvHeads = cacheType.getKvHeads();
  spec.headDim = spec.vHeadDim = D;
  spec.group = launch.numHeads / launch.numKvHeads;
  spec.scale = attention.getScale().convertToFloat();
  spec.causal = true;
  spec.kvCache = true;

  auto qDims = emitter.dims(attention.getQuery(), op);
  if (failed(qDims))
    return failure();
  launch.batch = emitter.index(1);
  launch.qLen = (*qDims)[2];
  launch.kvLen = launch.qLen; // not a kernel parameter: start + q_len on the device
  Value heads = emitter.index(launch.numHeads);

  // Element offsets in the cache: a slot, then per layer K then V as [kv_heads, max_seq, D].
  const int64_t headElements = M * D;
  const int64_t kvElements = launch.numKvHeads * headElements;
  const int64_t slotElements = cacheType.getLayers() * 2 * kvElements;
  const int64_t kBase = static_cast<int64_t>(attention.getLayer()) * 2 * kvElements;

  SmallVector<Value> &s = launch.scalars;
  s.push_back(launch.qLen);
  s.push_back(emitter.index(0)); // kv_len: start + q_len, read on the device
  s.push_back(emitter.index(launch.numKvHeads));
  s.push_back(emitter.index(0)); // causal offset: start, read on the device
  auto packedStrides = [&] {     // Q and O: [1, heads, q_len, D], batch stride 0
    s.push_back(emitter.index(0));
    s.push_back(emitter.mul(launch.qLen, emitter.index(D)));
    s.push_back(emitter.index(D));
  };
  auto cacheStrides = [&] {      // K and V: (slot, head, position)
    s.push_back(emitter.index(slotElements));
    s.push_back(emitter.index(headElements));
    s.push_back(emitter.index(D));
  };
  packedStrides();
  cacheStrides();
  cacheStrides();
  packedStrides();
  for (int i = 0; i < 4; ++i) // no mask
    s.push_back(emitter.index(0));
  s.push_back(emitter.index(0));
  s.push_back(emitter.index(kBase));
  s.push_back(emitter.index(kBase + kvElements));
  assert(s.size() == kNumCacheScalars && "scalar count");

  SmallVector<Value> outDims = {launch.batch, heads, launch.qLen, emitter.index(D)};
  launch.result = {emitter.storageTensorType(attention.getOutput()), outDims};
  return emitAttention(op, emitter, spec, launch);
}

void populateAttentionLowerings(KernelLowerings &lowerings) {
  lowerings[AttentionOp::getOperationName()] = lowerKilnAttention;
  lowerings[OnnxAttentionOp::getOperationName()] = lowerOnnxAttention;
}

} // namespace kiln::gpu_codegen
