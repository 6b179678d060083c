//===- Artifact.h - the .kiln artifact: what the compiler hands the runtime -------*- C++ -*-===//
//
// A compiled model: PTX (and optionally a cubin), the kernels' entry points, one or more entries
// (each a launch sequence with grids and scalar arguments as integer expressions over the
// entry's symbolic dimensions), the device buffers (one arena, the weights, optionally the KV
// cache), the weights themselves, and for causal language models the generation section.
//
// The binary layout (little-endian, checksummed sections, 256-byte aligned weights) is described
// in runtime/README.md. Plain C++17; no MLIR, LLVM or CUDA dependency.
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_ARTIFACT_H
#define KILNRT_ARTIFACT_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#if defined(_WIN32)
#define KILNRT_CXX_API
#else
#define KILNRT_CXX_API __attribute__((visibility("default")))
#endif

namespace kilnrt {

/// The artifact format version this runtime writes and reads.
constexpr uint32_t kArtifactVersion = 2;

/// Element types. The values are part of the artifact format (and equal kiln_dtype in kilnrt.h).
enum class DType : uint8_t {
  F32 = 1,
  F16 = 2,
  BF16 = 3,
  F64 = 4,
  I64 = 5,
  I32 = 6,
  I16 = 7,
  I8 = 8,
  U8 = 9,
  Bool = 10,
  U16 = 11,
  U32 = 12,
  U64 = 13
};

/// Bytes per element; 0 for a value that is not a DType.
KILNRT_CXX_API size_t dtypeSize(DType type);
/// numpy's name ("float32", "float16", "bfloat16", "float64", "int64", ..., "bool"); "invalid"
/// for a value that is not a DType.
KILNRT_CXX_API const char *dtypeName(DType type);
/// The inverse of dtypeName; false for an unknown name.
KILNRT_CXX_API bool dtypeFromName(const std::string &name, DType &type);
/// Whether `value` is one of the enumerators.
KILNRT_CXX_API bool isValidDType(uint8_t value);

/// An integer expression over the artifact's symbols as a postfix program, evaluated with int64
/// (overflow is an error). Binary ops pop `b` (the top) then `a` and push `a op b`. FloorDiv
/// rounds towards -inf, CeilDiv towards +inf, Rem is the remainder of FloorDiv (the sign of `b`,
/// like Python's % and affine's mod).
struct KILNRT_CXX_API Expr {
  enum class Op : uint8_t { Const = 0, Symbol = 1, Add, Sub, Mul, FloorDiv, CeilDiv, Rem, Min, Max };
  struct Step {
    Op op;
    int64_t value; // the constant (Const) or the symbol index (Symbol); 0 otherwise
  };
  std::vector<Step> steps;

  static Expr constant(int64_t v);
  static Expr symbol(uint32_t index);
  /// `a op b` for a binary op (Add ... Max); folds when both are constants and the result is
  /// defined (no division by zero, no overflow).
  static Expr binary(Op op, const Expr &a, const Expr &b);

  /// True (and the value) when the program is a single Const step.
  bool isConstant(int64_t *value = nullptr) const;
  /// True (and the index) when the program is a single Symbol step.
  bool isSymbol(uint32_t *index = nullptr) const;
  /// Evaluates with `symbols[i]` as symbol i. False with a message on division by zero, overflow,
  /// a symbol index out of range, or a malformed program (stack underflow, not exactly one value
  /// left, unknown op).
  bool evaluate(const std::vector<int64_t> &symbols, int64_t &result, std::string &error) const;
  /// Whether the program is well formed for `numSymbols` symbols; else a message.
  bool validate(size_t numSymbols, std::string &error) const;
  /// Infix text, e.g. "seq", "(seq + 1)", "ceildiv(seq, 64)"; symbols by their names when
  /// given (else "s0", "s1", ...).
  std::string toString(const std::vector<std::string> &symbolNames = {}) const;

