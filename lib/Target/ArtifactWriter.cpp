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
/// Builds the artifact's tables while walking the plans of its entries. Weights and kernels are
/// shared by the entries; every entry has its own arena buffers (entries never run at once).
class ArtifactBuilder {
public:
  explicit ArtifactBuilder(kilnrt::Artifact &artifact) : artifact(artifact) {}

  void setSymbols(const PlanSymbols &entrySymbols) { symbols = &entrySymbols; }

  /// The buffer of host tensor `value` (through views, casts and in-place results).
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

  /// The KV cache argument `root` of layout `cache`: one Cache buffer shared by the entries.
  LogicalResult addCache(Value root, KVCacheType cache) {
    std::optional<kilnrt::DType> dtype = getDType(cache.getElementType());
    if (!dtype)
      return emitError(root.getLoc()) << "KV cache element type " << cache.getElementType()
                                      << " has no runtime dtype";
    kilnrt::KVCacheLayout layout;
    layout.layers = cache.getLayers();
    layout.maxBatch = cache.getMaxBatch();
    layout.kvHeads = cache.getKvHeads();
    layout.maxSeq = cache.getMaxSeq();
    layout.headDim = cache.getHeadDim();
    layout.dtype = *dtype;
    if (!cacheBuffer) {
      cacheLayout = layout;
      cacheBuffer = artifact.buffers.size();
      artifact.buffers.push_back({kilnrt::Buffer::Kind::Cache, 0,
                                  layout.maxBatch * layout.bytesPerSlot()});
    } else if (cacheLayout.layers != layout.layers || cacheLayout.maxBatch != layout.maxBatch ||
               cacheLayout.kvHeads != layout.kvHeads || cacheLayout.maxSeq != layout.maxSeq ||
               cacheLayout.headDim != layout.headDim || cacheLayout.dtype != layout.dtype) {
      return emitError(root.getLoc()) << "the entries use KV caches of different layouts";
    }
    buffers[root] = *cacheBuffer;
    return success();
  }

