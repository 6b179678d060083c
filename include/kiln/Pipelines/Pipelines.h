//===- Pipelines.h - named kiln pipelines -----------------------*- C++ -*-===//

#ifndef KILN_PIPELINES_PIPELINES_H
#define KILN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace kiln {

/// Options of `kiln-gpu-to-ptx`: which GPU and which output form.
struct GpuToPtxOptions : public mlir::PassPipelineOptions<GpuToPtxOptions> {
  PassOptions::Option<std::string> chip{*this, "chip",
                                        llvm::cl::desc("Target SM architecture"),
                                        llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX ISA version feature string"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int> optLevel{*this, "opt-level",
                                    llvm::cl::desc("LLVM optimisation level (0-3)"),
                                    llvm::cl::init(3)};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What gpu-module-to-binary produces: isa (PTX text), bin (cubin via "
                     "ptxas), fatbin"),
      llvm::cl::init("isa")};
};

/// Lowers every `gpu.module` in the module through NVVM to PTX (or cubin) held in `gpu.binary`
/// ops. Kernels must already be in the gpu/nvgpu/nvvm/arith/memref/scf dialects.
void buildGpuToPtxPipeline(mlir::OpPassManager &pm, const GpuToPtxOptions &options);

/// What kiln-gpu-to-ptx needs registered besides the dialects its passes load: the
/// convert-to-LLVM interfaces convert-gpu-to-nvvm collects patterns from, the NVVM target
/// (PTX serialization) and the LLVM IR translations. kiln-opt registers all of them anyway;
/// kiln-compile registers just these.
void registerGpuToPtxDependencies(mlir::DialectRegistry &registry);

/// Options of `kiln-graph-to-transformer`.
struct GraphToTransformerOptions
    : public mlir::PassPipelineOptions<GraphToTransformerOptions> {
  PassOptions::Option<bool> mergeQkv{
      *this, "merge-qkv",
      llvm::cl::desc("Merge linears that read the same input (Q/K/V, gate/up) into one"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> remarks{
      *this, "remarks",
      llvm::cl::desc("Emit a remark for each attention block or near-miss pattern not fused, "
                     "naming the failed check"),
      llvm::cl::init(false)};
};

/// The graph level of the pipeline (docs/Pipeline.md): kiln-simplify, kiln-raise,
/// kiln-fuse-attention, then kiln-simplify again to clean up what fusion left dead or foldable.
/// Runs on every func.func of the module. `kiln-compile --emit=kiln` prints its result.
void buildGraphToTransformerPipeline(mlir::OpPassManager &pm,
                                     const GraphToTransformerOptions &options);

/// Options of `kiln-transformer-to-gpu`.
struct TransformerToGpuOptions : public mlir::PassPipelineOptions<TransformerToGpuOptions> {
  PassOptions::Option<std::string> precision{
      *this, "precision", llvm::cl::desc("Storage type of float tensors: fp32, fp16 or bf16"),
      llvm::cl::init("fp32")};
  PassOptions::Option<std::string> target{
      *this, "target", llvm::cl::desc("GPU the kernels are specialised for (sm_80, sm_90)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<int64_t> maxDim{*this, "max-dim",
                                      llvm::cl::desc("Largest value of any dynamic dim"),
                                      llvm::cl::init(2048)};
  PassOptions::ListOption<std::string> dimMax{
      *this, "dim-max", llvm::cl::desc("Per-name bounds of dynamic dims, as name=value")};
};

/// The kernel level of the pipeline: kiln-lower-to-gpu (kernel templates + host launch plan),
/// CSE of the host arithmetic, kiln-plan-memory. kiln-gpu-to-ptx then produces the code.
void buildTransformerToGpuPipeline(mlir::OpPassManager &pm,
                                   const TransformerToGpuOptions &options);

/// Registers Kiln's named pipelines with the global pass registry (for kiln-opt).
void registerKilnPipelines();

} // namespace kiln

#endif // KILN_PIPELINES_PIPELINES_H
