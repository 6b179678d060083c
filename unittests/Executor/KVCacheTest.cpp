//===- KVCacheTest.cpp - KV cache kernels on the CPU executor -------------===//
//
// kiln.kv_cache.create/write/attention on the CPU executor: a prefill through the cache gives
// the floats of kiln.attention causal, writes land at the slot-major layout's offsets, a cache
// threaded through writes (and layers) is updated in place when the caller hands it over and
// copied otherwise (value semantics), and the run-time checks; the constant cache of repeated
// runs. (The sampler of CPU generation is the runtime's: unittests/Runtime/SamplingTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestSupport.h"

#include <string>
#include <vector>

using namespace mlir;
using namespace kiln::exec;
using namespace kiln::exec::test;

namespace {

class KVCacheTest : public ExecutorTest {};

/// A float32 tensor of `shape` with deterministic pseudo-random values in [-1, 1).
Tensor noise(llvm::ArrayRef<int64_t> shape, uint64_t seed) {
  Tensor tensor = Tensor::zeros(DType::F32, shape);
  uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (int64_t i = 0; i < tensor.getNumElements(); ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    tensor.setDouble(i, static_cast<double>(state >> 40) / static_cast<double>(1 << 23) - 1.0);
  }
  return tensor;
}

constexpr const char *kCacheType =
    "!kiln.kv_cache<layers = 2, max_batch = 3, kv_heads = 2, max_seq = 8, head_dim = 4, f32>";

std::string withCacheType(std::string source) {
  for (size_t at; (at = source.find("!CACHE")) != std::string::npos;)
    source.replace(at, 6, kCacheType);
  return source;
}

// A prompt of 5 tokens written to slot 1 and attended with `prefill` gives exactly the floats of
// kiln.attention causal on the same Q, K, V (GQA: 4 query heads over 2 KV heads).
TEST_F(KVCacheTest, PrefillEqualsCausalAttention) {
  std::string source = withCacheType(R"mlir(
    func.func @f(%q: tensor<1x4x5x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x4xf32>)
        -> (tensor<1x4x5x4xf32>, tensor<1x4x5x4xf32>) {
      %pos = kiln.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi64>
      %slots = kiln.constant dense<1> : tensor<5xi64>
      %c0 = kiln.kv_cache.create : !CACHE
      %c1 = kiln.kv_cache.write %c0 layer 1, %k, %v at %pos slots %slots
          : !CACHE, tensor<1x2x5x4xf32>, tensor<5xi64>
      %o = kiln.kv_cache.attention %q, %c1 layer 1 at %pos slots %slots heads 4 scale 0.5 prefill
          : tensor<1x4x5x4xf32>, !CACHE, tensor<5xi64>
      %r = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 4 scale 0.5 causal
          : tensor<1x4x5x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32> -> tensor<1x4x5x4xf32>
      return %o, %r : tensor<1x4x5x4xf32>, tensor<1x4x5x4xf32>
    })mlir");
  auto results = run(source, {noise({1, 4, 5, 4}, 1), noise({1, 2, 5, 4}, 2),
                              noise({1, 2, 5, 4}, 3)});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), valuesOf((*results)[1]));
}

// Writes land at ((((slot*L + layer)*2 + kv)*KVH + head)*M + pos)*D + d; the rest stays zero.
TEST_F(KVCacheTest, WriteUsesTheSlotMajorLayout) {
  std::string source = withCacheType(R"mlir(
    func.func @f(%k: tensor<1x2x2x4xf32>, %v: tensor<1x2x2x4xf32>) -> !CACHE {
      %pos = kiln.constant dense<[6, 3]> : tensor<2xi64>
      %slots = kiln.constant dense<[2, 0]> : tensor<2xi64>
      %c0 = kiln.kv_cache.create : !CACHE
      %c1 = kiln.kv_cache.write %c0 layer 1, %k, %v at %pos slots %slots
          : !CACHE, tensor<1x2x2x4xf32>, tensor<2xi64>
      return %c1 : !CACHE
    })mlir");
  Tensor k = noise({1, 2, 2, 4}, 4), v = noise({1, 2, 2, 4}, 5);
  Tensor cache = runOne(source, {k, v});
  ASSERT_EQ(shapeOf(cache), (std::vector<int64_t>{3, 2, 2, 2, 8, 4}));
  int64_t positions[] = {6, 3}, slots[] = {2, 0};
  std::vector<double> expected(cache.getNumElements(), 0.0);
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t kv = 0; kv < 2; ++kv)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t d = 0; d < 4; ++d)
          expected[((((slots[t] * 2 + 1) * 2 + kv) * 2 + h) * 8 + positions[t]) * 4 + d] =
              (kv ? v : k).getDouble((h * 2 + t) * 4 + d);
  EXPECT_EQ(valuesOf(cache), expected);
}

