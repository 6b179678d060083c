//===- CApi.cpp - the C API of kilnrt.h over ModelData and Session ------------------------===//
//
// Every entry point validates its arguments, catches allocation failures and other exceptions
// (nothing escapes into C), records failures in the thread-local last error and, for session
// calls, in the session's last error, under the session's mutex.
//
//===----------------------------------------------------------------------------------------===//

#include "Generator.h"
#include "Session.h"
#include "kilnrt/kilnrt.h"

#include <cstddef>
#include <cstring>
#include <new>

using namespace kilnrt;

struct kiln_model {
  std::shared_ptr<ModelData> data;
};

struct kiln_session {
  std::unique_ptr<Session> impl;
};

struct kiln_generator {
  std::unique_ptr<Generator> impl;
};

namespace {

thread_local std::string lastErrorMessage;

kiln_status record(const Status &status) {
  if (!status.ok())
    lastErrorMessage = status.message;
  return status.code;
}

template <typename F> kiln_status guarded(F &&body) {
  try {
    return record(body());
  } catch (const std::bad_alloc &) {
    return record(Status::error(KILN_ERROR_OUT_OF_MEMORY, "out of host memory"));
  } catch (const std::exception &e) {
    return record(Status::error(KILN_ERROR_INTERNAL, std::string("internal error: ") + e.what()));
  } catch (...) {
    return record(Status::error(KILN_ERROR_INTERNAL, "internal error"));
  }
}

/// Runs `body` on the session under its mutex; failures also become its last error.
template <typename F> kiln_status onSession(kiln_session *session, const char *fn, F &&body) {
  if (!session || !session->impl)
    return record(Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": session is null"));
  Session &s = *session->impl;
  return guarded([&]() {
    std::lock_guard<std::mutex> lock(s.mutex);
    Status status = body(s);
    if (!status.ok()) {
      try {
        s.lastError = status.message;
      } catch (...) {
      }
    }
    return status;
  });
}

/// Runs `body` on the generator under its mutex; failures also become its last error.
template <typename F>
kiln_status onGenerator(kiln_generator *generator, const char *fn, F &&body) {
  if (!generator || !generator->impl)
    return record(
        Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": generator is null"));
  Generator &g = *generator->impl;
  return guarded([&]() {
    std::lock_guard<std::mutex> lock(g.mutex);
    Status status = body(g);
    if (!status.ok()) {
      try {
        g.lastError = status.message;
      } catch (...) {
      }
    }
    return status;
  });
}

/// The DType of a C dtype value; an out-of-range value maps to 0 (invalid), never wraps.
DType toDType(kiln_dtype dtype) {
  int v = static_cast<int>(dtype);
  return static_cast<DType>(v >= 1 && v <= 13 ? v : 0);
}

Status nullArgument(const char *fn, const char *what) {
  return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + what + " is null");
}

/// The entry `entry` of the model, or an error naming `fn`.
Status checkModelEntry(const ModelData &m, int32_t entry, const char *fn) {
  if (entry >= 0 && static_cast<size_t>(entry) < m.artifact->entries.size())
    return Status::success();
  return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                       std::string(fn) + ": entry " + std::to_string(entry) +
                           " is out of range ('" + m.name + "' has " +
                           std::to_string(m.artifact->entries.size()) + " entries)");
}

Status fillTensorInfo(const ModelData &m, int32_t entry, bool input, int32_t index,
                      kiln_tensor_info *info, const char *fn) {
  if (!info)
    return nullArgument(fn, "info");
  Status status = checkModelEntry(m, entry, fn);
  if (!status.ok())
    return status;
  const Entry &e = m.artifact->entries[static_cast<size_t>(entry)];
  const auto &list = input ? e.inputs : e.outputs;
  if (index < 0 || static_cast<size_t>(index) >= list.size())
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         std::string(fn) + ": index " + std::to_string(index) + " is out of range ('" +
                             m.name + "'" + (entry ? " entry '" + e.name + "'" : std::string()) +
                             " has " + std::to_string(list.size()) +
                             (input ? " inputs)" : " outputs)"));
  const TensorBinding &b = list[static_cast<size_t>(index)];
  const ModelData::EntryInfo &entryInfo = m.entries[static_cast<size_t>(entry)];
  const ModelData::TensorInfo &t =
      (input ? entryInfo.inputInfo : entryInfo.outputInfo)[static_cast<size_t>(index)];
  info->name = b.name.c_str();
  info->dtype = static_cast<kiln_dtype>(b.dtype);
  info->rank = static_cast<int32_t>(b.dims.size());
  info->dims = t.dims.data();
  info->dim_names = t.dimNamePtrs.data();
  return Status::success();
}

} // namespace

