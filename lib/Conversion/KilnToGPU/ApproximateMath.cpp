//===- ApproximateMath.cpp - kiln-approximate-math ------------------------===//

#include "kiln/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_KILNAPPROXIMATEMATHPASS
#include "kiln/Conversion/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

/// `math.sqrt/absf/floor/ceil/trunc/roundeven` on f32/f64 -> a call of the matching LLVM intrinsic.
/// convert-gpu-to-nvvm would turn the math ops (and the LLVM dialect's own intrinsic ops) into
/// libdevice calls; NVPTX lowers the intrinsics to single PTX instructions (sqrt.rn, cvt.rmi,
/// ...).
template <typename MathOp>
struct MathToIntrinsic : public OpRewritePattern<MathOp> {
  MathToIntrinsic(MLIRContext *context, StringRef intrinsic)
      : OpRewritePattern<MathOp>(context), intrinsic(intrinsic) {}

  LogicalResult matchAndRewrite(MathOp op, PatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!type.isF32() && !type.isF64())
      return failure();
    auto call = LLVM::CallIntrinsicOp::create(rewriter, op.getLoc(), type,
                                              rewriter.getStringAttr(intrinsic),
                                              op->getOperands());
    rewriter.replaceOp(op, call.getResults());
    return success();
  }

  std::string intrinsic;
};

struct KilnApproximateMathPass
    : public kiln::impl::KilnApproximateMathPassBase<KilnApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Hyperbolic functions, powf, rsqrt, ... into exp/log/sqrt first; then polynomials for
    // every function MLIR approximates (f16/bf16 go through f32).
    // Not `fma`: the polynomials rely on it, and PTX has it.
    math::populateExpansionPatterns(patterns, {"sinh", "cosh", "tan", "tanh", "asinh", "acosh",
                                               "atanh", "exp2", "powf", "fpowi", "round",
                                               "rsqrt", "ctlz", "clampf"});
    auto all = [](StringRef) { return true; };
    populateMathF32ExpansionPatterns(patterns, all);
    populateMathPolynomialApproximationPatterns(patterns, all);
    MLIRContext *context = &getContext();
    patterns.add<MathToIntrinsic<math::SqrtOp>>(context, "llvm.sqrt");
    patterns.add<MathToIntrinsic<math::AbsFOp>>(context, "llvm.fabs");
    patterns.add<MathToIntrinsic<math::FloorOp>>(context, "llvm.floor");
    patterns.add<MathToIntrinsic<math::CeilOp>>(context, "llvm.ceil");
    patterns.add<MathToIntrinsic<math::TruncOp>>(context, "llvm.trunc");
    patterns.add<MathToIntrinsic<math::RoundEvenOp>>(context, "llvm.roundeven");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
