//===- ArtifactRunTest.cpp - kiln-run's artifact mode and the --emit=exe|lib stubs ---------===//
//
// kilnRunArtifactMain is called in-process (stdout/stderr captured); the stubs are run as the
// user would: an executable with an appended artifact (a child process), a shared library with
// one (dlopen). GPU work runs on FakeCudaDriver.c.
//
//===----------------------------------------------------------------------------------------===//

#include "ArtifactRun.h"
#include "Npz.h"
#include "kilnrt/kilnrt.h"

#include "FakeDriverSupport.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <dlfcn.h>
#include <sys/wait.h>

using namespace kilnrt;
using namespace kilnrt::test;

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result runTool(std::vector<std::string> args) {
  args.insert(args.begin(), "kiln-run");
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(&a[0]);
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int code = kilnRunArtifactMain(static_cast<int>(args.size()), argv.data());
  Result r{code, testing::internal::GetCapturedStdout(), testing::internal::GetCapturedStderr()};
  return r;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

NpyArray floats(std::vector<int64_t> shape, float start) {
  NpyArray a;
  a.dtype = DType::F32;
  a.shape = shape;
  size_t n = a.numElements();
  a.data.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = start + static_cast<float>(i);
    std::memcpy(a.data.data() + 4 * i, &v, 4);
  }
  return a;
}

class ArtifactRunTest : public FakeDriverTest {
protected:
  void SetUp() override {
    FakeDriverTest::SetUp();
    std::string error;
    model = dir.path("sample.kiln");
    ASSERT_TRUE(writeArtifactFile(model, makeSampleArtifact(), error)) << error;
    // y = x + 1 with x = 0.5, 1.5, ... (seq 6); ref keeps inputs as in<i>, outputs as ort_out<i>.
    ASSERT_TRUE(writeNpyFile(dir.path("x.npy"), floats({1, 6}, 0.5f), error));
    ASSERT_TRUE(writeNpzFile(dir.path("ref.npz"),
                             {{"in0", floats({1, 6}, 0.5f)}, {"ort_out0", floats({1, 6}, 1.5f)}},
                             error));
    NpyArray wrong = floats({1, 6}, 1.5f);
    float bad = 100.0f;
    std::memcpy(wrong.data.data() + 8, &bad, 4);
    ASSERT_TRUE(writeNpzFile(dir.path("wrong.npz"), {{"y", wrong}}, error));
  }
  TempDir dir;
  std::string model;
};

TEST_F(ArtifactRunTest, CorruptArtifactExitsOneWithTheMessage) {
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(readFileBytes(model, bytes, error));
  bytes[bytes.size() / 2] ^= 0x20;
  std::string corrupt = dir.path("corrupt.kiln");
  ASSERT_TRUE(writeFileAtomically(corrupt, bytes.data(), bytes.size(), 0644, error));
  Result r = runTool({corrupt});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "kiln-run: artifact '" + corrupt + "': checksum mismatch in section"))
      << r.err;
  bytes.resize(bytes.size() - 7);
  ASSERT_TRUE(writeFileAtomically(corrupt, bytes.data(), bytes.size(), 0644, error));
  r = runTool({corrupt, "--expect", dir.path("ref.npz")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: artifact '" + corrupt + "' is truncated: " +
                       std::to_string(bytes.size()) + " of " + std::to_string(bytes.size() + 7) +
                       " bytes\n");
  r = runTool({dir.path("none.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot read '" + dir.path("none.kiln") + "'")) << r.err;
}

TEST_F(ArtifactRunTest, PrintSignatureNeedsNoDriver) {
  setEnv("KILN_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  Result r = runTool({model, "--print-signature"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "target sm_80, precision fp32")) << r.out;
  EXPECT_TRUE(contains(r.out, "symbol seq: 1..64 (dim 1 of input 'x')")) << r.out;
  EXPECT_TRUE(contains(r.out, "input x: float32 [1, seq]")) << r.out;
  EXPECT_TRUE(contains(r.out, "output y: float32 [1, seq]")) << r.out;
}

TEST_F(ArtifactRunTest, NoDriverIsOneClearMessage) {
  setEnv("KILN_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  Result r = runTool({model, "--input", "x=" + dir.path("x.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "kiln-run: no CUDA driver: cannot load '/nonexistent/libcuda.so.1'"))
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(ArtifactRunTest, RunsAndComparesWithTheReference) {
  std::string out = dir.path("out/nested");
  Result r = runTool({model, "--device=cuda:0", "--inputs-from", dir.path("ref.npz"), "--expect",
                      dir.path("ref.npz"), "--repeat", "3", "--warmup=1", "--output-dir", out});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "device 0: Kiln Fake GPU (sm_90")) << r.out;
  EXPECT_TRUE(contains(r.out, "y: float32 [1, 6] vs ort_out0 float32 [1, 6]: max|err| 0, max|ref| "
                              "6.5, max rel err 0, 0 of 6 outside atol 0.0001 + rtol 0.001 * "
                              "|ref|, argmax agreement 1/1 (1.0000): PASS"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "GPU time per run: median ")) << r.out;
  EXPECT_TRUE(contains(r.out, "(3 runs after 1 warmup; 1 kernel launches per run; CUDA graphs on)"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "host wall time per run: median ")) << r.out;
  EXPECT_EQ(counter("captures"), 1);
  EXPECT_EQ(counter("graph_launches"), 4);
  NpyArray y;
  std::string error;
  ASSERT_TRUE(readNpyFile(out + "/y.npy", y, error)) << error;
  EXPECT_EQ(y.data, floats({1, 6}, 1.5f).data);
}