void kilnrt::setThreadLastError(const std::string &message) { lastErrorMessage = message; }

extern "C" {

KILNRT_API const char *kiln_status_string(kiln_status status) {
  switch (status) {
  case KILN_OK: return "KILN_OK";
  case KILN_ERROR_INVALID_ARGUMENT: return "KILN_ERROR_INVALID_ARGUMENT";
  case KILN_ERROR_IO: return "KILN_ERROR_IO";
  case KILN_ERROR_INVALID_ARTIFACT: return "KILN_ERROR_INVALID_ARTIFACT";
  case KILN_ERROR_ARTIFACT_VERSION: return "KILN_ERROR_ARTIFACT_VERSION";
  case KILN_ERROR_NO_DRIVER: return "KILN_ERROR_NO_DRIVER";
  case KILN_ERROR_NO_DEVICE: return "KILN_ERROR_NO_DEVICE";
  case KILN_ERROR_DEVICE_TOO_OLD: return "KILN_ERROR_DEVICE_TOO_OLD";
  case KILN_ERROR_OUT_OF_MEMORY: return "KILN_ERROR_OUT_OF_MEMORY";
  case KILN_ERROR_SHAPE_MISMATCH: return "KILN_ERROR_SHAPE_MISMATCH";
  case KILN_ERROR_DTYPE_MISMATCH: return "KILN_ERROR_DTYPE_MISMATCH";
  case KILN_ERROR_SYMBOL_OUT_OF_RANGE: return "KILN_ERROR_SYMBOL_OUT_OF_RANGE";
  case KILN_ERROR_CUDA: return "KILN_ERROR_CUDA";
  case KILN_ERROR_NOT_READY: return "KILN_ERROR_NOT_READY";
  case KILN_ERROR_INTERNAL: return "KILN_ERROR_INTERNAL";
  case KILN_ERROR_NO_FREE_SLOT: return "KILN_ERROR_NO_FREE_SLOT";
  case KILN_STATUS_MAX_ENUM: break;
  }
  return "KILN_ERROR_UNKNOWN_STATUS";
}

KILNRT_API const char *kiln_last_error(void) { return lastErrorMessage.c_str(); }
KILNRT_API const char *kiln_runtime_version(void) { return KILNRT_VERSION_STRING; }
KILNRT_API uint32_t kiln_artifact_format_version(void) { return kArtifactVersion; }

KILNRT_API const char *kiln_dtype_name(kiln_dtype dtype) {
  return dtypeName(toDType(dtype));
}

KILNRT_API size_t kiln_dtype_size(kiln_dtype dtype) {
  return dtypeSize(toDType(dtype));
}

KILNRT_API kiln_status kiln_device_count(int32_t *count) {
  return guarded([&]() {
    if (!count)
      return nullArgument("kiln_device_count", "count");
    *count = 0;
    cuda::LoadStatus loadStatus;
    std::string error;
    const cuda::Driver *drv = cuda::loadDriver(loadStatus, error);
    if (!drv) {
      if (loadStatus == cuda::LoadStatus::NoDevice)
        return Status::success(); // zero devices
      return Status::error(loadStatus == cuda::LoadStatus::NoDriver ? KILN_ERROR_NO_DRIVER
                                                                    : KILN_ERROR_CUDA,
                           error);
    }
    int n = 0;
    if (cuda::CUresult r = drv->cuDeviceGetCount(&n))
      return Status::error(KILN_ERROR_CUDA, drv->describe("cuDeviceGetCount", "", r));
    *count = n;
    return Status::success();
  });
}

//===-- models ----------------------------------------------------------------------------===//

KILNRT_API kiln_status kiln_model_load_file(const char *path, kiln_model **model) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_load_file", "model");
    *model = nullptr;
    if (!path)
      return nullArgument("kiln_model_load_file", "path");
    std::shared_ptr<ModelData> data;
    Status status = ModelData::loadFile(path, data);
    if (status.ok())
      *model = new kiln_model{std::move(data)};
    return status;
  });
}

