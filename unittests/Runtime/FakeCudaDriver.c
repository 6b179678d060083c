/*===- FakeCudaDriver.c - a stand-in for libcuda.so.1 in the runtime's tests ------------===*
 *
 * The runtime dlopens the library named by KILN_CUDA_DRIVER; the tests point it here. Device
 * memory is host memory, "kernels" are a few C functions chosen by entry-point name, streams
 * run synchronously, and stream capture records launches into a graph that cuGraphLaunch
 * replays. Behaviour is set through environment variables read at each call:
 *
 *   KILN_FAKE_CUDA_INIT_ERROR=N      cuInit returns N
 *   KILN_FAKE_CUDA_DEVICES=N         device count (default 1)
 *   KILN_FAKE_CUDA_CC=NN             compute capability (default 90)
 *   KILN_FAKE_CUDA_TOTAL_MB / _FREE_MB  memory reported (default 81920 / 40960)
 *   KILN_FAKE_CUDA_ALLOC_LIMIT=BYTES cuMemAlloc of more fails with CUDA_ERROR_OUT_OF_MEMORY
 *   KILN_FAKE_CUDA_REJECT_CUBIN=1    cubin images fail with CUDA_ERROR_NO_BINARY_FOR_GPU
 *   KILN_FAKE_CUDA_NO_CAPTURE=1      cuStreamBeginCapture fails (graphs unsupported)
 *
 * A PTX image containing FAKE_JIT_ERROR fails with CUDA_ERROR_INVALID_PTX and a JIT log.
 * Kernels (by name): fake_add_f32 (x, y, w: memrefs; n: int64): y[i] = x[i] + w[0];
 * fake_lm (ids, positions, slots: int64 memrefs; cache, logits: float memrefs; T, V, M: int64):
 * a toy language model over a KV cache of M positions per slot (one layer, one head, head dim
 * 1: K of (slot, pos) at slot * 2M + pos): each token t is written at (slots[t], positions[t]),
 * then h = sum over p <= positions[t] of (p + 1) * cache[slot, p], mod V, and logits row t is
 * -0.25 * ((j - h) mod V), so the greedy next token is h; an out-of-range slot or position is
 * an illegal address;
 * fake_fault: the next synchronisation reports CUDA_ERROR_ILLEGAL_ADDRESS (sticky); any other
 * name does nothing. The runtime ends each parameter array with a null pointer, which is how
 * the fake counts parameters.
 *
 * Test hooks: kiln_fake_cuda_live_objects(), kiln_fake_cuda_counter(name),
 * kiln_fake_cuda_last_launch(...), kiln_fake_cuda_reset().
 *===------------------------------------------------------------------------------------===*/

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  NOT_INITIALIZED = 3,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_CONTEXT = 201,
  NO_BINARY_FOR_GPU = 209,
  INVALID_PTX = 218,
  INVALID_HANDLE = 400,
  NOT_FOUND = 500,
  ILLEGAL_ADDRESS = 700,
  NOT_SUPPORTED = 801,
  STREAM_CAPTURE_INVALIDATED = 901
};

#define MAX_PARAMS 64
#define MAX_FUNCTIONS 64

typedef struct Function {
  char name[128];
} Function;

typedef struct Module {
  char *text; /* NULL for a cubin: any entry point exists */
  Function *functions[MAX_FUNCTIONS];
  int numFunctions;
} Module;

typedef struct Record {
  Function *fn;
  unsigned grid[3], block[3], shared;
  int numParams;
  unsigned long long params[MAX_PARAMS];
} Record;

typedef struct Graph {
  Record *records;
  int count, capacity;
} Graph;

typedef struct Stream {
  Graph *capture; /* non-null while capturing */
} Stream;

typedef struct Event {
  double ms;
} Event;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int contextDepth;
static long liveContexts, liveAllocs, liveModules, liveStreams, liveEvents, liveGraphs, liveExecs;
static long kernelRuns, captures, graphLaunches, allocCalls, moduleLoads;
static int stickyError;
static Record lastLaunch;
static int haveLastLaunch;

