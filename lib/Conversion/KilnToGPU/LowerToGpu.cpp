//===- LowerToGpu.cpp - kiln-lower-to-gpu ---------------------------------===//

#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "../../Dialect/Kiln/Transforms/SymbolicShapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNLOWERTOGPUPASS
#include "kiln/Conversion/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::gpu_codegen;

namespace {

/// The symbol name of dynamic dim `dim` of `argument`: its `kiln.dim_params` entry, else
/// "<input name>.dim<N>".
std::string getDimName(func::FuncOp entry, BlockArgument argument, unsigned dim) {
  auto existing = entry.getArgAttrOfType<ArrayAttr>(argument.getArgNumber(), "kiln.dim_params");
  if (existing && dim < existing.size())
    if (auto text = dyn_cast<StringAttr>(existing[dim]); text && !text.getValue().empty())
      return text.str();
  auto argName = entry.getArgAttrOfType<StringAttr>(argument.getArgNumber(), "kiln.name");
  return (argName ? argName.str() : "arg" + std::to_string(argument.getArgNumber())) + ".dim" +
         std::to_string(dim);
}

/// The host form of a KV cache: one flat buffer of `max_batch` slots in the storage type.
RankedTensorType getCacheStorageType(KVCacheType cache, Type storageElement) {
  int64_t elements = cache.getMaxBatch() * cache.getLayers() * 2 * cache.getKvHeads() *
                     cache.getMaxSeq() * cache.getHeadDim();
  return RankedTensorType::get({elements}, storageElement);
}

struct KilnLowerToGpuPass : public kiln::impl::KilnLowerToGpuPassBase<KilnLowerToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Every function with a body is an entry point of the plan (`main`, and `prefill` and
    // `decode` after kiln-kv-cache); they share the kernels.
    SmallVector<func::FuncOp> entries;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isExternal())
        entries.push_back(function);
    if (entries.empty()) {
      module.emitError() << "kiln-lower-to-gpu: no function with a body to lower";
      return signalPassFailure();
    }
    Precision storage;
    if (precision == "fp32")
      storage = Precision::FP32;
    else if (precision == "fp16")
      storage = Precision::FP16;
    else if (precision == "bf16")
      storage = Precision::BF16;
    else {
      module.emitError() << "kiln-lower-to-gpu: unknown precision '" << precision
                         << "' (expected fp32, fp16 or bf16)";
      return signalPassFailure();
    }
    Target gpu;
    if (target == "sm_90" || target == "sm_90a")
      gpu.smVersion = 90;
    else if (target == "sm_80" || target == "sm_86" || target == "sm_89")
      gpu.smVersion = 80;
    else {
      module.emitError() << "kiln-lower-to-gpu: unsupported target '" << target
                         << "' (expected sm_80 or sm_90)";
      return signalPassFailure();
    }
    if (maxDim < 1) {
      module.emitError() << "kiln-lower-to-gpu: max-dim must be positive, got " << maxDim;
      return signalPassFailure();
    }
    llvm::StringMap<int64_t> bounds;
    for (const std::string &entryText : dimMax) {
      StringRef text(entryText);
      auto [name, value] = text.split('=');
      int64_t bound;
      if (name.empty() || value.getAsInteger(10, bound) || bound < 1) {
        module.emitError() << "kiln-lower-to-gpu: dim-max entry '" << text
                           << "' is not name=positive-integer";
        return signalPassFailure();
      }
      bounds[name] = bound;
    }

