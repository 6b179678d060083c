//===- Passes.td - kiln conversions to GPU code ------------*- tablegen -*-===//

#ifndef KILN_CONVERSION_PASSES_TD
#define KILN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnLowerToGpuPass : Pass<"kiln-lower-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lowers every kiln op of @main to generated GPU kernels and a host launch plan";
  let description = [{
    Replaces the computing ops of the entry function (`main`, or the only function) by
    `kiln.launch` ops of kernels that kernel templates build in `gpu.module @kiln_kernels`
    (gpu/nvgpu/nvvm/vector/scf IR, specialised by op parameters, shapes and element types),
    and reshapes by `kiln.view`. Only the ops the outputs depend on through data are lowered:
    shape subgraphs that only feed reshape targets disappear. Result dims come from the
    symbolic shape analysis, as host index values computed from the arguments' dims.

    `precision` picks the storage type of float tensors: `fp32`, `fp16` or `bf16` (kernels
    accumulate in f32 either way); weights are converted at compile time, float inputs and
    outputs keep the model's type and are converted by a kernel at the boundary.
    `max-dim` bounds every dynamic dim (the memory plan sizes buffers for it); `dim-max`
    overrides it per `dim_param` name (`seq=4096`).

    An op with no lowering, or a dim the analysis cannot express from the argument dims,
    is an error naming the op.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"fp32\"",
           "Storage type of float tensors: fp32, fp16 or bf16">,
    Option<"target", "target", "std::string", /*default=*/"\"sm_90\"",
           "GPU the kernels are specialised for (sm_80 or sm_90)">,
    Option<"maxDim", "max-dim", "int64_t", /*default=*/"2048",
           "Largest value of any dynamic dim">,
    ListOption<"dimMax", "dim-max", "std::string",
               "Per-name bounds of dynamic dims, as name=value">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::math::MathDialect", "::mlir::vector::VectorDialect",
                           "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::tensor::TensorDialect"];
}

def KilnPlanMemoryPass : Pass<"kiln-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Assigns every tensor of the launch plan an offset in one device arena";
  let description = [{
    Sizes each tensor of the host launch plan for the largest size it takes over the values of
    the dynamic dims up to their bounds (`kiln.dim_bounds` of the function; every value when
    there is one symbol, since sizes such as a Slice's need not grow with it), computes its
    live range (a view keeps its source
    alive; returned values and arguments live throughout) and packs the buffers into one
    arena: the largest first, each at the lowest 256-byte-aligned offset where it overlaps no
    buffer live at the same time. It records `kiln.arena_offsets`/`kiln.arena_bytes` on each
    launch and argument and `kiln.arena_size` on the function; the runtime allocates the
    arena once per session.
  }];
}

def KilnApproximateMathPass : Pass<"kiln-approximate-math", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Expands transcendental math ops in kernels into arith polynomials";
  let description = [{
    Rewrites `math.exp`, `log`, `tanh`, `erf`, `sin`, `cos`, `powf`, ... in GPU kernels into
    arith/fma polynomial approximations (MLIR's), so that the PTX never calls NVIDIA's
    libdevice: the compiler needs no CUDA toolkit and the artifact links nothing at load time.
    `sqrt`, `floor`, `ceil`, `trunc` and `roundeven` become calls of the LLVM intrinsics
    (`llvm.sqrt`, ...), which NVPTX lowers to single instructions; convert-gpu-to-nvvm would
    otherwise turn them into libdevice calls.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"];
}

#endif // KILN_CONVERSION_PASSES_TD
