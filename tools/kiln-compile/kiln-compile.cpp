//===- kiln-compile.cpp - Ahead-of-time compiler driver --------------------===//
//
// `kiln-compile model.onnx --emit=mlir -o model.mlir` imports an ONNX model into kiln IR that
// kiln-opt reads back; `--emit=kiln` also runs the graph-level pipeline (simplify, raise,
// fuse-attention) and prints the transformer-level IR, so anyone can see what was fused.
// `kiln-compile model.onnx -o model.kiln` compiles all the way: kernels (kiln-lower-to-gpu),
// memory plan, PTX (and cubin when ptxas is found), artifact; `--emit=exe|lib` wraps the
// artifact into a standalone executable or shared library. `--emit` selects the stage.
//
//===----------------------------------------------------------------------===//

#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"
#include "kiln/Importer/OnnxImporter.h"
#include "kiln/Pipelines/Pipelines.h"
#include "kiln/Target/ArtifactWriter.h"
#include "kiln/Tools/DiagnosticPrinter.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitKind { Auto, Mlir, MlirBytecode, Kiln, Gpu, Ptx, Artifact, Exe, Lib };
} // namespace

static cl::OptionCategory category("kiln-compile options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("file"), cl::init("-"), cl::cat(category));
static cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce (default: by the output's extension: .kiln artifact, "
                     ".ptx PTX, otherwise mlir)"),
    cl::init(EmitKind::Auto),
    cl::values(clEnumValN(EmitKind::Mlir, "mlir", "kiln graph IR as text (kiln-opt reads it)"),
               clEnumValN(EmitKind::MlirBytecode, "mlirbc", "kiln graph IR as MLIR bytecode"),
               clEnumValN(EmitKind::Kiln, "kiln",
                          "kiln IR after simplify, raise and fuse-attention (before kernel "
                          "formation), as text"),
               clEnumValN(EmitKind::Gpu, "gpu",
                          "host launch plan + generated kernels (gpu/nvgpu/nvvm IR) with the "
                          "memory plan, as text"),
               clEnumValN(EmitKind::Ptx, "ptx", "the kernels' PTX"),
               clEnumValN(EmitKind::Artifact, "artifact",
                          "the deployable artifact (.kiln) for libkilnrt / kiln-run"),
               clEnumValN(EmitKind::Exe, "exe",
                          "a standalone executable (artifact inside; needs only the NVIDIA "
                          "driver)"),
               clEnumValN(EmitKind::Lib, "lib",
                          "a shared library with the artifact inside and a C entry point "
                          "(kiln_model_open, see runtime/README.md)")),
    cl::cat(category));
static cl::opt<std::string> precision("precision",
                                      cl::desc("Storage type of float tensors: fp32 (exact), "
                                               "fp16 or bf16 (f32 accumulation)"),
                                      cl::init("fp32"), cl::cat(category));
static cl::opt<std::string> target("target", cl::desc("GPU to compile for: sm_90 or sm_80"),
                                   cl::init("sm_90"), cl::cat(category));
static cl::opt<int64_t> maxDim("max-dim",
                               cl::desc("Largest value of any dynamic dim (the memory plan "
                                        "sizes buffers for it)"),
                               cl::init(2048), cl::cat(category));
static cl::list<std::string> dimMax("dim-max",
                                    cl::desc("Bound of one named dynamic dim, name=value "
                                             "(e.g. seq=4096); repeatable"),
                                    cl::cat(category));
static cl::opt<std::string> kvCache(
    "kv-cache",
    cl::desc("Derive prefill/decode entry points with a managed KV cache (kiln-kv-cache): "
             "auto (for causal decoders), on (fail if the model is not one), off"),
    cl::init("auto"), cl::cat(category));
static cl::opt<int64_t> maxSeqLen("max-seq-len",
                                  cl::desc("Maximum context of a generated sequence (prompt "
                                           "plus new tokens): the KV cache's length (default "
                                           "2048, or the model's position table if shorter)"),
                                  cl::init(2048), cl::cat(category));
static cl::opt<int64_t> maxBatch("max-batch",
                                 cl::desc("Maximum number of sequences generated at once (KV "
                                          "cache slots, decode batch)"),
                                 cl::init(64), cl::cat(category));
static cl::opt<std::string> cubin("cubin",
                                  cl::desc("Also put a cubin from ptxas in the artifact: auto "
                                           "(when ptxas is found), always, never"),
                                  cl::init("auto"), cl::cat(category));
