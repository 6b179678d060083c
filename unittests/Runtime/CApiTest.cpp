//===- CApiTest.cpp - the C API of kilnrt.h without a GPU ----------------------------------===//
//
// Error paths (no driver, no device, device too old, out of memory, JIT errors, mismatched
// inputs, kernel faults) and a full session lifecycle against FakeCudaDriver.c: kernel
// parameters follow the ABI, graphs are captured once per set of symbol values and replayed,
// and destroying a session frees every driver object it created.
//
//===----------------------------------------------------------------------------------------===//

#include "kilnrt/kilnrt.h"

#include "FakeDriverSupport.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <thread>
#include <unistd.h>

using namespace kilnrt;
using namespace kilnrt::test;

extern "C" int kilnrt_c_header_first_input_rank(const void *data, size_t size);

namespace {

struct ModelPtr {
  kiln_model *m = nullptr;
  ~ModelPtr() { kiln_model_destroy(m); }
};
struct SessionPtr {
  kiln_session *s = nullptr;
  ~SessionPtr() { kiln_session_destroy(s); }
};

kiln_model *loadModel(const Artifact &a, const char *name = "sample.kiln") {
  std::vector<uint8_t> bytes = serializeArtifact(a);
  kiln_model *model = nullptr;
  EXPECT_EQ(kiln_model_load_memory(bytes.data(), bytes.size(), name, &model), KILN_OK)
      << kiln_last_error();
  return model;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

//===-- models ----------------------------------------------------------------------------===//

TEST(RuntimeCApi, ModelSignature) {
  ModelPtr model{loadModel(makeSampleArtifact())};
  ASSERT_NE(model.m, nullptr);
  EXPECT_STREQ(kiln_model_target(model.m), "sm_80");
  EXPECT_STREQ(kiln_model_precision(model.m), "fp32");
  EXPECT_EQ(kiln_model_num_inputs(model.m), 1);
  EXPECT_EQ(kiln_model_num_outputs(model.m), 1);
  EXPECT_EQ(kiln_model_num_symbols(model.m), 1);
  EXPECT_EQ(kiln_model_device_bytes(model.m), 512u + 16u);
  kiln_tensor_info info;
  ASSERT_EQ(kiln_model_input_info(model.m, 0, &info), KILN_OK);
  EXPECT_STREQ(info.name, "x");
  EXPECT_EQ(info.dtype, KILN_DTYPE_F32);
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.dims[0], 1);
  EXPECT_EQ(info.dims[1], -1);
  EXPECT_EQ(info.dim_names[0], nullptr);
  EXPECT_STREQ(info.dim_names[1], "seq");
  ASSERT_EQ(kiln_model_output_info(model.m, 0, &info), KILN_OK);
  EXPECT_STREQ(info.name, "y");
  kiln_symbol_info symbol;
  ASSERT_EQ(kiln_model_symbol_info(model.m, 0, &symbol), KILN_OK);
  EXPECT_STREQ(symbol.name, "seq");
  EXPECT_EQ(symbol.max_value, 64);
  EXPECT_EQ(symbol.input, 0);
  EXPECT_EQ(symbol.dim, 1);
  EXPECT_EQ(kiln_model_find_input(model.m, "x"), 0);
  EXPECT_EQ(kiln_model_find_input(model.m, "y"), -1);
  EXPECT_EQ(kiln_model_find_output(model.m, "y"), 0);

  EXPECT_EQ(kiln_model_input_info(model.m, 1, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "index 1 is out of range ('sample.kiln' has 1 inputs)"))
      << kiln_last_error();
  EXPECT_EQ(kiln_model_symbol_info(model.m, -1, &symbol), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_model_input_info(model.m, 0, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_model_input_info(nullptr, 0, &info), KILN_ERROR_INVALID_ARGUMENT);
}

TEST(RuntimeCApi, UsableFromC) {
  std::vector<uint8_t> bytes = serializeArtifact(makeSampleArtifact());
  EXPECT_EQ(kilnrt_c_header_first_input_rank(bytes.data(), bytes.size()), 2);
  EXPECT_EQ(kilnrt_c_header_first_input_rank(bytes.data(), 10), -KILN_ERROR_INVALID_ARTIFACT);
}

TEST(RuntimeCApi, ExpressionDimsInTheSignature) {
  Artifact a = makeSampleArtifact();
  a.entries[0].outputs[0].dims[1] = Expr::binary(Expr::Op::Add, Expr::symbol(0), Expr::constant(1));
  a.buffers[1].capacityBytes = 65 * 4;
  a.arenaBytes = 1024;
  ModelPtr model{loadModel(a)};
  kiln_tensor_info info;
  ASSERT_EQ(kiln_model_output_info(model.m, 0, &info), KILN_OK);
  EXPECT_EQ(info.dims[1], -1);
  EXPECT_STREQ(info.dim_names[1], "seq + 1");
}

TEST(RuntimeCApi, LoadErrors) {
  kiln_model *model = nullptr;
  TempDir dir;
  EXPECT_EQ(kiln_model_load_file(dir.path("missing.kiln").c_str(), &model), KILN_ERROR_IO);
  EXPECT_EQ(model, nullptr);
  EXPECT_TRUE(contains(kiln_last_error(), "cannot read '" + dir.path("missing.kiln") + "'"));

  std::vector<uint8_t> bytes = serializeArtifact(makeSampleArtifact());
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 100);
  EXPECT_EQ(kiln_model_load_memory(cut.data(), cut.size(), "cut.kiln", &model),
            KILN_ERROR_INVALID_ARTIFACT);
  EXPECT_EQ(std::string(kiln_last_error()), "artifact 'cut.kiln' is truncated: 100 of " +
                                                std::to_string(bytes.size()) + " bytes");
  std::vector<uint8_t> flipped = bytes;
  flipped.back() ^= 1;
  EXPECT_EQ(kiln_model_load_memory(flipped.data(), flipped.size(), "w.kiln", &model),
            KILN_ERROR_INVALID_ARTIFACT);
  EXPECT_STREQ(kiln_last_error(), "artifact 'w.kiln': checksum mismatch in section 'weights'");
  std::vector<uint8_t> v1 = bytes;
  v1[8] = 1;
  EXPECT_EQ(kiln_model_load_memory(v1.data(), v1.size(), "v1.kiln", &model),
            KILN_ERROR_ARTIFACT_VERSION);
  EXPECT_STREQ(kiln_last_error(), "artifact 'v1.kiln' has artifact format version 1, this "
                                  "runtime reads 2");
  EXPECT_EQ(kiln_model_load_memory(nullptr, 10, nullptr, &model), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_model_load_memory(bytes.data(), bytes.size(), nullptr, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_model_load_file(nullptr, &model), KILN_ERROR_INVALID_ARGUMENT);
  // A file that loads.
  std::string error;
  ASSERT_TRUE(writeFileAtomically(dir.path("ok.kiln"), bytes.data(), bytes.size(), 0644, error));
  ASSERT_EQ(kiln_model_load_file(dir.path("ok.kiln").c_str(), &model), KILN_OK);
  kiln_model_destroy(model);
}

TEST(RuntimeCApi, NullSessionArguments) {
  EXPECT_EQ(kiln_session_run(nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_session_run: session is null");
  EXPECT_EQ(kiln_session_create(nullptr, nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_session *s = nullptr;
  EXPECT_EQ(kiln_session_create(nullptr, nullptr, &s), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_session_last_error(nullptr), "");
  kiln_session_destroy(nullptr);
  kiln_model_destroy(nullptr);
  EXPECT_STREQ(kiln_status_string(KILN_ERROR_DEVICE_TOO_OLD), "KILN_ERROR_DEVICE_TOO_OLD");
  EXPECT_STREQ(kiln_dtype_name(KILN_DTYPE_BF16), "bfloat16");
  EXPECT_EQ(kiln_dtype_size(KILN_DTYPE_I64), 8u);
  EXPECT_EQ(kiln_artifact_format_version(), kArtifactVersion);
}

//===-- driver and device errors ------------------------------------------------------------===//

TEST_F(FakeDriverTest, NoDriver) {
  setEnv("KILN_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  ModelPtr model{loadModel(makeSampleArtifact())};
  SessionPtr session;
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_NO_DRIVER);
  EXPECT_EQ(session.s, nullptr);
  std::string message = kiln_last_error();
  EXPECT_TRUE(contains(message, "no CUDA driver: cannot load '/nonexistent/libcuda.so.1'"))
      << message;
  int32_t count = -1;
  EXPECT_EQ(kiln_device_count(&count), KILN_ERROR_NO_DRIVER);
  // A library that is not a driver.
  setEnv("KILN_CUDA_DRIVER", "libm.so.6");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_NO_DRIVER);
  EXPECT_TRUE(contains(kiln_last_error(), "'libm.so.6' does not export cuInit")) << kiln_last_error();
}

TEST_F(FakeDriverTest, ToolkitStubLibraryIsNotADriver) {
  // The CUDA toolkit's link stub exports the API, but cuInit fails with CUDA_ERROR_STUB_LIBRARY.
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub, R_OK) != 0)
    GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  setEnv("KILN_CUDA_DRIVER", stub);
  ModelPtr model{loadModel(makeSampleArtifact())};
  SessionPtr session;
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_NO_DRIVER);
  EXPECT_TRUE(contains(kiln_last_error(), "no usable CUDA driver: cuInit(0): CUDA_ERROR_STUB_LIBRARY"))
      << kiln_last_error();
}

TEST_F(FakeDriverTest, NoDevice) {
  ModelPtr model{loadModel(makeSampleArtifact())};
  SessionPtr session;
  setEnv("KILN_FAKE_CUDA_DEVICES", "0");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_NO_DEVICE);
  EXPECT_EQ(std::string(kiln_last_error()),
            "no CUDA device: the driver '" KILN_FAKE_CUDA_DRIVER "' reports 0 devices");
  int32_t count = -1;
  EXPECT_EQ(kiln_device_count(&count), KILN_OK);
  EXPECT_EQ(count, 0);

  setEnv("KILN_FAKE_CUDA_DEVICES", "2");
  kiln_session_options options;
  kiln_session_options_init(&options);
  options.device = 3;
  EXPECT_EQ(kiln_session_create(model.m, &options, &session.s), KILN_ERROR_NO_DEVICE);
  EXPECT_STREQ(kiln_last_error(), "no CUDA device 3: there are 2 devices (0..1)");

  setEnv("KILN_FAKE_CUDA_INIT_ERROR", "100");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_NO_DEVICE);
  EXPECT_TRUE(contains(kiln_last_error(), "cuInit(0): CUDA_ERROR_NO_DEVICE: no CUDA-capable "
                                          "device is detected"))
      << kiln_last_error();
  setEnv("KILN_FAKE_CUDA_INIT_ERROR", "3");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_CUDA);
  EXPECT_TRUE(contains(kiln_last_error(), "CUDA_ERROR_NOT_INITIALIZED")) << kiln_last_error();
  EXPECT_EQ(live(), 0);
}

