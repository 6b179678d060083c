//===- Session.cpp - a model on a CUDA device ----------------------------------------------===//
//
// Creation: driver, device checks (count, compute capability), the device's primary context,
// one allocation for the arena and one for the weights (uploaded once), the module (cubin if it
// loads, else PTX through the driver's JIT), one function per kernel, a stream and two events.
//
// A run: symbols from the bound input dims (checked), inputs copied host-to-device, then the
// launch sequence: captured into a CUDA graph the first time a set of symbol values is seen and
// replayed afterwards (a small LRU cache), or launched one by one when graphs are off.
//
//===----------------------------------------------------------------------------------------===//

#include "Session.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace kilnrt {

using namespace cuda;

//===-- models ----------------------------------------------------------------------------===//

std::string formatDims(const int64_t *dims, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string ModelData::describeExpected(size_t entry, const TensorBinding &binding) const {
  const Entry &e = artifact->entries[entry];
  std::string s = std::to_string(binding.dims.size()) + "-D [";
  for (size_t d = 0; d < binding.dims.size(); ++d) {
    if (d)
      s += ", ";
    const Expr &dim = binding.dims[d];
    uint32_t sym;
    if (dim.isSymbol(&sym) && sym < e.symbols.size())
      s += e.symbols[sym].name + "<=" + std::to_string(e.symbols[sym].maxValue);
    else
      s += dim.toString(entries[entry].symbolNames);
  }
  return s + "]";
}

int32_t ModelData::findEntry(const std::string &entryName) const {
  for (size_t i = 0; i < artifact->entries.size(); ++i)
    if (artifact->entries[i].name == entryName)
      return static_cast<int32_t>(i);
  return -1;
}

std::string ModelData::label(size_t entry, const char *what, const std::string &object) const {
  std::string text = std::string(what) + " '" + object + "'";
  if (entry != 0)
    text += " of entry '" + artifact->entries[entry].name + "'";
  return text;
}

static void fillInfo(const TensorBinding &b, const std::vector<std::string> &symbolNames,
                     ModelData::TensorInfo &info) {
  for (const Expr &e : b.dims) {
    int64_t v;
    if (e.isConstant(&v)) {
      info.dims.push_back(v);
      info.dimNames.emplace_back();
    } else {
      info.dims.push_back(-1);
      info.dimNames.push_back(e.toString(symbolNames));
    }
  }
  for (const std::string &n : info.dimNames)
    info.dimNamePtrs.push_back(n.empty() ? nullptr : n.c_str());
}

Status ModelData::load(const uint8_t *data, size_t size, const std::string &name,
                       std::shared_ptr<ModelData> &out) {
  auto artifact = std::make_shared<Artifact>();
  std::string error;
  ArtifactErrorKind kind = ArtifactErrorKind::None;
  if (!deserializeArtifact(data, size, *artifact, error, name, &kind))
    return Status::error(kind == ArtifactErrorKind::Version ? KILN_ERROR_ARTIFACT_VERSION
                         : kind == ArtifactErrorKind::Io    ? KILN_ERROR_IO
                                                            : KILN_ERROR_INVALID_ARTIFACT,
                         error);
  auto model = std::make_shared<ModelData>();
  model->name = name.empty() ? "<memory>" : name;
  model->entries.resize(artifact->entries.size());
  for (size_t e = 0; e < artifact->entries.size(); ++e) {
    const Entry &entry = artifact->entries[e];
    EntryInfo &info = model->entries[e];
    for (const Symbol &s : entry.symbols)
      info.symbolNames.push_back(s.name);
    info.inputInfo.resize(entry.inputs.size());
    for (size_t i = 0; i < entry.inputs.size(); ++i)
      fillInfo(entry.inputs[i], info.symbolNames, info.inputInfo[i]);
    info.outputInfo.resize(entry.outputs.size());
    for (size_t i = 0; i < entry.outputs.size(); ++i)
      fillInfo(entry.outputs[i], info.symbolNames, info.outputInfo[i]);
  }
  model->artifact = std::move(artifact);
  out = std::move(model);
  return Status::success();
}

Status ModelData::loadFile(const std::string &path, std::shared_ptr<ModelData> &out) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!readFileBytes(path, bytes, error))
    return Status::error(KILN_ERROR_IO, error);
  return load(bytes.data(), bytes.size(), path, out);
}

//===-- sessions --------------------------------------------------------------------------===//

