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
#include "mlir/IR/PatternMatch.h"

namespace kiln {

/// What the patterns of kiln-raise share.
struct RaiseOptions {
  /// Emit a remark at a near-miss naming the failed check.
  bool remarks = false;
};

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
