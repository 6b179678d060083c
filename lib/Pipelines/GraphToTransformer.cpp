//===- GraphToTransformer.cpp - graph ops -> transformer ops pipeline -----===//

#include "kiln/Pipelines/Pipelines.h"

#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

void kiln::buildGraphToTransformerPipeline(OpPassManager &pm,
                                           const GraphToTransformerOptions &options) {
  OpPassManager &functions = pm.nest<func::FuncOp>();
  functions.addPass(createKilnSimplifyPass());
  KilnRaisePassOptions raise;
  raise.mergeQkv = options.mergeQkv;
  raise.remarks = options.remarks;
  functions.addPass(createKilnRaisePass(raise));
  KilnFuseAttentionPassOptions attention;
  attention.remarks = options.remarks;
  functions.addPass(createKilnFuseAttentionPass(attention));
  // Fusion leaves repeat_kv, mask and layout ops dead and new transposes to fold.
  functions.addPass(createKilnSimplifyPass());
}
