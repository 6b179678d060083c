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

/// The function the plan is built for: `main`, else the only public function.
func::FuncOp findEntry(ModuleOp module) {
  if (auto main = module.lookupSymbol<func::FuncOp>("main"))
    return main.isExternal() ? func::FuncOp() : main;
  func::FuncOp only;
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function.isExternal())
      continue;
    if (only)
      return {};
    only = function;
  }
  return only;
}

struct KilnLowerToGpuPass : public kiln::impl::KilnLowerToGpuPassBase<KilnLowerToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = findEntry(module);
    if (!entry) {
      module.emitError() << "kiln-lower-to-gpu: no function @main (and not exactly one "
                            "function) to lower";
      return signalPassFailure();
    }
    if (!entry.getBody().hasOneBlock()) {
      entry.emitError() << "kiln-lower-to-gpu: @" << entry.getSymName()
                        << " has several blocks; the launch plan needs straight-line code";
      return signalPassFailure();
    }
    // Every argument and result must be a ranked tensor of a type the runtime can bind.
    // (An unranked result is left to the op producing it, which names the problem.)
    auto checkType = [&](Type type, StringRef what, unsigned index) -> bool {
      if (isa<UnrankedTensorType>(type) && what == "result")
        return true;
      auto ranked = dyn_cast<RankedTensorType>(type);
      Type element = ranked ? ranked.getElementType() : Type();
      bool ok = ranked && (isa<FloatType>(element) ||
                           (isa<IntegerType>(element) && !element.isSignedInteger() &&
                            llvm::is_contained({1u, 8u, 16u, 32u, 64u},
                                               element.getIntOrFloatBitWidth())));
      if (!ok)
        entry.emitError() << "kiln-lower-to-gpu: " << what << " " << index << " has type "
                          << type << "; the GPU plan binds ranked tensors of float, bool or "
                          << "8/16/32/64-bit integer elements";
      return ok;
    };
    for (auto [i, type] : llvm::enumerate(entry.getArgumentTypes()))
      if (!checkType(type, "argument", i))
        return signalPassFailure();
    for (auto [i, type] : llvm::enumerate(entry.getResultTypes()))
      if (!checkType(type, "result", i))
        return signalPassFailure();
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

    // Name every dynamic argument dim and bound it: the plan's symbols.
    SmallVector<NamedAttribute> boundAttrs;
    llvm::StringSet<> seen;
    for (BlockArgument argument : entry.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type) {
        entry.emitError() << "kiln-lower-to-gpu: argument " << argument.getArgNumber()
                          << " has type " << argument.getType()
                          << "; the GPU plan needs ranked tensors";
        return signalPassFailure();
      }
      SmallVector<Attribute> names;
      auto existing = entry.getArgAttrOfType<ArrayAttr>(argument.getArgNumber(),
                                                        "kiln.dim_params");
      auto argName = entry.getArgAttrOfType<StringAttr>(argument.getArgNumber(), "kiln.name");
      for (auto [dim, size] : llvm::enumerate(type.getShape())) {
        std::string name;
        if (existing && dim < existing.size())
          if (auto text = dyn_cast<StringAttr>(existing[dim]))
            name = text.str();
        if (ShapedType::isDynamic(size) && name.empty())
          name = (argName ? argName.str() : "arg" + std::to_string(argument.getArgNumber())) +
                 ".dim" + std::to_string(dim);
        if (!ShapedType::isDynamic(size))
          name.clear();
        names.push_back(builder.getStringAttr(name));
        if (!name.empty() && seen.insert(name).second) {
          int64_t bound = bounds.count(name) ? bounds[name] : int64_t(maxDim);
          boundAttrs.push_back(builder.getNamedAttr(name, builder.getI64IntegerAttr(bound)));
        }
      }
      entry.setArgAttr(argument.getArgNumber(), "kiln.dim_params", builder.getArrayAttr(names));
    }
    for (auto &bound : bounds)
      if (!seen.contains(bound.getKey()))
        entry.emitWarning() << "kiln-lower-to-gpu: dim-max names '" << bound.getKey()
                            << "', which is no dynamic input dim";

    SymbolicShapes shapes(entry);
    KernelLowerings lowerings = getAllKernelLowerings();
    KernelEmitter emitter(entry, kernels, shapes, lowerings, storage, gpu);
    if (failed(emitter.run()))
      return signalPassFailure();
    entry->setAttr("kiln.dim_bounds", builder.getDictionaryAttr(boundAttrs));
    entry->setAttr("kiln.precision", builder.getStringAttr(precision));
    entry->setAttr("kiln.target", builder.getStringAttr(target));
  }
};

} // namespace
