//===- RuntimeTestSupport.h - artifacts and files for the runtime tests ---------*- C++ -*-===//

#ifndef KILN_UNITTESTS_RUNTIME_RUNTIMETESTSUPPORT_H
#define KILN_UNITTESTS_RUNTIME_RUNTIMETESTSUPPORT_H

#include "kilnrt/Artifact.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace kilnrt {
namespace test {

/// A small but complete artifact with one entry, "main": one symbol `seq` (<= 64) from input 'x' [1, seq] float32,
/// output 'y' [1, seq] float32, one weights buffer, and two launches of the fake driver's
/// kernels (see FakeCudaDriver.c): `fake_add_f32` (y = x + w[0], w[0] = 1) over
/// ceildiv(seq, 32) blocks of 32, and `fake_nop` over max(seq - 64, 0) blocks, which is 0 for
/// every valid seq: the runtime must skip that launch.
inline Artifact makeSampleArtifact() {
  Artifact a;
  a.target = "sm_80";
  a.precision = "fp32";
  a.producer = "kiln-compile test, sample";
  a.ptx = "//\n// fake PTX\n.version 8.0\n.target sm_80\n.visible .entry fake_add_f32()\n"
          ".visible .entry fake_nop()\n";
  a.kernels = {"fake_add_f32", "fake_nop"};
  a.entries.resize(1);
  Entry &main = a.entries[0];
  main.name = "main";
  main.symbols = {{"seq", 0, 1, 64}};
  Expr seq = Expr::symbol(0);
  a.buffers = {
      {Buffer::Kind::Arena, 0, 64 * 4},     // x
      {Buffer::Kind::Arena, 256, 64 * 4},   // y
      {Buffer::Kind::Weights, 0, 16},       // w
  };
  a.arenaBytes = 512;
  a.weights.resize(16, 0);
  float one = 1.0f;
  std::memcpy(a.weights.data(), &one, 4);
  main.inputs = {{"x", DType::F32, {Expr::constant(1), seq}, 0}};
  main.outputs = {{"y", DType::F32, {Expr::constant(1), seq}, 1}};
  Launch add;
  add.name = "add";
  add.kernel = 0;
  add.grid[0] = Expr::binary(Expr::Op::CeilDiv, seq, Expr::constant(32));
  add.grid[1] = Expr::constant(1);
  add.grid[2] = Expr::constant(1);
  add.block[0] = 32;
  add.block[1] = add.block[2] = 1;
  add.sharedBytes = 0;
  KernelArg x, y, w, n;
  x.kind = y.kind = w.kind = KernelArg::Kind::Buffer;
  x.buffer = 0;
  y.buffer = 1;
  w.buffer = 2;
  n.kind = KernelArg::Kind::Scalar;
  n.scalar = Expr::binary(Expr::Op::Mul, Expr::constant(1), seq);
  add.args = {x, y, w, n};
  Launch nop;
  nop.name = "skipped";
  nop.kernel = 1;
  nop.grid[0] = Expr::binary(Expr::Op::Max, Expr::binary(Expr::Op::Sub, seq, Expr::constant(64)),
                             Expr::constant(0));
  nop.grid[1] = Expr::constant(1);
  nop.grid[2] = Expr::constant(1);
  nop.block[0] = nop.block[1] = nop.block[2] = 1;
  nop.sharedBytes = 0;
  main.launches = {add, nop};
  return a;
}

/// The toy language model of the generation sample (FakeCudaDriver.c's fake_lm): the greedy
/// token after `context` is sum over i of (i + 1) * context[i], mod `vocab`.
inline int64_t fakeLmNext(const std::vector<int64_t> &context, int64_t vocab) {
  int64_t h = 0;
  for (size_t i = 0; i < context.size(); ++i)
    h += static_cast<int64_t>(i + 1) * context[i];
  return h % vocab;
}

/// The sample plus "prefill" and "decode" entries and a generation section, as kiln-compile
/// writes them for a causal decoder: a KV cache of `maxBatch` slots x `maxSeq` positions (one
/// layer, one KV head, head dim 1, float32), vocabulary `vocab`, both entries one launch of the
/// fake driver's `fake_lm`; decode runs under CUDA graphs, prefill eagerly.
inline Artifact makeGenerationArtifact(uint32_t maxBatch = 4, uint32_t maxSeq = 32,
                                       int64_t vocab = 16) {
  Artifact a = makeSampleArtifact();
  a.ptx += ".visible .entry fake_lm()\n";
  a.kernels.push_back("fake_lm");
  const uint32_t lm = 2;
  uint64_t at = 512;
  auto arena = [&](uint64_t bytes) {
    a.buffers.push_back({Buffer::Kind::Arena, at, bytes});
    at += (bytes + 255) / 256 * 256;
    return static_cast<uint32_t>(a.buffers.size() - 1);
  };
  uint32_t ids = arena(maxSeq * 8), positions = arena(maxSeq * 8), slots = arena(maxSeq * 8),
           logits = arena(uint64_t(maxSeq) * uint64_t(vocab) * 4);
  a.arenaBytes = at;
  Generation g;
  g.cache.layers = 1;
  g.cache.maxBatch = maxBatch;
  g.cache.kvHeads = 1;
  g.cache.maxSeq = maxSeq;
  g.cache.headDim = 1;
  g.cache.dtype = DType::F32;
  g.cacheBuffer = static_cast<uint32_t>(a.buffers.size());
  a.buffers.push_back({Buffer::Kind::Cache, 0, maxBatch * g.cache.bytesPerSlot()});
  g.vocabSize = vocab;
  Expr t = Expr::symbol(0), one = Expr::constant(1);
  auto entry = [&](const char *name, int64_t maxT, bool graphs) {
    Entry e;
    e.name = name;
    e.cudaGraphs = graphs;
    e.symbols = {{"seq", 0, 1, maxT}};
    e.inputs = {{"input_ids", DType::I64, {one, t}, ids},
                {"kiln.positions", DType::I64, {t}, positions},
                {"kiln.slots", DType::I64, {t}, slots}};
    e.outputs = {{"logits", DType::F32, {one, t, Expr::constant(vocab)}, logits}};
    Launch l;
    l.name = "lm";
    l.kernel = lm;
    l.grid[0] = l.grid[1] = l.grid[2] = one;
    l.block[0] = l.block[1] = l.block[2] = 1;
    l.sharedBytes = 0;
    for (auto [buffer, dtype] : {std::pair<uint32_t, DType>{ids, DType::I64},
                                 {positions, DType::I64},
                                 {slots, DType::I64},
                                 {g.cacheBuffer, DType::F32},
                                 {logits, DType::F32}}) {
      KernelArg arg;
      arg.kind = KernelArg::Kind::Buffer;
      arg.buffer = buffer;
      arg.dtype = dtype;
      l.args.push_back(arg);
    }
    for (const Expr &scalar : {t, Expr::constant(vocab), Expr::constant(maxSeq)}) {
      KernelArg arg;
      arg.kind = KernelArg::Kind::Scalar;
      arg.scalar = scalar;
      l.args.push_back(arg);
    }
    e.launches = {l};
    return e;
  };
  g.prefillEntry = static_cast<uint32_t>(a.entries.size());
  a.entries.push_back(entry("prefill", maxSeq, false));
  g.decodeEntry = static_cast<uint32_t>(a.entries.size());
  a.entries.push_back(entry("decode", maxBatch, true));
  a.generation = g;
  return a;
}

/// A fresh directory under TMPDIR, removed by the destructor (files only, one level).
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/kilnrt-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      dir = buf.data();
  }
  ~TempDir() {
    if (!dir.empty()) {
      std::string cmd = "rm -rf '" + dir + "'";
      (void)!std::system(cmd.c_str());
    }
  }
  std::string path(const std::string &name) const { return dir + "/" + name; }
  const std::string &str() const { return dir; }

private:
  std::string dir;
};

} // namespace test
} // namespace kilnrt

#endif
