//===- CpuExecutor.cpp - Reference interpreter of kiln IR -----------------===//
//
// The interpreter loop: binds a function's inputs, runs its ops one kernel at a time, checks
// every computed tensor against the type the IR declares for it, and runs the structure ops
// (kiln.layer, kiln.layer_group) by interpreting their bodies.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>
#include <new>
#include <stdexcept>

using namespace mlir;
using namespace kiln::exec;

//===----------------------------------------------------------------------===//
// ExecutionContext and KernelRegistry
//===----------------------------------------------------------------------===//

const Tensor &ExecutionContext::get(Value value) const {
  auto it = values.find(value);
  assert(it != values.end() && "no tensor computed for this value");
  return it->second;
}

const Tensor *ExecutionContext::getOptional(Value value) const {
  if (!value)
    return nullptr;
  return &get(value);
}

void ExecutionContext::set(Value value, Tensor tensor) { values[value] = std::move(tensor); }

/// Whether `user` is the last use of `value` in the order the interpreter runs ops: it uses
/// the value once, and every other use is in (or nested in) an op of its block before it.
static bool isLastUse(Value value, Operation *user) {
  Block *block = user->getBlock();
  unsigned usesByUser = 0;
  for (OpOperand &use : value.getUses()) {
    if (use.getOwner() == user) {
      ++usesByUser;
      continue;
    }
    Operation *ancestor = block ? block->findAncestorOpInBlock(*use.getOwner()) : nullptr;
    if (!ancestor || ancestor == user || !ancestor->isBeforeInBlock(user))
      return false;
  }
  return usesByUser == 1;
}

std::optional<Tensor> ExecutionContext::takeAtLastUse(Value value, Operation *user) {
  auto it = values.find(value);
  if (it == values.end() || !isLastUse(value, user))
    return std::nullopt;
  Tensor tensor = std::move(it->second);
  values.erase(it);
  return tensor;
}

Tensor ExecutionContext::takeForUpdate(Value value, Operation *user) {
  // Checking the buffer first keeps the use walk off the common path of a shared value.
  auto it = values.find(value);
  assert(it != values.end() && "no tensor computed for this value");
  if (it->second.hasExclusiveBuffer())
    if (std::optional<Tensor> taken = takeAtLastUse(value, user))
      return std::move(*taken);
  return it->second.clone();
}

void KernelRegistry::add(StringRef opName, Kernel kernel) { kernels[opName] = std::move(kernel); }