TEST_F(FakeDriverTest, DeviceTooOld) {
  Artifact a = makeSampleArtifact();
  a.target = "sm_90";
  ModelPtr model{loadModel(a)};
  SessionPtr session;
  setEnv("KILN_FAKE_CUDA_CC", "80");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_DEVICE_TOO_OLD);
  EXPECT_STREQ(kiln_last_error(), "artifact targets sm_90; device 0 'Kiln Fake GPU' is sm_80");
  // Newer devices run sm_90 PTX; sm_90a code runs on sm_90 only.
  setEnv("KILN_FAKE_CUDA_CC", "100");
  ASSERT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_OK) << kiln_last_error();
  kiln_session_destroy(session.s);
  session.s = nullptr;
  a.target = "sm_90a";
  ModelPtr arch{loadModel(a)};
  EXPECT_EQ(kiln_session_create(arch.m, nullptr, &session.s), KILN_ERROR_DEVICE_TOO_OLD);
  EXPECT_STREQ(kiln_last_error(), "artifact targets sm_90a; device 0 'Kiln Fake GPU' is sm_100 "
                                  "(sm_90a code runs only on sm_90)");
  a.target = "gfx90a";
  ModelPtr amd{loadModel(a)};
  EXPECT_EQ(kiln_session_create(amd.m, nullptr, &session.s), KILN_ERROR_INVALID_ARTIFACT);
  EXPECT_TRUE(contains(kiln_last_error(), "has target 'gfx90a', not sm_<NN>"));
  EXPECT_EQ(live(), 0);
}

