//===- CpuExecutor.h - Reference interpreter of kiln IR ---------*- C++ -*-===//
//
// The CPU reference executor interprets a func.func of kiln ops, op by op, with ONNX semantics
// and float32 math. It is the numerical oracle of the test suite: outputs before and after every
// pass must agree with it. It is an interpreter rather than a compiled path so that it depends on
// nothing but the IR and stays obviously correct; speed is not its job.
//
// Errors (unsupported op, shape mismatch at run time, out of memory) are reported as MLIR
// diagnostics at the failing op's location, which the importer sets to the ONNX node's name.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_EXECUTOR_CPUEXECUTOR_H
#define KILN_EXECUTOR_CPUEXECUTOR_H

#include "kiln/Dialect/Kiln/IR/KilnTypes.h"
#include "kiln/Executor/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>
#include <unordered_map>

namespace kiln::exec {

/// Decoded constants shared by several runs of one module's functions: kiln.constant looks its
/// attribute up here instead of decoding it again (the weights: megabytes per run, which
/// dominate a decode step of generation). Sharing is safe because kernels never write their
/// inputs (an in-place update takes only a buffer no other tensor shares). Attributes are keyed
/// by identity, so a cache must not outlive the MLIRContext of the module it serves.
class ConstantCache {
public:
  const Tensor *lookup(mlir::Attribute value) const {
    auto it = tensors.find(value);
    return it == tensors.end() ? nullptr : &it->second;
  }
  void insert(mlir::Attribute value, Tensor tensor) { tensors[value] = std::move(tensor); }

private:
  llvm::DenseMap<mlir::Attribute, Tensor> tensors;
};

/// The values computed so far in one region being interpreted.
class ExecutionContext {
public:
  /// Decoded constants to reuse across runs, or null (decode each constant per run).
  ConstantCache *getConstantCache() const { return constants; }
  void setConstantCache(ConstantCache *cache) { constants = cache; }

  /// The tensor computed for `value`; asserts that it exists.
  const Tensor &get(mlir::Value value) const;
  /// The tensor for an optional operand; nullptr when `value` is null (operand absent).
  const Tensor *getOptional(mlir::Value value) const;
  void set(mlir::Value value, Tensor tensor);
  bool contains(mlir::Value value) const { return values.count(value); }

  /// Moves the tensor of `value` out of the context when `user` (an op of the interpreted
  /// block, or nested in one) is its last use: every other use is in an op that ran before
  /// `user`, and `user` uses it once. Returns std::nullopt, leaving the tensor, otherwise.
  std::optional<Tensor> takeAtLastUse(mlir::Value value, mlir::Operation *user);
  /// The tensor of `value` for `user` to update in place and return as its result (value
  /// semantics kept): the tensor itself when `user` is its last use and no other tensor shares
  /// its buffer (a KV cache threaded from write to write), else a deep copy.
  Tensor takeForUpdate(mlir::Value value, mlir::Operation *user);

private:
  struct ValueHash {
    size_t operator()(mlir::Value value) const { return mlir::hash_value(value); }
  };
  // Node-based: kernels hold references from get() while they set() their results, and a
  // rehash must not move the tensors under them.
  std::unordered_map<mlir::Value, Tensor, ValueHash> values;
  ConstantCache *constants = nullptr;
};

/// Computes the results of `op` from ctx.get(operand) and stores them with ctx.set(result).
/// On failure it emits a diagnostic on `op` (op->emitOpError(...)) and returns failure().
using Kernel = std::function<mlir::LogicalResult(mlir::Operation *op, ExecutionContext &ctx)>;

/// Kernels by operation name ("kiln.onnx.Add").
class KernelRegistry {
public:
  void add(llvm::StringRef opName, Kernel kernel);
  const Kernel *lookup(llvm::StringRef opName) const;
  bool contains(llvm::StringRef opName) const { return kernels.count(opName); }

private:
  llvm::StringMap<Kernel> kernels;
};

// One function per kernel family (one source file each).
void registerConstantKernels(KernelRegistry &registry);
void registerElementwiseKernels(KernelRegistry &registry);
void registerReductionKernels(KernelRegistry &registry);
void registerMatMulKernels(KernelRegistry &registry);
void registerShapeKernels(KernelRegistry &registry);
void registerIndexingKernels(KernelRegistry &registry);
void registerNormalizationKernels(KernelRegistry &registry);
void registerAttentionKernels(KernelRegistry &registry);
void registerTransformerKernels(KernelRegistry &registry);
void registerKVCacheKernels(KernelRegistry &registry);

/// The registry with every kernel family above.
const KernelRegistry &getDefaultKernelRegistry();

/// Runs `function` on `inputs` (bound to its arguments in order). Checks that every input's
/// dtype and static dims match the argument type, that symbolic dims with the same name
/// (`kiln.dim_params` argument attributes) get the same size, and that every result matches its
/// declared type. Returns the function's results, or failure after emitting a diagnostic.
/// `constants`, when given, keeps decoded constants for later runs (see ConstantCache).
/// A `!kiln.kv_cache` argument takes a tensor of getKVCacheShape (with 1 to max_batch slots).
mlir::FailureOr<llvm::SmallVector<Tensor>> runFunction(mlir::func::FuncOp function,
                                                       llvm::ArrayRef<Tensor> inputs,
                                                       ConstantCache *constants = nullptr);

/// As runFunction, but takes the inputs over instead of sharing their buffers with the caller: a
/// KV cache passed in (moved) and returned is then updated in place, not copied once per call.
mlir::FailureOr<llvm::SmallVector<Tensor>>
runFunctionTakingInputs(mlir::func::FuncOp function, llvm::SmallVector<Tensor> inputs,
                        ConstantCache *constants = nullptr);

/// The shape of a `!kiln.kv_cache` value in the executor: a tensor of the cache's element type
/// holding its slot-major layout, `[slots, layers, 2, kv_heads, max_seq, head_dim]` (K then V).
/// `slots` is the type's max_batch for kiln.kv_cache.create; a cache passed to an entry function
/// may hold fewer (slot-major, as a runtime allocates only the sequences it runs), and slots at
/// or past its dim 0 are out of range.
llvm::SmallVector<int64_t, 6> getKVCacheShape(kiln::KVCacheType type, int64_t slots);
/// A zero-filled (empty) cache of `slots` slots (the type's max_batch when omitted).
Tensor createKVCache(kiln::KVCacheType type, std::optional<int64_t> slots = std::nullopt);

/// Interprets the ops of `block` (terminator excluded) in order, reading and writing `ctx`.
/// Used by runFunction and by the region-holding ops (kiln.layer, kiln.layer_group).
mlir::LogicalResult runBlock(mlir::Block &block, ExecutionContext &ctx);

/// Computes the results of one op from operand tensors (for constant folding). Diagnostics
/// go to the context's handlers; callers that fold silently install a handler that drops them.
/// Fails when the op has no kernel, the kernel fails, or a result does not match its type.
mlir::FailureOr<llvm::SmallVector<Tensor>> evaluateOp(mlir::Operation *op,
                                                      llvm::ArrayRef<Tensor> operands);

/// Whether the executor has a kernel for the operation name (for "which ops are supported").
bool hasKernel(llvm::StringRef opName);

} // namespace kiln::exec

#endif // KILN_EXECUTOR_CPUEXECUTOR_H
