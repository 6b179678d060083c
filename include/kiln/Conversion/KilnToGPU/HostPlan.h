//===- HostPlan.h - reading the host launch plan ----------------*- C++ -*-===//
//
// After kiln-lower-to-gpu, the entry function is a launch plan: `kiln.launch`/`kiln.view` ops
// on tensors whose dynamic dims, grid sizes and scalars are index values computed with `arith`
// from the arguments' dims. The memory planner and the artifact writer both need those index
// values as the runtime's integer expressions over the plan's symbols (the dynamic dims of the
// arguments, named by `kiln.dim_params` and bounded by `kiln.dim_bounds`).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CONVERSION_KILNTOGPU_HOSTPLAN_H
#define KILN_CONVERSION_KILNTOGPU_HOSTPLAN_H

#include "kilnrt/Artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <string>
#include <vector>

namespace kiln::gpu_codegen {

/// A dynamic dim of an argument, and its bound.
struct PlanSymbol {
  std::string name;
  unsigned argument;
  unsigned dim;
  int64_t maxValue;
};

struct PlanSymbols {
  std::vector<PlanSymbol> symbols;
  /// (argument, dim) -> symbol index.
  llvm::DenseMap<std::pair<unsigned, unsigned>, unsigned> byArgumentDim;

  std::vector<int64_t> maxValues() const;
  std::vector<std::string> names() const;
};

/// The plan's symbols: every dynamic argument dim, named by `kiln.dim_params` (dims with the
/// same name are one symbol) and bounded by the function's `kiln.dim_bounds`.
mlir::FailureOr<PlanSymbols> collectPlanSymbols(mlir::func::FuncOp function);

/// `value` (an index computed by the host plan) as an expression over the symbols. Fails with
/// an error on `user` for an op the runtime cannot evaluate.
mlir::FailureOr<kilnrt::Expr> buildHostExpr(mlir::Value value, const PlanSymbols &symbols,
                                            mlir::Operation *user);

/// The dims of host tensor `value` (an argument, a launch result, a view, a cast of one, or a
/// constant) as expressions.
mlir::FailureOr<std::vector<kilnrt::Expr>> buildTensorDims(mlir::Value value,
                                                           const PlanSymbols &symbols);

/// The value whose buffer `value` uses: the source of views and casts, else itself.
mlir::Value getBufferRoot(mlir::Value value);

/// Bytes per element of a storage element type (i1 takes a byte).
int64_t getStorageElementBytes(mlir::Type elementType);

} // namespace kiln::gpu_codegen

#endif // KILN_CONVERSION_KILNTOGPU_HOSTPLAN_H