TEST_F(FakeDriverTest, OutOfDeviceMemory) {
  ModelPtr model{loadModel(makeSampleArtifact())};
  SessionPtr session;
  setEnv("KILN_FAKE_CUDA_ALLOC_LIMIT", "100");
  setEnv("KILN_FAKE_CUDA_FREE_MB", "512");
  EXPECT_EQ(kiln_session_create(model.m, nullptr, &session.s), KILN_ERROR_OUT_OF_MEMORY);
  EXPECT_STREQ(kiln_last_error(),
               "out of device memory: 'sample.kiln' needs 528 bytes (arena 512 bytes + weights "
               "16 bytes); device 0 has 512 MiB free of 80.0 GiB (cuMemAlloc of the arena: "
               "CUDA_ERROR_OUT_OF_MEMORY: out of memory)");
  // The weights allocation failing frees the arena.
  Artifact heavy = makeSampleArtifact();
  heavy.weights.resize(4096);
  ModelPtr heavyModel{loadModel(heavy)};
  setEnv("KILN_FAKE_CUDA_ALLOC_LIMIT", "1000");
  EXPECT_EQ(kiln_session_create(heavyModel.m, nullptr, &session.s), KILN_ERROR_OUT_OF_MEMORY);
  EXPECT_TRUE(contains(kiln_last_error(), "needs 4.50 KiB (arena 512 bytes + weights 4.00 KiB)"))
      << kiln_last_error();
  EXPECT_TRUE(contains(kiln_last_error(), "cuMemAlloc of the weights")) << kiln_last_error();
  EXPECT_EQ(counter("alloc_calls"), 3); // arena (fails); arena, weights (fails)
  EXPECT_EQ(live(), 0);
}

