//===- Raise.cpp - raising graph ops to kiln transformer ops ---------------===//
//
// The driver of kiln-raise: the pattern families (RaiseNorms, RaiseActivations, RaiseRotary,
// RaiseLinear) run together in one greedy rewrite, so that an activation raised first can
// become a linear's epilogue; sibling linears are merged afterwards, when all are raised.
//
//===----------------------------------------------------------------------===//

#include "RaisePatterns.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_KILNRAISEPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

LogicalResult kiln::failNearMiss(Operation *op, const RaiseOptions &options, StringRef what,
                                const Twine &why) {
  if (options.remarks) {
    std::string message = (what + " not raised: " + why).str();
    if (options.emittedRemarks->insert({op, message}).second)
      op->emitRemark(message);
  }
  return failure();
}

std::string kiln::formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

namespace {
struct KilnRaisePass : public kiln::impl::KilnRaisePassBase<KilnRaisePass> {
  using Base::Base;

  void runOnOperation() override {
    RaiseOptions options;
    options.remarks = remarks;
    RewritePatternSet patterns(&getContext());
    populateRaiseNormPatterns(patterns, options);
    populateRaiseActivationPatterns(patterns, options);
    populateRaiseRotaryPatterns(patterns, options);
    populateRaiseLinearPatterns(patterns, options);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    if (mergeQkv)
      mergeSiblingLinears(getOperation(), options);
  }
};
} // namespace