KILNRT_API kiln_status kiln_model_load_memory(const void *bytes, size_t size, const char *name,
                                              kiln_model **model) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_load_memory", "model");
    *model = nullptr;
    if (!bytes && size)
      return nullArgument("kiln_model_load_memory", "data");
    std::shared_ptr<ModelData> data;
    Status status = ModelData::load(static_cast<const uint8_t *>(bytes), size,
                                    name ? name : "", data);
    if (status.ok())
      *model = new kiln_model{std::move(data)};
    return status;
  });
}

KILNRT_API void kiln_model_destroy(kiln_model *model) { delete model; }

KILNRT_API const char *kiln_model_target(const kiln_model *model) {
  return model ? model->data->artifact->target.c_str() : "";
}
KILNRT_API const char *kiln_model_precision(const kiln_model *model) {
  return model ? model->data->artifact->precision.c_str() : "";
}
KILNRT_API const char *kiln_model_producer(const kiln_model *model) {
  return model ? model->data->artifact->producer.c_str() : "";
}
/// Entry `entry` of `model`, or null when either is out of range.
static const Entry *entryOf(const kiln_model *model, int32_t entry) {
  if (!model || entry < 0 || static_cast<size_t>(entry) >= model->data->artifact->entries.size())
    return nullptr;
  return &model->data->artifact->entries[static_cast<size_t>(entry)];
}

KILNRT_API int32_t kiln_model_num_inputs(const kiln_model *model) {
  return kiln_model_entry_num_inputs(model, 0);
}
KILNRT_API int32_t kiln_model_num_outputs(const kiln_model *model) {
  return kiln_model_entry_num_outputs(model, 0);
}
KILNRT_API int32_t kiln_model_num_symbols(const kiln_model *model) {
  return kiln_model_entry_num_symbols(model, 0);
}

KILNRT_API int32_t kiln_model_num_entries(const kiln_model *model) {
  return model ? static_cast<int32_t>(model->data->artifact->entries.size()) : 0;
}
KILNRT_API const char *kiln_model_entry_name(const kiln_model *model, int32_t entry) {
  const Entry *e = entryOf(model, entry);
  return e ? e->name.c_str() : nullptr;
}
KILNRT_API int32_t kiln_model_find_entry(const kiln_model *model, const char *name) {
  return model && name ? model->data->findEntry(name) : -1;
}
KILNRT_API int32_t kiln_model_entry_num_inputs(const kiln_model *model, int32_t entry) {
  const Entry *e = entryOf(model, entry);
  return e ? static_cast<int32_t>(e->inputs.size()) : 0;
}
KILNRT_API int32_t kiln_model_entry_num_outputs(const kiln_model *model, int32_t entry) {
  const Entry *e = entryOf(model, entry);
  return e ? static_cast<int32_t>(e->outputs.size()) : 0;
}
KILNRT_API int32_t kiln_model_entry_num_symbols(const kiln_model *model, int32_t entry) {
  const Entry *e = entryOf(model, entry);
  return e ? static_cast<int32_t>(e->symbols.size()) : 0;
}

KILNRT_API kiln_status kiln_model_input_info(const kiln_model *model, int32_t index,
                                             kiln_tensor_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_input_info", "model");
    return fillTensorInfo(*model->data, 0, true, index, info, "kiln_model_input_info");
  });
}

KILNRT_API kiln_status kiln_model_output_info(const kiln_model *model, int32_t index,
                                              kiln_tensor_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_output_info", "model");
    return fillTensorInfo(*model->data, 0, false, index, info, "kiln_model_output_info");
  });
}

KILNRT_API kiln_status kiln_model_entry_input_info(const kiln_model *model, int32_t entry,
                                                   int32_t index, kiln_tensor_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_entry_input_info", "model");
    return fillTensorInfo(*model->data, entry, true, index, info, "kiln_model_entry_input_info");
  });
}

KILNRT_API kiln_status kiln_model_entry_output_info(const kiln_model *model, int32_t entry,
                                                    int32_t index, kiln_tensor_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_entry_output_info", "model");
    return fillTensorInfo(*model->data, entry, false, index, info,
                          "kiln_model_entry_output_info");
  });
}

KILNRT_API kiln_status kiln_model_symbol_info(const kiln_model *model, int32_t index,
                                              kiln_symbol_info *info) {
  return kiln_model_entry_symbol_info(model, 0, index, info);
}

