/*===- kilnrt.h - the Kiln runtime's C API -----------------------------------------------===*
 *
 * Load a compiled model (a .kiln artifact), query its inputs and outputs, create a session on a
 * CUDA device, bind inputs, run, read outputs. The runtime loads the CUDA driver with dlopen at
 * run time: a program using it links neither libcuda nor the CUDA toolkit.
 *
 * Conventions:
 *  - Every function that can fail returns a kiln_status; KILN_OK is 0. On failure the message
 *    is available from kiln_last_error() (this thread's last failure, any call) and, for calls
 *    on a session, from kiln_session_last_error(session). Returned strings stay valid until the
 *    next failing call on the same thread (kiln_last_error) or session.
 *  - A kiln_model is immutable once loaded and may be shared between threads and sessions. A
 *    kiln_session serialises its calls with a mutex; use one session per thread for parallelism.
 *  - A session keeps what it needs of its model: the model may be destroyed first.
 *  - Nothing aborts: bad arguments, a missing driver or device, a corrupt artifact, mismatched
 *    inputs and CUDA errors are all reported as statuses.
 *
 *===------------------------------------------------------------------------------------===*/

#ifndef KILNRT_H
#define KILNRT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define KILNRT_API
#else
#define KILNRT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define KILNRT_VERSION_STRING "0.1.0"

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1,   /* a null pointer, an index out of range, an unknown name */
  KILN_ERROR_IO = 2,                 /* a file could not be read */
  KILN_ERROR_INVALID_ARTIFACT = 3,   /* not an artifact, truncated, corrupt (checksums, indices) */
  KILN_ERROR_ARTIFACT_VERSION = 4,   /* an artifact of another format version */
  KILN_ERROR_NO_DRIVER = 5,          /* libcuda.so.1 missing or unusable */
  KILN_ERROR_NO_DEVICE = 6,          /* no CUDA device, or no device of that ordinal */
  KILN_ERROR_DEVICE_TOO_OLD = 7,     /* compute capability below the artifact's target */
  KILN_ERROR_OUT_OF_MEMORY = 8,      /* device (or host) memory exhausted */
  KILN_ERROR_SHAPE_MISMATCH = 9,     /* an input's rank or dims do not fit the model */
  KILN_ERROR_DTYPE_MISMATCH = 10,    /* an input's element type is not the model's */
  KILN_ERROR_SYMBOL_OUT_OF_RANGE = 11, /* a symbolic dim (e.g. seq) is < 1 or above its maximum */
  KILN_ERROR_CUDA = 12,              /* a CUDA driver call failed (the message names it) */
  KILN_ERROR_NOT_READY = 13,         /* an input not bound, or an output read before a run */
  KILN_ERROR_INTERNAL = 14,
  KILN_ERROR_NO_FREE_SLOT = 15,      /* a generator's sequence slots are all taken */
  KILN_STATUS_MAX_ENUM = 0x7fffffff /* keeps the enum 32-bit wide; not a status */
} kiln_status;

/* Element types; the values are those of the artifact format. */
typedef enum kiln_dtype {
  KILN_DTYPE_F32 = 1,
  KILN_DTYPE_F16 = 2,
  KILN_DTYPE_BF16 = 3,
  KILN_DTYPE_F64 = 4,
  KILN_DTYPE_I64 = 5,
  KILN_DTYPE_I32 = 6,
  KILN_DTYPE_I16 = 7,
  KILN_DTYPE_I8 = 8,
  KILN_DTYPE_U8 = 9,
  KILN_DTYPE_BOOL = 10,
  KILN_DTYPE_U16 = 11,
  KILN_DTYPE_U32 = 12,
  KILN_DTYPE_U64 = 13,
  KILN_DTYPE_MAX_ENUM = 0x7fffffff /* any int32 value is representable; not a dtype */
} kiln_dtype;

typedef struct kiln_model kiln_model;
typedef struct kiln_session kiln_session;

/* An input or output of a model. Pointers stay valid for the model's lifetime. */
typedef struct kiln_tensor_info {
  const char *name;
  kiln_dtype dtype;
  int32_t rank;
  const int64_t *dims;           /* rank entries; -1 where the extent is symbolic */
  const char *const *dim_names;  /* rank entries; NULL for a static dim, else its symbol or
                                    expression ("seq", "seq + 1") */
} kiln_tensor_info;

