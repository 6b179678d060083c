//===- DimRules.h - how kiln verifiers compare possibly dynamic dims -*- C++ -*-===//
//
// Shared by the op families' verifiers: a dynamic dim (`?`) is compatible with anything, and
// diagnostics print it as `?` rather than as its sentinel value.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_DIALECT_KILN_IR_DIMRULES_H
#define KILN_LIB_DIALECT_KILN_IR_DIMRULES_H

#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <string>

namespace kiln {

/// Two dims may be equal at run time unless both are static and differ.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return mlir::ShapedType::isDynamic(a) || mlir::ShapedType::isDynamic(b) || a == b;
}

/// A dim as users write it: its value, or `?` when dynamic.
inline std::string formatDim(int64_t dim) {
  return mlir::ShapedType::isDynamic(dim) ? std::string("?") : std::to_string(dim);
}

} // namespace kiln

#endif // KILN_LIB_DIALECT_KILN_IR_DIMRULES_H