namespace {

/// Makes a context current for a scope (the runtime never leaves one current).
class ContextGuard {
public:
  ContextGuard(const Driver *driver, CUcontext ctx) : driver(driver) {
    if (driver && ctx) {
      result = driver->cuCtxPushCurrent(ctx);
      pushed = result == CUDA_SUCCESS;
    }
  }
  ~ContextGuard() {
    if (pushed) {
      CUcontext ignored = nullptr;
      driver->cuCtxPopCurrent(&ignored);
    }
  }
  CUresult status() const { return result; }

private:
  const Driver *driver;
  CUresult result = CUDA_SUCCESS;
  bool pushed = false;
};

bool envFlag(const char *name) {
  const char *v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

/// "sm_90" -> 90, arch-specific ("sm_90a") -> exact = true. False if not sm_<digits>[suffix].
bool parseTarget(const std::string &target, int &cc, bool &exact) {
  if (target.compare(0, 3, "sm_") != 0)
    return false;
  size_t i = 3;
  cc = 0;
  while (i < target.size() && target[i] >= '0' && target[i] <= '9' && cc < 10000)
    cc = cc * 10 + (target[i++] - '0');
  if (i == 3 || cc < 10)
    return false;
  std::string suffix = target.substr(i);
  if (!suffix.empty() && suffix != "a" && suffix != "f")
    return false;
  exact = suffix == "a";
  return true;
}

std::string smName(int cc) { return "sm_" + std::to_string(cc); }

/// Product of dims times element size, false on overflow.
bool byteSize(const std::vector<int64_t> &dims, DType dtype, uint64_t &bytes) {
  uint64_t n = dtypeSize(dtype);
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
      return false;
  }
  bytes = n;
  return true;
}

} // namespace

Status Session::cudaError(const char *call, const std::string &what, CUresult result) const {
  return Status::error(result == CUDA_ERROR_OUT_OF_MEMORY ? KILN_ERROR_OUT_OF_MEMORY
                                                          : KILN_ERROR_CUDA,
                       drv->describe(call, what, result));
}

Status Session::create(std::shared_ptr<const ModelData> model, const SessionOptions &options,
                       std::unique_ptr<Session> &out) {
  std::unique_ptr<Session> session(new Session());
  session->modelData = std::move(model);
  session->artifact = session->modelData->artifact.get();
  Status status = session->init(options);
  if (!status.ok())
    return status; // the destructor releases whatever was created
  out = std::move(session);
  return status;
}

Session::~Session() { release(); }