TEST_F(FakeDriverTest, JitErrorsAndMissingKernels) {
  Artifact a = makeSampleArtifact();
  a.ptx += "FAKE_JIT_ERROR\n";
  ModelPtr bad{loadModel(a, "jit.kiln")};
  SessionPtr session;
  EXPECT_EQ(kiln_session_create(bad.m, nullptr, &session.s), KILN_ERROR_CUDA);
  EXPECT_STREQ(kiln_last_error(), "cuModuleLoadDataEx(PTX kernels of 'jit.kiln'): "
                                  "CUDA_ERROR_INVALID_PTX: a PTX JIT compilation failed; JIT log: "
                                  "ptxas fatal   : fake JIT error in line 3");
  a = makeSampleArtifact();
  a.kernels.push_back("not_in_the_ptx");
  ModelPtr missing{loadModel(a, "missing.kiln")};
  EXPECT_EQ(kiln_session_create(missing.m, nullptr, &session.s), KILN_ERROR_CUDA);
  EXPECT_STREQ(kiln_last_error(), "cuModuleGetFunction(kernel 'not_in_the_ptx' of "
                                  "'missing.kiln'): CUDA_ERROR_NOT_FOUND: named symbol not found");
  // A cubin the device rejects falls back to the PTX.
  a = makeSampleArtifact();
  a.cubin = {0x7f, 'E', 'L', 'F', 0};
  ModelPtr cubin{loadModel(a)};
  setEnv("KILN_FAKE_CUDA_REJECT_CUBIN", "1");
  EXPECT_EQ(kiln_session_create(cubin.m, nullptr, &session.s), KILN_OK) << kiln_last_error();
  kiln_session_destroy(session.s);
  session.s = nullptr;
  EXPECT_EQ(live(), 0);
}

