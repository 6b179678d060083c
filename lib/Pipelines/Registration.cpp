//===- Registration.cpp - kiln's named pipelines for kiln-opt -------------===//

#include "kiln/Pipelines/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"

void kiln::registerKilnPipelines() {
  mlir::PassPipelineRegistration<GraphToTransformerOptions>(
      "kiln-graph-to-transformer",
      "Simplify, raise and fuse attention: ONNX graph ops to kiln transformer ops",
      buildGraphToTransformerPipeline);
  mlir::PassPipelineRegistration<TransformerToGpuOptions>(
      "kiln-transformer-to-gpu",
      "Lower kiln ops to generated GPU kernels, a host launch plan and a memory plan",
      buildTransformerToGpuPipeline);
  mlir::PassPipelineRegistration<GpuToPtxOptions>(
      "kiln-gpu-to-ptx",
      "Lower gpu.module kernels through NVVM to PTX (or cubin) in gpu.binary ops",
      buildGpuToPtxPipeline);
}