KILNRT_API kiln_status kiln_model_entry_symbol_info(const kiln_model *model, int32_t entry,
                                                    int32_t index, kiln_symbol_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_symbol_info", "model");
    if (!info)
      return nullArgument("kiln_model_symbol_info", "info");
    Status status = checkModelEntry(*model->data, entry, "kiln_model_symbol_info");
    if (!status.ok())
      return status;
    const auto &symbols = model->data->artifact->entries[static_cast<size_t>(entry)].symbols;
    if (index < 0 || static_cast<size_t>(index) >= symbols.size())
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_model_symbol_info: index " + std::to_string(index) +
                               " is out of range (" + std::to_string(symbols.size()) +
                               " symbols)");
    const Symbol &s = symbols[static_cast<size_t>(index)];
    info->name = s.name.c_str();
    info->max_value = s.maxValue;
    info->input = static_cast<int32_t>(s.input);
    info->dim = static_cast<int32_t>(s.dim);
    return Status::success();
  });
}

static int32_t findBinding(const std::vector<TensorBinding> &list, const char *name) {
  if (!name)
    return -1;
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].name == name)
      return static_cast<int32_t>(i);
  return -1;
}

KILNRT_API int32_t kiln_model_find_input(const kiln_model *model, const char *name) {
  return model ? findBinding(model->data->artifact->entries[0].inputs, name) : -1;
}
KILNRT_API int32_t kiln_model_find_output(const kiln_model *model, const char *name) {
  return model ? findBinding(model->data->artifact->entries[0].outputs, name) : -1;
}
KILNRT_API uint64_t kiln_model_device_bytes(const kiln_model *model) {
  return model ? model->data->artifact->arenaBytes + model->data->artifact->weights.size() : 0;
}

//===-- sessions --------------------------------------------------------------------------===//

KILNRT_API void kiln_session_options_init(kiln_session_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
}

KILNRT_API kiln_status kiln_session_create(const kiln_model *model,
                                           const kiln_session_options *options,
                                           kiln_session **session) {
  return guarded([&]() {
    if (!session)
      return nullArgument("kiln_session_create", "session");
    *session = nullptr;
    if (!model)
      return nullArgument("kiln_session_create", "model");
    SessionOptions opts;
    if (options) {
      size_t size = options->struct_size;
      if (size < offsetof(kiln_session_options, device) + sizeof(int32_t))
        return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                             "kiln_session_create: options->struct_size is " +
                                 std::to_string(size) +
                                 "; call kiln_session_options_init first");
      opts.device = options->device;
      if (size >= offsetof(kiln_session_options, disable_cuda_graphs) + sizeof(int32_t))
        opts.disableCudaGraphs = options->disable_cuda_graphs != 0;
      if (size >= offsetof(kiln_session_options, max_cached_graphs) + sizeof(int32_t) &&
          options->max_cached_graphs > 0)
        opts.maxCachedGraphs = options->max_cached_graphs;
    }
    std::unique_ptr<Session> impl;
    Status status = Session::create(model->data, opts, impl);
    if (status.ok())
      *session = new kiln_session{std::move(impl)};
    return status;
  });
}

KILNRT_API void kiln_session_destroy(kiln_session *session) {
  try {
    delete session;
  } catch (...) {
  }
}

KILNRT_API const char *kiln_session_last_error(const kiln_session *session) {
  return session && session->impl ? session->impl->lastError.c_str() : "";
}

KILNRT_API kiln_status kiln_session_device_info(kiln_session *session, kiln_device_info *info) {
  return onSession(session, "kiln_session_device_info", [&](Session &s) {
    if (!info)
      return nullArgument("kiln_session_device_info", "info");
    *info = s.deviceInfo();
    return Status::success();
  });
}

KILNRT_API kiln_status kiln_session_bind_input(kiln_session *session, int32_t index,
                                               const void *data, kiln_dtype dtype,
                                               const int64_t *dims, int32_t rank) {
  return onSession(session, "kiln_session_bind_input", [&](Session &s) {
    if (index < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_bind_input: index " + std::to_string(index) +
                               " is negative");
    if (rank < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_bind_input: rank " + std::to_string(rank) +
                               " is negative");
    if (static_cast<uint8_t>(toDType(dtype)) == 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT, "kiln_session_bind_input: unknown dtype " +
                                                            std::to_string(static_cast<int>(dtype)));
    return s.bindInput(s.currentEntry, static_cast<size_t>(index), data, toDType(dtype), dims,
                       static_cast<size_t>(rank));
  });
}