Status Session::init(const SessionOptions &options) {
  const Artifact &a = *artifact;
  const std::string &modelName = modelData->name;

  LoadStatus loadStatus;
  std::string error;
  drv = loadDriver(loadStatus, error);
  if (!drv)
    return Status::error(loadStatus == LoadStatus::NoDriver   ? KILN_ERROR_NO_DRIVER
                         : loadStatus == LoadStatus::NoDevice ? KILN_ERROR_NO_DEVICE
                                                              : KILN_ERROR_CUDA,
                         error);

  int count = 0;
  if (CUresult r = drv->cuDeviceGetCount(&count))
    return cudaError("cuDeviceGetCount", "", r);
  if (count == 0)
    return Status::error(KILN_ERROR_NO_DEVICE,
                         "no CUDA device: the driver '" + drv->path + "' reports 0 devices");
  if (options.device < 0 || options.device >= count)
    return Status::error(KILN_ERROR_NO_DEVICE,
                         "no CUDA device " + std::to_string(options.device) + ": there " +
                             (count == 1 ? "is 1 device" : "are " + std::to_string(count) +
                                                               " devices") +
                             " (0" + (count > 1 ? ".." + std::to_string(count - 1) : "") + ")");
  std::string devLabel = "device " + std::to_string(options.device);
  if (CUresult r = drv->cuDeviceGet(&dev, options.device))
    return cudaError("cuDeviceGet", devLabel, r);
  device.ordinal = options.device;
  device.driver_version = drv->version;
  if (CUresult r = drv->cuDeviceGetName(device.name, sizeof device.name - 1, dev))
    return cudaError("cuDeviceGetName", devLabel, r);
  device.name[sizeof device.name - 1] = '\0';
  int major = 0, minor = 0, sharedOptin = 0;
  if (CUresult r = drv->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                             dev))
    return cudaError("cuDeviceGetAttribute", devLabel + " compute capability", r);
  if (CUresult r = drv->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                             dev))
    return cudaError("cuDeviceGetAttribute", devLabel + " compute capability", r);
  if (CUresult r = drv->cuDeviceGetAttribute(
          &sharedOptin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev))
    return cudaError("cuDeviceGetAttribute", devLabel + " shared memory per block", r);
  device.compute_capability = major * 10 + minor;
  size_t total = 0;
  if (CUresult r = drv->cuDeviceTotalMem(&total, dev))
    return cudaError("cuDeviceTotalMem", devLabel, r);
  device.total_bytes = total;
  devLabel += " '" + std::string(device.name) + "'";

  int targetCC = 0;
  bool exact = false;
  if (!parseTarget(a.target, targetCC, exact))
    return Status::error(KILN_ERROR_INVALID_ARTIFACT, "artifact '" + modelName + "' has target '" +
                                                          a.target + "', not sm_<NN>");
  if (device.compute_capability < targetCC ||
      (exact && device.compute_capability != targetCC))
    return Status::error(KILN_ERROR_DEVICE_TOO_OLD,
                         "artifact targets " + a.target + "; " + devLabel + " is " +
                             smName(device.compute_capability) +
                             (exact && device.compute_capability > targetCC
                                  ? " (" + a.target + " code runs only on " + smName(targetCC) + ")"
                                  : ""));

  // Shared memory: above 48 KiB a kernel must opt in, up to the device's limit.
  std::vector<uint32_t> maxShared(a.kernels.size(), 0);
  entryStates.resize(a.entries.size());
  for (size_t e = 0; e < a.entries.size(); ++e) {
    entryStates[e].inputs.resize(a.entries[e].inputs.size());
    for (const Launch &l : a.entries[e].launches) {
      maxShared[l.kernel] = std::max(maxShared[l.kernel], l.sharedBytes);
      if (l.sharedBytes > static_cast<uint32_t>(std::max(sharedOptin, 48 * 1024)))
        return Status::error(KILN_ERROR_DEVICE_TOO_OLD,
                             "launch '" + l.name + "' needs " + formatBytes(l.sharedBytes) +
                                 " of shared memory per block; " + devLabel + " allows " +
                                 formatBytes(static_cast<uint64_t>(sharedOptin)));
      for (const KernelArg &arg : l.args)
        if (arg.kind == KernelArg::Kind::Buffer &&
            a.buffers[arg.buffer].kind == Buffer::Kind::Cache)
          entryStates[e].usesCache = true;
    }
  }

  if (CUresult r = drv->cuDevicePrimaryCtxRetain(&ctx, dev))
    return cudaError("cuDevicePrimaryCtxRetain", devLabel, r);
  ctxRetained = true;
  ContextGuard guard(drv, ctx);
  if (guard.status())
    return cudaError("cuCtxPushCurrent", devLabel, guard.status());

  size_t freeBytes = 0, totalBytes = 0;
  if (CUresult r = drv->cuMemGetInfo(&freeBytes, &totalBytes))
    return cudaError("cuMemGetInfo", devLabel, r);
  device.free_bytes = freeBytes;
  auto outOfMemory = [&](const char *what, CUresult r) {
    std::string message = "out of device memory: '" + modelName + "' needs " +
                          formatBytes(a.arenaBytes + a.weights.size()) + " (arena " +
                          formatBytes(a.arenaBytes) + " + weights " +
                          formatBytes(a.weights.size()) + "); " + "device " +
                          std::to_string(device.ordinal) + " has " + formatBytes(freeBytes) +
                          " free of " + formatBytes(totalBytes) + " (cuMemAlloc of the " + what +
                          ": " + drv->errorText(r) + ")";
    return Status::error(KILN_ERROR_OUT_OF_MEMORY, message);
  };
  if (a.arenaBytes > 0) {
    if (CUresult r = drv->cuMemAlloc(&arena, a.arenaBytes)) {
      arena = 0;
      return r == CUDA_ERROR_OUT_OF_MEMORY ? outOfMemory("arena", r)
                                           : cudaError("cuMemAlloc", "arena", r);
    }
    if (CUresult r = drv->cuMemsetD8(arena, 0, a.arenaBytes))
      return cudaError("cuMemsetD8", "arena", r);
  }
  if (!a.weights.empty()) {
    if (CUresult r = drv->cuMemAlloc(&weights, a.weights.size())) {
      weights = 0;
      return r == CUDA_ERROR_OUT_OF_MEMORY ? outOfMemory("weights", r)
                                           : cudaError("cuMemAlloc", "weights", r);
    }
    if (CUresult r = drv->cuMemcpyHtoD(weights, a.weights.data(), a.weights.size()))
      return cudaError("cuMemcpyHtoD", "weights of '" + modelName + "'", r);
  }

  Status status = loadModule();
  if (!status.ok())
    return status;
  for (size_t k = 0; k < functions.size(); ++k) {
    if (maxShared[k] > 48 * 1024) {
      if (CUresult r = drv->cuFuncSetAttribute(
              functions[k], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              static_cast<int>(maxShared[k])))
        return cudaError("cuFuncSetAttribute", "kernel '" + a.kernels[k] + "' shared memory", r);
    }
  }

  if (CUresult r = drv->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING))
    return cudaError("cuStreamCreate", devLabel, r);
  if (CUresult r = drv->cuEventCreate(&startEvent, CU_EVENT_DEFAULT))
    return cudaError("cuEventCreate", devLabel, r);
  if (CUresult r = drv->cuEventCreate(&stopEvent, CU_EVENT_DEFAULT))
    return cudaError("cuEventCreate", devLabel, r);

  graphsEnabled =
      !options.disableCudaGraphs && !envFlag("KILN_DISABLE_CUDA_GRAPHS") && drv->hasGraphs();
  maxGraphs = options.maxCachedGraphs > 0 ? static_cast<size_t>(options.maxCachedGraphs) : 8;
  counters.cuda_graphs_enabled = graphsEnabled;
  return Status::success();
}