  FailureOr<uint32_t> addWeights(ConstantOp constant) {
    // Identical constants (the same attribute) share one copy, across entries too.
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
    FailureOr<std::vector<Expr>> dims = buildTensorDims(value, *symbols);
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

  std::optional<uint32_t> getCacheBuffer() const { return cacheBuffer; }
  const kilnrt::KVCacheLayout &getCacheLayout() const { return cacheLayout; }

private:
  const PlanSymbols *symbols = nullptr;
  kilnrt::Artifact &artifact;
  llvm::DenseMap<Value, uint32_t> buffers;
  llvm::DenseMap<Attribute, uint32_t> weightsByAttr;
  llvm::StringMap<uint32_t> kernelIndices;
  std::optional<uint32_t> cacheBuffer;
  kilnrt::KVCacheLayout cacheLayout;
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

/// One entry of the artifact from the planned function `function`.
static FailureOr<kilnrt::Entry> buildEntry(func::FuncOp function, ArtifactBuilder &builder) {
  FailureOr<PlanSymbols> symbols = collectPlanSymbols(function);
  if (failed(symbols))
    return failure();
  builder.setSymbols(*symbols);

  kilnrt::Entry entry;
  entry.name = function.getSymName().str();
  // A prefill gets a new token count on almost every call: capturing a graph each time
  // would cost more than it saves.
  auto kind = function->getAttrOfType<StringAttr>("kiln.entry");
  entry.cudaGraphs = !(kind && kind.getValue() == "prefill");
  for (const PlanSymbol &symbol : symbols->symbols)
    entry.symbols.push_back({symbol.name, symbol.argument, symbol.dim, symbol.maxValue});

  for (BlockArgument argument : function.getArguments()) {
    unsigned index = argument.getArgNumber();
    if (auto cache = function.getArgAttrOfType<TypeAttr>(index, "kiln.kv_cache")) {
      if (failed(builder.addCache(argument, cast<KVCacheType>(cache.getValue()))))
        return failure();
      continue;
    }
    auto offset = function.getArgAttrOfType<IntegerAttr>(index, "kiln.arena_offset");
    auto bytes = function.getArgAttrOfType<IntegerAttr>(index, "kiln.arena_bytes");
    if (!offset || !bytes)
      return function.emitError() << "argument " << index << " of @" << function.getSymName()
                                  << " has no arena offset (run kiln-plan-memory)";
    builder.addArena(argument, offset.getInt(), bytes.getInt());
    auto name = function.getArgAttrOfType<StringAttr>(index, "kiln.name");
    FailureOr<kilnrt::TensorBinding> input =
        builder.binding(argument, name ? name.str() : "input" + std::to_string(index));
    if (failed(input))
      return failure();
    entry.inputs.push_back(std::move(*input));
  }
  // Symbols name inputs by position among the bound inputs: a cache argument before an input
  // would shift them. kiln-lower-to-gpu puts caches after the tensors.
  for (const kilnrt::Symbol &symbol : entry.symbols)
    if (symbol.input >= entry.inputs.size())
      return function.emitError() << "internal error: symbol '" << symbol.name
                                  << "' names argument " << symbol.input
                                  << ", which is no bound input";

  for (Operation &op : function.getBody().front()) {
    auto launch = dyn_cast<LaunchOp>(op);
    if (!launch)
      continue;
    auto offsets = launch->getAttrOfType<DenseI64ArrayAttr>("kiln.arena_offsets");
    auto sizes = launch->getAttrOfType<DenseI64ArrayAttr>("kiln.arena_bytes");
    if (!offsets || !sizes || offsets.size() != static_cast<int64_t>(launch.getNumResults()))
      return launch.emitError() << "launch has no arena offsets (run kiln-plan-memory)";
    for (auto [i, result] : llvm::enumerate(launch.getResults()))
      if (!launch.getTiedInput(i))
        builder.addArena(result, offsets[i], sizes[i]);

    kilnrt::Launch step;
    step.name = getLaunchName(launch);
    step.kernel = builder.kernelIndex(launch.getKernel().getLeafReference());
    Value grid[3] = {launch.getGridX(), launch.getGridY(), launch.getGridZ()};
    for (int i = 0; i < 3; ++i) {
      FailureOr<Expr> size = buildHostExpr(grid[i], *symbols, launch);
      if (failed(size))
        return failure();
      step.grid[i] = *size;
      step.block[i] = launch.getBlock()[i];
    }
    step.sharedBytes = launch.getSharedMemory();
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
      step.args.push_back(std::move(arg));
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
      step.args.push_back(std::move(arg));
    }
    entry.launches.push_back(std::move(step));
  }

  Operation *terminator = function.getBody().front().getTerminator();
  for (auto [i, value] : llvm::enumerate(terminator->getOperands())) {
    auto name = function.getResultAttrOfType<StringAttr>(i, "kiln.name");
    FailureOr<kilnrt::TensorBinding> output =
        builder.binding(value, name ? name.str() : "output" + std::to_string(i));
    if (failed(output))
      return failure();
    entry.outputs.push_back(std::move(*output));
  }
  return entry;
}

FailureOr<kilnrt::Artifact> buildArtifact(ModuleOp module, std::string ptx,
                                          std::vector<uint8_t> cubin, StringRef producer) {
  SmallVector<func::FuncOp> functions;
  for (auto candidate : module.getOps<func::FuncOp>())
    if (candidate->hasAttr("kiln.arena_size"))
      functions.push_back(candidate);
  if (functions.empty())
    return module.emitError() << "no launch plan with a memory plan (run kiln-lower-to-gpu "
                                 "and kiln-plan-memory)";
  // `main` is the default entry.
  std::stable_partition(functions.begin(), functions.end(),
                        [](func::FuncOp function) { return function.getSymName() == "main"; });

  kilnrt::Artifact artifact;
  func::FuncOp first = functions.front();
  if (auto target = first->getAttrOfType<StringAttr>("kiln.target"))
    artifact.target = target.str();
  if (auto precision = first->getAttrOfType<StringAttr>("kiln.precision"))
    artifact.precision = precision.str();
  artifact.producer = producer.str();
  artifact.ptx = std::move(ptx);
  artifact.cubin = std::move(cubin);

  ArtifactBuilder builder(artifact);
  std::optional<uint32_t> prefill, decode;
  for (func::FuncOp function : functions) {
    artifact.arenaBytes =
        std::max<uint64_t>(artifact.arenaBytes,
                           function->getAttrOfType<IntegerAttr>("kiln.arena_size").getInt());
    FailureOr<kilnrt::Entry> entry = buildEntry(function, builder);
    if (failed(entry))
      return failure();
    if (auto kind = function->getAttrOfType<StringAttr>("kiln.entry"))
      (kind.getValue() == "prefill" ? prefill : decode) = artifact.entries.size();
    artifact.entries.push_back(std::move(*entry));
  }

  if (prefill || decode) {
    if (!prefill || !decode || !builder.getCacheBuffer())
      return module.emitError() << "a generation artifact needs a prefill and a decode entry "
                                   "sharing a KV cache (run kiln-kv-cache)";
    kilnrt::Generation generation;
    generation.cache = builder.getCacheLayout();
    generation.cacheBuffer = *builder.getCacheBuffer();
    generation.prefillEntry = *prefill;
    generation.decodeEntry = *decode;
    const kilnrt::Entry &decodeEntry = artifact.entries[*decode];
    int64_t vocab = 0;
    if (decodeEntry.outputs.empty() || decodeEntry.outputs[0].dims.size() != 3 ||
        !decodeEntry.outputs[0].dims[2].isConstant(&vocab))
      return module.emitError() << "the decode entry's first result is not logits [1, tokens, "
                                   "vocab] with a static vocab";
    generation.vocabSize = vocab;
    artifact.generation = generation;
  }

  std::string error;
  if (!kilnrt::validateArtifact(artifact, error))
    return module.emitError() << "internal error: the artifact is inconsistent: " << error;
  return artifact;
}

} // namespace kiln
