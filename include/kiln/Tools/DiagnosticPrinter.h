//===- DiagnosticPrinter.h - Diagnostics of the Kiln tools ------*- C++ -*-===//
//
// Diagnostics on ONNX models point at nodes (`loc("node_name")`) or at the model file, not at
// source lines. This handler prints those as `<file or node>: error: ...`; diagnostics with a
// real line (from .mlir inputs) go to the SourceMgr handler, which shows the source line.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_DIAGNOSTICPRINTER_H
#define KILN_TOOLS_DIAGNOSTICPRINTER_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/SourceMgr.h"

namespace kiln {

class ToolDiagnosticHandler : public mlir::SourceMgrDiagnosticHandler {
public:
  ToolDiagnosticHandler(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
                        llvm::StringRef toolName);

private:
  mlir::LogicalResult handle(mlir::Diagnostic &diag);
  std::string toolName;
};

} // namespace kiln

#endif // KILN_TOOLS_DIAGNOSTICPRINTER_H