//===-- sessions ----------------------------------------------------------------------------===//

class SessionTest : public FakeDriverTest {
protected:
  void create(const Artifact &a, bool graphs = true, int maxGraphs = 0) {
    model.m = loadModel(a);
    kiln_session_options options;
    kiln_session_options_init(&options);
    options.disable_cuda_graphs = !graphs;
    options.max_cached_graphs = maxGraphs;
    ASSERT_EQ(kiln_session_create(model.m, &options, &session.s), KILN_OK) << kiln_last_error();
  }
  /// Binds x = [0.5, 1.5, ...] of length `seq`, runs, returns y.
  std::vector<float> runWith(int64_t seq) {
    std::vector<float> x(static_cast<size_t>(seq));
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>(i) + 0.5f;
    int64_t dims[2] = {1, seq};
    EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK)
        << kiln_session_last_error(session.s);
    EXPECT_EQ(kiln_session_run(session.s), KILN_OK) << kiln_session_last_error(session.s);
    int64_t outDims[4] = {0, 0, 0, 0};
    int32_t rank = 0;
    EXPECT_EQ(kiln_session_output_shape(session.s, 0, outDims, 4, &rank), KILN_OK);
    EXPECT_EQ(rank, 2);
    EXPECT_EQ(outDims[0], 1);
    EXPECT_EQ(outDims[1], seq);
    size_t bytes = 0;
    EXPECT_EQ(kiln_session_output_bytes(session.s, 0, &bytes), KILN_OK);
    EXPECT_EQ(bytes, static_cast<size_t>(seq) * 4);
    std::vector<float> y(static_cast<size_t>(seq), -1.0f);
    EXPECT_EQ(kiln_session_read_output(session.s, 0, y.data(), bytes), KILN_OK)
        << kiln_session_last_error(session.s);
    return y;
  }
  kiln_session_stats stats() {
    kiln_session_stats s{};
    EXPECT_EQ(kiln_session_get_stats(session.s, &s), KILN_OK);
    return s;
  }
  void TearDown() override {
    kiln_session_destroy(session.s);
    session.s = nullptr;
    kiln_model_destroy(model.m);
    model.m = nullptr;
    EXPECT_EQ(live(), 0) << "driver objects leaked";
    FakeDriverTest::TearDown();
  }
  ModelPtr model;
  SessionPtr session;
};

TEST_F(SessionTest, RunsAndFollowsTheKernelAbi) {
  create(makeSampleArtifact(), /*graphs=*/false);
  EXPECT_EQ(counter("module_loads"), 1);
  EXPECT_EQ(counter("allocs"), 2); // one arena, one weights
  std::vector<float> y = runWith(5);
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_EQ(y[i], static_cast<float>(i) + 1.5f);
  EXPECT_EQ(counter("kernel_runs"), 1); // the zero-grid launch was skipped
  kiln_session_stats s = stats();
  EXPECT_EQ(s.runs, 1u);
  EXPECT_EQ(s.kernels_launched, 1u);
  EXPECT_EQ(s.kernels_skipped, 1u);
  EXPECT_EQ(s.cuda_graphs_enabled, 0);
  EXPECT_EQ(s.graph_captures, 0u);

  char name[64];
  unsigned grid[3], block[3], shared;
  unsigned long long params[32];
  int n = FakeDriver::get().lastLaunch(name, sizeof name, grid, block, &shared, params, 32);
  ASSERT_EQ(n, 16); // three memref descriptors of 5 and one int64
  EXPECT_STREQ(name, "fake_add_f32");
  EXPECT_EQ(grid[0], 1u); // ceildiv(5, 32)
  EXPECT_EQ(grid[1], 1u);
  EXPECT_EQ(block[0], 32u);
  EXPECT_EQ(shared, 0u);
  for (int arg = 0; arg < 3; ++arg) {
    EXPECT_EQ(params[5 * arg], params[5 * arg + 1]) << "allocated == aligned";
    EXPECT_EQ(params[5 * arg + 2], 0u) << "offset";
    EXPECT_EQ(params[5 * arg + 4], 1u) << "stride";
  }
  EXPECT_EQ(params[3], 64u); // 256 bytes of float32
  EXPECT_EQ(params[8], 64u);
  EXPECT_EQ(params[13], 4u); // 16 bytes of weights
  EXPECT_EQ(params[5] - params[0], 256u); // y is 256 bytes into the arena
  EXPECT_EQ(params[15], 5u);              // the scalar: seq

  double ms = -1;
  EXPECT_EQ(kiln_session_last_gpu_time_ms(session.s, &ms), KILN_OK);
  EXPECT_GE(ms, 0);
  kiln_device_info info;
  ASSERT_EQ(kiln_session_device_info(session.s, &info), KILN_OK);
  EXPECT_STREQ(info.name, "Kiln Fake GPU");
  EXPECT_EQ(info.compute_capability, 90);
  EXPECT_EQ(info.driver_version, 12040);

  // Bigger seq: two blocks.
  y = runWith(40);
  EXPECT_EQ(y[39], 40.5f);
  n = FakeDriver::get().lastLaunch(name, sizeof name, grid, block, &shared, params, 32);
  EXPECT_EQ(grid[0], 2u);
  EXPECT_EQ(params[15], 40u);
}

