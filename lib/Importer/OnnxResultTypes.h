//===- OnnxResultTypes.h - Result types of imported ONNX nodes --*- C++ -*-===//
//
// Private to the importer. The element type of every result follows from the op and its inputs;
// shapes are derived only where a local rule gives them (elementwise broadcasting, MatMul, Gemm,
// Transpose, Gather, Concat, ...). Everything else stays unranked unless the model's value_info
// says more: full shape inference over symbolic dims is the job of the kiln simplify passes.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_IMPORTER_ONNXRESULTTYPES_H
#define KILN_LIB_IMPORTER_ONNXRESULTTYPES_H

#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace kiln::importer {

/// Result types of ONNX op `opType` given its operands (null where an optional input is absent)
/// and its converted attributes. On failure (e.g. shapes that cannot broadcast) returns false and
/// sets `error`.
bool inferResultTypes(mlir::MLIRContext *context, llvm::StringRef opType, llvm::ArrayRef<mlir::Value> operands,
                      const mlir::NamedAttrList &attributes, unsigned numResults,
                      llvm::SmallVectorImpl<mlir::Type> &resultTypes, std::string &error);

/// Whether the op's verifier requires its result type to equal its first operand's exactly
/// (so a declared value_info type must not replace it).
bool resultTypeIsOperandType(llvm::StringRef opType);

} // namespace kiln::importer

#endif // KILN_LIB_IMPORTER_ONNXRESULTTYPES_H