static long long envLL(const char *name, long long fallback) {
  const char *v = getenv(name);
  return v && *v ? strtoll(v, NULL, 10) : fallback;
}

static double nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*===-- test hooks --------------------------------------------------------------------===*/

EXPORT long kiln_fake_cuda_live_objects(void) {
  pthread_mutex_lock(&lock);
  long n = liveContexts + liveAllocs + liveModules + liveStreams + liveEvents + liveGraphs + liveExecs;
  pthread_mutex_unlock(&lock);
  return n;
}

EXPORT long kiln_fake_cuda_counter(const char *name) {
  long v = -1;
  pthread_mutex_lock(&lock);
  if (!strcmp(name, "kernel_runs")) v = kernelRuns;
  else if (!strcmp(name, "captures")) v = captures;
  else if (!strcmp(name, "graph_launches")) v = graphLaunches;
  else if (!strcmp(name, "alloc_calls")) v = allocCalls;
  else if (!strcmp(name, "module_loads")) v = moduleLoads;
  else if (!strcmp(name, "contexts")) v = liveContexts;
  else if (!strcmp(name, "allocs")) v = liveAllocs;
  pthread_mutex_unlock(&lock);
  return v;
}

/* Grid, block, shared bytes and parameters of the last kernel executed; returns the number of
   parameters, -1 if none ran. */
EXPORT int kiln_fake_cuda_last_launch(char *name, size_t nameSize, unsigned grid[3],
                                      unsigned block[3], unsigned *shared,
                                      unsigned long long *params, int maxParams) {
  pthread_mutex_lock(&lock);
  int n = -1;
  if (haveLastLaunch) {
    snprintf(name, nameSize, "%s", lastLaunch.fn->name);
    memcpy(grid, lastLaunch.grid, sizeof lastLaunch.grid);
    memcpy(block, lastLaunch.block, sizeof lastLaunch.block);
    *shared = lastLaunch.shared;
    n = lastLaunch.numParams;
    for (int i = 0; i < n && i < maxParams; ++i)
      params[i] = lastLaunch.params[i];
  }
  pthread_mutex_unlock(&lock);
  return n;
}

EXPORT void kiln_fake_cuda_reset(void) {
  pthread_mutex_lock(&lock);
  kernelRuns = captures = graphLaunches = allocCalls = moduleLoads = 0;
  stickyError = 0;
  haveLastLaunch = 0;
  pthread_mutex_unlock(&lock);
}

/*===-- errors, versions, devices -----------------------------------------------------===*/

static const struct {
  int code;
  const char *name, *text;
} errors[] = {
    {SUCCESS, "CUDA_SUCCESS", "no error"},
    {INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
};

EXPORT CUresult cuGetErrorName(CUresult error, const char **str) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; ++i)
    if (errors[i].code == error) {
      *str = errors[i].name;
      return SUCCESS;
    }
  *str = NULL;
  return INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **str) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; ++i)
    if (errors[i].code == error) {
      *str = errors[i].text;
      return SUCCESS;
    }
  *str = NULL;
  return INVALID_VALUE;
}

EXPORT CUresult cuInit(unsigned flags) {
  (void)flags;
  return (CUresult)envLL("KILN_FAKE_CUDA_INIT_ERROR", 0);
}

EXPORT CUresult cuDriverGetVersion(int *version) {
  *version = 12040;
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *count) {
  *count = (int)envLL("KILN_FAKE_CUDA_DEVICES", 1);
  return SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal < 0 || ordinal >= envLL("KILN_FAKE_CUDA_DEVICES", 1))
    return INVALID_DEVICE;
  *device = ordinal;
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice device) {
  (void)device;
  snprintf(name, (size_t)len, "Kiln Fake GPU");
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice device) {
  (void)device;
  int cc = (int)envLL("KILN_FAKE_CUDA_CC", 90);
  switch (attrib) {
  case 75: *value = cc / 10; break;
  case 76: *value = cc % 10; break;
  case 97: *value = 227 * 1024; break;
  case 16: *value = 132; break;
  case 1: *value = 1024; break;
  default: *value = 0;
  }
  return SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) {
  (void)device;
  *bytes = (size_t)envLL("KILN_FAKE_CUDA_TOTAL_MB", 81920) << 20;
  return SUCCESS;
}

