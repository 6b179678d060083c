//===- CudaDriver.cpp - dlopen libcuda.so.1 and resolve the entry points ------------------===//

#include "CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>

namespace kilnrt {
namespace cuda {

/// Names (and a description where it helps) of the codes CudaDriver.h declares, for drivers
/// that cannot describe an error themselves (the toolkit's stub library fails every call).
static void fallbackErrorText(CUresult result, const char *&name, const char *&text) {
  static const struct {
    CUresult code;
    const char *name, *text;
  } table[] = {
      {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", nullptr},
      {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", nullptr},
      {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", nullptr},
      {CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY",
       "this libcuda is the CUDA toolkit's link stub, not the NVIDIA driver"},
      {CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", nullptr},
      {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", nullptr},
      {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", nullptr},
      {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", nullptr},
      {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", nullptr},
      {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", nullptr},
      {CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", nullptr},
      {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", nullptr},
      {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", nullptr},
      {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", nullptr},
      {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", nullptr},
      {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", nullptr},
      {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", nullptr},
      {CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
       "the NVIDIA kernel module and libcuda versions differ"},
      {CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", nullptr},
      {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", nullptr},
      {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", nullptr},
  };
  for (const auto &entry : table) {
    if (entry.code == result) {
      if (!name)
        name = entry.name;
      if (!text)
        text = entry.text;
      return;
    }
  }
}

std::string Driver::errorText(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = nullptr;
  fallbackErrorText(result, name, text);
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

std::string Driver::describe(const char *call, const std::string &what, CUresult result) const {
  return std::string(call) + "(" + what + "): " + errorText(result);
}

std::string driverPath() {
  const char *env = std::getenv("KILN_CUDA_DRIVER");
  return env && *env ? env : "libcuda.so.1";
}

namespace {

/// Resolves `fn` from the first of `names` the library exports.
template <typename F>
bool resolve(void *handle, F &fn, std::initializer_list<const char *> names, std::string &missing) {
  for (const char *name : names) {
    if (void *symbol = dlsym(handle, name)) {
      fn = reinterpret_cast<F>(symbol);
      return true;
    }
  }
  if (missing.empty())
    missing = *names.begin();
  return false;
}

bool resolveAll(Driver &d, std::string &missing) {
  void *h = d.handle;
  bool ok = true;
  // Required.
  ok &= resolve(h, d.cuInit, {"cuInit"}, missing);
  ok &= resolve(h, d.cuDriverGetVersion, {"cuDriverGetVersion"}, missing);
  ok &= resolve(h, d.cuGetErrorName, {"cuGetErrorName"}, missing);
  ok &= resolve(h, d.cuGetErrorString, {"cuGetErrorString"}, missing);
  ok &= resolve(h, d.cuDeviceGetCount, {"cuDeviceGetCount"}, missing);
  ok &= resolve(h, d.cuDeviceGet, {"cuDeviceGet"}, missing);
  ok &= resolve(h, d.cuDeviceGetName, {"cuDeviceGetName"}, missing);
  ok &= resolve(h, d.cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, missing);
  ok &= resolve(h, d.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, missing);
  ok &= resolve(h, d.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, missing);
  ok &= resolve(h, d.cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2"}, missing);
  ok &= resolve(h, d.cuCtxPushCurrent, {"cuCtxPushCurrent_v2"}, missing);
  ok &= resolve(h, d.cuCtxPopCurrent, {"cuCtxPopCurrent_v2"}, missing);
  ok &= resolve(h, d.cuMemGetInfo, {"cuMemGetInfo_v2"}, missing);
  ok &= resolve(h, d.cuMemAlloc, {"cuMemAlloc_v2"}, missing);
  ok &= resolve(h, d.cuMemFree, {"cuMemFree_v2"}, missing);
  ok &= resolve(h, d.cuMemcpyHtoD, {"cuMemcpyHtoD_v2"}, missing);
  ok &= resolve(h, d.cuMemcpyDtoH, {"cuMemcpyDtoH_v2"}, missing);
  ok &= resolve(h, d.cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, missing);
  ok &= resolve(h, d.cuMemsetD8, {"cuMemsetD8_v2"}, missing);
  ok &= resolve(h, d.cuModuleLoadDataEx, {"cuModuleLoadDataEx"}, missing);
  ok &= resolve(h, d.cuModuleUnload, {"cuModuleUnload"}, missing);
  ok &= resolve(h, d.cuModuleGetFunction, {"cuModuleGetFunction"}, missing);
  ok &= resolve(h, d.cuFuncSetAttribute, {"cuFuncSetAttribute"}, missing);
  ok &= resolve(h, d.cuLaunchKernel, {"cuLaunchKernel"}, missing);
  ok &= resolve(h, d.cuStreamCreate, {"cuStreamCreate"}, missing);
  ok &= resolve(h, d.cuStreamDestroy, {"cuStreamDestroy_v2"}, missing);
  ok &= resolve(h, d.cuStreamSynchronize, {"cuStreamSynchronize"}, missing);
  ok &= resolve(h, d.cuEventCreate, {"cuEventCreate"}, missing);
  ok &= resolve(h, d.cuEventDestroy, {"cuEventDestroy_v2"}, missing);
  ok &= resolve(h, d.cuEventRecord, {"cuEventRecord"}, missing);
  ok &= resolve(h, d.cuEventSynchronize, {"cuEventSynchronize"}, missing);
  // cuEventElapsedTime_v2 from CUDA 12.8 on; the original before (same signature).
  ok &= resolve(h, d.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, missing);
  if (!ok)
    return false;
  // Optional: CUDA graphs.
  std::string ignored;
  resolve(h, d.cuStreamBeginCapture, {"cuStreamBeginCapture_v2"}, ignored);
  resolve(h, d.cuStreamEndCapture, {"cuStreamEndCapture"}, ignored);
  resolve(h, d.cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, ignored);
  resolve(h, d.cuGraphLaunch, {"cuGraphLaunch"}, ignored);
  resolve(h, d.cuGraphExecDestroy, {"cuGraphExecDestroy"}, ignored);
  resolve(h, d.cuGraphDestroy, {"cuGraphDestroy"}, ignored);
  return true;
}

std::mutex &registryMutex() {
  static std::mutex m;
  return m;
}

/// Loaded drivers by path; never unloaded (unloading libcuda while anything may still refer to
/// it is not safe, and there is one per process in practice).
std::map<std::string, std::unique_ptr<Driver>> &registry() {
  static auto *r = new std::map<std::string, std::unique_ptr<Driver>>();
  return *r;
}

} // namespace

const Driver *loadDriver(LoadStatus &status, std::string &error) {
  std::string path = driverPath();
  Driver *driver = nullptr;
  {
    std::lock_guard<std::mutex> lock(registryMutex());
    auto it = registry().find(path);
    if (it != registry().end()) {
      driver = it->second.get();
    } else {
      dlerror();
      void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char *why = dlerror();
        status = LoadStatus::NoDriver;
        error = "no CUDA driver: cannot load '" + path + "' (" + (why ? why : "unknown error") +
                "); install the NVIDIA driver, or set KILN_CUDA_DRIVER to the path of its "
                "libcuda.so.1";
        return nullptr;
      }
      auto loaded = std::make_unique<Driver>();
      loaded->path = path;
      loaded->handle = handle;
      std::string missing;
      if (!resolveAll(*loaded, missing)) {
        dlclose(handle);
        status = LoadStatus::NoDriver;
        error = "no usable CUDA driver: '" + path + "' does not export " + missing +
                " (a driver for CUDA 11.4 or later is needed)";
        return nullptr;
      }
      int version = 0;
      if (loaded->cuDriverGetVersion(&version) == CUDA_SUCCESS) // works before cuInit
        loaded->version = version;
      driver = loaded.get();
      registry().emplace(path, std::move(loaded));
    }
  }
  CUresult r = driver->cuInit(0);
  if (r != CUDA_SUCCESS) {
    std::string what = driver->describe("cuInit", "0", r) + " (driver '" + path + "')";
    if (r == CUDA_ERROR_NO_DEVICE) {
      status = LoadStatus::NoDevice;
      error = "no CUDA device: " + what;
    } else if (r == CUDA_ERROR_STUB_LIBRARY || r == CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ||
               r == CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE) {
      status = LoadStatus::NoDriver;
      error = "no usable CUDA driver: " + what;
    } else {
      status = LoadStatus::Error;
      error = "cannot initialise the CUDA driver: " + what;
    }
    return nullptr;
  }
  status = LoadStatus::Ok;
  return driver;
}

} // namespace cuda
} // namespace kilnrt
