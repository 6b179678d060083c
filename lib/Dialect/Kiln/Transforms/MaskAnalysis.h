//===- MaskAnalysis.h - what a mask computes, as a function of indices -*- C++ -*-===//
//
// Exporters build causal masks from index arithmetic: `Range`, `Unsqueeze`, comparisons,
// `CumSum` over position deltas, `Trilu` of ones, `Where(mask, 0, -inf)`. To fuse such a mask
// into `kiln.attention ... causal` the pass must know, for every shape the model accepts, that
// the mask is exactly "key index <= query index + (kv_len - q_len)". Testing a few sizes would
// not show that; this analysis computes it symbolically.
//
// Each value is described, element by element, as a function of its own indices:
//   * Affine: c + sum_k a_k * i_k (integer-valued),
//   * Bool: a conjunction of conditions `affine >= 0` / `affine == 0` (true when empty),
//   * Select: `cond ? x : y` with constant x, y (Where over a bool, or a bool Cast to a number),
//   * Unknown: anything else (data-dependent, or an op without a rule).
// Coefficients of dims of constant size 1 are always 0 (the index there is always 0).
// Broadcasting is followed only where the dims are known equal (SymbolicShapes) or 1.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_DIALECT_KILN_TRANSFORMS_MASKANALYSIS_H
#define KILN_LIB_DIALECT_KILN_TRANSFORMS_MASKANALYSIS_H

#include "SymbolicShapes.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

namespace kiln {

/// c + sum_k coeffs[k] * index_k over the value's dims.
struct AffineIndex {
  int64_t constant = 0;
  llvm::SmallVector<int64_t, 6> coeffs;

  bool isConstant() const {
    return llvm::all_of(coeffs, [](int64_t c) { return c == 0; });
  }
  bool operator==(const AffineIndex &other) const {
    return constant == other.constant && coeffs == other.coeffs;
  }
};

/// `expr >= 0` or `expr == 0`.
struct IndexCondition {
  enum class Kind { GreaterEqualZero, EqualZero } kind;
  AffineIndex expr;
};

/// A conjunction of conditions; `alwaysFalse` overrides them. Empty and not false: true.
struct IndexPredicate {
  bool alwaysFalse = false;
  llvm::SmallVector<IndexCondition, 2> conjuncts;

  bool isTrue() const { return !alwaysFalse && conjuncts.empty(); }
};

struct IndexValue {
  enum class Kind { Unknown, Affine, Bool, Select } kind = Kind::Unknown;
  AffineIndex affine;       // Affine
  IndexPredicate predicate; // Bool, and Select's condition
  double whenTrue = 0.0, whenFalse = 0.0; // Select

  static IndexValue unknown() { return {}; }
  bool isUnknown() const { return kind == Kind::Unknown; }
};

class MaskAnalysis {
public:
  explicit MaskAnalysis(const SymbolicShapes &shapes) : shapes(shapes) {}

  /// The description of `value` (memoized; Unknown when no rule applies).
  const IndexValue &describe(mlir::Value value);

  /// Whether `value`, broadcast against scores of dims `scoreDims` (rank 4: batch, heads,
  /// q_len, kv_len), keeps exactly the keys key <= query + (kv_len - q_len) and masks the
  /// rest. An additive mask keeps with 0 and masks with -inf (or a value at or below
  /// kMaskedAdditiveBound), either way round; a boolean mask keeps where true, or where false
  /// when `hiddenWhereTrue` (Where(mask, -inf, scores), masked_fill).
  bool isCausal(mlir::Value value, const DimList &scoreDims, bool additive,
                bool hiddenWhereTrue = false);

  /// Whether an additive mask adds 0 everywhere (so it can be dropped).
  bool isZero(mlir::Value value);

private:
  IndexValue compute(mlir::Value value, unsigned depth);
  const DimList *dimsOf(mlir::Value value) const { return shapes.getDims(value); }

  const SymbolicShapes &shapes;
  llvm::DenseMap<mlir::Value, IndexValue> cache;
};

/// Additive mask values at or below this count as masking (exporters use -inf or the lowest
/// float32, -3.4e38): adding any finite score leaves them far below every kept score.
constexpr double kMaskedAdditiveBound = -1.0e38;

} // namespace kiln

#endif // KILN_LIB_DIALECT_KILN_TRANSFORMS_MASKANALYSIS_H