    OpBuilder builder(module.getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), builder.getUnitAttr());
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>("kiln_kernels");
    if (!kernels) {
      builder.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(builder, module.getLoc(), "kiln_kernels");
    }
    for (func::FuncOp entry : entries)
      if (failed(checkEntry(entry)))
        return signalPassFailure();
    llvm::StringSet<> dimNames;
    for (func::FuncOp entry : entries)
      for (BlockArgument argument : entry.getArguments())
        if (auto type = dyn_cast<RankedTensorType>(argument.getType()))
          for (auto [dim, size] : llvm::enumerate(type.getShape()))
            if (ShapedType::isDynamic(size))
              dimNames.insert(getDimName(entry, argument, dim));
    for (auto &bound : bounds)
      if (!dimNames.contains(bound.getKey()))
        entries.front().emitWarning() << "kiln-lower-to-gpu: dim-max names '" << bound.getKey()
                                      << "', which is no dynamic input dim";
    KernelLowerings lowerings = getAllKernelLowerings();
    for (func::FuncOp entry : entries)
      if (failed(lowerEntry(entry, kernels, lowerings, storage, gpu, bounds)))
        return signalPassFailure();
  }

  /// The plan binds straight-line code with tensor (or KV cache) arguments and results.
  LogicalResult checkEntry(func::FuncOp entry) {
    if (!entry.getBody().hasOneBlock())
      return entry.emitError() << "kiln-lower-to-gpu: @" << entry.getSymName()
                               << " has several blocks; the launch plan needs straight-line code";
    // Every argument and result must be a ranked tensor of a type the runtime can bind, or a
    // KV cache. (An unranked result is left to the op producing it, which names the problem.)
    auto checkType = [&](Type type, StringRef what, unsigned index) -> bool {
      if (isa<KVCacheType>(type))
        return true;
      if (isa<UnrankedTensorType>(type) && what == "result")
        return true;
      auto ranked = dyn_cast<RankedTensorType>(type);
      Type element = ranked ? ranked.getElementType() : Type();
      bool ok = ranked && (isa<FloatType>(element) ||
                           (isa<IntegerType>(element) && !element.isSignedInteger() &&
                            llvm::is_contained({1u, 8u, 16u, 32u, 64u},
                                               element.getIntOrFloatBitWidth())));
      if (!ok)
        entry.emitError() << "kiln-lower-to-gpu: " << what << " " << index << " of @"
                          << entry.getSymName() << " has type " << type
                          << "; the GPU plan binds ranked tensors of float, bool or "
                          << "8/16/32/64-bit integer elements, and KV caches";
      return ok;
    };
    for (auto [i, type] : llvm::enumerate(entry.getArgumentTypes()))
      if (!checkType(type, "argument", i))
        return failure();
    for (auto [i, type] : llvm::enumerate(entry.getResultTypes()))
      if (!checkType(type, "result", i))
        return failure();

    return success();
  }

  LogicalResult lowerEntry(func::FuncOp entry, gpu::GPUModuleOp kernels,
                           const KernelLowerings &lowerings, Precision storage, Target gpu,
                           const llvm::StringMap<int64_t> &optionBounds) {
    // Bounds: the function's own `kiln.dim_max` (kiln-kv-cache sets the decode batch and the
    // cache's context) wins over the options.
    OpBuilder builder(entry.getContext());
    llvm::StringMap<int64_t> bounds = optionBounds;
    if (auto own = entry->getAttrOfType<DictionaryAttr>("kiln.dim_max"))
      for (NamedAttribute bound : own)
        if (auto value = dyn_cast<IntegerAttr>(bound.getValue()))
          bounds[bound.getName().strref()] = value.getInt();

    // Name every dynamic argument dim and bound it: the plan's symbols.
    SmallVector<NamedAttribute> boundAttrs;
    llvm::StringSet<> seen;
    for (BlockArgument argument : entry.getArguments()) {
      if (isa<KVCacheType>(argument.getType()))
        continue;
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type)
        return entry.emitError() << "kiln-lower-to-gpu: argument " << argument.getArgNumber()
                                 << " has type " << argument.getType()
                                 << "; the GPU plan needs ranked tensors";
      SmallVector<Attribute> names;
      for (auto [dim, size] : llvm::enumerate(type.getShape())) {
        std::string name =
            ShapedType::isDynamic(size) ? getDimName(entry, argument, dim) : std::string();
        names.push_back(builder.getStringAttr(name));
        if (!name.empty() && seen.insert(name).second) {
          auto it = bounds.find(name);
          int64_t bound = it != bounds.end() ? it->second : int64_t(maxDim);
          boundAttrs.push_back(builder.getNamedAttr(name, builder.getI64IntegerAttr(bound)));
        }
      }
      entry.setArgAttr(argument.getArgNumber(), "kiln.dim_params", builder.getArrayAttr(names));
    }

    // A KV cache argument becomes a flat buffer in the storage type right after it (tagged
    // `kiln.kv_cache` with its layout); the old argument goes once its users are lowered.
    Block &body = entry.getBody().front();
    SmallVector<unsigned> cacheArguments;
    for (BlockArgument argument : entry.getArguments())
      if (isa<KVCacheType>(argument.getType()))
        cacheArguments.push_back(argument.getArgNumber());
    SmallVector<std::pair<Value, Value>> cacheHostValues;
    for (unsigned index : llvm::reverse(cacheArguments)) {
      auto cache = cast<KVCacheType>(entry.getArgument(index).getType());
      Type element = storage == Precision::FP32   ? Type(builder.getF32Type())
                     : storage == Precision::FP16 ? Type(builder.getF16Type())
                                                  : Type(builder.getBF16Type());
      auto stored = KVCacheType::get(entry.getContext(), cache.getLayers(), cache.getMaxBatch(),
                                     cache.getKvHeads(), cache.getMaxSeq(), cache.getHeadDim(),
                                     element);
      NamedAttribute attrs[] = {
          builder.getNamedAttr("kiln.kv_cache", TypeAttr::get(stored)),
          builder.getNamedAttr("kiln.name", builder.getStringAttr("kiln.kv_cache"))};
      if (failed(entry.insertArgument(index + 1, getCacheStorageType(cache, element),
                                      builder.getDictionaryAttr(attrs),
                                      entry.getArgument(index).getLoc())))
        return failure();
      cacheHostValues.push_back({entry.getArgument(index), entry.getArgument(index + 1)});
    }

    SymbolicShapes shapes(entry);
    KernelEmitter emitter(entry, kernels, shapes, lowerings, storage, gpu);
    for (auto [cache, host] : cacheHostValues)
      emitter.setResult(cache, host);
    if (failed(emitter.run()))
      return failure();
    // The caches are updated in place: the old arguments are unused now.
    BitVector erase(entry.getNumArguments());
    for (BlockArgument argument : body.getArguments())
      if (isa<KVCacheType>(argument.getType())) {
        if (!argument.use_empty())
          return entry.emitError() << "internal error: KV cache argument "
                                   << argument.getArgNumber() << " is still used after lowering";
        erase.set(argument.getArgNumber());
      }
    if (failed(entry.eraseArguments(erase)))
      return failure();
    entry->removeAttr("kiln.dim_max");
    entry->setAttr("kiln.dim_bounds", builder.getDictionaryAttr(boundAttrs));
    entry->setAttr("kiln.precision", builder.getStringAttr(precision));
    entry->setAttr("kiln.target", builder.getStringAttr(target));
    return success();
  }
};

} // namespace