const Kernel *KernelRegistry::lookup(StringRef opName) const {
  auto it = kernels.find(opName);
  return it == kernels.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// Checking tensors against declared types
//===----------------------------------------------------------------------===//

SmallVector<int64_t, 6> kiln::exec::getKVCacheShape(kiln::KVCacheType type, int64_t slots) {
  return {slots,           type.getLayers(), 2, type.getKvHeads(),
          type.getMaxSeq(), type.getHeadDim()};
}

Tensor kiln::exec::createKVCache(kiln::KVCacheType type, std::optional<int64_t> slots) {
  std::optional<DType> dtype = getDTypeOf(type.getElementType());
  assert(dtype && "kv_cache element types are float types");
  return Tensor::zeros(*dtype, getKVCacheShape(type, slots.value_or(type.getMaxBatch())));
}

/// Whether `tensor` holds a `!kiln.kv_cache` of `type`: its element type and layout, with one
/// to max_batch slots.
static bool matchesCacheType(const Tensor &tensor, kiln::KVCacheType type) {
  std::optional<DType> dtype = getDTypeOf(type.getElementType());
  if (!dtype || *dtype != tensor.getDType() || tensor.getRank() != 6)
    return false;
  int64_t slots = tensor.getShape()[0];
  return slots >= 1 && slots <= type.getMaxBatch() &&
         tensor.getShape() == ArrayRef<int64_t>(getKVCacheShape(type, slots));
}

/// Whether `tensor` has the element type, rank and static dims of `type`.
static bool matchesType(const Tensor &tensor, Type type) {
  if (auto cache = dyn_cast<kiln::KVCacheType>(type))
    return matchesCacheType(tensor, cache);
  auto tensorType = dyn_cast<TensorType>(type);
  if (!tensorType)
    return false;
  std::optional<DType> dtype = getDTypeOf(tensorType.getElementType());
  if (!dtype || *dtype != tensor.getDType())
    return false;
  auto ranked = dyn_cast<RankedTensorType>(tensorType);
  if (!ranked)
    return true;
  if (ranked.getRank() != tensor.getRank())
    return false;
  for (auto [declared, actual] : llvm::zip_equal(ranked.getShape(), tensor.getShape()))
    if (!ShapedType::isDynamic(declared) && declared != actual)
      return false;
  return true;
}

/// The type as IR spells it; streaming a Type into a diagnostic would quote it.
static std::string formatType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

//===----------------------------------------------------------------------===//
// Structure ops
//===----------------------------------------------------------------------===//

/// Runs a kiln.layer or kiln.layer_group: both are isolated from above with their operands bound
/// to the body's arguments and their results given by the body's kiln.yield.
static LogicalResult runIsolatedRegionOp(Operation *op, ExecutionContext &ctx) {
  Block &body = op->getRegion(0).front();
  if (body.getNumArguments() != op->getNumOperands())
    return op->emitOpError() << "body has " << body.getNumArguments() << " arguments for "
                             << op->getNumOperands() << " operands";
  ExecutionContext bodyContext;
  bodyContext.setConstantCache(ctx.getConstantCache());
  for (auto [argument, operand] : llvm::zip_equal(body.getArguments(), op->getOperands())) {
    const Tensor &tensor = ctx.get(operand);
    if (!matchesType(tensor, argument.getType()))
      return op->emitOpError() << "body argument #" << argument.getArgNumber() << " has type "
                               << formatType(argument.getType()) << " but receives "
                               << tensor.describe();
  }
  // An operand used for the last time here moves into the body, so that the body may update
  // it in place (a KV cache threaded through the layers); others are shared.
  for (auto [argument, operand] : llvm::zip_equal(body.getArguments(), op->getOperands())) {
    if (std::optional<Tensor> taken = ctx.takeAtLastUse(operand, op))
      bodyContext.set(argument, std::move(*taken));
    else
      bodyContext.set(argument, ctx.get(operand));
  }
  if (failed(runBlock(body, bodyContext)))
    return failure();
  Operation *terminator = body.getTerminator();
  if (terminator->getNumOperands() != op->getNumResults())
    return op->emitOpError() << "body yields " << terminator->getNumOperands() << " values for "
                             << op->getNumResults() << " results";
  for (auto [result, yielded] : llvm::zip_equal(op->getResults(), terminator->getOperands()))
    ctx.set(result, bodyContext.get(yielded));
  return success();
}

static void registerStructureKernels(KernelRegistry &registry) {
  registry.add(kiln::LayerOp::getOperationName(), runIsolatedRegionOp);
  registry.add(kiln::LayerGroupOp::getOperationName(), runIsolatedRegionOp);
}

const KernelRegistry &kiln::exec::getDefaultKernelRegistry() {
  static const KernelRegistry registry = [] {
    KernelRegistry kernels;
    registerConstantKernels(kernels);
    registerElementwiseKernels(kernels);
    registerReductionKernels(kernels);
    registerMatMulKernels(kernels);
    registerShapeKernels(kernels);
    registerIndexingKernels(kernels);
    registerNormalizationKernels(kernels);
    registerAttentionKernels(kernels);
    registerTransformerKernels(kernels);
    registerKVCacheKernels(kernels);
    registerStructureKernels(kernels);
    return kernels;
  }();
  return registry;
}

bool kiln::exec::hasKernel(StringRef opName) { return getDefaultKernelRegistry().contains(opName); }

//===----------------------------------------------------------------------===//
// runBlock
//===----------------------------------------------------------------------===//

/// Runs `kernel`, turning an allocation failure (or any other exception) into a diagnostic: a
/// model too large for the host must fail with a message, not take the process down.
static LogicalResult runKernel(const Kernel &kernel, Operation *op, ExecutionContext &ctx) {
  try {
    return kernel(op, ctx);
  } catch (const std::bad_alloc &) {
    return op->emitOpError() << "ran out of host memory while computing its results";
  } catch (const std::length_error &) {
    return op->emitOpError() << "ran out of host memory while computing its results (a buffer "
                                "exceeds the largest allocatable size)";
  } catch (const std::exception &error) {
    // A kernel bug must not take down the test run that uses the executor as its oracle.
    return op->emitOpError() << "CPU kernel failed: " << error.what();
  }
}

/// Checks that the kernel produced every result with its declared type.
static LogicalResult checkResults(Operation *op, const ExecutionContext &ctx) {
  for (OpResult result : op->getResults()) {
    std::string prefix;
    if (op->getNumResults() > 1)
      prefix = "result #" + std::to_string(result.getResultNumber()) + ": ";
    if (!ctx.contains(result))
      return op->emitOpError() << prefix << "the CPU kernel computed no value";
    const Tensor &tensor = ctx.get(result);
    if (!matchesType(tensor, result.getType()))
      return op->emitOpError() << prefix << "CPU executor computed " << tensor.describe()
                               << " but the result type is " << formatType(result.getType());
  }
  return success();
}

LogicalResult kiln::exec::runBlock(Block &block, ExecutionContext &ctx) {
  const KernelRegistry &registry = getDefaultKernelRegistry();
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      continue;
    const Kernel *kernel = registry.lookup(op.getName().getStringRef());
    if (!kernel)
      return op.emitOpError() << "is not supported by the CPU executor";
    for (OpOperand &operand : op.getOpOperands())
      if (!ctx.contains(operand.get()))
        return op.emitOpError() << "operand #" << operand.getOperandNumber()
                                << " has no value in the interpreted region";
    if (failed(runKernel(*kernel, &op, ctx)) || failed(checkResults(&op, ctx)))
      return failure();
  }
  return success();
}

