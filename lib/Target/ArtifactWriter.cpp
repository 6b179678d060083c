//===- ArtifactWriter.cpp - launch plan + PTX -> runtime artifact ---------===//

#include "kiln/Target/ArtifactWriter.h"

#include "kiln/Conversion/KilnToGPU/HostPlan.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/TensorAttr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace kiln::gpu_codegen;
using kilnrt::Expr;

namespace kiln {

FailureOr<std::string> getKernelPtx(ModuleOp module) {
  auto binary = module.lookupSymbol<gpu::BinaryOp>("kiln_kernels");
  if (!binary)
    return module.emitError() << "no gpu.binary @kiln_kernels: run kiln-gpu-to-ptx first";
  for (Attribute attr : binary.getObjects()) {
    auto object = dyn_cast<gpu::ObjectAttr>(attr);
    if (object && object.getFormat() == gpu::CompilationTarget::Assembly)
      return object.getObject().str();
  }
  return binary.emitError() << "gpu.binary @kiln_kernels holds no PTX (use format=isa)";
}

static std::optional<kilnrt::DType> getDType(Type type) {
  using kilnrt::DType;
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isF64())
    return DType::F64;
  if (type.isInteger(1))
    return DType::Bool;
  if (auto integer = dyn_cast<IntegerType>(type)) {
    bool isUnsigned = integer.isUnsigned();
    switch (integer.getWidth()) {
    case 8:
      return isUnsigned ? DType::U8 : DType::I8;
    case 16:
      return isUnsigned ? DType::U16 : DType::I16;
    case 32:
      return isUnsigned ? DType::U32 : DType::I32;
    case 64:
      return isUnsigned ? DType::U64 : DType::I64;
    default:
      return std::nullopt;
    }
  }
  return std::nullopt;
}

namespace {
/// Builds the artifact's tables while walking the plan.
class ArtifactBuilder {
public:
  ArtifactBuilder(func::FuncOp function, const PlanSymbols &symbols, kilnrt::Artifact &artifact)
      : function(function), symbols(symbols), artifact(artifact) {}

  /// The buffer of host tensor `value` (through views and casts).
  FailureOr<uint32_t> bufferOf(Value value) {
    Value root = getBufferRoot(value);
    auto it = buffers.find(root);
    if (it != buffers.end())
      return it->second;
    if (auto constant = root.getDefiningOp<ConstantOp>())
      return addWeights(constant);
    return emitError(value.getLoc()) << "internal error: a tensor of the plan has no buffer";
  }

  void addArena(Value root, int64_t offset, int64_t bytes) {
    buffers[root] = artifact.buffers.size();
    artifact.buffers.push_back({kilnrt::Buffer::Kind::Arena, static_cast<uint64_t>(offset),
                                static_cast<uint64_t>(bytes)});
  }

  FailureOr<uint32_t> addWeights(ConstantOp constant) {
    // Identical constants (the same attribute) share one copy.
    auto known = weightsByAttr.find(constant.getValue());
    if (known != weightsByAttr.end()) {
      buffers[constant.getResult()] = known->second;
      return known->second;
    }
    llvm::Expected<exec::Tensor> tensor = exec::tensorFromElements(constant.getValue());
    if (!tensor)
      return constant.emitError() << "cannot write this constant into the artifact: "
                                  << llvm::toString(tensor.takeError());
    std::vector<char> bytes = tensor->toBytes();
    uint64_t offset = llvm::alignTo(artifact.weights.size(), 256);
    artifact.weights.resize(offset + bytes.size());
    std::memcpy(artifact.weights.data() + offset, bytes.data(), bytes.size());
    uint32_t index = artifact.buffers.size();
    artifact.buffers.push_back({kilnrt::Buffer::Kind::Weights, offset,
                                std::max<uint64_t>(bytes.size(), 1)});
    buffers[constant.getResult()] = index;
    weightsByAttr[constant.getValue()] = index;
    return index;
  }

  FailureOr<kilnrt::TensorBinding> binding(Value value, std::string name) {
    auto type = cast<RankedTensorType>(value.getType());
    std::optional<kilnrt::DType> dtype = getDType(type.getElementType());
    if (!dtype)
      return emitError(value.getLoc()) << "element type " << type.getElementType()
                                       << " has no runtime dtype";
    FailureOr<std::vector<Expr>> dims = buildTensorDims(value, symbols);
    FailureOr<uint32_t> buffer = bufferOf(value);
    if (failed(dims) || failed(buffer))
      return failure();
    return kilnrt::TensorBinding{std::move(name), *dtype, std::move(*dims), *buffer};
  }

  uint32_t kernelIndex(StringRef name) {
    auto [it, inserted] = kernelIndices.try_emplace(name, artifact.kernels.size());
    if (inserted)
      artifact.kernels.push_back(name.str());
    return it->second;
  }

private:
  func::FuncOp function;
  const PlanSymbols &symbols;
  kilnrt::Artifact &artifact;
  llvm::DenseMap<Value, uint32_t> buffers;
  llvm::DenseMap<Attribute, uint32_t> weightsByAttr;
  llvm::StringMap<uint32_t> kernelIndices;
};
} // namespace

static std::string getLaunchName(LaunchOp launch) {
  std::string name = launch.getKernel().getLeafReference().str();
  if (auto loc = dyn_cast<NameLoc>(launch.getLoc()))
    name += " (" + loc.getName().str() + ")";
  else if (auto fused = dyn_cast<FusedLoc>(launch.getLoc()))
    for (Location inner : fused.getLocations())
      if (auto named = dyn_cast<NameLoc>(inner)) {
        name += " (" + named.getName().str() + ")";
        break;
      }
  return name;
}

