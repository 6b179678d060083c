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

/// A small but complete artifact: one symbol `seq` (<= 64) from input 'x' [1, seq] float32,
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
  a.symbols = {{"seq", 0, 1, 64}};
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
  a.inputs = {{"x", DType::F32, {Expr::constant(1), seq}, 0}};
  a.outputs = {{"y", DType::F32, {Expr::constant(1), seq}, 1}};
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
  a.launches = {add, nop};
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