/// A decode-like entry: the cache comes in as an argument and goes out as a result, through
/// a write in a kiln.layer (whose body receives the cache at its last use).
constexpr const char *kDecodeSource = R"mlir(
    func.func @decode(%q: tensor<1x4x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>,
                      %pos: tensor<?xi64>, %slots: tensor<?xi64>, %c0: !CACHE)
        -> (tensor<1x4x?x4xf32>, !CACHE) {
      %o, %c2 = kiln.layer 0 (%q, %k, %v, %pos, %slots, %c0)
          : (tensor<1x4x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<?xi64>,
             tensor<?xi64>, !CACHE) -> (tensor<1x4x?x4xf32>, !CACHE) {
      ^bb0(%lq: tensor<1x4x?x4xf32>, %lk: tensor<1x2x?x4xf32>, %lv: tensor<1x2x?x4xf32>,
           %lpos: tensor<?xi64>, %lslots: tensor<?xi64>, %lc0: !CACHE):
        %lc1 = kiln.kv_cache.write %lc0 layer 0, %lk, %lv at %lpos slots %lslots
            : !CACHE, tensor<1x2x?x4xf32>, tensor<?xi64>
        %lo = kiln.kv_cache.attention %lq, %lc1 layer 0 at %lpos slots %lslots heads 4 scale 0.5
            : tensor<1x4x?x4xf32>, !CACHE, tensor<?xi64>
        kiln.yield %lo, %lc1 : tensor<1x4x?x4xf32>, !CACHE
      }
      return %o, %c2 : tensor<1x4x?x4xf32>, !CACHE
    })mlir";

/// Runs kDecodeSource's function, taking the inputs over when `take`.
FailureOr<SmallVector<Tensor>> runDecode(func::FuncOp function, SmallVector<Tensor> inputs,
                                         bool take) {
  return take ? runFunctionTakingInputs(function, std::move(inputs))
              : runFunction(function, inputs);
}

TEST_F(KVCacheTest, CacheHandedOverIsUpdatedInPlace) {
  std::string source = withCacheType(kDecodeSource);
  module = parseSourceString<ModuleOp>(source, &context);
  ASSERT_TRUE(module);
  auto function = *module->getOps<func::FuncOp>().begin();
  auto cacheType = cast<kiln::KVCacheType>(function.getArgumentTypes()[5]);
  auto step = [&](Tensor cache, bool take) {
    SmallVector<Tensor> inputs = {noise({1, 4, 1, 4}, 6), noise({1, 2, 1, 4}, 7),
                                  noise({1, 2, 1, 4}, 8), i64({1}, {2}), i64({1}, {1}),
                                  std::move(cache)};
    auto results = runDecode(function, std::move(inputs), take);
    EXPECT_TRUE(succeeded(results));
    return succeeded(results) ? (*results)[1] : Tensor();
  };

  // Handed over: the result is the same buffer, written.
  Tensor cache = createKVCache(cacheType, 2);
  const float *buffer = cache.getFloats().data();
  Tensor updated = step(std::move(cache), /*take=*/true);
  EXPECT_EQ(updated.getFloats().data(), buffer);
  ASSERT_EQ(shapeOf(updated), (std::vector<int64_t>{2, 2, 2, 2, 8, 4}));
  EXPECT_NE(updated.getDouble(((((1 * 2 + 0) * 2 + 0) * 2 + 0) * 8 + 2) * 4), 0.0);

  // Shared with the caller: value semantics, the caller's tensor is not written.
  Tensor kept = createKVCache(cacheType, 2);
  Tensor result = step(kept, /*take=*/false);
  EXPECT_NE(result.getFloats().data(), kept.getFloats().data());
  EXPECT_EQ(valuesOf(kept), std::vector<double>(kept.getNumElements(), 0.0));
  EXPECT_EQ(valuesOf(result), valuesOf(updated));
}

