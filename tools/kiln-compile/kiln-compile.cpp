//===- kiln-compile.cpp - Ahead-of-time compiler driver --------------------===//
//
// `kiln-compile model.onnx --emit=mlir -o model.mlir` imports an ONNX model into kiln IR that
// kiln-opt reads back; `--emit=kiln` also runs the graph-level pipeline (simplify, raise,
// fuse-attention) and prints the transformer-level IR, so anyone can see what was fused.
// Later stages (GPU code, artifacts) add emit targets here.
//
//===----------------------------------------------------------------------===//

#include "kiln/Importer/OnnxImporter.h"
#include "kiln/Pipelines/Pipelines.h"
#include "kiln/Tools/DiagnosticPrinter.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitKind { Mlir, MlirBytecode, Kiln };
} // namespace

static cl::OptionCategory category("kiln-compile options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("file"), cl::init("-"), cl::cat(category));
static cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::Mlir),
    cl::values(clEnumValN(EmitKind::Mlir, "mlir", "kiln graph IR as text (kiln-opt reads it)"),
               clEnumValN(EmitKind::MlirBytecode, "mlirbc", "kiln graph IR as MLIR bytecode"),
               clEnumValN(EmitKind::Kiln, "kiln",
                          "kiln IR after simplify, raise and fuse-attention (before kernel "
                          "formation), as text")),
    cl::cat(category));
static cl::opt<bool> elideWeights(
    "elide-weights",
    cl::desc("Leave the weight blobs out of the output (small, for reading; it cannot be run)"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> remarks(
    "remarks",
    cl::desc("With --emit=kiln: report each attention block or pattern that was not fused, "
             "with the failed check"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> listOnnxOps(
    "list-onnx-ops",
    cl::desc("Print the supported ONNX op types of the default domain and exit"),
    cl::init(false), cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Kiln ahead-of-time compiler\n");

  MLIRContext context;
  // A diagnostic names its node by location; printing the op would dump whole functions.
  context.printOpOnDiagnostic(false);
  if (listOnnxOps) {
    for (const std::string &op : kiln::getSupportedOnnxOps(&context))
      llvm::outs() << op << "\n";
    return 0;
  }
  if (inputFile.empty()) {
    llvm::errs() << "kiln-compile: no input model given (usage: kiln-compile model.onnx "
                    "--emit=mlir -o model.mlir)\n";
    return 1;
  }

  llvm::SourceMgr sourceMgr;
  kiln::ToolDiagnosticHandler diagnostics(sourceMgr, &context, "kiln-compile");
  OwningOpRef<ModuleOp> module = kiln::importOnnxFile(inputFile, &context);
  if (!module)
    return 1;

  if (emit == EmitKind::Kiln) {
    PassManager pm(&context);
    kiln::GraphToTransformerOptions options;
    options.remarks = remarks;
    kiln::buildGraphToTransformerPipeline(pm, options);
    if (failed(pm.run(*module)))
      return 1;
  }

  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> output = openOutputFile(outputFile, &error);
  if (!output) {
    llvm::errs() << "kiln-compile: " << error << "\n";
    return 1;
  }
  if (emit == EmitKind::MlirBytecode) {
    if (failed(writeBytecodeToFile(*module, output->os())))
      return 1;
  } else {
    OpPrintingFlags flags;
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
    if (elideWeights)
      flags.elideLargeResourceString(0);
    module->print(output->os(), flags);
  }
  output->os().flush();
  if (output->os().has_error()) {
    llvm::errs() << "kiln-compile: cannot write '" << outputFile << "'\n";
    output->os().clear_error();
    return 1;
  }
  // Keep the output only now: ToolOutputFile deletes it on every earlier exit, so a failed run
  // leaves no half-written file behind.
  output->keep();
  return 0;
}