TEST_F(SessionTest, CudaGraphsAreCapturedOncePerSymbolValues) {
  create(makeSampleArtifact());
  EXPECT_EQ(stats().cuda_graphs_enabled, 1);
  std::vector<float> y = runWith(5);
  EXPECT_EQ(y[4], 5.5f);
  EXPECT_EQ(counter("captures"), 1);
  EXPECT_EQ(counter("graph_launches"), 1);
  y = runWith(5);
  EXPECT_EQ(y[4], 5.5f);
  EXPECT_EQ(counter("captures"), 1);
  EXPECT_EQ(counter("graph_launches"), 2);
  y = runWith(7);
  EXPECT_EQ(y[6], 7.5f);
  EXPECT_EQ(counter("captures"), 2);
  y = runWith(5);
  EXPECT_EQ(counter("captures"), 2);
  kiln_session_stats s = stats();
  EXPECT_EQ(s.runs, 4u);
  EXPECT_EQ(s.graph_captures, 2u);
  EXPECT_EQ(s.graph_replays, 2u);
  EXPECT_EQ(s.kernels_launched, 1u);
  EXPECT_EQ(counter("kernel_runs"), 4);
}

TEST_F(SessionTest, GraphCacheEvictsTheLeastRecentlyUsed) {
  create(makeSampleArtifact(), true, 2);
  runWith(1);
  runWith(2);
  runWith(1); // hit: 2 is now the oldest
  runWith(3); // evicts 2
  EXPECT_EQ(counter("captures"), 3);
  runWith(1); // still cached
  EXPECT_EQ(counter("captures"), 3);
  runWith(2); // recaptured
  EXPECT_EQ(counter("captures"), 4);
}

TEST_F(SessionTest, GraphsOffThroughTheEnvironment) {
  setEnv("KILN_DISABLE_CUDA_GRAPHS", "1");
  create(makeSampleArtifact());
  runWith(3);
  runWith(3);
  EXPECT_EQ(counter("captures"), 0);
  EXPECT_EQ(stats().cuda_graphs_enabled, 0);
  EXPECT_EQ(counter("kernel_runs"), 2);
}

TEST_F(SessionTest, CaptureUnsupportedFallsBackToLaunches) {
  setEnv("KILN_FAKE_CUDA_NO_CAPTURE", "1");
  create(makeSampleArtifact());
  std::vector<float> y = runWith(3);
  EXPECT_EQ(y[2], 3.5f);
  EXPECT_EQ(stats().cuda_graphs_enabled, 0);
}

