//===- KVCacheKernels.cpp - kernels of the KV cache ops -------------------===//
//
// The KV cache is one flat device buffer (the host tensor `tensor<N x storage>` that the
// driver makes of a `!kiln.kv_cache` argument), slot-major: element (slot, layer, kv, head,
// pos, d) at ((((slot * L + layer) * 2 + kv) * KVH + head) * M + pos) * D + d. Tokens are
// packed along dim 2 of batch-1 tensors; token t belongs to slot slots[t] at position
// positions[t] (i64 tensors read on the device, never by the host: the launch grids depend
// only on the token count and compile-time constants, so a decode step can be captured as a
// CUDA graph once per batch size and replayed while the contexts grow). Kernels compute in f32.
//
// * kiln.kv_cache.write -> `kv_cache_write_*`: one thread per W-element chunk (W * element
//   size <= 16 bytes) of one (head, token) row; it copies that chunk of K and of V to the
//   token's slot and position. Grid-stride over KVH * T * D / W chunks, 256 threads a block.
//   The launch result is the cache itself (tied to input 0: updated in place).
//
// * kiln.kv_cache.attention (decode, no `prefill`): flash-decoding in two kernels.
//   `kv_cache_decode_*`: grid (splits, KVH * G / GH, T), 128 threads. A block owns one token,
//   one KV head and GH query heads of its group (GH = G, the whole GQA group, unless the
//   registers do not allow it: each K/V byte is read once per block of heads), and its split's
//   share of the keys 0 .. positions[t]: chunk = max(roundUp(ceil(n / splits), blockKeys),
//   minChunk) keys with n = positions[t] + 1 and minChunk = 64 keys rounded up to blockKeys
//   (short contexts: fewer, fuller splits); split s gets [s * chunk, min(n, (s + 1) * chunk)), blocks of
//   splits past ceil(n / chunk) exit at once (and write nothing). Within a block a key row is
//   read by Lr lanes with 16-byte loads (Lr = D / W rounded up to a power of two, at most 32;
//   lane holds C = ceil(D / W / Lr) chunks of W elements), so a warp reads 32 / Lr keys per
//   load (consecutive rows: coalesced), the block 4 * 32 / Lr keys (blockKeys); each lane
//   group unrolls U keys per iteration (loads first; U <= 4 such that q, acc, K and V take at
//   most 128 registers). Dot products: per lane over its
//   elements, then xor shuffles across the Lr lanes of the row. Each lane group keeps its own
//   online softmax state (max, sum, acc[GH][C * W]) in f32; at the end the lane groups of a
//   warp merge by shuffles, the 4 warps through shared memory (GH * (D + 2) floats a warp),
//   and the block writes its partial (max, sum and the unnormalised acc[D] of each head) to
//   f32 scratch results [T, H, splits, D] and [T, H, splits, 2].
//   `kv_cache_decode_combine_*`: one warp per (token, head), grid ceil(T * H / 4): it reads the
//   active splits' (max, sum), weights them by e^(max_s - max), and writes
//   sum_s w_s acc_s / sum_s w_s sum_s in the output's storage type.
//   splits = min(maxSplits, ceil(528 / (KVH * G / GH))), a constant of the kernel: one token
//   alone fills about 4 blocks per SM of an H100 (132 SMs); maxSplits = min(128,
//   ceil(M / blockKeys)). It does not depend on T, so a token's split boundaries and summation
//   order are the same in a batch of 64 as alone (batched decode gives B = 1's tokens); at
//   large T the grid is larger than needed and the blocks of empty splits exit at once. A
//   split's chunk is a multiple of blockKeys and at least minChunk, so short contexts leave the
//   last splits empty.
//
// * kiln.kv_cache.attention ... prefill: the FlashAttention-2 kernels of kiln.attention
//   (AttentionKernels.cpp: tensor cores for f16/bf16 with head dims multiple of 16 up to 128,
//   SIMT otherwise) reading K and V in place from the cache (start = positions[0], slot =
//   slots[0], query t sees keys 0 .. start + t). KILN_KV_ATTENTION=decode in the compiler's
//   environment lowers prefill with the decode kernels instead (each token has its own
//   position, so the result is the same; for cross-checking).
//
// Head dims up to 256 are supported (the attention kernels' limit).
//
//===----------------------------------------------------------------------===//

#include "AttentionKernels.h"

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstdlib>

using namespace mlir;