Status Session::loadModule() {
  const Artifact &a = *artifact;
  const std::string what = "kernels of '" + modelData->name + "'";
  std::string cubinFailure;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool cubin = attempt == 0;
    if (cubin && a.cubin.empty())
      continue;
    if (!cubin && a.ptx.empty())
      break;
    static constexpr size_t kLogSize = 16384;
    std::vector<char> info(kLogSize, 0), errors(kLogSize, 0);
    CUjit_option options[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                              CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {info.data(), reinterpret_cast<void *>(static_cast<uintptr_t>(kLogSize - 1)),
                      errors.data(), reinterpret_cast<void *>(static_cast<uintptr_t>(kLogSize - 1))};
    const void *image = cubin ? static_cast<const void *>(a.cubin.data())
                              : static_cast<const void *>(a.ptx.c_str());
    CUresult r = drv->cuModuleLoadDataEx(&module, image, 4, options, values);
    if (r == CUDA_SUCCESS)
      break;
    module = nullptr;
    std::string message = drv->describe("cuModuleLoadDataEx", (cubin ? "cubin " : "PTX ") + what, r);
    std::string log(errors.data());
    while (!log.empty() && (log.back() == '\n' || log.back() == ' '))
      log.pop_back();
    if (!log.empty())
      message += "; JIT log: " + log;
    if (r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
      message += " (the PTX needs a newer NVIDIA driver than this one, version " +
                 std::to_string(drv->version / 1000) + "." +
                 std::to_string(drv->version % 1000 / 10) + ")";
    if (cubin) {
      cubinFailure = message;
      continue; // the PTX may still JIT for this device
    }
    if (!cubinFailure.empty())
      message = cubinFailure + "; then " + message;
    return Status::error(r == CUDA_ERROR_OUT_OF_MEMORY ? KILN_ERROR_OUT_OF_MEMORY : KILN_ERROR_CUDA,
                         message);
  }
  if (!module) {
    if (!cubinFailure.empty())
      return Status::error(KILN_ERROR_CUDA, cubinFailure + " (and the artifact has no PTX)");
    if (a.kernels.empty())
      return Status::success();
    return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                         "artifact '" + modelData->name + "' has kernels but no PTX or cubin");
  }
  functions.resize(a.kernels.size(), nullptr);
  for (size_t k = 0; k < a.kernels.size(); ++k) {
    if (CUresult r = drv->cuModuleGetFunction(&functions[k], module, a.kernels[k].c_str()))
      return cudaError("cuModuleGetFunction",
                       "kernel '" + a.kernels[k] + "' of '" + modelData->name + "'", r);
  }
  return Status::success();
}

void Session::release() {
  if (!drv)
    return;
  if (ctx) {
    ContextGuard guard(drv, ctx);
    for (CachedGraph &g : graphs) {
      if (g.exec)
        drv->cuGraphExecDestroy(g.exec);
      if (g.graph)
        drv->cuGraphDestroy(g.graph);
    }
    graphs.clear();
    if (stream)
      drv->cuStreamSynchronize(stream);
    if (startEvent)
      drv->cuEventDestroy(startEvent);
    if (stopEvent)
      drv->cuEventDestroy(stopEvent);
    if (stream)
      drv->cuStreamDestroy(stream);
    if (module)
      drv->cuModuleUnload(module);
    if (arena)
      drv->cuMemFree(arena);
    if (weights)
      drv->cuMemFree(weights);
    if (cache)
      drv->cuMemFree(cache);
    startEvent = stopEvent = nullptr;
    stream = nullptr;
    module = nullptr;
    arena = weights = cache = 0;
  }
  if (ctxRetained)
    drv->cuDevicePrimaryCtxRelease(dev);
  ctxRetained = false;
  ctx = nullptr;
}

CUdeviceptr Session::bufferAddress(uint32_t buffer) const {
  const Buffer &b = artifact->buffers[buffer];
  switch (b.kind) {
  case Buffer::Kind::Arena: return arena + b.offset;
  case Buffer::Kind::Weights: return weights + b.offset;
  case Buffer::Kind::Cache: return cache; // offset 0 (validated)
  }
  return 0;
}

uint64_t Session::bufferBytes(uint32_t buffer) const {
  const Buffer &b = artifact->buffers[buffer];
  // The cache allocation may hold fewer slots than the layout's maximum.
  return b.kind == Buffer::Kind::Cache ? cacheBytes : b.capacityBytes;
}