static cl::opt<std::string> ptxasPath("ptxas",
                                      cl::desc("ptxas to use (default: PATH, then "
                                               "/usr/local/cuda/bin)"),
                                      cl::init(""), cl::cat(category));
static cl::opt<bool> elideWeights(
    "elide-weights",
    cl::desc("Leave the weight blobs out of the output (small, for reading; it cannot be run)"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> remarks(
    "remarks",
    cl::desc("With --emit=kiln: report each attention block or pattern that was not fused, "
             "with the failed check"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> listGpuOps(
    "list-gpu-ops", cl::desc("Print the kiln ops that have a GPU kernel template and exit"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> listOnnxOps(
    "list-onnx-ops",
    cl::desc("Print the supported ONNX op types of the default domain and exit"),
    cl::init(false), cl::cat(category));

/// ptxas: --ptxas, else PATH, else the CUDA toolkit's default place. Empty when absent.
static std::string findPtxas() {
  if (!ptxasPath.empty())
    return ptxasPath;
  if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  return "";
}

/// Assembles `ptx` with ptxas into a cubin for `target`. Fails with ptxas's log.
static FailureOr<std::vector<uint8_t>> assemblePtx(StringRef ptxas, StringRef ptx) {
  llvm::SmallString<128> ptxFile, cubinFile, logFile;
  if (llvm::sys::fs::createTemporaryFile("kiln", "ptx", ptxFile) ||
      llvm::sys::fs::createTemporaryFile("kiln", "cubin", cubinFile) ||
      llvm::sys::fs::createTemporaryFile("kiln", "log", logFile)) {
    llvm::errs() << "kiln-compile: cannot create temporary files for ptxas\n";
    return failure();
  }
  llvm::scope_exit cleanup([&] {
    llvm::sys::fs::remove(ptxFile);
    llvm::sys::fs::remove(cubinFile);
    llvm::sys::fs::remove(logFile);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(ptxFile, ec);
    if (ec) {
      llvm::errs() << "kiln-compile: cannot write " << ptxFile << ": " << ec.message() << "\n";
      return failure();
    }
    os << ptx;
  }
  std::string arch = "-arch=" + target;
  SmallVector<StringRef> args = {ptxas, arch, "-O3", ptxFile, "-o", cubinFile};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logFile), StringRef(logFile)};
  std::string error;
  int status = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0, &error);
  if (status != 0) {
    auto log = llvm::MemoryBuffer::getFile(logFile);
    llvm::errs() << "kiln-compile: ptxas (" << ptxas << ") rejected the generated PTX"
                 << (error.empty() ? "" : ": " + error) << "\n"
                 << (log ? (*log)->getBuffer() : "") << "\n";
    return failure();
  }
  auto cubinData = llvm::MemoryBuffer::getFile(cubinFile);
  if (!cubinData) {
    llvm::errs() << "kiln-compile: ptxas wrote no cubin\n";
    return failure();
  }
  StringRef bytes = (*cubinData)->getBuffer();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

/// The stub a standalone executable or library is made from, next to this tool.
static std::string findStub(const char *argv0, StringRef name, StringRef dir) {
  std::string self = llvm::sys::fs::getMainExecutable(argv0, (void *)&findPtxas);
  llvm::SmallString<256> path(llvm::sys::path::parent_path(self));
  llvm::sys::path::append(path, dir, name);
  return std::string(path);
}

/// Writes the PTX, the artifact, or a standalone executable/library holding it.
static int writeCompiledModel(ModuleOp module, const char *argv0) {
  FailureOr<std::string> ptx = kiln::getKernelPtx(module);
  if (failed(ptx))
    return 1;
  if (emit == EmitKind::Ptx) {
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> output = openOutputFile(outputFile, &error);
    if (!output) {
      llvm::errs() << "kiln-compile: " << error << "\n";
      return 1;
    }
    output->os() << *ptx;
    output->os().flush();
    if (output->os().has_error()) {
      llvm::errs() << "kiln-compile: cannot write '" << outputFile << "'\n";
      output->os().clear_error();
      return 1;
    }
    output->keep();
    return 0;
  }
  if (outputFile == "-") {
    llvm::errs() << "kiln-compile: an artifact is binary; name an output file with -o\n";
    return 1;
  }
  std::vector<uint8_t> cubinBytes;
  if (cubin != "never") {
    std::string ptxas = findPtxas();
    if (ptxas.empty() && cubin == "always") {
      llvm::errs() << "kiln-compile: --cubin=always but no ptxas was found (PATH, "
                      "/usr/local/cuda/bin, or --ptxas)\n";
      return 1;
    }
    if (!ptxas.empty()) {
      FailureOr<std::vector<uint8_t>> assembled = assemblePtx(ptxas, *ptx);
      if (failed(assembled))
        return 1;
      cubinBytes = std::move(*assembled);
    }
  }
  std::string producer = "kiln-compile " + std::string(llvm::sys::path::filename(inputFile));
  FailureOr<kilnrt::Artifact> artifact =
      kiln::buildArtifact(module, std::move(*ptx), std::move(cubinBytes), producer);
  if (failed(artifact))
    return 1;
  std::string error;
  if (emit == EmitKind::Artifact) {
    if (!kilnrt::writeArtifactFile(outputFile, *artifact, error)) {
      llvm::errs() << "kiln-compile: " << error << "\n";
      return 1;
    }
    return 0;
  }
  std::string stub = emit == EmitKind::Exe ? findStub(argv0, "kiln-exe-stub", "")
                                           : findStub(argv0, "libkiln-lib-stub.so", "../lib");
  if (!llvm::sys::fs::exists(stub)) {
    llvm::errs() << "kiln-compile: the stub '" << stub
                 << "' is missing (build the runtime targets)\n";
    return 1;
  }
  if (!kilnrt::appendArtifactToStub(stub, kilnrt::serializeArtifact(*artifact), outputFile,
                                    error)) {
    llvm::errs() << "kiln-compile: " << error << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Kiln ahead-of-time compiler\n");

  DialectRegistry registry;
  kiln::registerGpuToPtxDependencies(registry);
  MLIRContext context(registry);
  // A diagnostic names its node by location; printing the op would dump whole functions.
  context.printOpOnDiagnostic(false);
  if (listGpuOps) {
    std::vector<std::string> names;
    for (const auto &entry : kiln::gpu_codegen::getAllKernelLowerings())
      names.push_back(entry.getKey().str());
    llvm::sort(names);
    for (const std::string &name : names)
      llvm::outs() << name << "\n";
    return 0;
  }
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

  if (kvCache != "auto" && kvCache != "on" && kvCache != "off") {
    llvm::errs() << "kiln-compile: --kv-cache must be auto, on or off, got '" << kvCache
                 << "'\n";
    return 1;
  }
  if (maxSeqLen < 1 || maxBatch < 1) {
    llvm::errs() << "kiln-compile: --max-seq-len and --max-batch must be positive\n";
    return 1;
  }
  if (emit == EmitKind::Auto) {
    StringRef out(outputFile);
    emit = out.ends_with(".kiln") ? EmitKind::Artifact
           : out.ends_with(".ptx") ? EmitKind::Ptx
                                   : EmitKind::Mlir;
  }
  bool toKernels = emit == EmitKind::Gpu || emit == EmitKind::Ptx ||
                   emit == EmitKind::Artifact || emit == EmitKind::Exe ||
                   emit == EmitKind::Lib;
  if (emit == EmitKind::Kiln || toKernels) {
    PassManager pm(&context);
    kiln::GraphToTransformerOptions options;
    options.remarks = remarks;
    kiln::buildGraphToTransformerPipeline(pm, options);
    if (kvCache != "off") {
      kiln::KilnKVCachePassOptions cache;
      cache.maxSeqLen = maxSeqLen;
      cache.maxBatch = maxBatch;
      cache.ifApplicable = kvCache == "auto";
      // Without --max-seq-len, a model whose position table is shorter than the default
      // context (GPT-2: 1024 positions) gets its table's length instead of an error.
      cache.fitPositionTables = maxSeqLen.getNumOccurrences() == 0;
      pm.addPass(kiln::createKilnKVCachePass(cache));
    }
    if (toKernels) {
      kiln::TransformerToGpuOptions gpu;
      gpu.precision = precision;
      gpu.target = target;
      gpu.maxDim = maxDim;
      for (const std::string &bound : dimMax)
        gpu.dimMax.push_back(bound);
      kiln::buildTransformerToGpuPipeline(pm, gpu);
    }
    if (toKernels && emit != EmitKind::Gpu) {
      kiln::GpuToPtxOptions ptx;
      ptx.chip = target;
      ptx.format = "isa";
      kiln::buildGpuToPtxPipeline(pm, ptx);
    }
    if (failed(pm.run(*module)))
      return 1;
  }

  if (emit == EmitKind::Ptx || emit == EmitKind::Artifact || emit == EmitKind::Exe ||
      emit == EmitKind::Lib)
    return writeCompiledModel(*module, argv[0]);

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
