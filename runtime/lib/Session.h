//===- Session.h - loaded models and device sessions (internal) -------------------*- C++ -*-===//
//
// The C++ objects behind kiln_model and kiln_session (kilnrt.h). Not installed; the C API is
// the interface.
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_LIB_SESSION_H
#define KILNRT_LIB_SESSION_H

#include "CudaDriver.h"
#include "kilnrt/Artifact.h"
#include "kilnrt/kilnrt.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kilnrt {

/// A status code and its message.
struct Status {
  kiln_status code = KILN_OK;
  std::string message;
  bool ok() const { return code == KILN_OK; }
  static Status success() { return {}; }
  static Status error(kiln_status code, std::string message) { return {code, std::move(message)}; }
};

/// A loaded artifact and the signature strings the C API hands out.
struct ModelData {
  std::shared_ptr<const Artifact> artifact;
  std::string name; // names the artifact in messages ("model.kiln")

  struct TensorInfo {
    std::vector<int64_t> dims;            // -1 for symbolic dims
    std::vector<std::string> dimNames;    // "" for static dims
    std::vector<const char *> dimNamePtrs; // into dimNames, nullptr for static dims
  };
  struct EntryInfo {
    std::vector<TensorInfo> inputInfo, outputInfo;
    std::vector<std::string> symbolNames;
  };
  std::vector<EntryInfo> entries; // parallel to artifact->entries

  /// Deserializes `size` bytes named `name` (for messages).
  static Status load(const uint8_t *data, size_t size, const std::string &name,
                     std::shared_ptr<ModelData> &out);
  static Status loadFile(const std::string &path, std::shared_ptr<ModelData> &out);

  /// "2-D [1, seq<=2048]" for a binding of entry `entry`.
  std::string describeExpected(size_t entry, const TensorBinding &binding) const;
  /// The index of the entry called `name`, or -1.
  int32_t findEntry(const std::string &name) const;
  /// "input 'x'" for the default entry, "input 'kiln.slots' of entry 'decode'" otherwise.
  std::string label(size_t entry, const char *what, const std::string &name) const;
};

/// Sets this thread's kiln_last_error() (for entry points outside CApi.cpp).
void setThreadLastError(const std::string &message);

/// "[2, 5]".
std::string formatDims(const int64_t *dims, size_t rank);

struct SessionOptions {
  int device = 0;
  bool disableCudaGraphs = false;
  int maxCachedGraphs = 8;
};

/// A model on one device: its memory, module, stream, events and cached CUDA graphs. Any entry
/// of the model can run; they share the arena (so only the last run's outputs can be read).
class Session {
public:
  static Status create(std::shared_ptr<const ModelData> model, const SessionOptions &options,
                       std::unique_ptr<Session> &out);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  Status bindInput(size_t entry, size_t index, const void *data, DType dtype, const int64_t *dims,
                   size_t rank);
  Status run(size_t entry);
  Status outputShape(size_t entry, size_t index, std::vector<int64_t> &dims) const;
  Status outputBytes(size_t entry, size_t index, size_t &bytes) const;
  Status readOutput(size_t entry, size_t index, void *data, size_t capacityBytes);
  /// Bytes [offset, offset + bytes) of an output of the last run (e.g. one row of logits).
  Status readOutputBytes(size_t entry, size_t index, uint64_t offset, void *data, size_t bytes);
  Status lastGpuTimeMs(double &ms) const;
  /// Allocates the KV cache (zeroed) that Cache buffer arguments resolve to; `need` says what
  /// the bytes are for in the out-of-memory message ("for 8 sequences of 2048 tokens").
  Status allocateCache(uint64_t bytes, const std::string &need);
  bool hasCache() const { return cache != 0; }
  kiln_device_info deviceInfo() const { return device; }
  kiln_session_stats stats() const { return counters; }
  const ModelData &model() const { return *modelData; }

  std::mutex mutex;        // held by the C API around every call
  std::string lastError;   // the last failure's message, for kiln_session_last_error
  size_t currentEntry = 0; // the entry the C API's bind/run/output calls use

private:
  Session() = default;
  Status init(const SessionOptions &options);
  void release();
  Status cudaError(const char *call, const std::string &what, cuda::CUresult result) const;
  Status checkEntry(size_t entry) const;
  Status loadModule();
  Status checkInputsForRun(size_t entry, std::vector<int64_t> &symbolValues);
  Status prepareLaunches(size_t entry, const std::vector<int64_t> &symbolValues);
  Status launchAll(size_t entry);
  Status runWithGraph(size_t entry, const std::vector<int64_t> &key, bool &usedGraph);
  cuda::CUdeviceptr bufferAddress(uint32_t buffer) const;
  uint64_t bufferBytes(uint32_t buffer) const;

  std::shared_ptr<const ModelData> modelData;
  const Artifact *artifact = nullptr;
  const cuda::Driver *drv = nullptr;
  cuda::CUdevice dev = 0;
  cuda::CUcontext ctx = nullptr;
  bool ctxRetained = false;
  cuda::CUdeviceptr arena = 0, weights = 0, cache = 0;
  uint64_t cacheBytes = 0;
  cuda::CUmodule module = nullptr;
  std::vector<cuda::CUfunction> functions;
  cuda::CUstream stream = nullptr;
  cuda::CUevent startEvent = nullptr, stopEvent = nullptr;
  kiln_device_info device{};
  bool graphsEnabled = true;
  size_t maxGraphs = 8;

  struct BoundInput {
    bool bound = false;
    const void *data = nullptr;
    std::vector<int64_t> dims;
  };
  struct EntryState {
    std::vector<BoundInput> inputs;
    bool usesCache = false; // a launch takes the Cache buffer
  };
  std::vector<EntryState> entryStates; // parallel to artifact->entries

  struct PreparedLaunch {
    size_t launch;
    unsigned grid[3];
    std::vector<uint64_t> values; // parameter storage (8 bytes each)
    std::vector<void *> params;   // pointers into values, then a null sentinel
  };
  std::vector<PreparedLaunch> prepared;

  struct CachedGraph {
    std::vector<int64_t> key; // the entry index, then its symbol values
    cuda::CUgraph graph = nullptr;
    cuda::CUgraphExec exec = nullptr;
    uint64_t lastUse = 0;
    uint64_t launched = 0, skipped = 0; // kernels in the graph, launches skipped (zero grid)
  };
  std::vector<CachedGraph> graphs;
  uint64_t useClock = 0;

  bool hasRun = false;
  size_t lastRunEntry = 0;
  std::vector<std::vector<int64_t>> outputDims;
  double gpuMs = 0;
  kiln_session_stats counters{};
  bool broken = false; // a sticky CUDA error: the context can no longer be used
  std::string brokenBy; // that error's message
};

} // namespace kilnrt

#endif // KILNRT_LIB_SESSION_H