Status Session::allocateCache(uint64_t bytes, const std::string &need) {
  if (cache)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, "the KV cache of '" + modelData->name +
                                                          "' is already allocated");
  if (bytes == 0)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, "the KV cache cannot be 0 bytes");
  ContextGuard guard(drv, ctx);
  if (guard.status())
    return cudaError("cuCtxPushCurrent", "device " + std::to_string(device.ordinal),
                     guard.status());
  if (CUresult r = drv->cuMemAlloc(&cache, bytes)) {
    cache = 0;
    if (r != CUDA_ERROR_OUT_OF_MEMORY)
      return cudaError("cuMemAlloc", "the KV cache", r);
    size_t freeBytes = 0, totalBytes = 0;
    std::string freeText = "unknown free memory";
    if (drv->cuMemGetInfo(&freeBytes, &totalBytes) == CUDA_SUCCESS)
      freeText = formatBytes(freeBytes) + " free of " + formatBytes(totalBytes);
    return Status::error(KILN_ERROR_OUT_OF_MEMORY,
                         "out of device memory for the KV cache of '" + modelData->name +
                             "': it needs " + formatBytes(bytes) + " (" + std::to_string(bytes) +
                             " bytes) " + need + "; device " + std::to_string(device.ordinal) +
                             " has " + freeText + " (cuMemAlloc: " + drv->errorText(r) + ")");
  }
  cacheBytes = bytes;
  if (CUresult r = drv->cuMemsetD8(cache, 0, bytes))
    return cudaError("cuMemsetD8", "the KV cache", r);
  return Status::success();
}

Status Session::checkEntry(size_t entry) const {
  if (entry < artifact->entries.size())
    return Status::success();
  return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                       "entry index " + std::to_string(entry) + " is out of range ('" +
                           modelData->name + "' has " +
                           std::to_string(artifact->entries.size()) + " entries)");
}

//===-- binding and running ---------------------------------------------------------------===//

Status Session::bindInput(size_t entry, size_t index, const void *data, DType dtype,
                          const int64_t *dims, size_t rank) {
  Status status = checkEntry(entry);
  if (!status.ok())
    return status;
  const Entry &e = artifact->entries[entry];
  if (index >= e.inputs.size())
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         "input index " + std::to_string(index) + " is out of range ('" +
                             modelData->name + "'" +
                             (entry ? " entry '" + e.name + "'" : std::string()) + " has " +
                             std::to_string(e.inputs.size()) + " inputs)");
  const TensorBinding &b = e.inputs[index];
  std::string label = modelData->label(entry, "input", b.name);
  if (rank > 0 && !dims)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, label + ": dims is null");
  if (!isValidDType(static_cast<uint8_t>(dtype)))
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         label + ": unknown dtype " + std::to_string(static_cast<int>(dtype)));
  if (dtype != b.dtype)
    return Status::error(KILN_ERROR_DTYPE_MISMATCH, label + ": expected " + dtypeName(b.dtype) +
                                                        ", got " + dtypeName(dtype));
  std::string mismatch = label + ": expected " + modelData->describeExpected(entry, b) +
                         ", got " + formatDims(dims, rank);
  if (rank != b.dims.size())
    return Status::error(KILN_ERROR_SHAPE_MISMATCH, mismatch);
  for (size_t d = 0; d < rank; ++d) {
    int64_t value;
    if (dims[d] < 0 || (b.dims[d].isConstant(&value) && value != dims[d]))
      return Status::error(KILN_ERROR_SHAPE_MISMATCH, mismatch);
  }
  for (const Symbol &s : e.symbols) {
    if (s.input != index)
      continue;
    int64_t v = dims[s.dim];
    if (v < 1 || v > s.maxValue)
      return Status::error(KILN_ERROR_SYMBOL_OUT_OF_RANGE,
                           label + ": " + s.name + " = " + std::to_string(v) + " (dim " +
                               std::to_string(s.dim) + " of " + formatDims(dims, rank) + ") is " +
                               (v < 1 ? "below 1"
                                      : "above its maximum " + std::to_string(s.maxValue)));
  }
  std::vector<int64_t> shape(dims, dims + rank);
  uint64_t bytes = 0;
  if (!byteSize(shape, dtype, bytes))
    return Status::error(KILN_ERROR_SHAPE_MISMATCH, label + ": " + formatDims(dims, rank) +
                                                        " is too large");
  if (bytes > 0 && !data)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, label + ": data is null");
  BoundInput &in = entryStates[entry].inputs[index];
  in.bound = true;
  in.data = data;
  in.dims = std::move(shape);
  return Status::success();
}