FailureOr<kilnrt::Artifact> buildArtifact(ModuleOp module, std::string ptx,
                                          std::vector<uint8_t> cubin, StringRef producer) {
  func::FuncOp function;
  for (auto candidate : module.getOps<func::FuncOp>())
    if (candidate->hasAttr("kiln.arena_size"))
      function = candidate;
  if (!function)
    return module.emitError() << "no launch plan with a memory plan (run kiln-lower-to-gpu "
                                 "and kiln-plan-memory)";
  FailureOr<PlanSymbols> symbols = collectPlanSymbols(function);
  if (failed(symbols))
    return failure();

  kilnrt::Artifact artifact;
  if (auto target = function->getAttrOfType<StringAttr>("kiln.target"))
    artifact.target = target.str();
  if (auto precision = function->getAttrOfType<StringAttr>("kiln.precision"))
    artifact.precision = precision.str();
  artifact.producer = producer.str();
  artifact.ptx = std::move(ptx);
  artifact.cubin = std::move(cubin);
  artifact.arenaBytes = function->getAttrOfType<IntegerAttr>("kiln.arena_size").getInt();
  for (const PlanSymbol &symbol : symbols->symbols)
    artifact.symbols.push_back({symbol.name, symbol.argument, symbol.dim, symbol.maxValue});

  ArtifactBuilder builder(function, *symbols, artifact);
  for (BlockArgument argument : function.getArguments()) {
    auto offset = function.getArgAttrOfType<IntegerAttr>(argument.getArgNumber(),
                                                         "kiln.arena_offset");
    auto bytes = function.getArgAttrOfType<IntegerAttr>(argument.getArgNumber(),
                                                        "kiln.arena_bytes");
    if (!offset || !bytes)
      return function.emitError() << "argument " << argument.getArgNumber()
                                  << " has no arena offset (run kiln-plan-memory)";
    builder.addArena(argument, offset.getInt(), bytes.getInt());
    auto name = function.getArgAttrOfType<StringAttr>(argument.getArgNumber(), "kiln.name");
    FailureOr<kilnrt::TensorBinding> input = builder.binding(
        argument, name ? name.str() : "input" + std::to_string(argument.getArgNumber()));
    if (failed(input))
      return failure();
    artifact.inputs.push_back(std::move(*input));
  }

  for (Operation &op : function.getBody().front()) {
    auto launch = dyn_cast<LaunchOp>(op);
    if (!launch)
      continue;
    auto offsets = launch->getAttrOfType<DenseI64ArrayAttr>("kiln.arena_offsets");
    auto sizes = launch->getAttrOfType<DenseI64ArrayAttr>("kiln.arena_bytes");
    if (!offsets || !sizes || offsets.size() != static_cast<int64_t>(launch.getNumResults()))
      return launch.emitError() << "launch has no arena offsets (run kiln-plan-memory)";
    for (auto [i, result] : llvm::enumerate(launch.getResults()))
      builder.addArena(result, offsets[i], sizes[i]);

    kilnrt::Launch entry;
    entry.name = getLaunchName(launch);
    entry.kernel = builder.kernelIndex(launch.getKernel().getLeafReference());
    Value grid[3] = {launch.getGridX(), launch.getGridY(), launch.getGridZ()};
    for (int i = 0; i < 3; ++i) {
      FailureOr<Expr> size = buildHostExpr(grid[i], *symbols, launch);
      if (failed(size))
        return failure();
      entry.grid[i] = *size;
      entry.block[i] = launch.getBlock()[i];
    }
    entry.sharedBytes = launch.getSharedMemory();
    auto addBuffer = [&](Value value) -> LogicalResult {
      FailureOr<uint32_t> buffer = builder.bufferOf(value);
      if (failed(buffer))
        return failure();
      kilnrt::KernelArg arg;
      arg.kind = kilnrt::KernelArg::Kind::Buffer;
      arg.buffer = *buffer;
      Type element = cast<RankedTensorType>(value.getType()).getElementType();
      std::optional<kilnrt::DType> dtype = getDType(element.isInteger(1)
                                                        ? IntegerType::get(element.getContext(), 8)
                                                        : element);
      if (!dtype)
        return launch.emitError() << "element type " << element << " has no runtime dtype";
      arg.dtype = *dtype;
      entry.args.push_back(std::move(arg));
      return success();
    };
    for (Value input : launch.getInputs())
      if (failed(addBuffer(input)))
        return failure();
    for (Value result : launch.getResults())
      if (failed(addBuffer(result)))
        return failure();
    for (Value scalar : launch.getScalars()) {
      FailureOr<Expr> value = buildHostExpr(scalar, *symbols, launch);
      if (failed(value))
        return failure();
      kilnrt::KernelArg arg;
      arg.kind = kilnrt::KernelArg::Kind::Scalar;
      arg.scalar = *value;
      entry.args.push_back(std::move(arg));
    }
    artifact.launches.push_back(std::move(entry));
  }

  Operation *terminator = function.getBody().front().getTerminator();
  for (auto [i, value] : llvm::enumerate(terminator->getOperands())) {
    auto name = function.getResultAttrOfType<StringAttr>(i, "kiln.name");
    FailureOr<kilnrt::TensorBinding> output =
        builder.binding(value, name ? name.str() : "output" + std::to_string(i));
    if (failed(output))
      return failure();
    artifact.outputs.push_back(std::move(*output));
  }

  std::string error;
  if (!kilnrt::validateArtifact(artifact, error))
    return module.emitError() << "internal error: the artifact is inconsistent: " << error;
  return artifact;
}

} // namespace kiln