KILNRT_API kiln_status kiln_session_bind_input_by_name(kiln_session *session, const char *name,
                                                       const void *data, kiln_dtype dtype,
                                                       const int64_t *dims, int32_t rank) {
  return onSession(session, "kiln_session_bind_input_by_name", [&](Session &s) {
    if (!name)
      return nullArgument("kiln_session_bind_input_by_name", "name");
    const Entry &e = s.model().artifact->entries[s.currentEntry];
    int32_t index = findBinding(e.inputs, name);
    if (index < 0) {
      std::string known;
      for (const TensorBinding &b : e.inputs)
        known += (known.empty() ? "" : ", ") + b.name;
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "'" + s.model().name + "'" +
                               (s.currentEntry ? " entry '" + e.name + "'" : std::string()) +
                               " has no input named '" + name + "' (its inputs: " + known + ")");
    }
    if (rank < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_bind_input_by_name: rank is negative");
    if (static_cast<uint8_t>(toDType(dtype)) == 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT, "kiln_session_bind_input: unknown dtype " +
                                                            std::to_string(static_cast<int>(dtype)));
    return s.bindInput(s.currentEntry, static_cast<size_t>(index), data, toDType(dtype), dims,
                       static_cast<size_t>(rank));
  });
}

KILNRT_API kiln_status kiln_session_run(kiln_session *session) {
  return onSession(session, "kiln_session_run", [&](Session &s) { return s.run(s.currentEntry); });
}

KILNRT_API kiln_status kiln_session_select_entry(kiln_session *session, const char *name) {
  return onSession(session, "kiln_session_select_entry", [&](Session &s) {
    if (!name) {
      s.currentEntry = 0;
      return Status::success();
    }
    int32_t entry = s.model().findEntry(name);
    if (entry < 0) {
      std::string known;
      for (const Entry &e : s.model().artifact->entries)
        known += (known.empty() ? "" : ", ") + e.name;
      return Status::error(KILN_ERROR_INVALID_ARGUMENT, "'" + s.model().name +
                                                            "' has no entry named '" + name +
                                                            "' (its entries: " + known + ")");
    }
    s.currentEntry = static_cast<size_t>(entry);
    return Status::success();
  });
}

KILNRT_API kiln_status kiln_session_output_shape(kiln_session *session, int32_t index,
                                                 int64_t *dims, int32_t capacity, int32_t *rank) {
  return onSession(session, "kiln_session_output_shape", [&](Session &s) {
    if (!rank)
      return nullArgument("kiln_session_output_shape", "rank");
    if (index < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_output_shape: index is negative");
    std::vector<int64_t> shape;
    Status status = s.outputShape(s.currentEntry, static_cast<size_t>(index), shape);
    if (!status.ok())
      return status;
    *rank = static_cast<int32_t>(shape.size());
    if (capacity > 0 && !dims)
      return nullArgument("kiln_session_output_shape", "dims");
    for (int32_t d = 0; d < capacity && static_cast<size_t>(d) < shape.size(); ++d)
      dims[d] = shape[static_cast<size_t>(d)];
    return Status::success();
  });
}

KILNRT_API kiln_status kiln_session_output_bytes(kiln_session *session, int32_t index,
                                                 size_t *bytes) {
  return onSession(session, "kiln_session_output_bytes", [&](Session &s) {
    if (!bytes)
      return nullArgument("kiln_session_output_bytes", "bytes");
    if (index < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_output_bytes: index is negative");
    return s.outputBytes(s.currentEntry, static_cast<size_t>(index), *bytes);
  });
}

KILNRT_API kiln_status kiln_session_read_output(kiln_session *session, int32_t index, void *data,
                                                size_t capacity_bytes) {
  return onSession(session, "kiln_session_read_output", [&](Session &s) {
    if (index < 0)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "kiln_session_read_output: index is negative");
    return s.readOutput(s.currentEntry, static_cast<size_t>(index), data, capacity_bytes);
  });
}

KILNRT_API kiln_status kiln_session_last_gpu_time_ms(kiln_session *session, double *ms) {
  return onSession(session, "kiln_session_last_gpu_time_ms", [&](Session &s) {
    if (!ms)
      return nullArgument("kiln_session_last_gpu_time_ms", "ms");
    return s.lastGpuTimeMs(*ms);
  });
}

KILNRT_API kiln_status kiln_session_get_stats(kiln_session *session, kiln_session_stats *stats) {
  return onSession(session, "kiln_session_get_stats", [&](Session &s) {
    if (!stats)
      return nullArgument("kiln_session_get_stats", "stats");
    *stats = s.stats();
    return Status::success();
  });
}

//===-- generation ------------------------------------------------------------------------===//

KILNRT_API int32_t kiln_model_can_generate(const kiln_model *model) {
  return model && model->data->artifact->generation ? 1 : 0;
}

KILNRT_API kiln_status kiln_model_generation_info(const kiln_model *model,
                                                  kiln_generation_info *info) {
  return guarded([&]() {
    if (!model)
      return nullArgument("kiln_model_generation_info", "model");
    if (!info)
      return nullArgument("kiln_model_generation_info", "info");
    const Artifact &a = *model->data->artifact;
    if (!a.generation)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           "'" + model->data->name +
                               "' was compiled without prefill/decode entries; recompile a "
                               "causal decoder with kiln-compile");
    const Generation &g = *a.generation;
    info->vocab_size = g.vocabSize;
    info->max_batch = static_cast<int32_t>(g.cache.maxBatch);
    info->max_seq = static_cast<int32_t>(g.cache.maxSeq);
    info->layers = static_cast<int32_t>(g.cache.layers);
    info->kv_heads = static_cast<int32_t>(g.cache.kvHeads);
    info->head_dim = static_cast<int32_t>(g.cache.headDim);
    info->cache_dtype = static_cast<kiln_dtype>(g.cache.dtype);
    info->cache_bytes_per_sequence = g.cache.bytesPerSlot();
    info->prefill_entry = a.entries[g.prefillEntry].name.c_str();
    info->decode_entry = a.entries[g.decodeEntry].name.c_str();
    return Status::success();
  });
}

