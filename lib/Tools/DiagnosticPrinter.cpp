//===- DiagnosticPrinter.cpp - Diagnostics of the Kiln tools ---------------===//

#include "kiln/Tools/DiagnosticPrinter.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln {

/// A printable place for locations without a source line; empty if the SourceMgr handler
/// should print the diagnostic.
static std::string describeLocation(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string inner = describeLocation(name.getChildLoc());
    return "node '" + name.getName().str() + "'" + (inner.empty() ? "" : " in " + inner);
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return file.getLine() == 0 ? file.getFilename().str() : std::string();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return describeLocation(fused.getLocations().front());
  return "";
}

static bool hasSourceLine(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return file.getLine() != 0;
  if (auto name = dyn_cast<NameLoc>(loc))
    return hasSourceLine(name.getChildLoc());
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return hasSourceLine(callSite.getCallee());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    return llvm::any_of(fused.getLocations(), hasSourceLine);
  return false;
}

static StringRef getSeverityName(DiagnosticSeverity severity) {
  switch (severity) {
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  return "error";
}

ToolDiagnosticHandler::ToolDiagnosticHandler(llvm::SourceMgr &sourceMgr, MLIRContext *context,
                                             StringRef toolName)
    : SourceMgrDiagnosticHandler(sourceMgr, context), toolName(toolName.str()) {
  setHandler([this](Diagnostic &diag) { return handle(diag); });
}

LogicalResult ToolDiagnosticHandler::handle(Diagnostic &diag) {
  if (hasSourceLine(diag.getLocation())) {
    emitDiagnostic(diag);
    return success();
  }
  auto print = [&](Diagnostic &d) {
    std::string where = describeLocation(d.getLocation());
    llvm::errs() << (where.empty() ? toolName : where) << ": "
                 << getSeverityName(d.getSeverity()) << ": " << d.str() << "\n";
  };
  print(diag);
  for (Diagnostic &note : diag.getNotes())
    print(note);
  return success();
}

} // namespace kiln