Status Session::checkInputsForRun(size_t entry, std::vector<int64_t> &symbolValues) {
  const Entry &e = artifact->entries[entry];
  const std::vector<BoundInput> &inputs = entryStates[entry].inputs;
  for (size_t i = 0; i < e.inputs.size(); ++i)
    if (!inputs[i].bound)
      return Status::error(KILN_ERROR_NOT_READY,
                           modelData->label(entry, "input", e.inputs[i].name) +
                               " is not bound (" +
                               modelData->describeExpected(entry, e.inputs[i]) + ")");
  symbolValues.assign(e.symbols.size(), 0);
  for (size_t s = 0; s < e.symbols.size(); ++s)
    symbolValues[s] = inputs[e.symbols[s].input].dims[e.symbols[s].dim];
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const TensorBinding &b = e.inputs[i];
    const BoundInput &in = inputs[i];
    std::string label = modelData->label(entry, "input", b.name);
    for (size_t d = 0; d < b.dims.size(); ++d) {
      int64_t expected;
      std::string error;
      if (!b.dims[d].evaluate(symbolValues, expected, error))
        return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                             label + " dim " + std::to_string(d) + ": " + error);
      if (expected == in.dims[d])
        continue;
      // Name the symbols involved and where their values came from.
      std::string from;
      for (const Expr::Step &step : b.dims[d].steps) {
        if (step.op != Expr::Op::Symbol)
          continue;
        const Symbol &s = e.symbols[static_cast<size_t>(step.value)];
        if (!from.empty())
          from += ", ";
        from += s.name + " = " + std::to_string(symbolValues[static_cast<size_t>(step.value)]) +
                " (from input '" + e.inputs[s.input].name + "')";
      }
      return Status::error(KILN_ERROR_SHAPE_MISMATCH,
                           label + ": expected " + modelData->describeExpected(entry, b) +
                               (from.empty() ? "" : " with " + from) + ", got " +
                               formatDims(in.dims.data(), in.dims.size()));
    }
    uint64_t bytes = 0;
    if (!byteSize(in.dims, b.dtype, bytes) || bytes > bufferBytes(b.buffer))
      return Status::error(KILN_ERROR_SHAPE_MISMATCH,
                           label + " " + formatDims(in.dims.data(), in.dims.size()) + " is " +
                               std::to_string(bytes) + " bytes; its buffer holds " +
                               std::to_string(bufferBytes(b.buffer)));
  }
  return Status::success();
}

Status Session::prepareLaunches(size_t entry, const std::vector<int64_t> &symbolValues) {
  const Artifact &a = *artifact;
  const Entry &e = a.entries[entry];
  prepared.clear();
  counters.kernels_launched = counters.kernels_skipped = 0;
  for (size_t i = 0; i < e.launches.size(); ++i) {
    const Launch &l = e.launches[i];
    std::string label = "launch " + std::to_string(i) + " ('" + l.name + "')" +
                        (entry ? " of entry '" + e.name + "'" : std::string());
    PreparedLaunch p;
    p.launch = i;
    bool skip = false;
    for (int d = 0; d < 3; ++d) {
      int64_t g;
      std::string error;
      if (!l.grid[d].evaluate(symbolValues, g, error))
        return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                             label + " grid " + "xyz"[d] + ": " + error);
      int64_t limit = d == 0 ? std::numeric_limits<int32_t>::max() : 65535;
      if (g < 0 || g > limit)
        return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                             label + " grid " + "xyz"[d] + " = " + std::to_string(g) +
                                 " (must be 0.." + std::to_string(limit) + ")");
      skip |= g == 0;
      p.grid[d] = static_cast<unsigned>(g);
    }
    if (skip) {
      ++counters.kernels_skipped;
      continue;
    }
    for (const KernelArg &arg : l.args) {
      if (arg.kind == KernelArg::Kind::Buffer) {
        CUdeviceptr base = bufferAddress(arg.buffer);
        p.values.push_back(base);                                          // allocated
        p.values.push_back(base);                                          // aligned
        p.values.push_back(0);                                             // offset
        p.values.push_back(bufferBytes(arg.buffer) / dtypeSize(arg.dtype)); // size
        p.values.push_back(1);                                             // stride
      } else {
        int64_t v;
        std::string error;
        if (!arg.scalar.evaluate(symbolValues, v, error))
          return Status::error(KILN_ERROR_INVALID_ARTIFACT, label + " scalar argument: " + error);
        p.values.push_back(static_cast<uint64_t>(v));
      }
    }
    prepared.push_back(std::move(p));
  }
  for (PreparedLaunch &p : prepared) {
    p.params.clear();
    for (uint64_t &v : p.values)
      p.params.push_back(&v);
    p.params.push_back(nullptr); // not read by the driver; lets a test double count parameters
  }
  counters.kernels_launched = prepared.size();
  return Status::success();
}

Status Session::launchAll(size_t entry) {
  const Artifact &a = *artifact;
  const Entry &e = a.entries[entry];
  for (PreparedLaunch &p : prepared) {
    const Launch &l = e.launches[p.launch];
    if (CUresult r = drv->cuLaunchKernel(functions[l.kernel], p.grid[0], p.grid[1], p.grid[2],
                                         l.block[0], l.block[1], l.block[2], l.sharedBytes,
                                         stream, p.params.data(), nullptr))
      return cudaError(
          "cuLaunchKernel",
          "launch " + std::to_string(p.launch) + " '" + l.name + "'" +
              (entry ? " of entry '" + e.name + "'" : std::string()) + " of kernel '" +
              a.kernels[l.kernel] + "', grid [" + std::to_string(p.grid[0]) + ", " +
              std::to_string(p.grid[1]) + ", " + std::to_string(p.grid[2]) + "], block [" +
              std::to_string(l.block[0]) + ", " + std::to_string(l.block[1]) + ", " +
              std::to_string(l.block[2]) + "], " + std::to_string(l.sharedBytes) +
              " bytes of shared memory",
          r);
  }
  return Status::success();
}