namespace kiln::gpu_codegen {
namespace {

using namespace attention;

constexpr int64_t kMaxHeadDim = 256;
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = 32 * kWarps;
/// Blocks the decode kernel aims at for one token: 4 per SM of an H100.
constexpr int64_t kTargetBlocks = 4 * 132;
constexpr int64_t kMaxSplits = 128;
/// The fewest keys of a decode split (rounded up to a block's keys).
constexpr int64_t kMinSplitKeys = 64;
/// Splits the combine kernel reads per loop iteration (loads in flight).
constexpr int64_t kCombineUnroll = 8;

/// The cache layout, in elements.
struct CacheLayout {
  int64_t layers = 0, kvHeads = 0, maxSeq = 0, headDim = 0;
  int64_t headElements() const { return maxSeq * headDim; }       // one (slot, layer, kv, head)
  int64_t kvElements() const { return kvHeads * headElements(); } // K (or V) of one layer
  int64_t layerElements() const { return 2 * kvElements(); }
  int64_t slotElements() const { return layers * layerElements(); }
};

CacheLayout layoutOf(KVCacheType type) {
  CacheLayout layout;
  layout.layers = type.getLayers();
  layout.kvHeads = type.getKvHeads();
  layout.maxSeq = type.getMaxSeq();
  layout.headDim = type.getHeadDim();
  return layout;
}

std::string layoutName(const CacheLayout &c) {
  return "_l" + std::to_string(c.layers) + "_kv" + std::to_string(c.kvHeads) + "_s" +
         std::to_string(c.maxSeq) + "_d" + std::to_string(c.headDim);
}

int64_t byteSize(Type type) { return (type.getIntOrFloatBitWidth() + 7) / 8; }

/// Elements per vector access along the head dim: at most 16 bytes of the widest of `types`,
/// a power of two dividing `headDim` (accesses at multiples of it are then aligned: buffers
/// are 256-byte aligned and every row starts at a multiple of headDim).
int64_t vectorWidth(int64_t headDim, ArrayRef<Type> types) {
  int64_t bytes = 1;
  for (Type type : types)
    bytes = std::max(bytes, byteSize(type));
  int64_t width = std::max<int64_t>(1, 16 / bytes);
  while (width > 1 && headDim % width != 0)
    width /= 2;
  return width;
}

/// Checks what every KV cache kernel needs: a float storage type, a head dim <= 256.
LogicalResult checkCache(Operation *op, KVCacheType type, Value hostCache) {
  StringRef name = op->getName().getStringRef();
  Type storage = cast<RankedTensorType>(hostCache.getType()).getElementType();
  if (!storage.isF32() && !storage.isF16() && !storage.isBF16())
    return op->emitError() << "GPU lowering of " << name << ": cache element type " << storage
                           << " is not supported (f32, f16 or bf16 storage)";
  if (type.getHeadDim() > kMaxHeadDim)
    return op->emitError() << "GPU lowering of " << name << ": head_dim " << type.getHeadDim()
                           << " is not supported (at most " << kMaxHeadDim << ")";
  return success();
}

LogicalResult checkFloat(Operation *op, StringRef what, Value hostTensor) {
  Type storage = cast<RankedTensorType>(hostTensor.getType()).getElementType();
  if (storage.isF32() || storage.isF16() || storage.isBF16())
    return success();
  return op->emitError() << "GPU lowering of " << op->getName() << ": " << what << " element type "
                         << storage << " is not supported (f32, f16 or bf16 storage)";
}

/// `width` zeros of `type`.
SmallVector<Value> zeros(KB &kb, Type type, int64_t width) {
  return SmallVector<Value>(width, kb.zero(type));
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.write
//===----------------------------------------------------------------------===//

/// Thread i copies chunk i % (D / W) of row i / (D / W) = head * T + token of K and of V (W
/// elements each) to (slots[token], layer, K or V, head, positions[token]).
void buildWriteBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const CacheLayout &c,
                    int64_t width) {
  KB kb{b, loc};
  Value key = kernel.getArgument(1), value = kernel.getArgument(2);
  Value positions = kernel.getArgument(3), slots = kernel.getArgument(4);
  Value cache = kernel.getArgument(5); // the result: the same buffer as input 0
  Value tokens = scalarArgument(b, loc, kernel, 6, 0);
  Value layer = scalarArgument(b, loc, kernel, 6, 1);
  const int64_t D = c.headDim, chunks = D / width;
  Type cacheType = cast<MemRefType>(cache.getType()).getElementType();
  Value count = kb.mul(kb.mul(tokens, c.kvHeads), chunks);
  Value layerBase = kb.mul(layer, c.layerElements());
  gridStrideLoop(b, loc, count, [&](OpBuilder &nb, Location nl, Value i) {
    KB t{nb, nl};
    Value chunk = t.remu(i, chunks);
    Value row = t.divu(i, chunks);
    Value token = arith::RemUIOp::create(nb, nl, row, tokens);
    Value head = arith::DivUIOp::create(nb, nl, row, tokens);
    Value position = t.toIndex(t.load(positions, token));
    Value slot = t.toIndex(t.load(slots, token));
    Value column = t.mul(chunk, width);
    Value source = t.add(t.mul(row, D), column);
    Value target = t.add(t.mul(slot, c.slotElements()), layerBase);
    target = t.add(target, t.mul(head, c.headElements()));
    target = t.add(target, t.add(t.mul(position, D), column));
    auto copy = [&](Value from, Value to) {
      Type fromType = cast<MemRefType>(from.getType()).getElementType();
      // Same type: no conversion; otherwise through f32.
      Type through = fromType == cacheType ? cacheType : nb.getF32Type();
      SmallVector<Value> values = loadElements(nb, nl, from, source, width, through);
      storeElements(nb, nl, values, cache, to);
    };
    copy(key, target);
    copy(value, t.add(target, c.kvElements()));
  });
}

LogicalResult lowerWrite(Operation *op, KernelEmitter &emitter) {
  auto write = cast<KVCacheWriteOp>(op);
  KVCacheType type = write.getCache().getType();
  CacheLayout c = layoutOf(type);
  Value cache = emitter.tensor(write.getCache());
  Value key = emitter.tensor(write.getKey());
  Value value = emitter.tensor(write.getValue());
  Value positions = emitter.tensor(write.getPositions());
  Value slots = emitter.tensor(write.getSlots());
  if (!cache || !key || !value || !positions || !slots)
    return failure();
  if (failed(checkCache(op, type, cache)) || failed(checkFloat(op, "key", key)) ||
      failed(checkFloat(op, "value", value)))
    return failure();
  auto keyDims = emitter.dims(write.getKey(), op);
  if (failed(keyDims))
    return failure();
  Value tokens = (*keyDims)[2];
  auto cacheType = cast<RankedTensorType>(cache.getType());
  Type cacheElement = cacheType.getElementType();
  Type keyElement = cast<RankedTensorType>(key.getType()).getElementType();
  Type valueElement = cast<RankedTensorType>(value.getType()).getElementType();
  int64_t width = vectorWidth(c.headDim, {cacheElement, keyElement, valueElement});

  std::string name = "kv_cache_write_" + typeName(keyElement);
  if (valueElement != keyElement)
    name += "_" + typeName(valueElement);
  name += "_to_" + typeName(cacheElement) + layoutName(c);
  Type i64 = IntegerType::get(op->getContext(), 64);
  BlockSize block = {256, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {cacheElement, keyElement, valueElement, i64, i64}, {cacheElement}, 2, block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) { buildWriteBody(b, loc, f, c, width); });
  Value count = emitter.mul(tokens, emitter.index(c.kvHeads * (c.headDim / width)));
  Grid grid = {emitter.ceilDiv(count, block[0]), emitter.index(1), emitter.index(1)};
  SmallVector<Value> results =
      emitter.launch(kernel, {cache, key, value, positions, slots},
                     {ResultSpec{cacheType, {emitter.index(cacheType.getShape()[0])}}},
                     {tokens, emitter.index(static_cast<int64_t>(write.getLayer()))}, grid, block,
                     /*sharedBytes=*/0, /*tiedInputs=*/{0});
  emitter.setResult(write.getUpdated(), results.front());
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.attention: flash-decoding
//===----------------------------------------------------------------------===//

/// Everything the decode kernels depend on at compile time (all in their names).
struct DecodeSpec {
  Type qStorage, cacheStorage; // the output is stored as the query
  CacheLayout cache;
  int64_t heads = 0, group = 1;
  float scale = 1.0f;
  // Tiling.
  int64_t width = 1;         // W: elements per vector access
  int64_t chunks = 1;        // D / W
  int64_t rowLanes = 1;      // Lr: lanes reading one key row
  int64_t laneChunks = 1;    // C: chunks per lane (the last may be absent on some lanes)
  int64_t rowsPerWarp = 32;  // 32 / Lr keys a warp reads at once
  int64_t blockKeys = 128;   // 4 * rowsPerWarp: keys a block reads at once; the split unit
  int64_t unroll = 1;        // U: keys per lane group per iteration
  int64_t headsPerBlock = 1; // GH: query heads of the group a block serves
  int64_t maxSplits = 1;     // the most splits of a token's keys
  int64_t minChunk = 1;      // the fewest keys of a split (a multiple of blockKeys)