TEST_F(SessionTest, InputErrorsAreCaughtBeforeAnyLaunch) {
  create(makeSampleArtifact());
  std::vector<float> x(128, 1.0f);
  std::vector<int64_t> ids(128, 1);
  int64_t good[2] = {1, 5}, batch[2] = {2, 5}, three[3] = {1, 2, 3}, big[2] = {1, 65},
          zero[2] = {1, 0}, negative[2] = {1, -3};
  EXPECT_EQ(kiln_session_run(session.s), KILN_ERROR_NOT_READY);
  EXPECT_STREQ(kiln_session_last_error(session.s), "input 'x' is not bound (2-D [1, seq<=64])");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, ids.data(), KILN_DTYPE_I64, good, 2),
            KILN_ERROR_DTYPE_MISMATCH);
  EXPECT_STREQ(kiln_session_last_error(session.s), "input 'x': expected float32, got int64");
  EXPECT_STREQ(kiln_last_error(), "input 'x': expected float32, got int64");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, batch, 2),
            KILN_ERROR_SHAPE_MISMATCH);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "input 'x': expected 2-D [1, seq<=64], got [2, 5]");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, three, 3),
            KILN_ERROR_SHAPE_MISMATCH);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "input 'x': expected 2-D [1, seq<=64], got [1, 2, 3]");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, big, 2),
            KILN_ERROR_SYMBOL_OUT_OF_RANGE);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "input 'x': seq = 65 (dim 1 of [1, 65]) is above its maximum 64");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, zero, 2),
            KILN_ERROR_SYMBOL_OUT_OF_RANGE);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "input 'x': seq = 0 (dim 1 of [1, 0]) is below 1");
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, negative, 2),
            KILN_ERROR_SHAPE_MISMATCH);
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, nullptr, KILN_DTYPE_F32, good, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, nullptr, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_bind_input(session.s, 1, x.data(), KILN_DTYPE_F32, good, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), static_cast<kiln_dtype>(77), good, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_session_last_error(session.s), "kiln_session_bind_input: unknown dtype 77");
  // 257 must not wrap around to float32 (1).
  EXPECT_EQ(kiln_session_bind_input(session.s, 0, x.data(), static_cast<kiln_dtype>(257), good, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_dtype_name(static_cast<kiln_dtype>(257)), "invalid");
  EXPECT_EQ(kiln_session_bind_input_by_name(session.s, "input_ids", x.data(), KILN_DTYPE_F32,
                                            good, 2),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "'sample.kiln' has no input named 'input_ids' (its inputs: x)");
  // Outputs before a run.
  int32_t rank;
  int64_t dims[2];
  EXPECT_EQ(kiln_session_output_shape(session.s, 0, dims, 2, &rank), KILN_ERROR_NOT_READY);
  EXPECT_STREQ(kiln_session_last_error(session.s), "output 'y' has no value: no run has completed");
  double ms;
  EXPECT_EQ(kiln_session_last_gpu_time_ms(session.s, &ms), KILN_ERROR_NOT_READY);
  EXPECT_EQ(counter("kernel_runs"), 0);
  EXPECT_EQ(counter("captures"), 0);

  // A good binding runs; reading into too small a buffer is refused.
  ASSERT_EQ(kiln_session_bind_input_by_name(session.s, "x", x.data(), KILN_DTYPE_F32, good, 2),
            KILN_OK);
  ASSERT_EQ(kiln_session_run(session.s), KILN_OK) << kiln_session_last_error(session.s);
  float small[2];
  EXPECT_EQ(kiln_session_read_output(session.s, 0, small, sizeof small),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_session_last_error(session.s), "output 'y' is 20 bytes; the destination holds 8");
  EXPECT_EQ(kiln_session_output_shape(session.s, 1, dims, 2, &rank), KILN_ERROR_INVALID_ARGUMENT);
}