KILNRT_API void kiln_generator_options_init(kiln_generator_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
}

KILNRT_API void kiln_sampling_init(kiln_sampling *sampling) {
  if (!sampling)
    return;
  std::memset(sampling, 0, sizeof *sampling);
  sampling->struct_size = sizeof *sampling;
  sampling->top_p = 1.0f;
  sampling->eos_id = -1;
  sampling->max_new_tokens = 128;
}

/// Whether `field` (at `offset`, `size` bytes) lies within a struct of `structSize` bytes: older
/// callers pass smaller structs.
static bool hasField(uint32_t structSize, size_t offset, size_t size) {
  return structSize >= offset + size;
}

KILNRT_API kiln_status kiln_generator_create(const kiln_model *model,
                                             const kiln_generator_options *options,
                                             kiln_generator **generator) {
  return guarded([&]() {
    if (!generator)
      return nullArgument("kiln_generator_create", "generator");
    *generator = nullptr;
    if (!model)
      return nullArgument("kiln_generator_create", "model");
    GeneratorOptions opts;
    if (options) {
      uint32_t size = options->struct_size;
      if (!hasField(size, offsetof(kiln_generator_options, device), sizeof(int32_t)))
        return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                             "kiln_generator_create: options->struct_size is " +
                                 std::to_string(size) +
                                 "; call kiln_generator_options_init first");
      opts.device = options->device;
      if (hasField(size, offsetof(kiln_generator_options, max_sequences), sizeof(int32_t)))
        opts.maxSequences = options->max_sequences;
      if (hasField(size, offsetof(kiln_generator_options, disable_cuda_graphs), sizeof(int32_t)))
        opts.disableCudaGraphs = options->disable_cuda_graphs != 0;
    }
    std::unique_ptr<Generator> impl;
    Status status = Generator::create(model->data, opts, impl);
    if (status.ok())
      *generator = new kiln_generator{std::move(impl)};
    return status;
  });
}

KILNRT_API void kiln_generator_destroy(kiln_generator *generator) {
  try {
    delete generator;
  } catch (...) {
  }
}

KILNRT_API const char *kiln_generator_last_error(const kiln_generator *generator) {
  return generator && generator->impl ? generator->impl->lastError.c_str() : "";
}

KILNRT_API kiln_status kiln_generator_device_info(kiln_generator *generator,
                                                  kiln_device_info *info) {
  return onGenerator(generator, "kiln_generator_device_info", [&](Generator &g) {
    if (!info)
      return nullArgument("kiln_generator_device_info", "info");
    *info = g.deviceInfo();
    return Status::success();
  });
}