/* A symbolic dimension: its value is dim `dim` of input `input` at run time. */
typedef struct kiln_symbol_info {
  const char *name;
  int64_t max_value;
  int32_t input;
  int32_t dim;
} kiln_symbol_info;

typedef struct kiln_session_options {
  uint32_t struct_size;        /* sizeof(kiln_session_options) (set by kiln_session_options_init) */
  int32_t device;              /* CUDA device ordinal; default 0 */
  int32_t disable_cuda_graphs; /* nonzero: launch kernels one by one (e.g. for compute-sanitizer);
                                  the environment variable KILN_DISABLE_CUDA_GRAPHS=1 does too */
  int32_t max_cached_graphs;   /* CUDA graphs kept (one per distinct set of symbol values);
                                  0 = default (8) */
} kiln_session_options;

typedef struct kiln_device_info {
  int32_t ordinal;
  char name[256];
  int32_t compute_capability; /* 90 for sm_90 */
  uint64_t total_bytes;
  uint64_t free_bytes;        /* when the session was created */
  int32_t driver_version;     /* 12040 for CUDA 12.4 */
} kiln_device_info;

typedef struct kiln_session_stats {
  uint64_t runs;              /* completed runs */
  uint64_t graph_captures;    /* CUDA graphs captured (cache misses) */
  uint64_t graph_replays;     /* runs that replayed a cached graph */
  uint64_t kernels_launched;  /* kernel launches of the last run (launches with a zero grid
                                 dimension are skipped) */
  uint64_t kernels_skipped;
  int32_t cuda_graphs_enabled;
} kiln_session_stats;

/*===-- Errors, versions, dtypes ------------------------------------------------------===*/

KILNRT_API const char *kiln_status_string(kiln_status status); /* "KILN_ERROR_NO_DEVICE" */
KILNRT_API const char *kiln_last_error(void);     /* this thread's last failure; "" if none */
KILNRT_API const char *kiln_runtime_version(void); /* KILNRT_VERSION_STRING */
KILNRT_API uint32_t kiln_artifact_format_version(void);
KILNRT_API const char *kiln_dtype_name(kiln_dtype dtype); /* numpy names: "float32", "int64" */
KILNRT_API size_t kiln_dtype_size(kiln_dtype dtype);      /* 0 for an unknown value */

/* The number of CUDA devices (loads the driver). */
KILNRT_API kiln_status kiln_device_count(int32_t *count);

/*===-- Models -----------------------------------------------------------------------===*/

KILNRT_API kiln_status kiln_model_load_file(const char *path, kiln_model **model);
/* `name` (may be NULL) names the artifact in messages. The bytes are copied. */
KILNRT_API kiln_status kiln_model_load_memory(const void *data, size_t size, const char *name,
                                              kiln_model **model);
KILNRT_API void kiln_model_destroy(kiln_model *model); /* NULL is fine */

KILNRT_API const char *kiln_model_target(const kiln_model *model);    /* "sm_90" */
KILNRT_API const char *kiln_model_precision(const kiln_model *model); /* "fp16" */
KILNRT_API const char *kiln_model_producer(const kiln_model *model);
/* The inputs, outputs and symbols of the default entry (entry 0, "main"); see below for the
   others. */
KILNRT_API int32_t kiln_model_num_inputs(const kiln_model *model);
KILNRT_API int32_t kiln_model_num_outputs(const kiln_model *model);
KILNRT_API int32_t kiln_model_num_symbols(const kiln_model *model);
KILNRT_API kiln_status kiln_model_input_info(const kiln_model *model, int32_t index,
                                             kiln_tensor_info *info);
KILNRT_API kiln_status kiln_model_output_info(const kiln_model *model, int32_t index,
                                              kiln_tensor_info *info);
KILNRT_API kiln_status kiln_model_symbol_info(const kiln_model *model, int32_t index,
                                              kiln_symbol_info *info);
/* Index of the input/output called `name`, or -1. */
KILNRT_API int32_t kiln_model_find_input(const kiln_model *model, const char *name);
KILNRT_API int32_t kiln_model_find_output(const kiln_model *model, const char *name);
/* Device memory a session needs: the arena plus the weights (a generator also allocates its KV
   cache). */
KILNRT_API uint64_t kiln_model_device_bytes(const kiln_model *model);