Status Session::runWithGraph(size_t entry, const std::vector<int64_t> &key, bool &usedGraph) {
  usedGraph = false;
  CachedGraph *cached = nullptr;
  for (CachedGraph &g : graphs)
    if (g.key == key)
      cached = &g;
  if (!cached) {
    if (prepared.empty())
      return Status::success(); // nothing to launch
    if (drv->cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) != CUDA_SUCCESS) {
      graphsEnabled = false; // e.g. unsupported: launch eagerly from now on
      counters.cuda_graphs_enabled = 0;
      return Status::success();
    }
    Status launched = launchAll(entry);
    CUgraph graph = nullptr;
    CUresult ended = drv->cuStreamEndCapture(stream, &graph);
    if (!launched.ok()) {
      if (graph)
        drv->cuGraphDestroy(graph);
      return launched;
    }
    if (ended != CUDA_SUCCESS) {
      if (graph)
        drv->cuGraphDestroy(graph);
      return cudaError("cuStreamEndCapture", "the launches of '" + modelData->name + "'", ended);
    }
    CUgraphExec exec = nullptr;
    if (drv->cuGraphInstantiateWithFlags(&exec, graph, 0) != CUDA_SUCCESS) {
      drv->cuGraphDestroy(graph);
      graphsEnabled = false;
      counters.cuda_graphs_enabled = 0;
      return Status::success();
    }
    if (graphs.size() >= maxGraphs) {
      auto lru = std::min_element(graphs.begin(), graphs.end(),
                                  [](const CachedGraph &x, const CachedGraph &y) {
                                    return x.lastUse < y.lastUse;
                                  });
      drv->cuGraphExecDestroy(lru->exec);
      drv->cuGraphDestroy(lru->graph);
      graphs.erase(lru);
    }
    graphs.push_back({key, graph, exec, 0, counters.kernels_launched, counters.kernels_skipped});
    cached = &graphs.back();
    ++counters.graph_captures;
  } else {
    ++counters.graph_replays;
    counters.kernels_launched = cached->launched;
    counters.kernels_skipped = cached->skipped;
  }
  cached->lastUse = ++useClock;
  if (CUresult r = drv->cuGraphLaunch(cached->exec, stream))
    return cudaError("cuGraphLaunch", "the launches of '" + modelData->name + "'", r);
  usedGraph = true;
  return Status::success();
}

Status Session::run(size_t entry) {
  Status status = checkEntry(entry);
  if (!status.ok())
    return status;
  const Entry &e = artifact->entries[entry];
  if (broken)
    return Status::error(KILN_ERROR_CUDA, "the session cannot run after an earlier CUDA error (" +
                                              brokenBy + ")");
  if (entryStates[entry].usesCache && !cache)
    return Status::error(KILN_ERROR_NOT_READY,
                         "entry '" + e.name + "' of '" + modelData->name +
                             "' uses the KV cache, which this session has not allocated; run it "
                             "through a generator (kiln_generator_create)");
  std::vector<int64_t> symbolValues;
  status = checkInputsForRun(entry, symbolValues);
  if (!status.ok())
    return status;
  // Another entry's run overwrites the shared arena: outputs are only those of this run.
  hasRun = false;
  ContextGuard guard(drv, ctx);
  if (guard.status())
    return cudaError("cuCtxPushCurrent", "device " + std::to_string(device.ordinal),
                     guard.status());
  const std::vector<BoundInput> &inputs = entryStates[entry].inputs;
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    uint64_t bytes = 0;
    byteSize(inputs[i].dims, e.inputs[i].dtype, bytes);
    if (bytes == 0)
      continue;
    if (CUresult r = drv->cuMemcpyHtoDAsync(bufferAddress(e.inputs[i].buffer), inputs[i].data,
                                            bytes, stream))
      return cudaError("cuMemcpyHtoDAsync", modelData->label(entry, "input", e.inputs[i].name),
                       r);
  }
  bool useGraphs = graphsEnabled && e.cudaGraphs;
  std::vector<int64_t> key;
  key.reserve(symbolValues.size() + 1);
  key.push_back(static_cast<int64_t>(entry));
  key.insert(key.end(), symbolValues.begin(), symbolValues.end());
  // A cached graph already holds this run's launches: no need to evaluate them again.
  bool cachedGraph = false;
  if (useGraphs)
    for (const CachedGraph &g : graphs)
      cachedGraph |= g.key == key;
  if (!cachedGraph) {
    status = prepareLaunches(entry, symbolValues);
    if (!status.ok())
      return status;
  }
  if (CUresult r = drv->cuEventRecord(startEvent, stream))
    return cudaError("cuEventRecord", "start of run", r);
  bool usedGraph = false;
  if (useGraphs) {
    status = runWithGraph(entry, key, usedGraph);
    if (!status.ok())
      return status;
  }
  if (!usedGraph) {
    status = launchAll(entry);
    if (!status.ok())
      return status;
  }
  if (CUresult r = drv->cuEventRecord(stopEvent, stream))
    return cudaError("cuEventRecord", "end of run", r);
  if (CUresult r = drv->cuEventSynchronize(stopEvent)) {
    broken = true; // kernel faults are sticky: the context is lost
    Status failed = cudaError("cuEventSynchronize", "the kernels of '" + modelData->name + "'", r);
    brokenBy = failed.message;
    return failed;
  }
  float ms = 0;
  if (CUresult r = drv->cuEventElapsedTime(&ms, startEvent, stopEvent))
    return cudaError("cuEventElapsedTime", "run", r);
  gpuMs = ms;

  outputDims.assign(e.outputs.size(), {});
  for (size_t i = 0; i < e.outputs.size(); ++i) {
    const TensorBinding &b = e.outputs[i];
    std::string label = modelData->label(entry, "output", b.name);
    for (size_t d = 0; d < b.dims.size(); ++d) {
      int64_t v;
      std::string error;
      if (!b.dims[d].evaluate(symbolValues, v, error) || v < 0)
        return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                             label + " dim " + std::to_string(d) + ": " +
                                 (error.empty() ? "negative extent " + std::to_string(v) : error));
      outputDims[i].push_back(v);
    }
    uint64_t bytes = 0;
    if (!byteSize(outputDims[i], b.dtype, bytes) || bytes > bufferBytes(b.buffer))
      return Status::error(KILN_ERROR_INVALID_ARTIFACT,
                           label + " " + formatDims(outputDims[i].data(), outputDims[i].size()) +
                               " is " + std::to_string(bytes) + " bytes; its buffer holds " +
                               std::to_string(bufferBytes(b.buffer)));
  }
  hasRun = true;
  lastRunEntry = entry;
  ++counters.runs;
  return Status::success();
}

