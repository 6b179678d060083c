//===- RaisePatterns.h - pattern families of kiln-raise ---------*- C++ -*-===//
//
// kiln-raise is one pass whose patterns live in one file per family. Every pattern re-checks
// the operands, axes, shapes and constants it relies on and fails to match (leaving the IR
// untouched) otherwise; with remarks on, it says which check failed.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_DIALECT_KILN_TRANSFORMS_RAISEPATTERNS_H
#define KILN_LIB_DIALECT_KILN_TRANSFORMS_RAISEPATTERNS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"

#include <memory>
#include <set>
#include <string>

namespace kiln {

/// What the patterns of kiln-raise share.
struct RaiseOptions {
  /// Emit a remark at a near-miss naming the failed check.
  bool remarks = false;
  /// The near-miss remarks emitted so far (op, message), shared by every pattern: the greedy
  /// driver visits an op again after any change in the function, and a repeated remark would
  /// only be noise.
  std::shared_ptr<std::set<std::pair<mlir::Operation *, std::string>>> emittedRemarks =
      std::make_shared<std::set<std::pair<mlir::Operation *, std::string>>>();
};

/// Fails a match; with remarks on, emits "<what> not raised: <why>" at `op`, once.
mlir::LogicalResult failNearMiss(mlir::Operation *op, const RaiseOptions &options,
                                 llvm::StringRef what, const llvm::Twine &why);

/// failNearMiss, also telling the rewriter why (for -debug).
inline mlir::LogicalResult nearMiss(mlir::PatternRewriter &rewriter, mlir::Operation *op,
                                    const RaiseOptions &options, llvm::StringRef what,
                                    const llvm::Twine &why) {
  (void)failNearMiss(op, options, what, why);
  return rewriter.notifyMatchFailure(op, why);
}

/// A number as %g prints it ("3", "1.5", "1e-05") for remarks: formatv would print 3.00.
std::string formatNumber(double value);

/// Whether `value` is used, and by one op only (possibly through several operands).
inline bool hasSingleUser(mlir::Value value) {
  return !value.use_empty() && llvm::all_equal(value.getUsers());
}

/// The near-miss reporter of one pattern family ("RMSNorm", "linear", ...).
class NearMissRemarks {
public:
  explicit NearMissRemarks(const RaiseOptions &options) : options(options) {}
  mlir::LogicalResult fail(mlir::Operation *op, llvm::StringRef what,
                           const llvm::Twine &why) const {
    return failNearMiss(op, options, what, why);
  }

private:
  RaiseOptions options;
};

/// The type of `value` when it is a ranked tensor of floats (what the transformer ops take).
inline mlir::RankedTensorType getRankedFloatType(mlir::Value value) {
  auto type = llvm::dyn_cast<mlir::RankedTensorType>(value.getType());
  if (!type || !llvm::isa<mlir::FloatType>(type.getElementType()))
    return {};
  return type;
}

/// `type` with its last dim replaced by `lastDim`.
inline mlir::RankedTensorType withLastDim(mlir::RankedTensorType type, int64_t lastDim) {
  llvm::SmallVector<int64_t> shape = llvm::to_vector(type.getShape());
  shape.back() = lastDim;
  return type.clone(shape);
}

/// kiln.layer_norm and kiln.rms_norm from the ONNX ops and their decomposed forms.
void populateRaiseNormPatterns(mlir::RewritePatternSet &patterns, const RaiseOptions &options);
/// kiln.gelu (erf, tanh), kiln.silu, kiln.swiglu.
void populateRaiseActivationPatterns(mlir::RewritePatternSet &patterns,
                                     const RaiseOptions &options);
/// kiln.rotary from rotate-half, interleaved and partial forms and ONNX RotaryEmbedding.
void populateRaiseRotaryPatterns(mlir::RewritePatternSet &patterns, const RaiseOptions &options);
/// kiln.linear from MatMul/Gemm with a constant weight, with bias, activation and residual
/// epilogues.
void populateRaiseLinearPatterns(mlir::RewritePatternSet &patterns, const RaiseOptions &options);

/// Merges kiln.linear ops that read the same input (Q, K, V; gate and up) into one linear with
/// concatenated weights whose output is split back. Runs after the greedy patterns.
void mergeSiblingLinears(mlir::func::FuncOp function, const RaiseOptions &options);

} // namespace kiln

#endif // KILN_LIB_DIALECT_KILN_TRANSFORMS_RAISEPATTERNS_H