/* Entries: the functions of the model a session can run ("main", and for causal language models
   "prefill" and "decode"). Entry 0 is the default entry. They share the device memory, so a
   session runs one at a time. */
KILNRT_API int32_t kiln_model_num_entries(const kiln_model *model);
KILNRT_API const char *kiln_model_entry_name(const kiln_model *model, int32_t entry); /* NULL if
                                                                                         out of range */
KILNRT_API int32_t kiln_model_find_entry(const kiln_model *model, const char *name); /* or -1 */
KILNRT_API int32_t kiln_model_entry_num_inputs(const kiln_model *model, int32_t entry);
KILNRT_API int32_t kiln_model_entry_num_outputs(const kiln_model *model, int32_t entry);
KILNRT_API int32_t kiln_model_entry_num_symbols(const kiln_model *model, int32_t entry);
KILNRT_API kiln_status kiln_model_entry_input_info(const kiln_model *model, int32_t entry,
                                                   int32_t index, kiln_tensor_info *info);
KILNRT_API kiln_status kiln_model_entry_output_info(const kiln_model *model, int32_t entry,
                                                    int32_t index, kiln_tensor_info *info);
KILNRT_API kiln_status kiln_model_entry_symbol_info(const kiln_model *model, int32_t entry,
                                                    int32_t index, kiln_symbol_info *info);

/*===-- Sessions ---------------------------------------------------------------------===*/

KILNRT_API void kiln_session_options_init(kiln_session_options *options);
/* `options` may be NULL (device 0, CUDA graphs on unless KILN_DISABLE_CUDA_GRAPHS=1). Loads the
   driver, checks the device, allocates the arena and the weights (uploaded once), loads the
   kernels. */
KILNRT_API kiln_status kiln_session_create(const kiln_model *model,
                                           const kiln_session_options *options,
                                           kiln_session **session);
KILNRT_API void kiln_session_destroy(kiln_session *session); /* frees everything; NULL is fine */
KILNRT_API const char *kiln_session_last_error(const kiln_session *session);
KILNRT_API kiln_status kiln_session_device_info(kiln_session *session, kiln_device_info *info);

/* Binds an input: `dims` has `rank` entries; `data` holds the elements densely in row-major
   order and must stay valid until kiln_session_run returns (it is copied to the device then).
   The dtype, the rank, every static dim and every symbol's range are checked here; symbols
   shared by several inputs are checked by kiln_session_run. */
KILNRT_API kiln_status kiln_session_bind_input(kiln_session *session, int32_t index,
                                               const void *data, kiln_dtype dtype,
                                               const int64_t *dims, int32_t rank);
KILNRT_API kiln_status kiln_session_bind_input_by_name(kiln_session *session, const char *name,
                                                       const void *data, kiln_dtype dtype,
                                                       const int64_t *dims, int32_t rank);
/* Copies the inputs to the device, launches the kernels (replaying a CUDA graph when the symbol
   values were seen before) and waits for them. */
KILNRT_API kiln_status kiln_session_run(kiln_session *session);
/* Makes the session's bind/run/output calls use the entry called `name` (NULL: the default
   entry). Inputs stay bound per entry; only the outputs of the last run can be read. Entries that
   use the KV cache (prefill, decode) run only through a kiln_generator. */
KILNRT_API kiln_status kiln_session_select_entry(kiln_session *session, const char *name);
/* The output's dims of the last run: writes min(rank, capacity) dims, sets *rank. */
KILNRT_API kiln_status kiln_session_output_shape(kiln_session *session, int32_t index,
                                                 int64_t *dims, int32_t capacity, int32_t *rank);
KILNRT_API kiln_status kiln_session_output_bytes(kiln_session *session, int32_t index,
                                                 size_t *bytes);
/* Copies the output of the last run to host memory of at least kiln_session_output_bytes. */
KILNRT_API kiln_status kiln_session_read_output(kiln_session *session, int32_t index, void *data,
                                                size_t capacity_bytes);
/* GPU time of the last run's kernels (CUDA events around the launches or the graph), in ms. */
KILNRT_API kiln_status kiln_session_last_gpu_time_ms(kiln_session *session, double *ms);
KILNRT_API kiln_status kiln_session_get_stats(kiln_session *session, kiln_session_stats *stats);