// A cache read after a write of it (two writes of one input) is never written in place.
TEST_F(KVCacheTest, WriteCopiesACacheUsedLater) {
  std::string source = withCacheType(R"mlir(
    func.func @f(%k: tensor<1x2x1x4xf32>, %v: tensor<1x2x1x4xf32>, %q: tensor<1x4x1x4xf32>)
        -> (tensor<1x4x1x4xf32>, tensor<1x4x1x4xf32>) {
      %pos = kiln.constant dense<[0]> : tensor<1xi64>
      %slots = kiln.constant dense<[0]> : tensor<1xi64>
      %c0 = kiln.kv_cache.create : !CACHE
      %c1 = kiln.kv_cache.write %c0 layer 0, %k, %v at %pos slots %slots
          : !CACHE, tensor<1x2x1x4xf32>, tensor<1xi64>
      %c2 = kiln.kv_cache.write %c0 layer 0, %v, %k at %pos slots %slots
          : !CACHE, tensor<1x2x1x4xf32>, tensor<1xi64>
      %a = kiln.kv_cache.attention %q, %c1 layer 0 at %pos slots %slots heads 4 scale 0.5
          : tensor<1x4x1x4xf32>, !CACHE, tensor<1xi64>
      %b = kiln.kv_cache.attention %q, %c2 layer 0 at %pos slots %slots heads 4 scale 0.5
          : tensor<1x4x1x4xf32>, !CACHE, tensor<1xi64>
      return %a, %b : tensor<1x4x1x4xf32>, tensor<1x4x1x4xf32>
    })mlir");
  Tensor k = noise({1, 2, 1, 4}, 9), v = noise({1, 2, 1, 4}, 10);
  auto results = run(source, {k, v, noise({1, 4, 1, 4}, 11)});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  // One key only: the output is its value vector (K/V head h/2 for query head h).
  std::vector<double> expectedA, expectedB;
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t d = 0; d < 4; ++d) {
      expectedA.push_back(v.getDouble((h / 2) * 4 + d));
      expectedB.push_back(k.getDouble((h / 2) * 4 + d));
    }
  expectValuesNear((*results)[0], expectedA, 1e-7);
  expectValuesNear((*results)[1], expectedB, 1e-7);
}

TEST_F(KVCacheTest, RunTimeChecks) {
  std::string source = withCacheType(kDecodeSource);
  Tensor q = noise({1, 4, 2, 4}, 12), k = noise({1, 2, 2, 4}, 13), v = noise({1, 2, 2, 4}, 14);
  module = parseSourceString<ModuleOp>(source, &context);
  auto cacheType = cast<kiln::KVCacheType>(
      (*module->getOps<func::FuncOp>().begin()).getArgumentTypes()[5]);
  Tensor cache = createKVCache(cacheType, 2);
  std::string message = runFailing(source, {q, k, v, i64({2}, {0, 1}), i64({2}, {0, 2}), cache});
  EXPECT_TRUE(contains(message, "token 1: slot 2 is out of range for a cache of 2 slots"))
      << message;
  message = runFailing(source, {q, k, v, i64({2}, {0, 8}), i64({2}, {0, 0}), cache});
  EXPECT_TRUE(contains(message, "token 1: position 8 is out of range for a cache of max_seq 8"))
      << message;
  message = runFailing(source, {q, k, v, i64({2}, {0, 1}), i64({2}, {0, 0}),
                                createKVCache(cacheType, 4)});
  EXPECT_TRUE(contains(message, "input #5 is float32[4, 2, 2, 2, 8, 4] but the argument type is "
                                "!kiln.kv_cache<"))
      << message;

  // `prefill` is a promise the executor checks.
  std::string prefill = withCacheType(R"mlir(
    func.func @f(%q: tensor<1x4x2x4xf32>, %pos: tensor<2xi64>, %slots: tensor<2xi64>,
                 %c: !CACHE) -> tensor<1x4x2x4xf32> {
      %o = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %slots heads 4 scale 0.5 prefill
          : tensor<1x4x2x4xf32>, !CACHE, tensor<2xi64>
      return %o : tensor<1x4x2x4xf32>
    })mlir");
  message = runFailing(prefill, {q, i64({2}, {3, 5}), i64({2}, {0, 0}), cache});
  EXPECT_TRUE(contains(message, "is marked prefill (one sequence at consecutive positions), but "
                                "token 1 is at slot 0 position 5 after token 0 at slot 0 "
                                "position 3"))
      << message;
  EXPECT_TRUE(succeeded(run(prefill, {q, i64({2}, {3, 4}), i64({2}, {1, 1}), cache})))
      << diagnostics;
}