TEST_F(SessionTest, SymbolsSharedByInputsMustAgree) {
  Artifact a = makeSampleArtifact();
  a.buffers.push_back({Buffer::Kind::Arena, 256 + 256, 0}); // grow the arena for 'mask'
  a.arenaBytes = 512 + 512;
  a.buffers.back().capacityBytes = 64 * 8;
  a.entries[0].inputs.push_back({"mask", DType::I64, {Expr::constant(1), Expr::symbol(0)}, 3});
  create(a);
  std::vector<float> x(64, 0.0f);
  std::vector<int64_t> mask(64, 1);
  int64_t five[2] = {1, 5}, six[2] = {1, 6};
  ASSERT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, five, 2), KILN_OK);
  ASSERT_EQ(kiln_session_bind_input(session.s, 1, mask.data(), KILN_DTYPE_I64, six, 2), KILN_OK);
  EXPECT_EQ(kiln_session_run(session.s), KILN_ERROR_SHAPE_MISMATCH);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "input 'mask': expected 2-D [1, seq<=64] with seq = 5 (from input 'x'), got [1, 6]");
  EXPECT_EQ(counter("kernel_runs"), 0);
  ASSERT_EQ(kiln_session_bind_input(session.s, 1, mask.data(), KILN_DTYPE_I64, five, 2), KILN_OK);
  EXPECT_EQ(kiln_session_run(session.s), KILN_OK) << kiln_session_last_error(session.s);
}

TEST_F(SessionTest, KernelFaultsAreStickyAndReported) {
  Artifact a = makeSampleArtifact();
  a.kernels[1] = "fake_fault";
  a.ptx += ".visible .entry fake_fault()\n";
  a.entries[0].launches[1].grid[0] = Expr::constant(1);
  create(a);
  std::vector<float> x(8, 0.0f);
  int64_t dims[2] = {1, 8};
  ASSERT_EQ(kiln_session_bind_input(session.s, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  EXPECT_EQ(kiln_session_run(session.s), KILN_ERROR_CUDA);
  EXPECT_STREQ(kiln_session_last_error(session.s),
               "cuEventSynchronize(the kernels of 'sample.kiln'): CUDA_ERROR_ILLEGAL_ADDRESS: an "
               "illegal memory access was encountered");
  EXPECT_EQ(kiln_session_run(session.s), KILN_ERROR_CUDA);
  EXPECT_TRUE(contains(kiln_session_last_error(session.s),
                       "the session cannot run after an earlier CUDA error"));
}

TEST_F(SessionTest, ModelMayBeDestroyedFirst) {
  create(makeSampleArtifact());
  kiln_model_destroy(model.m);
  model.m = nullptr;
  std::vector<float> y = runWith(4);
  EXPECT_EQ(y[3], 4.5f);
}

TEST_F(SessionTest, ConcurrentCallsOnOneSessionAndOnSeveral) {
  create(makeSampleArtifact());
  kiln_session *other = nullptr;
  ASSERT_EQ(kiln_session_create(model.m, nullptr, &other), KILN_OK);
  auto work = [](kiln_session *s, int64_t seq, int *failures) {
    std::vector<float> x(static_cast<size_t>(seq), 2.0f), y(static_cast<size_t>(seq));
    int64_t dims[2] = {1, seq};
    for (int i = 0; i < 50; ++i) {
      // Bind + run + read is not atomic across threads on one session; each step is.
      if (kiln_session_bind_input(s, 0, x.data(), KILN_DTYPE_F32, dims, 2) != KILN_OK ||
          kiln_session_run(s) != KILN_OK)
        ++*failures;
      size_t bytes = 0;
      if (kiln_session_output_bytes(s, 0, &bytes) != KILN_OK || bytes > y.size() * 4 ||
          kiln_session_read_output(s, 0, y.data(), y.size() * 4) != KILN_OK)
        ++*failures;
    }
  };
  int failures[4] = {0, 0, 0, 0};
  std::thread t1(work, session.s, 16, &failures[0]), t2(work, session.s, 16, &failures[1]),
      t3(work, other, 8, &failures[2]), t4(work, other, 8, &failures[3]);
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  for (int f : failures)
    EXPECT_EQ(f, 0);
  kiln_session_destroy(other);
}

} // namespace