FailureOr<SmallVector<Tensor>> kiln::exec::evaluateOp(Operation *op, ArrayRef<Tensor> operands) {
  const Kernel *kernel = getDefaultKernelRegistry().lookup(op->getName().getStringRef());
  if (!kernel || operands.size() != op->getNumOperands())
    return failure();
  ExecutionContext ctx;
  for (auto [value, tensor] : llvm::zip_equal(op->getOperands(), operands))
    ctx.set(value, tensor);
  if (failed(runKernel(*kernel, op, ctx)) || failed(checkResults(op, ctx)))
    return failure();
  SmallVector<Tensor> results;
  for (Value result : op->getResults())
    results.push_back(ctx.get(result));
  return results;
}

//===----------------------------------------------------------------------===//
// runFunction
//===----------------------------------------------------------------------===//

namespace {

/// Sizes bound to the symbolic dims (`kiln.dim_params`) of a function's inputs and outputs.
class DimBindings {
public:
  /// Binds the named dims of `tensor`, or reports on `function` a size that disagrees with an
  /// earlier binding. `what` names the value ("input #0 ('ids')").
  LogicalResult bind(func::FuncOp function, ArrayAttr dimParams, const Tensor &tensor,
                     const std::string &what) {
    if (!dimParams)
      return success();
    if (static_cast<int64_t>(dimParams.size()) != tensor.getRank())
      return function.emitError() << what << " has kiln.dim_params with " << dimParams.size()
                                  << " entries for rank " << tensor.getRank();
    for (auto [dim, param] : llvm::enumerate(dimParams)) {
      auto name = dyn_cast<StringAttr>(param);
      if (!name)
        return function.emitError() << what << " has a kiln.dim_params entry that is not a "
                                    << "string: " << param;
      if (name.getValue().empty())
        continue;
      int64_t size = tensor.getShape()[dim];
      std::string here = what + " dim " + std::to_string(dim);
      auto [it, inserted] = bindings.try_emplace(name.getValue(), Binding{size, here});
      if (!inserted && it->second.size != size)
        return function.emitError()
               << "symbolic dim '" << name.getValue() << "' is " << it->second.size << " in "
               << it->second.where << " but " << size << " in " << here;
    }
    return success();
  }

private:
  struct Binding {
    int64_t size;
    std::string where;
  };
  llvm::StringMap<Binding> bindings;
};

} // namespace

