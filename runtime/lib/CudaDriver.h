//===- CudaDriver.h - the CUDA driver API, loaded with dlopen ---------------------*- C++ -*-===//
//
// The runtime never links libcuda and never includes cuda.h: it dlopens libcuda.so.1 (or the
// library named by KILN_CUDA_DRIVER, which the tests point at a fake) and resolves every entry
// point once into a table, as IREE's CUDA HAL does. The few types, enums and constants it needs
// are declared here with the values of cuda.h.
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_LIB_CUDADRIVER_H
#define KILNRT_LIB_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace kilnrt {
namespace cuda {

// Types, as cuda.h declares them.
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;
typedef int CUjit_option;
typedef int CUstreamCaptureMode;

// CUresult values (cuda.h's cudaError_enum).
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER = 36,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803,
  CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804,
  CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
  CUDA_ERROR_UNKNOWN = 999,
};

// CUdevice_attribute values.
enum : CUdevice_attribute {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

// CUfunction_attribute values.
enum : CUfunction_attribute { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

// CUjit_option values.
enum : CUjit_option {
  CU_JIT_WALL_TIME = 2,
  CU_JIT_INFO_LOG_BUFFER = 3,
  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_LOG_VERBOSE = 12,
};

// Flags and modes.
enum : unsigned { CU_STREAM_NON_BLOCKING = 0x1, CU_EVENT_DEFAULT = 0x0 };
enum : CUstreamCaptureMode {
  CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
  CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
  CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

/// The resolved entry points. Members are named after the API function (without the _v2/_v3
/// suffix of the exported symbol that was resolved for them).
struct Driver {
  std::string path; // what was dlopened
  void *handle = nullptr;
  int version = 0; // cuDriverGetVersion: 12040 for CUDA 12.4

  CUresult (*cuInit)(unsigned flags) = nullptr;
  CUresult (*cuDriverGetVersion)(int *version) = nullptr;
  CUresult (*cuGetErrorName)(CUresult error, const char **str) = nullptr;
  CUresult (*cuGetErrorString)(CUresult error, const char **str) = nullptr;
  CUresult (*cuDeviceGetCount)(int *count) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal) = nullptr;
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice device) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *value, CUdevice_attribute attrib, CUdevice device) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device) = nullptr;           // _v2
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice device) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device) = nullptr;                // _v2
  CUresult (*cuCtxPushCurrent)(CUcontext ctx) = nullptr;                           // _v2
  CUresult (*cuCtxPopCurrent)(CUcontext *ctx) = nullptr;                           // _v2
  CUresult (*cuMemGetInfo)(size_t *free, size_t *total) = nullptr;                 // _v2
  CUresult (*cuMemAlloc)(CUdeviceptr *dptr, size_t bytes) = nullptr;               // _v2
  CUresult (*cuMemFree)(CUdeviceptr dptr) = nullptr;                               // _v2
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes) = nullptr; // _v2
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes) = nullptr;    // _v2
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                                CUstream stream) = nullptr;                        // _v2
  CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value, size_t count) = nullptr; // _v2
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned numOptions,
                                 CUjit_option *options, void **optionValues) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule module) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction fn, CUfunction_attribute attrib, int value) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction fn, unsigned gridX, unsigned gridY, unsigned gridZ,
                             unsigned blockX, unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream, void **params,
                             void **extra) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream stream) = nullptr;                          // _v2
  CUresult (*cuStreamSynchronize)(CUstream stream) = nullptr;
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags) = nullptr;
  CUresult (*cuEventDestroy)(CUevent event) = nullptr;                             // _v2
  CUresult (*cuEventRecord)(CUevent event, CUstream stream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent event) = nullptr;
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end) = nullptr; // _v2 or v1

  // CUDA graphs (absent from drivers older than 11.4: graphs are then off).
  CUresult (*cuStreamBeginCapture)(CUstream stream, CUstreamCaptureMode mode) = nullptr; // _v2
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph,
                                          unsigned long long flags) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph graph) = nullptr;

  bool hasGraphs() const {
    return cuStreamBeginCapture && cuStreamEndCapture && cuGraphInstantiateWithFlags &&
           cuGraphLaunch && cuGraphExecDestroy && cuGraphDestroy;
  }

  /// "CUDA_ERROR_OUT_OF_MEMORY: out of memory" (name and description from the driver).
  std::string errorText(CUresult result) const;
  /// "CALL(WHAT): CUDA_ERROR_...: description".
  std::string describe(const char *call, const std::string &what, CUresult result) const;
};

/// How loading the driver went.
enum class LoadStatus { Ok, NoDriver, NoDevice, Error };

/// The driver named by KILN_CUDA_DRIVER (else libcuda.so.1), loaded and resolved once per path
/// for the life of the process, and initialised (cuInit(0), called again on every load so that
/// a driver that failed to initialise is retried). Null with a status and message on failure:
/// NoDriver when the library cannot be loaded or lacks an entry point, NoDevice when cuInit
/// reports no device, Error for any other cuInit failure.
const Driver *loadDriver(LoadStatus &status, std::string &error);

/// The path loadDriver would open now.
std::string driverPath();

} // namespace cuda
} // namespace kilnrt

#endif // KILNRT_LIB_CUDADRIVER_H
