//===- TransformerToGpu.cpp - kiln ops -> kernels + launch plan -----------===//

#include "kiln/Pipelines/Pipelines.h"

#include "kiln/Conversion/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void kiln::buildTransformerToGpuPipeline(OpPassManager &pm,
                                         const TransformerToGpuOptions &options) {
  KilnLowerToGpuPassOptions lower;
  lower.precision = options.precision;
  lower.target = options.target;
  lower.maxDim = options.maxDim;
  lower.dimMax.assign(options.dimMax.begin(), options.dimMax.end());
  pm.addPass(createKilnLowerToGpuPass(lower));
  // Templates compute grid sizes independently; CSE merges the repeated host arithmetic.
  pm.addPass(createCSEPass());
  pm.addPass(createKilnPlanMemoryPass());
}