// Decode tokens of several sequences at different positions in one call attend each to its own
// slot's prefix: compared with kiln.attention causal run on each whole sequence.
TEST_F(KVCacheTest, MixedDecodeMatchesPerSequenceAttention) {
  std::string source = withCacheType(kDecodeSource);
  module = parseSourceString<ModuleOp>(source, &context);
  auto decode = *module->getOps<func::FuncOp>().begin();
  auto cacheType = cast<kiln::KVCacheType>(decode.getArgumentTypes()[5]);
  std::string reference = R"mlir(
    func.func @f(%q: tensor<1x4x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>)
        -> tensor<1x4x?x4xf32> {
      %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 4 scale 0.5 causal
          : tensor<1x4x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32> -> tensor<1x4x?x4xf32>
      return %o : tensor<1x4x?x4xf32>
    })mlir";
  // Sequence a: 5 tokens in slot 2; b: 3 tokens in slot 0; c: 1 token in slot 1.
  struct Seq {
    int64_t length, slot;
    Tensor q, k, v;
  };
  std::vector<Seq> seqs = {{6, 2, noise({1, 4, 6, 4}, 20), noise({1, 2, 6, 4}, 21),
                            noise({1, 2, 6, 4}, 22)},
                           {4, 0, noise({1, 4, 4, 4}, 23), noise({1, 2, 4, 4}, 24),
                            noise({1, 2, 4, 4}, 25)},
                           {1, 1, noise({1, 4, 1, 4}, 26), noise({1, 2, 1, 4}, 27),
                            noise({1, 2, 1, 4}, 28)}};
  /// Token `t` of [1, heads, len, 4] tensors, gathered for several (sequence, token) pairs.
  auto pack = [](llvm::ArrayRef<std::pair<const Tensor *, int64_t>> tokens, int64_t heads) {
    Tensor packed = Tensor::zeros(DType::F32, {1, heads, int64_t(tokens.size()), 4});
    for (auto [i, token] : llvm::enumerate(tokens)) {
      int64_t len = token.first->getShape()[2];
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t d = 0; d < 4; ++d)
          packed.setDouble((h * int64_t(tokens.size()) + int64_t(i)) * 4 + d,
                           token.first->getDouble((h * len + token.second) * 4 + d));
    }
    return packed;
  };
  Tensor cache = createKVCache(cacheType, 3);
  // Prefill a and b (all but their last token) one after the other.
  for (int s = 0; s < 2; ++s) {
    const Seq &seq = seqs[s];
    std::vector<std::pair<const Tensor *, int64_t>> q, k, v;
    std::vector<double> positions, slots;
    for (int64_t t = 0; t + 1 < seq.length; ++t) {
      q.push_back({&seq.q, t});
      k.push_back({&seq.k, t});
      v.push_back({&seq.v, t});
      positions.push_back(double(t));
      slots.push_back(double(seq.slot));
    }
    int64_t n = int64_t(positions.size());
    auto results = runFunctionTakingInputs(
        decode, {pack(q, 4), pack(k, 2), pack(v, 2), i64({n}, positions), i64({n}, slots),
                 std::move(cache)});
    ASSERT_TRUE(succeeded(results));
    cache = (*results)[1];
  }
  // One step: the last token of each of a, b, c.
  std::vector<std::pair<const Tensor *, int64_t>> q, k, v;
  std::vector<double> positions, slots;
  for (const Seq &seq : seqs) {
    q.push_back({&seq.q, seq.length - 1});
    k.push_back({&seq.k, seq.length - 1});
    v.push_back({&seq.v, seq.length - 1});
    positions.push_back(double(seq.length - 1));
    slots.push_back(double(seq.slot));
  }
  auto step = runFunctionTakingInputs(decode, {pack(q, 4), pack(k, 2), pack(v, 2),
                                               i64({3}, positions), i64({3}, slots),
                                               std::move(cache)});
  ASSERT_TRUE(succeeded(step));
  for (auto [i, seq] : llvm::enumerate(seqs)) {
    Tensor full = runOne(reference, {seq.q, seq.k, seq.v});
    std::vector<double> expected, actual;
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t d = 0; d < 4; ++d) {
        expected.push_back(full.getDouble((h * seq.length + seq.length - 1) * 4 + d));
        actual.push_back((*step)[0].getDouble((h * 3 + int64_t(i)) * 4 + d));
      }
    EXPECT_EQ(actual, expected) << "sequence " << i;
  }
}

// A ConstantCache decodes each constant once: a second run shares the first run's buffer.
TEST_F(KVCacheTest, ConstantCacheReusesDecodedConstants) {
  module = parseSourceString<ModuleOp>(R"mlir(
    func.func @f() -> tensor<3xf32> {
      %c = kiln.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
      return %c : tensor<3xf32>
    })mlir",
                                       &context);
  auto function = *module->getOps<func::FuncOp>().begin();
  ConstantCache constants;
  auto first = runFunction(function, {}, &constants);
  auto second = runFunction(function, {}, &constants);
  auto uncached = runFunction(function, {});
  ASSERT_TRUE(succeeded(first) && succeeded(second) && succeeded(uncached));
  EXPECT_EQ((*first)[0].getFloats().data(), (*second)[0].getFloats().data());
  EXPECT_NE((*first)[0].getFloats().data(), (*uncached)[0].getFloats().data());
  EXPECT_EQ(valuesOf((*second)[0]), (std::vector<double>{1, 2, 3}));
}

} // namespace