Status Session::outputShape(size_t entry, size_t index, std::vector<int64_t> &dims) const {
  Status status = checkEntry(entry);
  if (!status.ok())
    return status;
  const Entry &e = artifact->entries[entry];
  if (index >= e.outputs.size())
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         "output index " + std::to_string(index) + " is out of range ('" +
                             modelData->name + "'" +
                             (entry ? " entry '" + e.name + "'" : std::string()) + " has " +
                             std::to_string(e.outputs.size()) + " outputs)");
  std::string label = modelData->label(entry, "output", e.outputs[index].name);
  if (!hasRun)
    return Status::error(KILN_ERROR_NOT_READY, label + " has no value: no run has completed");
  if (lastRunEntry != entry)
    return Status::error(KILN_ERROR_NOT_READY,
                         label + " has no value: entry '" +
                             artifact->entries[lastRunEntry].name +
                             "' ran last (the entries share the arena)");
  dims = outputDims[index];
  return Status::success();
}

Status Session::outputBytes(size_t entry, size_t index, size_t &bytes) const {
  std::vector<int64_t> dims;
  Status status = outputShape(entry, index, dims);
  if (!status.ok())
    return status;
  uint64_t n = 0;
  byteSize(dims, artifact->entries[entry].outputs[index].dtype, n);
  bytes = static_cast<size_t>(n);
  return Status::success();
}

Status Session::readOutput(size_t entry, size_t index, void *data, size_t capacityBytes) {
  size_t bytes = 0;
  Status status = outputBytes(entry, index, bytes);
  if (!status.ok())
    return status;
  const TensorBinding &b = artifact->entries[entry].outputs[index];
  if (capacityBytes < bytes)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         modelData->label(entry, "output", b.name) + " is " +
                             std::to_string(bytes) + " bytes; the destination holds " +
                             std::to_string(capacityBytes));
  return readOutputBytes(entry, index, 0, data, bytes);
}

Status Session::readOutputBytes(size_t entry, size_t index, uint64_t offset, void *data,
                                size_t bytes) {
  size_t total = 0;
  Status status = outputBytes(entry, index, total);
  if (!status.ok())
    return status;
  const TensorBinding &b = artifact->entries[entry].outputs[index];
  std::string label = modelData->label(entry, "output", b.name);
  if (offset > total || bytes > total - offset)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         label + ": bytes [" + std::to_string(offset) + ", " +
                             std::to_string(offset + bytes) + ") are outside its " +
                             std::to_string(total) + " bytes");
  if (bytes == 0)
    return Status::success();
  if (!data)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, label + ": data is null");
  ContextGuard guard(drv, ctx);
  if (guard.status())
    return cudaError("cuCtxPushCurrent", "device " + std::to_string(device.ordinal),
                     guard.status());
  if (CUresult r = drv->cuMemcpyDtoH(data, bufferAddress(b.buffer) + offset, bytes))
    return cudaError("cuMemcpyDtoH", label, r);
  return Status::success();
}

Status Session::lastGpuTimeMs(double &ms) const {
  if (!hasRun)
    return Status::error(KILN_ERROR_NOT_READY, "no run has completed");
  ms = gpuMs;
  return Status::success();
}

} // namespace kilnrt