  bool operator==(const Expr &other) const;
  bool operator!=(const Expr &other) const { return !(*this == other); }
};

/// A symbolic dimension of an entry: its value is the actual extent of dim `dim` of the entry's
/// input `input`, which must be 1 <= value <= maxValue.
struct Symbol {
  std::string name;
  uint32_t input;
  uint32_t dim;
  int64_t maxValue;
};

/// A device buffer: a range of the arena (activations, inputs, outputs), of the weights, or the
/// KV cache (a separate allocation made by a generator; offset 0, the whole cache).
struct Buffer {
  enum class Kind : uint8_t { Arena = 0, Weights = 1, Cache = 2 };
  Kind kind;
  uint64_t offset;
  uint64_t capacityBytes;
};

/// An entry input or output: its dims as expressions over the entry's symbols, and the buffer
/// holding it (densely, row-major, from the buffer's start). Inputs must live in the arena.
struct TensorBinding {
  std::string name;
  DType dtype;
  std::vector<Expr> dims;
  uint32_t buffer;
};

/// A kernel argument. Kernel ABI: a Buffer argument is passed as the 5 parameters of an MLIR 1-D
/// memref descriptor memref<?xT> (T* allocated, T* aligned, int64 offset = 0,
/// int64 size = capacityBytes / dtypeSize(dtype), int64 stride = 1; for the Cache buffer the
/// allocated bytes instead of capacityBytes); a Scalar is one int64.
struct KernelArg {
  enum class Kind : uint8_t { Buffer = 0, Scalar = 1 };
  Kind kind;
  uint32_t buffer = 0;
  DType dtype = DType::F32;
  Expr scalar;
};

/// One kernel launch. Launches whose grid has a zero dimension are skipped.
struct Launch {
  std::string name;
  uint32_t kernel;
  Expr grid[3];
  uint32_t block[3];
  uint32_t sharedBytes;
  std::vector<KernelArg> args;
};

/// A function of the model the runtime can run: its symbols, inputs, outputs and launch
/// sequence. All entries share the artifact's kernels, buffers, arena and weights.
struct Entry {
  std::string name;               // "main", "prefill", "decode"
  std::vector<Symbol> symbols;    // Symbol::input indexes this entry's inputs
  std::vector<TensorBinding> inputs, outputs;
  std::vector<Launch> launches;   // executed in order
  bool cudaGraphs = true;         // false: always launched one by one (e.g. a new T each call)
};

/// The KV cache's layout: element (slot, layer, kv, head, pos, d), kv 0 = K and 1 = V, at
/// ((((slot * layers + layer) * 2 + kv) * kvHeads + head) * maxSeq + pos) * headDim + d.
struct KVCacheLayout {
  uint32_t layers = 0, maxBatch = 0, kvHeads = 0, maxSeq = 0, headDim = 0;
  DType dtype = DType::F16;
  /// layers * 2 * kvHeads * maxSeq * headDim * dtypeSize(dtype); 0 on overflow.
  KILNRT_CXX_API uint64_t bytesPerSlot() const;
};

/// What a generator needs: present iff the artifact can generate (prefill and decode entries).
/// Both entries take, in order, the token ids (int64 [1, T]), "kiln.positions" (int64 [T]) and
/// "kiln.slots" (int64 [T]), with symbol 0 = T, and return the logits (float32 [1, T, vocab]).
struct Generation {
  KVCacheLayout cache;
  uint32_t cacheBuffer = 0;                     // buffers[cacheBuffer].kind == Buffer::Kind::Cache
  uint32_t prefillEntry = 0, decodeEntry = 0;   // indices into Artifact::entries
  int64_t vocabSize = 0;                        // the logits' last dim
};

struct Artifact {
  std::string target;    // "sm_90" / "sm_80"
  std::string precision; // "fp32" / "fp16" / "bf16"
  std::string producer;  // "kiln-compile <version>", model name
  std::string ptx;       // always present
  std::vector<uint8_t> cubin;        // optional (empty = JIT the PTX)
  std::vector<std::string> kernels;  // entry-point names in the PTX/cubin, indexed by Launch::kernel
  std::vector<Buffer> buffers;       // shared by all entries
  uint64_t arenaBytes = 0;           // the largest over the entries (they never run concurrently)
  std::vector<uint8_t> weights;      // uploaded once per session
  std::vector<Entry> entries;        // at least one; entries[0] is the default entry ("main")
  std::optional<Generation> generation;
};

/// Why reading an artifact failed (the message says it in words).
enum class ArtifactErrorKind : uint8_t {
  None = 0,
  Io,        // the file could not be read or written
  NotKiln,   // wrong magic: not an artifact at all
  Version,   // an artifact of another format version
  Truncated, // shorter than its header says
  Corrupt    // checksum mismatch, malformed metadata, an index out of range, ...
};

/// Checks what deserialize checks (indices, ranges, expressions, unique names) on an in-memory
/// artifact; used by the serializer's callers to catch their own mistakes early.
KILNRT_CXX_API bool validateArtifact(const Artifact &artifact, std::string &error);

KILNRT_CXX_API std::vector<uint8_t> serializeArtifact(const Artifact &artifact);
KILNRT_CXX_API bool deserializeArtifact(const uint8_t *data, size_t size, Artifact &out,
                                        std::string &error);
/// The same, naming the artifact in messages ("artifact 'NAME' is truncated: ...") and saying
/// what kind of failure it was.
KILNRT_CXX_API bool deserializeArtifact(const uint8_t *data, size_t size, Artifact &out,
                                        std::string &error, const std::string &name,
                                        ArtifactErrorKind *kind);
/// Writes to a temporary file next to `path`, then renames it: never half-written.
KILNRT_CXX_API bool writeArtifactFile(const std::string &path, const Artifact &artifact,
                                      std::string &error);
KILNRT_CXX_API bool readArtifactFile(const std::string &path, Artifact &out, std::string &error);
KILNRT_CXX_API bool readArtifactFile(const std::string &path, Artifact &out, std::string &error,
                                     ArtifactErrorKind *kind);

/// The 64-bit checksum of the format (XXH64, seed 0).
KILNRT_CXX_API uint64_t artifactChecksum(const uint8_t *data, size_t size);

//===-- Standalone binaries: an artifact appended to a stub executable or library ----------===//

/// Trailer after the appended artifact: u64 offset, u64 size (little-endian), then this magic.
constexpr char kEmbeddedMagic[8] = {'K', 'I', 'L', 'N', 'E', 'X', 'E', '1'};
constexpr size_t kEmbeddedTrailerSize = 24;

/// Copies the stub to `outPath`, appends the artifact and the trailer, sets mode 0755; written
/// to a temporary file and renamed.
KILNRT_CXX_API bool appendArtifactToStub(const std::string &stubPath,
                                         const std::vector<uint8_t> &artifact,
                                         const std::string &outPath, std::string &error);
/// Reads the artifact appended to `binaryPath` (by appendArtifactToStub).
KILNRT_CXX_API bool findEmbeddedArtifact(const std::string &binaryPath, std::vector<uint8_t> &artifact,
                                         std::string &error);

//===-- Small helpers shared by the runtime and its tools ------------------------------------===//

/// Reads a whole file; false with "cannot read 'PATH': REASON".
KILNRT_CXX_API bool readFileBytes(const std::string &path, std::vector<uint8_t> &bytes,
                                  std::string &error);
/// Writes `size` bytes to a temporary file next to `path` and renames it (mode & ~umask).
KILNRT_CXX_API bool writeFileAtomically(const std::string &path, const void *data, size_t size,
                                        unsigned mode, std::string &error);
/// "1.2 GiB", "512 MiB", "37 bytes".
KILNRT_CXX_API std::string formatBytes(uint64_t bytes);

} // namespace kilnrt

#endif // KILNRT_ARTIFACT_H