/*===-- contexts and memory -----------------------------------------------------------===*/

EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, CUdevice device) {
  pthread_mutex_lock(&lock);
  ++liveContexts;
  pthread_mutex_unlock(&lock);
  *ctx = (void *)(uintptr_t)(0x1000 + device);
  return SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  (void)device;
  pthread_mutex_lock(&lock);
  --liveContexts;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent_v2(void *ctx) {
  if (!ctx)
    return INVALID_CONTEXT;
  ++contextDepth;
  return SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent_v2(void **ctx) {
  if (contextDepth == 0)
    return INVALID_CONTEXT;
  --contextDepth;
  if (ctx)
    *ctx = NULL;
  return SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *total) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  *total = (size_t)envLL("KILN_FAKE_CUDA_TOTAL_MB", 81920) << 20;
  *freeBytes = (size_t)envLL("KILN_FAKE_CUDA_FREE_MB", 40960) << 20;
  return SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  if (bytes == 0)
    return INVALID_VALUE;
  pthread_mutex_lock(&lock);
  ++allocCalls;
  pthread_mutex_unlock(&lock);
  long long limit = envLL("KILN_FAKE_CUDA_ALLOC_LIMIT", -1);
  if (limit >= 0 && (long long)bytes > limit)
    return OUT_OF_MEMORY;
  void *p = calloc(1, bytes);
  if (!p)
    return OUT_OF_MEMORY;
  pthread_mutex_lock(&lock);
  ++liveAllocs;
  pthread_mutex_unlock(&lock);
  *ptr = (CUdeviceptr)(uintptr_t)p;
  return SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr ptr) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  free((void *)(uintptr_t)ptr);
  pthread_mutex_lock(&lock);
  --liveAllocs;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return SUCCESS;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, void *stream) {
  (void)stream;
  return cuMemcpyHtoD_v2(dst, src, bytes);
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  if (stickyError)
    return stickyError;
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return SUCCESS;
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  memset((void *)(uintptr_t)dst, value, count);
  return SUCCESS;
}

/*===-- modules -----------------------------------------------------------------------===*/

EXPORT CUresult cuModuleLoadDataEx(Module **module, const void *image, unsigned numOptions,
                                   int *options, void **values) {
  if (!contextDepth)
    return INVALID_CONTEXT;
  const char *text = (const char *)image;
  int cubin = strncmp(text, "\x7f" "ELF", 4) == 0;
  if (cubin && envLL("KILN_FAKE_CUDA_REJECT_CUBIN", 0))
    return NO_BINARY_FOR_GPU;
  if (!cubin && strstr(text, "FAKE_JIT_ERROR")) {
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] == 5) { /* CU_JIT_ERROR_LOG_BUFFER */
        size_t size = 0;
        for (unsigned j = 0; j < numOptions; ++j)
          if (options[j] == 6)
            size = (size_t)(uintptr_t)values[j];
        if (size)
          snprintf((char *)values[i], size, "ptxas fatal   : fake JIT error in line 3\n");
      }
    }
    return INVALID_PTX;
  }
  Module *m = calloc(1, sizeof *m);
  m->text = cubin ? NULL : strdup(text);
  pthread_mutex_lock(&lock);
  ++liveModules;
  ++moduleLoads;
  pthread_mutex_unlock(&lock);
  *module = m;
  return SUCCESS;
}