  int64_t laneElements() const { return laneChunks * width; }
  int64_t headBlocks() const { return group / headsPerBlock; }
  bool allChunksValid() const { return chunks == rowLanes * laneChunks; }
};

DecodeSpec makeDecodeSpec(Type qStorage, Type cacheStorage, const CacheLayout &cache, int64_t heads,
                          float scale) {
  DecodeSpec s;
  s.qStorage = qStorage;
  s.cacheStorage = cacheStorage;
  s.cache = cache;
  s.heads = heads;
  s.group = heads / cache.kvHeads;
  s.scale = scale;
  const int64_t D = cache.headDim;
  s.width = vectorWidth(D, {qStorage, cacheStorage});
  s.chunks = D / s.width;
  s.rowLanes = std::min<int64_t>(32, static_cast<int64_t>(llvm::PowerOf2Ceil(s.chunks)));
  s.laneChunks = llvm::divideCeil(s.chunks, s.rowLanes);
  s.rowsPerWarp = 32 / s.rowLanes;
  s.blockKeys = kWarps * s.rowsPerWarp;
  // Registers per lane: q and acc of GH heads (2 GH C W floats), K and V of U keys (2 U C W).
  // GH: the whole group if GH C W <= 64; then U up to 4 within 128 floats for both.
  s.headsPerBlock = 1;
  for (int64_t gh = s.group; gh >= 1; --gh)
    if (s.group % gh == 0 && gh * s.laneElements() <= 64) {
      s.headsPerBlock = gh;
      break;
    }
  s.unroll = std::clamp<int64_t>(
      (128 - 2 * s.headsPerBlock * s.laneElements()) / (2 * s.laneElements()), 1, 4);
  s.maxSplits = std::clamp<int64_t>(llvm::divideCeil(cache.maxSeq, s.blockKeys), 1, kMaxSplits);
  // At least kMinSplitKeys keys per split: short contexts take fewer, fuller splits (on the
  // H100, GPT-2-small at context 512: B=1 0.474 -> 0.426 ms per step, B=16 0.972 -> 0.791 ms;
  // no change at 4096). KILN_DECODE_SPLIT_KEYS=N at compile time overrides it (experiments).
  int64_t minKeys = kMinSplitKeys;
  if (const char *text = std::getenv("KILN_DECODE_SPLIT_KEYS")) {
    int64_t keys = 0;
    if (!StringRef(text).getAsInteger(10, keys) && keys > 0)
      minKeys = keys;
  }
  s.minChunk = llvm::alignTo(minKeys, s.blockKeys);
  return s;
}

/// "_mk<keys>" when splits have a minimum above one block of keys (kernel names).
std::string minChunkName(const DecodeSpec &spec) {
  return spec.minChunk > spec.blockKeys ? "_mk" + std::to_string(spec.minChunk) : "";
}

/// Keys per split of a context of `n` keys in `splits` splits: ceil(n / splits) rounded up to
/// a multiple of blockKeys, and at least minChunk. Splits at or past ceil(n / chunk) have no
/// keys. (A function of n alone: a token's splits do not depend on the batch.)
Value splitChunk(KB &kb, const DecodeSpec &spec, Value n, Value splits) {
  Value perSplit =
      arith::DivUIOp::create(kb.b, kb.loc, kb.add(n, kb.sub(splits, kb.idx(1))), splits);
  Value chunk =
      kb.mul(kb.divu(kb.add(perSplit, spec.blockKeys - 1), spec.blockKeys), spec.blockKeys);
  if (spec.minChunk <= spec.blockKeys)
    return chunk;
  return arith::MaxUIOp::create(kb.b, kb.loc, chunk, kb.idx(spec.minChunk));
}

/// One step of an online softmax: the new max, and the max to subtract (0 instead of -inf, so
/// that e^(-inf - max) is 0, never NaN).
std::pair<Value, Value> newMax(KB &kb, Value oldMax, Value candidate) {
  Value max = kb.maxf(oldMax, candidate);
  Value empty = kb.cmpf(arith::CmpFPredicate::OEQ, max, kb.negInf());
  return {max, kb.select(empty, kb.f32(0.0), max)};
}

/// Split kernel. Block (split, kvHead * headBlocks + headBlock, token); thread tid = 32 warp +
/// lane reads key rows as lane group `row` = warp * rowsPerWarp + lane / Lr (key = keyBase +
/// u * blockKeys + row) and, within a row, chunks c * Lr + lane % Lr (c < C) of W elements.
void buildDecodeBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const DecodeSpec &spec) {
  KB kb{b, loc, /*accurateExp=*/spec.cacheStorage.isF32()};
  Type f32 = b.getF32Type();
  const int64_t D = spec.cache.headDim, W = spec.width, Lr = spec.rowLanes;
  const int64_t C = spec.laneChunks, GH = spec.headsPerBlock, U = spec.unroll;
  const int64_t LE = spec.laneElements();
  const CacheLayout &c = spec.cache;
  Value q = kernel.getArgument(0), cache = kernel.getArgument(1);
  Value positions = kernel.getArgument(2), slots = kernel.getArgument(3);
  Value partialAcc = kernel.getArgument(4), partialStats = kernel.getArgument(5);
  Value tokens = scalarArgument(b, loc, kernel, 6, 0);
  Value layer = scalarArgument(b, loc, kernel, 6, 1);
  Value splits = scalarArgument(b, loc, kernel, 6, 2);
  // Per warp and head: max, sum, acc[D] of the warp after its lane groups merged.
  Value sharedMax = addSharedBuffer(kernel, f32, kWarps * GH);
  Value sharedSum = addSharedBuffer(kernel, f32, kWarps * GH);
  Value sharedAcc = addSharedBuffer(kernel, f32, kWarps * GH * D);

  Value split = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value headSlice = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value token = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value kvHead = kb.divu(headSlice, spec.headBlocks());
  Value firstHead =
      kb.add(kb.mul(kvHead, spec.group), kb.mul(kb.remu(headSlice, spec.headBlocks()), GH));
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value warp = kb.divu(tid, 32), lane = kb.remu(tid, 32);
  Value row = kb.add(kb.mul(warp, spec.rowsPerWarp), kb.divu(lane, Lr));
  Value rowLane = kb.remu(lane, Lr);

  Value position = kb.toIndex(kb.load(positions, token));
  Value slot = kb.toIndex(kb.load(slots, token));
  Value n = kb.add(position, 1); // keys 0 .. position
  Value chunk = splitChunk(kb, spec, n, splits);
  Value start = kb.mul(split, chunk);

  ifThen(kb, kb.ult(start, n), [&](KB &kb) {
    Value end = kb.minsi(n, kb.add(start, chunk));
    // This lane's columns: chunk c starts at column (c * Lr + rowLane) * W; it exists when that
    // is below D (null: always).
    SmallVector<Value> columns, columnValid;
    for (int64_t ci = 0; ci < C; ++ci) {
      Value column = kb.mul(kb.add(rowLane, ci * Lr), W);
      columns.push_back(column);
      bool always = spec.allChunksValid() || (ci + 1) * Lr <= spec.chunks;
      columnValid.push_back(always ? Value() : kb.ult(column, kb.idx(D)));
    }
    // Loads the lane's LE elements of a row at `base` (as f32), zeros for absent chunks.
    auto loadRow = [&](KB &t, Value buffer, Value base) {
      SmallVector<Value> values;
      for (int64_t ci = 0; ci < C; ++ci) {
        auto load = [&](KB &y) {
          return loadElements(y.b, y.loc, buffer, y.add(base, columns[ci]), W, f32);
        };
        if (!columnValid[ci])
          values.append(load(t));
        else
          values.append(ifElse(t, columnValid[ci], load, [&](KB &y) { return zeros(y, f32, W); }));
      }
      return values;
    };

    // The queries of the GH heads (token `token` of heads firstHead + h of [1, H, T, D]).
    SmallVector<SmallVector<Value>> queries;
    for (int64_t h = 0; h < GH; ++h) {
      Value base = kb.mul(kb.add(kb.mul(kb.add(firstHead, h), tokens), token), D);
      queries.push_back(loadRow(kb, q, base));
    }

    Value kHeadBase =
        kb.add(kb.add(kb.mul(slot, c.slotElements()), kb.mul(layer, c.layerElements())),
               kb.mul(kvHead, c.headElements()));
    Value vHeadBase = kb.add(kHeadBase, c.kvElements());
    const int64_t iterationKeys = U * spec.blockKeys;
    Value iterations = kb.divu(kb.add(kb.sub(end, start), iterationKeys - 1), iterationKeys);

    // Loop-carried per lane: max[GH], sum[GH] (equal on the Lr lanes of a row), acc[GH][LE].
    SmallVector<Value> state =
        forLoop(kb, kb.idx(0), iterations, kb.idx(1), onlineSoftmaxInits(kb, GH, LE),
                [&](KB &t, Value iteration, ValueRange args) -> SmallVector<Value> {
                  Value keyBase = t.add(start, t.mul(iteration, iterationKeys));
                  // Loads first: K and V rows of U keys (zeros past the split's end).
                  SmallVector<Value> valid(U);
                  SmallVector<SmallVector<Value>> keys(U), values(U);
                  for (int64_t u = 0; u < U; ++u) {
                    Value key = t.add(keyBase, t.add(row, u * spec.blockKeys));
                    valid[u] = t.ult(key, end);
                    SmallVector<Value> loaded = ifElse(
                        t, valid[u],
                        [&](KB &y) {
                          Value offset = y.mul(key, D);
                          SmallVector<Value> both = loadRow(y, cache, y.add(kHeadBase, offset));
                          both.append(loadRow(y, cache, y.add(vHeadBase, offset)));
                          return both;
                        },
                        [&](KB &y) { return zeros(y, f32, 2 * LE); });
                    keys[u].assign(loaded.begin(), loaded.begin() + LE);
                    values[u].assign(loaded.begin() + LE, loaded.end());
                  }
                  SmallVector<Value> next(args.begin(), args.end());
                  for (int64_t h = 0; h < GH; ++h) {
                    // Scores of the U keys: lane-partial dot products summed over the row's lanes.
                    SmallVector<Value> scores(U);
                    Value tileMax = t.negInf();
                    for (int64_t u = 0; u < U; ++u) {
                      Value dot = t.f32(0.0);
                      for (int64_t e = 0; e < LE; ++e)
                        dot = t.fma(queries[h][e], keys[u][e], dot);
                      dot = t.laneSum(dot, static_cast<int32_t>(Lr - 1));
                      scores[u] = t.select(valid[u], t.mul(dot, t.f32(spec.scale)), t.negInf());
                      tileMax = t.maxf(tileMax, scores[u]);
                    }
                    auto [max, safeMax] = newMax(t, args[h], tileMax);
                    Value alpha = t.exp(t.sub(args[h], safeMax));
                    Value sum = t.mul(args[GH + h], alpha);
                    SmallVector<Value> acc;
                    for (int64_t e = 0; e < LE; ++e)
                      acc.push_back(t.mul(args[2 * GH + h * LE + e], alpha));
                    for (int64_t u = 0; u < U; ++u) {
                      Value p = t.exp(t.sub(scores[u], safeMax));
                      sum = t.add(sum, p);
                      for (int64_t e = 0; e < LE; ++e)
                        acc[e] = t.fma(p, values[u][e], acc[e]);
                    }
                    next[h] = max;
                    next[GH + h] = sum;
                    for (int64_t e = 0; e < LE; ++e)
                      next[2 * GH + h * LE + e] = acc[e];
                  }
                  return next;
                });

    // Merge the lane groups of a warp (lanes that differ in the bits >= Lr).
    for (int32_t bit = static_cast<int32_t>(Lr); bit < 32; bit *= 2) {
      for (int64_t h = 0; h < GH; ++h) {
        Value otherMax = kb.shuffleXor(state[h], bit);
        Value otherSum = kb.shuffleXor(state[GH + h], bit);
        auto [max, safeMax] = newMax(kb, state[h], otherMax);
        Value mine = kb.exp(kb.sub(state[h], safeMax));
        Value theirs = kb.exp(kb.sub(otherMax, safeMax));
        state[GH + h] = kb.add(kb.mul(state[GH + h], mine), kb.mul(otherSum, theirs));
        for (int64_t e = 0; e < LE; ++e) {
          Value &acc = state[2 * GH + h * LE + e];
          Value other = kb.shuffleXor(acc, bit);
          acc = kb.add(kb.mul(acc, mine), kb.mul(other, theirs));
        }
        state[h] = max;
      }
    }

    // The first lane group of each warp publishes the warp's state.
    ifThen(kb, kb.ult(lane, kb.idx(Lr)), [&](KB &t) {
      ifThen(t, t.cmpi(arith::CmpIPredicate::eq, lane, t.idx(0)), [&](KB &y) {
        for (int64_t h = 0; h < GH; ++h) {
          Value slotIndex = y.add(y.mul(warp, GH), h);
          y.store(state[h], sharedMax, slotIndex);
          y.store(state[GH + h], sharedSum, slotIndex);
        }
      });
      for (int64_t h = 0; h < GH; ++h) {
        Value base = t.mul(t.add(t.mul(warp, GH), h), D);
        for (int64_t ci = 0; ci < C; ++ci) {
          auto store = [&](KB &y) {
            for (int64_t e = 0; e < W; ++e)
              y.store(state[2 * GH + h * LE + ci * W + e], sharedAcc,
                      y.add(base, y.add(columns[ci], e)));
          };
          if (columnValid[ci])
            ifThen(t, columnValid[ci], store);
          else
            store(t);
        }
      }
    });
    kb.barrier();

    // Merge the warps: thread i -> (head i / D, column i % D) of the block's partial.
    forEach(kb, tid, kb.idx(GH * D), kb.idx(kThreads), [&](KB &t, Value i) {
      Value h = t.divu(i, D), column = t.remu(i, D);
      SmallVector<Value> maxes;
      Value max = t.negInf();
      for (int64_t w = 0; w < kWarps; ++w) {
        maxes.push_back(t.load(sharedMax, t.add(h, w * GH)));
        max = t.maxf(max, maxes.back());
      }
      // An active split has a key, so max is finite.
      Value sum = t.f32(0.0), acc = t.f32(0.0);
      for (int64_t w = 0; w < kWarps; ++w) {
        Value weight = t.exp(t.sub(maxes[w], max));
        sum = t.fma(t.load(sharedSum, t.add(h, w * GH)), weight, sum);
        Value warpAcc = t.load(sharedAcc, t.add(t.mul(t.add(h, w * GH), D), column));
        acc = t.fma(warpAcc, weight, acc);
      }
      // Partial (token, head, split) at ((token * H + head) * S + split).
      Value partial =
          t.add(t.mul(t.add(t.mul(token, spec.heads), t.add(firstHead, h)), splits), split);
      t.store(acc, partialAcc, t.add(t.mul(partial, D), column));
      ifThen(t, t.cmpi(arith::CmpIPredicate::eq, column, t.idx(0)), [&](KB &y) {
        y.store(max, partialStats, y.mul(partial, 2));
        y.store(sum, partialStats, y.add(y.mul(partial, 2), 1));
      });
    });
  });
}

/// Combine kernel: warp w of block x reduces row x * 4 + w = token * H + head over the active
/// splits; lane l holds the weights of splits l, l + 32, ... and the output columns
/// (l + 32 k) * W2 .. + W2 - 1.
void buildCombineBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, const DecodeSpec &spec) {
  Type outType = cast<MemRefType>(kernel.getArgument(3).getType()).getElementType();
  KB kb{b, loc, /*accurateExp=*/outType.isF32()};
  Type f32 = b.getF32Type();
  const int64_t D = spec.cache.headDim, S = spec.maxSplits, H = spec.heads;
  const int64_t W2 = D % 4 == 0 ? 4 : D % 2 == 0 ? 2 : 1;
  const int64_t outChunks = D / W2, K2 = llvm::divideCeil(outChunks, 32);
  const int64_t splitRegisters = llvm::divideCeil(S, 32);
  Value partialAcc = kernel.getArgument(0), partialStats = kernel.getArgument(1);
  Value positions = kernel.getArgument(2), out = kernel.getArgument(3);
  Value tokens = scalarArgument(b, loc, kernel, 4, 0);
  Value splits = scalarArgument(b, loc, kernel, 4, 1);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value warp = kb.divu(tid, 32), lane = kb.remu(tid, 32);
  Value blockRow = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value row = kb.add(kb.mul(blockRow, kWarps), warp);
  // Warp-uniform condition: the shuffles below run on full warps.
  ifThen(kb, kb.ult(row, kb.mul(tokens, H)), [&](KB &kb) {
    Value token = kb.divu(row, H), head = kb.remu(row, H);
    Value n = kb.add(kb.toIndex(kb.load(positions, token)), 1);
    Value chunk = splitChunk(kb, spec, n, splits);
    Value active = arith::DivUIOp::create(kb.b, kb.loc, kb.add(n, kb.sub(chunk, kb.idx(1))), chunk);
    Value rowBase = kb.mul(row, splits);

    SmallVector<Value> maxes, sums, valid;
    Value max = kb.negInf();
    for (int64_t i = 0; i < splitRegisters; ++i) {
      Value split = kb.add(lane, 32 * i);
      valid.push_back(kb.ult(split, active));
      SmallVector<Value> stats = ifElse(
          kb, valid.back(),
          [&](KB &y) -> SmallVector<Value> {
            Value at = y.mul(y.add(rowBase, split), 2);
            return {y.load(partialStats, at), y.load(partialStats, y.add(at, 1))};
          },
          [&](KB &y) -> SmallVector<Value> {
            return {y.negInf(), y.f32(0.0)};
          });
      maxes.push_back(stats[0]);
      sums.push_back(stats[1]);
      max = kb.maxf(max, stats[0]);
    }
    max = kb.laneMax(max, 31); // finite: split 0 is always active
    SmallVector<Value> weights;
    Value total = kb.f32(0.0);
    for (int64_t i = 0; i < splitRegisters; ++i) {
      weights.push_back(kb.select(valid[i], kb.exp(kb.sub(maxes[i], max)), kb.f32(0.0)));
      total = kb.fma(sums[i], weights[i], total);
    }
    total = kb.laneSum(total, 31);
    Value inverse = kb.divf(kb.f32(1.0), total);

    SmallVector<Value> columns, columnValid;
    for (int64_t k = 0; k < K2; ++k) {
      columns.push_back(kb.mul(kb.add(lane, 32 * k), W2));
      columnValid.push_back((k + 1) * 32 <= outChunks ? Value()
                                                      : kb.ult(columns.back(), kb.idx(D)));
    }
    // kCombineUnroll splits per iteration, their loads first: the partials of one split are a
    // dependent load each, so a loop of one split per iteration waits a memory latency per
    // split. Splits past `count` read split 0 (always active) with weight 0, so the loads need
    // no branch; the summation order depends only on the token's own split count.
    SmallVector<Value> acc(K2 * W2, kb.f32(0.0));
    for (int64_t i = 0; i < splitRegisters; ++i) {
      Value count = kb.minsi(kb.maxsi(kb.sub(active, kb.idx(32 * i)), kb.idx(0)), kb.idx(32));
      acc = forLoop(
          kb, kb.idx(0), count, kb.idx(kCombineUnroll), acc,
          [&](KB &t, Value j0, ValueRange in) -> SmallVector<Value> {
            SmallVector<Value> splitWeights;
            SmallVector<SmallVector<Value>> loaded;
            for (int64_t u = 0; u < kCombineUnroll; ++u) {
              Value j = t.add(j0, u);
              Value inside = t.ult(j, count);
              Value split = t.select(inside, t.add(j, 32 * i), t.idx(0));
              Value weight = t.shuffleIdx(weights[i], t.select(inside, j, t.idx(0)));
              splitWeights.push_back(t.select(inside, weight, t.f32(0.0)));
              Value base = t.mul(t.add(rowBase, split), D);
              for (int64_t k = 0; k < K2; ++k) {
                auto load = [&](KB &y) {
                  return loadElements(y.b, y.loc, partialAcc, y.add(base, columns[k]), W2, f32);
                };
                loaded.push_back(columnValid[k] ? ifElse(t, columnValid[k], load,
                                                         [&](KB &y) { return zeros(y, f32, W2); })
                                                : load(t));
              }
            }
            SmallVector<Value> next(in.begin(), in.end());
            for (int64_t u = 0; u < kCombineUnroll; ++u)
              for (int64_t k = 0; k < K2; ++k)
                for (int64_t e = 0; e < W2; ++e)
                  next[k * W2 + e] =
                      t.fma(splitWeights[u], loaded[u * K2 + k][e], next[k * W2 + e]);
            return next;
          });
    }
    // Output [1, H, T, D]: row (head * T + token).
    Value outBase = kb.mul(kb.add(kb.mul(head, tokens), token), D);
    for (int64_t k = 0; k < K2; ++k) {
      auto store = [&](KB &y) {
        SmallVector<Value> values;
        for (int64_t e = 0; e < W2; ++e)
          values.push_back(y.mul(acc[k * W2 + e], inverse));
        storeElements(y.b, y.loc, values, out, y.add(outBase, columns[k]));
      };
      if (columnValid[k])
        ifThen(kb, columnValid[k], store);
      else
        store(kb);
    }
  });
}