/// "input #1 ('attention_mask')", or "input #1" without a kiln.name.
static std::string describeValue(StringRef kind, unsigned index, StringAttr name) {
  std::string text = kind.str() + " #" + std::to_string(index);
  if (name)
    text += " ('" + name.getValue().str() + "')";
  return text;
}

/// runFunction's body; `inputs` are moved from when `takeInputs`.
static FailureOr<SmallVector<Tensor>> runFunctionImpl(func::FuncOp function,
                                                      MutableArrayRef<Tensor> inputs,
                                                      bool takeInputs,
                                                      ConstantCache *constants) {
  if (function.isExternal())
    return function.emitError() << "cannot run a function without a body";
  if (!function.getBody().hasOneBlock())
    return function.emitError() << "the CPU executor runs single-block functions only";
  Block &entry = function.front();
  if (inputs.size() != entry.getNumArguments())
    return function.emitError() << "expects " << entry.getNumArguments() << " inputs, got "
                                << inputs.size();

  DimBindings dims;
  ExecutionContext ctx;
  ctx.setConstantCache(constants);
  for (auto [index, argument] : llvm::enumerate(entry.getArguments())) {
    Tensor &input = inputs[index];
    std::string what =
        describeValue("input", index, function.getArgAttrOfType<StringAttr>(index, "kiln.name"));
    if (input.isNull())
      return function.emitError() << what << " is an empty Tensor";
    if (!matchesType(input, argument.getType()))
      return function.emitError() << what << " is " << input.describe()
                                  << " but the argument type is " << formatType(argument.getType());
    if (failed(dims.bind(function, function.getArgAttrOfType<ArrayAttr>(index, "kiln.dim_params"),
                         input, what)))
      return failure();
    ctx.set(argument, takeInputs ? std::move(inputs[index]) : input);
  }

  if (failed(runBlock(entry, ctx)))
    return failure();

  Operation *terminator = entry.getTerminator();
  ArrayRef<Type> resultTypes = function.getResultTypes();
  if (terminator->getNumOperands() != resultTypes.size())
    return function.emitError() << "returns " << terminator->getNumOperands()
                                << " values but declares " << resultTypes.size() << " results";
  SmallVector<Tensor> results;
  for (auto [index, returned] : llvm::enumerate(terminator->getOperands())) {
    const Tensor &result = ctx.get(returned);
    std::string what = describeValue("result", index,
                                     function.getResultAttrOfType<StringAttr>(index, "kiln.name"));
    if (!matchesType(result, resultTypes[index]))
      return function.emitError() << what << ": CPU executor computed " << result.describe()
                                  << " but the result type is " << formatType(resultTypes[index]);
    if (failed(dims.bind(function,
                         function.getResultAttrOfType<ArrayAttr>(index, "kiln.dim_params"), result,
                         what)))
      return failure();
    results.push_back(result);
  }
  return results;
}

FailureOr<SmallVector<Tensor>> kiln::exec::runFunction(func::FuncOp function,
                                                       ArrayRef<Tensor> inputs,
                                                       ConstantCache *constants) {
  // Copies share the buffers: the callers' tensors are never written.
  SmallVector<Tensor> shared(inputs.begin(), inputs.end());
  return runFunctionImpl(function, shared, /*takeInputs=*/false, constants);
}

FailureOr<SmallVector<Tensor>> kiln::exec::runFunctionTakingInputs(func::FuncOp function,
                                                                   SmallVector<Tensor> inputs,
                                                                   ConstantCache *constants) {
  return runFunctionImpl(function, inputs, /*takeInputs=*/true, constants);
}