/*===-- Generation: causal language models compiled with prefill and decode entries ----===*
 *
 * A generator owns a session of the model and the KV cache (one device allocation of
 * max_sequences slots, each holding one sequence's keys and values up to the maximum context).
 * kiln_generator_add prefills a prompt into a free slot and samples the first new token;
 * kiln_generator_step runs one decode step for every unfinished sequence at once (each at its
 * own position, no padding; a CUDA graph per batch size), samples and reports the new tokens.
 * Sampling runs on the host from float32 logits and is deterministic for a given seed. */

typedef struct kiln_generator kiln_generator;

/* The generation section of a model (kiln_model_generation_info). */
typedef struct kiln_generation_info {
  int64_t vocab_size;
  int32_t max_batch;                 /* sequences the KV cache was compiled for */
  int32_t max_seq;                   /* context per sequence: prompt + new tokens */
  int32_t layers;
  int32_t kv_heads;
  int32_t head_dim;
  kiln_dtype cache_dtype;
  uint64_t cache_bytes_per_sequence;
  const char *prefill_entry;         /* entry names, valid for the model's lifetime */
  const char *decode_entry;
} kiln_generation_info;

typedef struct kiln_generator_options {
  uint32_t struct_size;        /* sizeof(kiln_generator_options) (set by ..._init) */
  int32_t device;              /* CUDA device ordinal; default 0 */
  int32_t max_sequences;       /* KV cache slots to allocate; 0 = the model's max_batch */
  int32_t disable_cuda_graphs; /* nonzero: launch decode steps kernel by kernel */
} kiln_generator_options;

typedef struct kiln_sampling {
  uint32_t struct_size;    /* sizeof(kiln_sampling) (set by kiln_sampling_init) */
  float temperature;       /* 0 = greedy (the first index of the largest logit) */
  int32_t top_k;           /* 0 = off */
  float top_p;             /* 1 = off; else in (0, 1] */
  uint64_t seed;           /* with the sequence id, seeds the sequence's random numbers */
  int64_t eos_id;          /* -1 = none; generating it finishes the sequence (it is kept) */
  int32_t max_new_tokens;  /* >= 1; default 128 */
  int32_t truncate_prompt; /* nonzero: keep the last max_seq - max_new_tokens prompt tokens
                              instead of failing on a prompt that is too long */
} kiln_sampling;

typedef enum kiln_finish_reason {
  KILN_FINISH_NONE = 0,       /* still generating */
  KILN_FINISH_EOS = 1,        /* generated eos_id */
  KILN_FINISH_MAX_TOKENS = 2, /* generated max_new_tokens */
  KILN_FINISH_STOPPED = 3,    /* the token callback returned nonzero */
  KILN_FINISH_MAX_ENUM = 0x7fffffff
} kiln_finish_reason;

typedef struct kiln_sequence_info {
  int64_t prompt_given;   /* tokens passed to kiln_generator_add */
  int64_t prompt_length;  /* tokens prefilled (fewer when truncated) */
  int64_t generated;      /* new tokens so far */
  int64_t context;        /* tokens in the KV cache */
  int32_t slot;
  int32_t finished;
  kiln_finish_reason finish_reason;
  double prefill_ms;      /* GPU time of its prefill */
} kiln_sequence_info;

typedef struct kiln_generator_stats {
  uint64_t decode_steps;
  uint64_t decode_tokens;     /* tokens produced by decode steps (sum of the batch sizes) */
  double decode_ms_median;    /* GPU time per decode step (CUDA events around its kernels) */
  double decode_ms_min;
  double decode_ms_max;
  double decode_ms_total;
  uint64_t prefills;
  uint64_t prefill_tokens;
  double prefill_ms_total;    /* GPU time of all prefills */
  uint64_t graph_captures;    /* of the generator's session */
  uint64_t graph_replays;
  int32_t max_sequences;
  int32_t cuda_graphs_enabled;
} kiln_generator_stats;

/* Called for each new token; a nonzero return stops that sequence (KILN_FINISH_STOPPED). It must
   not call functions of the same generator. */
typedef int (*kiln_token_callback)(void *user, int64_t sequence, int64_t token);

/* Nonzero when the model has prefill and decode entries. */
KILNRT_API int32_t kiln_model_can_generate(const kiln_model *model);
KILNRT_API kiln_status kiln_model_generation_info(const kiln_model *model,
                                                  kiln_generation_info *info);

