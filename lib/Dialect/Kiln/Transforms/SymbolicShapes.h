//===- SymbolicShapes.h - shape inference with symbolic dims ----*- C++ -*-===//
//
// An analysis of a function of kiln graph ops: the dims of every value as expressions over
// symbols (`seq`, `seq + 1`, or a constant), and the elements of the small integer vectors that
// shape arithmetic passes around (`Shape -> Gather -> Concat -> Reshape`). Two dims are known
// equal when their expressions are; a `?` in a type alone never says that.
//
// Symbols come from the function's arguments: dims with the same `kiln.dim_params` name share
// one symbol; every other dim that the rules cannot express gets a fresh symbol of its own, so
// "unknown" is never confused with "equal".
//
// kiln-simplify uses it to refine types and fold shape values to constants; kiln-fuse-attention
// and MaskAnalysis use it to check that the dims a pattern relies on are equal (q_len == kv_len
// for a causal mask, a mask's dims against the scores', layouts through reshapes).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_DIALECT_KILN_TRANSFORMS_SYMBOLICSHAPES_H
#define KILN_LIB_DIALECT_KILN_TRANSFORMS_SYMBOLICSHAPES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace kiln {

/// A dim or an element of a shape vector: `offset` when `symbol < 0`, else `symbol + offset`.
struct DimExpr {
  int64_t symbol = -1;
  int64_t offset = 0;

  static DimExpr constant(int64_t value) { return {-1, value}; }
  static DimExpr symbolic(int64_t symbol, int64_t offset = 0) { return {symbol, offset}; }
  bool isConstant() const { return symbol < 0; }
  bool isConstant(int64_t value) const { return symbol < 0 && offset == value; }
  bool operator==(const DimExpr &other) const {
    return symbol == other.symbol && offset == other.offset;
  }
  bool operator!=(const DimExpr &other) const { return !(*this == other); }
};

using DimList = llvm::SmallVector<DimExpr, 6>;
/// The elements of an integer tensor of rank 0 or 1; std::nullopt marks an unknown element.
using ShapeValue = llvm::SmallVector<std::optional<DimExpr>, 6>;

/// For a reshape from `in` to `out` dims that only inserts or drops dims of constant size 1 (the
/// other dims, known equal, keep their order): the output axis of each input axis, -1 for a
/// dropped unit dim. std::nullopt for any other reshape.
std::optional<llvm::SmallVector<int64_t>> mapUnitDimReshape(const DimList &in, const DimList &out);

class SymbolicShapes {
public:
  /// Analyses the ops of `function`'s body in order.
  explicit SymbolicShapes(mlir::func::FuncOp function);

  /// The dims of `value`, or nullptr when its rank is unknown. (While the analysis runs,
  /// such a pointer is invalidated by the next setDims: the map may grow.)
  const DimList *getDims(mlir::Value value) const;
  /// The elements of `value` when it is a small integer vector (or scalar) the rules track.
  const ShapeValue *getShapeValue(mlir::Value value) const;
  /// The type of `value` with every dim the analysis knows to be constant made static (and an
  /// unranked type ranked when the rank is known); the element type is kept.
  mlir::Type getRefinedType(mlir::Value value) const;
  /// "seq", "seq + 1", "32", or "?7" for an unnamed symbol.
  std::string format(const DimExpr &dim) const;

private:
  DimExpr fresh();
  void setDims(mlir::Value value, DimList dims);
  void setShapeValue(mlir::Value value, ShapeValue elements);
  void bindArgument(mlir::BlockArgument argument, mlir::func::FuncOp function);
  void inferOp(mlir::Operation *op);
  /// The declared type's dims: constants where static, fresh symbols where not.
  std::optional<DimList> dimsFromType(mlir::Type type);

  llvm::DenseMap<mlir::Value, DimList> dims;
  llvm::DenseMap<mlir::Value, ShapeValue> shapeValues;
  llvm::SmallVector<std::string> symbolNames;
  llvm::StringMap<int64_t> namedSymbols; // kiln.dim_params name -> symbol

};

} // namespace kiln

#endif // KILN_LIB_DIALECT_KILN_TRANSFORMS_SYMBOLICSHAPES_H