LogicalResult lowerDecodeAttention(KVCacheAttentionOp attention, KernelEmitter &emitter, Value q,
                                   Value cache, Value positions, Value slots) {
  Operation *op = attention;
  KVCacheType type = attention.getCache().getType();
  CacheLayout c = layoutOf(type);
  auto qDims = emitter.dims(attention.getQuery(), op);
  if (failed(qDims))
    return failure();
  Value tokens = (*qDims)[2];
  Type qStorage = cast<RankedTensorType>(q.getType()).getElementType();
  Type cacheStorage = cast<RankedTensorType>(cache.getType()).getElementType();
  int64_t heads = static_cast<int64_t>(attention.getNumHeads());
  DecodeSpec spec =
      makeDecodeSpec(qStorage, cacheStorage, c, heads, attention.getScale().convertToFloat());
  Type f32 = Float32Type::get(op->getContext());
  Type i64 = IntegerType::get(op->getContext(), 64);
  BlockSize block = {static_cast<int32_t>(kThreads), 1, 1};

  std::string name = "kv_cache_decode_" + typeName(qStorage);
  if (cacheStorage != qStorage)
    name += "_cache_" + typeName(cacheStorage);
  name += layoutName(c) + "_g" + std::to_string(spec.group) + "_gh" +
          std::to_string(spec.headsPerBlock) + minChunkName(spec) + "_scale" +
          floatBits(spec.scale);
  gpu::GPUFuncOp splitKernel = emitter.getOrCreateKernel(
      name, {qStorage, cacheStorage, i64, i64}, {f32, f32}, 3, block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) { buildDecodeBody(b, loc, f, spec); });

  int64_t staticTokens = ShapedType::kDynamic;
  if (auto constant = tokens.getDefiningOp<arith::ConstantIndexOp>())
    staticTokens = constant.value();
  // splits = min(maxSplits, ceil(kTargetBlocks / blocks per split of one token)): a constant,
  // the same at every T, so that a token's split boundaries (and its summation order) do not
  // depend on the batch it is decoded in.
  int64_t staticSplits = std::min(
      spec.maxSplits,
      static_cast<int64_t>(llvm::divideCeil(kTargetBlocks, c.kvHeads * spec.headBlocks())));
  Value splitsValue = emitter.index(staticSplits);
  Value headsValue = emitter.index(heads);
  ResultSpec accSpec{RankedTensorType::get({staticTokens, heads, staticSplits, c.headDim}, f32),
                     {tokens, headsValue, splitsValue, emitter.index(c.headDim)}};
  ResultSpec statsSpec{RankedTensorType::get({staticTokens, heads, staticSplits, 2}, f32),
                       {tokens, headsValue, splitsValue, emitter.index(2)}};
  Grid splitGrid = {splitsValue, emitter.index(c.kvHeads * spec.headBlocks()), tokens};
  SmallVector<Value> partials = emitter.launch(
      splitKernel, {q, cache, positions, slots}, {accSpec, statsSpec},
      {tokens, emitter.index(static_cast<int64_t>(attention.getLayer())), splitsValue}, splitGrid,
      block);

  RankedTensorType outType = emitter.storageTensorType(attention.getOutput());
  std::string combineName = "kv_cache_decode_combine_" + typeName(outType.getElementType()) + "_h" +
                            std::to_string(heads) + "_d" + std::to_string(c.headDim) + "_sp" +
                            std::to_string(spec.maxSplits) + "_kb" + std::to_string(spec.blockKeys) +
                            minChunkName(spec);
  gpu::GPUFuncOp combineKernel = emitter.getOrCreateKernel(
      combineName, {f32, f32, i64}, {outType.getElementType()}, 2, block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) { buildCombineBody(b, loc, f, spec); });
  Value rows = emitter.mul(tokens, headsValue);
  Grid combineGrid = {emitter.ceilDiv(rows, kWarps), emitter.index(1), emitter.index(1)};
  SmallVector<Value> outDims = {emitter.index(1), headsValue, tokens, emitter.index(c.headDim)};
  SmallVector<Value> results =
      emitter.launch(combineKernel, {partials[0], partials[1], positions},
                     {ResultSpec{outType, outDims}}, {tokens, splitsValue}, combineGrid, block);
  emitter.setResult(attention.getOutput(), results.front());
  return success();
}