TEST_F(ArtifactRunTest, MismatchFails) {
  Result r = runTool({model, "--input", "x=" + dir.path("x.npy"), "--expect", dir.path("wrong.npz"),
                      "--no-cuda-graph"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "y: float32 [1, 6] vs y float32 [1, 6]: max|err| 96.5, max|ref| 100,"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "1 of 6 outside")) << r.out;
  EXPECT_TRUE(contains(r.out, "argmax agreement 0/1 (0.0000): FAIL")) << r.out;
  EXPECT_TRUE(contains(r.out, "CUDA graphs off")) << r.out;
  EXPECT_TRUE(contains(r.err, "kiln-run: outputs do not match '" + dir.path("wrong.npz") + "'"));
  // Loose tolerances pass, unless the arg-max criterion is asked for.
  r = runTool({model, dir.path("x.npy"), "--expect", dir.path("wrong.npz"), "--atol", "100"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = runTool({model, dir.path("x.npy"), "--expect", dir.path("wrong.npz"), "--atol", "100",
               "--min-argmax-agreement", "0.99"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "(needs 0.9900): FAIL")) << r.out;
}

TEST_F(ArtifactRunTest, UsageErrors) {
  Result r = runTool({model, "--frobnicate"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: unknown option '--frobnicate' (see --help)\n");
  r = runTool({model, "--device=cpu"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "runs on CUDA devices only")) << r.err;
  r = runTool({model, "--repeat", "0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--repeat needs a count >= 1")) << r.err;
  r = runTool({model});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: input 'x' is not given; pass --input x=FILE.npy or --inputs-from "
                   "REF.npz\n");
  r = runTool({model, "--input", "ids=" + dir.path("x.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: the model has no input named 'ids' (its inputs: x)\n");
  r = runTool({model, "--input", "x=" + dir.path("missing.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot read '" + dir.path("missing.npy") + "'")) << r.err;
  // A shape the model does not take: the runtime's message.
  std::string error;
  ASSERT_TRUE(writeNpyFile(dir.path("x3.npy"), floats({2, 6}, 0), error));
  r = runTool({model, "--input", "x=" + dir.path("x3.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: input 'x': expected 2-D [1, seq<=64], got [2, 6]\n");
  r = runTool({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "usage: kiln-run MODEL.kiln")) << r.out;
  EXPECT_TRUE(kilnRunIsArtifactPath(model));
  EXPECT_FALSE(kilnRunIsArtifactPath(dir.path("x.npy")));
}

//===-- stubs ---------------------------------------------------------------------------===//

Result runProcess(const std::string &command) {
  Result r{-1, "", ""};
  FILE *p = popen((command + " 2>&1").c_str(), "r");
  if (!p)
    return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST_F(ArtifactRunTest, ExecutableStub) {
  std::vector<uint8_t> artifact = serializeArtifact(makeSampleArtifact());
  std::string exe = dir.path("model"), error;
  ASSERT_TRUE(appendArtifactToStub(KILN_EXE_STUB, artifact, exe, error)) << error;
  Result r = runProcess(exe + " --print-signature");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "model: target sm_80")) << r.out;
  r = runProcess(exe + " --device 0 --input x=" + dir.path("x.npy") + " --output-dir " +
                 dir.path("out") + " --expect " + dir.path("ref.npz"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, ": PASS")) << r.out;
  NpyArray y;
  ASSERT_TRUE(readNpyFile(dir.path("out/y.npy"), y, error)) << error;
  EXPECT_EQ(y.data, floats({1, 6}, 1.5f).data);
  // The bare stub says what it lacks.
  r = runProcess(std::string(KILN_EXE_STUB) + " --print-signature");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "has no embedded Kiln artifact")) << r.out;
  EXPECT_TRUE(contains(r.out, "'" + std::string(KILN_EXE_STUB) + "' has no")) << r.out;
}

TEST_F(ArtifactRunTest, LibraryStub) {
  std::vector<uint8_t> artifact = serializeArtifact(makeSampleArtifact());
  std::string lib = dir.path("libmodel.so"), error;
  ASSERT_TRUE(appendArtifactToStub(KILN_LIB_STUB, artifact, lib, error)) << error;
  void *h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  auto open = reinterpret_cast<kiln_status (*)(int, kiln_session **)>(dlsym(h, "kiln_model_open"));
  auto openModel =
      reinterpret_cast<kiln_status (*)(kiln_model **)>(dlsym(h, "kiln_model_open_embedded"));
  auto path = reinterpret_cast<const char *(*)()>(dlsym(h, "kiln_model_embedded_path"));
  auto numInputs = reinterpret_cast<int32_t (*)(const kiln_model *)>(dlsym(h, "kiln_model_num_inputs"));
  auto destroyModel = reinterpret_cast<void (*)(kiln_model *)>(dlsym(h, "kiln_model_destroy"));
  auto bind = reinterpret_cast<decltype(&kiln_session_bind_input)>(dlsym(h, "kiln_session_bind_input"));
  auto run = reinterpret_cast<decltype(&kiln_session_run)>(dlsym(h, "kiln_session_run"));
  auto read = reinterpret_cast<decltype(&kiln_session_read_output)>(dlsym(h, "kiln_session_read_output"));
  auto destroy = reinterpret_cast<decltype(&kiln_session_destroy)>(dlsym(h, "kiln_session_destroy"));
  ASSERT_TRUE(open && openModel && path && numInputs && destroyModel && bind && run && read &&
              destroy);
  // Only the C API is exported.
  EXPECT_EQ(dlsym(h, "_ZN6kilnrt18serializeArtifactERKNS_8ArtifactE"), nullptr);
  EXPECT_EQ(std::string(path()), lib);
  kiln_model *model = nullptr;
  ASSERT_EQ(openModel(&model), KILN_OK);
  EXPECT_EQ(numInputs(model), 1);
  destroyModel(model);
  kiln_session *session = nullptr;
  ASSERT_EQ(open(0, &session), KILN_OK);
  std::vector<float> x = {1, 2, 3}, y(3);
  int64_t dims[2] = {1, 3};
  ASSERT_EQ(bind(session, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  ASSERT_EQ(run(session), KILN_OK);
  ASSERT_EQ(read(session, 0, y.data(), 12), KILN_OK);
  EXPECT_EQ(y, (std::vector<float>{2, 3, 4}));
  destroy(session);
  dlclose(h);
  // The bare stub has no model.
  void *bare = dlopen(KILN_LIB_STUB, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(bare, nullptr) << dlerror();
  auto bareOpen = reinterpret_cast<kiln_status (*)(int, kiln_session **)>(dlsym(bare, "kiln_model_open"));
  auto bareError = reinterpret_cast<const char *(*)()>(dlsym(bare, "kiln_last_error"));
  EXPECT_EQ(bareOpen(0, &session), KILN_ERROR_IO);
  EXPECT_TRUE(contains(bareError(), "has no embedded Kiln artifact")) << bareError();
  dlclose(bare);
}

} // namespace