KILNRT_API kiln_status kiln_generator_add(kiln_generator *generator, const int64_t *prompt,
                                          size_t n, const kiln_sampling *sampling,
                                          int64_t *sequence) {
  return onGenerator(generator, "kiln_generator_add", [&](Generator &g) {
    if (!sequence)
      return nullArgument("kiln_generator_add", "sequence");
    SamplingParams params;
    if (sampling) {
      uint32_t size = sampling->struct_size;
      if (!hasField(size, offsetof(kiln_sampling, truncate_prompt), sizeof(int32_t)))
        return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                             "kiln_generator_add: sampling->struct_size is " +
                                 std::to_string(size) + "; call kiln_sampling_init first");
      params.temperature = sampling->temperature;
      params.topK = sampling->top_k;
      params.topP = sampling->top_p;
      params.seed = sampling->seed;
      params.eosId = sampling->eos_id;
      params.maxNewTokens = sampling->max_new_tokens;
      params.truncatePrompt = sampling->truncate_prompt != 0;
    }
    return g.add(prompt, n, params, *sequence);
  });
}

KILNRT_API kiln_status kiln_generator_step(kiln_generator *generator,
                                           kiln_token_callback callback, void *user,
                                           int32_t *active) {
  return onGenerator(generator, "kiln_generator_step", [&](Generator &g) {
    int32_t n = 0;
    Status status = g.step(nullptr, 0, true, callback, user, n);
    if (active)
      *active = n;
    return status;
  });
}

KILNRT_API kiln_status kiln_generator_step_sequences(kiln_generator *generator,
                                                     const int64_t *sequences, size_t n,
                                                     kiln_token_callback callback, void *user,
                                                     int32_t *active) {
  return onGenerator(generator, "kiln_generator_step_sequences", [&](Generator &g) {
    int32_t count = 0;
    Status status = g.step(sequences, n, false, callback, user, count);
    if (active)
      *active = count;
    return status;
  });
}

KILNRT_API kiln_status kiln_generator_run(kiln_generator *generator,
                                          kiln_token_callback callback, void *user) {
  return onGenerator(generator, "kiln_generator_run",
                     [&](Generator &g) { return g.run(callback, user); });
}

KILNRT_API kiln_status kiln_generator_tokens(kiln_generator *generator, int64_t sequence,
                                             const int64_t **tokens, size_t *n) {
  return onGenerator(generator, "kiln_generator_tokens", [&](Generator &g) {
    if (!tokens)
      return nullArgument("kiln_generator_tokens", "tokens");
    if (!n)
      return nullArgument("kiln_generator_tokens", "n");
    return g.tokens(sequence, *tokens, *n);
  });
}

KILNRT_API kiln_status kiln_generator_finished(kiln_generator *generator, int64_t sequence,
                                               int32_t *finished) {
  return onGenerator(generator, "kiln_generator_finished", [&](Generator &g) {
    if (!finished)
      return nullArgument("kiln_generator_finished", "finished");
    kiln_sequence_info info{};
    Status status = g.info(sequence, info, "kiln_generator_finished");
    if (!status.ok())
      return status;
    *finished = info.finished;
    return Status::success();
  });
}

KILNRT_API kiln_status kiln_generator_sequence_info(kiln_generator *generator, int64_t sequence,
                                                    kiln_sequence_info *info) {
  return onGenerator(generator, "kiln_generator_sequence_info", [&](Generator &g) {
    if (!info)
      return nullArgument("kiln_generator_sequence_info", "info");
    return g.info(sequence, *info);
  });
}

KILNRT_API kiln_status kiln_generator_remove(kiln_generator *generator, int64_t sequence) {
  return onGenerator(generator, "kiln_generator_remove",
                     [&](Generator &g) { return g.remove(sequence); });
}

KILNRT_API kiln_status kiln_generator_logits(kiln_generator *generator, const int64_t *tokens,
                                             size_t n, float *logits, size_t capacity_floats) {
  return onGenerator(generator, "kiln_generator_logits", [&](Generator &g) {
    return g.logits(tokens, n, logits, capacity_floats);
  });
}

KILNRT_API kiln_status kiln_generator_decode_stats(kiln_generator *generator,
                                                   kiln_generator_stats *stats) {
  return onGenerator(generator, "kiln_generator_decode_stats", [&](Generator &g) {
    if (!stats)
      return nullArgument("kiln_generator_decode_stats", "stats");
    *stats = g.stats();
    return Status::success();
  });
}

} // extern "C"