/// KILN_KV_ATTENTION=decode: prefill runs the decode kernels too.
bool decodeForced() {
  const char *choice = std::getenv("KILN_KV_ATTENTION");
  return choice && StringRef(choice).equals_insensitive("decode");
}

LogicalResult lowerAttention(Operation *op, KernelEmitter &emitter) {
  auto attention = cast<KVCacheAttentionOp>(op);
  KVCacheType type = attention.getCache().getType();
  Value q = emitter.tensor(attention.getQuery());
  Value cache = emitter.tensor(attention.getCache());
  Value positions = emitter.tensor(attention.getPositions());
  Value slots = emitter.tensor(attention.getSlots());
  if (!q || !cache || !positions || !slots)
    return failure();
  if (failed(checkCache(op, type, cache)) || failed(checkFloat(op, "query", q)))
    return failure();
  if (attention.getPrefill() && !decodeForced())
    return lowerKVCachePrefillAttention(op, emitter);
  return lowerDecodeAttention(attention, emitter, q, cache, positions, slots);
}

} // namespace

void populateKVCacheLowerings(KernelLowerings &lowerings) {
  lowerings[KVCacheWriteOp::getOperationName()] = lowerWrite;
  lowerings[KVCacheAttentionOp::getOperationName()] = lowerAttention;
}

} // namespace kiln::gpu_codegen