EXPORT CUresult cuModuleUnload(Module *m) {
  if (!m)
    return INVALID_HANDLE;
  for (int i = 0; i < m->numFunctions; ++i)
    free(m->functions[i]);
  free(m->text);
  free(m);
  pthread_mutex_lock(&lock);
  --liveModules;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(Function **fn, Module *m, const char *name) {
  if (!m)
    return INVALID_HANDLE;
  if (m->text && !strstr(m->text, name))
    return NOT_FOUND;
  if (m->numFunctions == MAX_FUNCTIONS)
    return OUT_OF_MEMORY;
  Function *f = calloc(1, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  m->functions[m->numFunctions++] = f;
  *fn = f;
  return SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(Function *fn, int attrib, int value) {
  (void)attrib;
  (void)value;
  return fn ? SUCCESS : INVALID_HANDLE;
}

/*===-- kernels, streams, events, graphs ----------------------------------------------===*/

static void fakeLanguageModel(const Record *r) {
  if (r->numParams < 28)
    return;
  const long long *ids = (const long long *)(uintptr_t)r->params[1];
  const long long *positions = (const long long *)(uintptr_t)r->params[6];
  const long long *slots = (const long long *)(uintptr_t)r->params[11];
  float *cache = (float *)(uintptr_t)r->params[16];
  long long cacheSize = (long long)r->params[18];
  float *logits = (float *)(uintptr_t)r->params[21];
  long long T = (long long)r->params[25], V = (long long)r->params[26],
            M = (long long)r->params[27];
  for (long long t = 0; t < T; ++t) {
    long long at = slots[t] * 2 * M + positions[t];
    if (slots[t] < 0 || positions[t] < 0 || positions[t] >= M || at >= cacheSize) {
      pthread_mutex_lock(&lock);
      stickyError = ILLEGAL_ADDRESS;
      pthread_mutex_unlock(&lock);
      return;
    }
    cache[at] = (float)ids[t];
  }
  for (long long t = 0; t < T; ++t) {
    long long h = 0;
    for (long long p = 0; p <= positions[t]; ++p)
      h += (p + 1) * (long long)cache[slots[t] * 2 * M + p];
    h %= V;
    for (long long j = 0; j < V; ++j)
      logits[t * V + j] = -0.25f * (float)((j - h + V) % V);
  }
}

static void execute(const Record *r) {
  pthread_mutex_lock(&lock);
  ++kernelRuns;
  lastLaunch = *r;
  haveLastLaunch = 1;
  if (!strcmp(r->fn->name, "fake_fault"))
    stickyError = ILLEGAL_ADDRESS;
  pthread_mutex_unlock(&lock);
  if (!strcmp(r->fn->name, "fake_lm"))
    fakeLanguageModel(r);
  if (!strcmp(r->fn->name, "fake_add_f32") && r->numParams >= 16) {
    const float *x = (const float *)(uintptr_t)r->params[1];
    float *y = (float *)(uintptr_t)r->params[6];
    const float *w = (const float *)(uintptr_t)r->params[11];
    long long n = (long long)r->params[15];
    for (long long i = 0; i < n && i < (long long)r->params[3] && i < (long long)r->params[8]; ++i)
      y[i] = x[i] + w[0];
  }
}

EXPORT CUresult cuLaunchKernel(Function *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shared, Stream *stream,
                               void **params, void **extra) {
  (void)extra;
  if (!contextDepth)
    return INVALID_CONTEXT;
  if (!fn || !stream)
    return INVALID_HANDLE;
  if (stickyError)
    return stickyError;
  if (gx == 0 || gy == 0 || gz == 0 || bx * by * bz > 1024)
    return INVALID_VALUE;
  Record r;
  memset(&r, 0, sizeof r);
  r.fn = fn;
  r.grid[0] = gx, r.grid[1] = gy, r.grid[2] = gz;
  r.block[0] = bx, r.block[1] = by, r.block[2] = bz;
  r.shared = shared;
  while (params && params[r.numParams] && r.numParams < MAX_PARAMS) {
    memcpy(&r.params[r.numParams], params[r.numParams], 8);
    ++r.numParams;
  }
  if (stream->capture) {
    Graph *g = stream->capture;
    if (g->count == g->capacity) {
      g->capacity = g->capacity ? 2 * g->capacity : 8;
      g->records = realloc(g->records, (size_t)g->capacity * sizeof *g->records);
    }
    g->records[g->count++] = r;
    return SUCCESS;
  }
  execute(&r);
  return SUCCESS;
}

EXPORT CUresult cuStreamCreate(Stream **stream, unsigned flags) {
  (void)flags;
  if (!contextDepth)
    return INVALID_CONTEXT;
  *stream = calloc(1, sizeof **stream);
  pthread_mutex_lock(&lock);
  ++liveStreams;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(Stream *stream) {
  if (!stream)
    return INVALID_HANDLE;
  free(stream);
  pthread_mutex_lock(&lock);
  --liveStreams;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(Stream *stream) {
  (void)stream;
  return stickyError;
}

EXPORT CUresult cuEventCreate(Event **event, unsigned flags) {
  (void)flags;
  *event = calloc(1, sizeof **event);
  pthread_mutex_lock(&lock);
  ++liveEvents;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(Event *event) {
  free(event);
  pthread_mutex_lock(&lock);
  --liveEvents;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuEventRecord(Event *event, Stream *stream) {
  if (stream && stream->capture)
    return STREAM_CAPTURE_INVALIDATED;
  event->ms = nowMs();
  return SUCCESS;
}

EXPORT CUresult cuEventSynchronize(Event *event) {
  (void)event;
  return stickyError;
}

EXPORT CUresult cuEventElapsedTime_v2(float *ms, Event *start, Event *end) {
  *ms = (float)(end->ms - start->ms);
  return SUCCESS;
}

EXPORT CUresult cuStreamBeginCapture_v2(Stream *stream, int mode) {
  (void)mode;
  if (envLL("KILN_FAKE_CUDA_NO_CAPTURE", 0))
    return NOT_SUPPORTED;
  if (stream->capture)
    return INVALID_VALUE;
  stream->capture = calloc(1, sizeof(Graph));
  return SUCCESS;
}

EXPORT CUresult cuStreamEndCapture(Stream *stream, Graph **graph) {
  if (!stream->capture)
    return INVALID_VALUE;
  *graph = stream->capture;
  stream->capture = NULL;
  pthread_mutex_lock(&lock);
  ++liveGraphs;
  ++captures;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuGraphInstantiateWithFlags(Graph **exec, Graph *graph, unsigned long long flags) {
  (void)flags;
  Graph *e = calloc(1, sizeof *e);
  e->count = e->capacity = graph->count;
  e->records = malloc((size_t)(graph->count ? graph->count : 1) * sizeof *e->records);
  memcpy(e->records, graph->records, (size_t)graph->count * sizeof *e->records);
  pthread_mutex_lock(&lock);
  ++liveExecs;
  pthread_mutex_unlock(&lock);
  *exec = e;
  return SUCCESS;
}

EXPORT CUresult cuGraphLaunch(Graph *exec, Stream *stream) {
  (void)stream;
  if (stickyError)
    return stickyError;
  pthread_mutex_lock(&lock);
  ++graphLaunches;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < exec->count; ++i)
    execute(&exec->records[i]);
  return SUCCESS;
}

static void freeGraph(Graph *g) {
  free(g->records);
  free(g);
}

EXPORT CUresult cuGraphExecDestroy(Graph *exec) {
  freeGraph(exec);
  pthread_mutex_lock(&lock);
  --liveExecs;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}

EXPORT CUresult cuGraphDestroy(Graph *graph) {
  freeGraph(graph);
  pthread_mutex_lock(&lock);
  --liveGraphs;
  pthread_mutex_unlock(&lock);
  return SUCCESS;
}