KILNRT_API void kiln_generator_options_init(kiln_generator_options *options);
KILNRT_API void kiln_sampling_init(kiln_sampling *sampling);
/* Creates a session on the device and allocates the KV cache (`options` may be NULL). Fails
   when the model cannot generate or the cache does not fit (the message says how many bytes it
   needs and how many are free). */
KILNRT_API kiln_status kiln_generator_create(const kiln_model *model,
                                             const kiln_generator_options *options,
                                             kiln_generator **generator);
KILNRT_API void kiln_generator_destroy(kiln_generator *generator); /* NULL is fine */
KILNRT_API const char *kiln_generator_last_error(const kiln_generator *generator);
KILNRT_API kiln_status kiln_generator_device_info(kiln_generator *generator,
                                                  kiln_device_info *info);
/* Adds a sequence: checks the prompt (not empty, every token in [0, vocab_size), prompt +
   max_new_tokens within max_seq unless truncate_prompt) before any launch, takes a free slot
   (KILN_ERROR_NO_FREE_SLOT when none), prefills the prompt and samples the first new token,
   which the next step reports. `sampling` may be NULL (greedy, 128 new tokens). */
KILNRT_API kiln_status kiln_generator_add(kiln_generator *generator, const int64_t *prompt,
                                          size_t n, const kiln_sampling *sampling,
                                          int64_t *sequence);
/* Reports the tokens not reported yet, then one decode step for every unfinished sequence;
   `callback` (may be NULL) sees each new token; `active` (may be NULL) receives the number of
   unfinished sequences. */
KILNRT_API kiln_status kiln_generator_step(kiln_generator *generator,
                                           kiln_token_callback callback, void *user,
                                           int32_t *active);
/* The same for the listed sequences only; an unknown sequence, or a finished one with nothing
   left to report, is KILN_ERROR_INVALID_ARGUMENT before anything runs. */
KILNRT_API kiln_status kiln_generator_step_sequences(kiln_generator *generator,
                                                     const int64_t *sequences, size_t n,
                                                     kiln_token_callback callback, void *user,
                                                     int32_t *active);
/* Steps until no sequence is active. */
KILNRT_API kiln_status kiln_generator_run(kiln_generator *generator,
                                          kiln_token_callback callback, void *user);
/* The new tokens of a sequence (not the prompt); valid until the next call that changes it. */
KILNRT_API kiln_status kiln_generator_tokens(kiln_generator *generator, int64_t sequence,
                                             const int64_t **tokens, size_t *n);
KILNRT_API kiln_status kiln_generator_finished(kiln_generator *generator, int64_t sequence,
                                               int32_t *finished);
KILNRT_API kiln_status kiln_generator_sequence_info(kiln_generator *generator, int64_t sequence,
                                                    kiln_sequence_info *info);
/* Frees the sequence's slot (an unfinished sequence is cancelled). */
KILNRT_API kiln_status kiln_generator_remove(kiln_generator *generator, int64_t sequence);
/* Prefills `tokens` into a free slot (released afterwards) and writes the logits of every
   position, n * vocab_size floats, to `logits` (for evaluation: perplexity, bits per byte). */
KILNRT_API kiln_status kiln_generator_logits(kiln_generator *generator, const int64_t *tokens,
                                             size_t n, float *logits, size_t capacity_floats);
KILNRT_API kiln_status kiln_generator_decode_stats(kiln_generator *generator,
                                                   kiln_generator_stats *stats);

/*===-- Libraries built with kiln-compile --emit=lib -----------------------------------===*
 * Such a library (a copy of libkiln-lib-stub.so with the artifact appended) exports the whole
 * API above plus these two, which load the artifact embedded in the library's own file (found
 * with dladdr). libkilnrt.so itself does not define them. */

/* Loads the embedded model (destroy it with kiln_model_destroy). */
KILNRT_API kiln_status kiln_model_open_embedded(kiln_model **model);
/* Loads the embedded model and creates a session on CUDA device `device` (graphs on unless
   KILN_DISABLE_CUDA_GRAPHS=1). The session keeps what it needs of the model. */
KILNRT_API kiln_status kiln_model_open(int device, kiln_session **session);
/* The path of the library file the model is embedded in. */
KILNRT_API const char *kiln_model_embedded_path(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILNRT_H */
