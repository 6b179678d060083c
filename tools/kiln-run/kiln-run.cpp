//===- kiln-run.cpp - Run a model -----------------------------------------===//
//
// `kiln-run --device=cpu model.onnx --input NAME=in.npy --output-dir out/ --expect ref.npz`
// imports (or parses) a model, optionally runs a pass pipeline on it, executes it on the CPU
// reference executor and writes/compares its outputs. The model may be `.onnx` or kiln IR
// (`.mlir`, `.mlirbc`), so the same command checks a model before and after any pass.
//
//===----------------------------------------------------------------------===//

#include "ArtifactRun.h"
#include "kiln/Dialect/Kiln/IR/KilnDialect.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"
#include "kiln/Executor/CpuExecutor.h"
#include "kiln/Executor/NumpyFile.h"
#include "kiln/Importer/OnnxImporter.h"
#include "kiln/Pipelines/Pipelines.h"
#include "kiln/Tools/DiagnosticPrinter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>

using namespace mlir;
using namespace kiln::exec;
namespace cl = llvm::cl;

static cl::OptionCategory category("kiln-run options");
static cl::opt<std::string> modelFile(cl::Positional, cl::desc("<model.onnx | model.mlir>"),
                                      cl::cat(category));
static cl::list<std::string> positionalInputs(cl::Positional, cl::desc("[input.npy ...]"),
                                              cl::cat(category));
static cl::opt<std::string> device("device", cl::desc("Where to run: cpu"), cl::init("cpu"),
                                   cl::cat(category));
static cl::list<std::string> inputs(
    "input", cl::desc("An input as NAME=FILE.npy, or FILE.npy (bound in order)"),
    cl::value_desc("[NAME=]FILE.npy"), cl::cat(category));
static cl::opt<std::string> inputsFrom(
    "inputs-from",
    cl::desc("Take inputs not given otherwise from this .npz: the array named like the input, "
             "or in<i> for input i (the fixtures' convention)"),
    cl::value_desc("file.npz"), cl::cat(category));
static cl::opt<std::string> outputDir("output-dir",
                                      cl::desc("Write one <output name>.npy per output here"),
                                      cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> expectFile(
    "expect",
    cl::desc("Compare each output with the array of the same name (or ort_out<i>) in this .npz"),
    cl::value_desc("ref.npz"), cl::cat(category));
static cl::opt<double> relativeTolerance("rtol", cl::desc("Relative tolerance of --expect"), cl::init(1e-4),
                            cl::cat(category));
static cl::opt<double> absoluteTolerance("atol", cl::desc("Absolute tolerance of --expect"), cl::init(1e-5),
                            cl::cat(category));
static cl::opt<std::string> passPipeline(
    "pass-pipeline",
    cl::desc("Run this pass pipeline on the module before executing it, e.g. "
             "'builtin.module(canonicalize)'"),
    cl::cat(category));
static cl::opt<std::string> entry("entry", cl::desc("The function to run"), cl::init("main"),
                                  cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "kiln-run: " << message << "\n";
  return 1;
}

static std::string getArgName(func::FuncOp function, unsigned index) {
  if (auto name = function.getArgAttrOfType<StringAttr>(index, "kiln.name"))
    return name.str();
  return "arg" + std::to_string(index);
}

static std::string getResultName(func::FuncOp function, unsigned index) {
  if (auto name = function.getResultAttrOfType<StringAttr>(index, "kiln.name"))
    return name.str();
  return "output" + std::to_string(index);
}

using NamedArray = std::pair<std::string, Tensor>;

/// The .npz array called `name`, else the one called `fallback` (the fixtures' in<i>/ort_out<i>).
static const NamedArray *findNamedArray(ArrayRef<NamedArray> archive, StringRef name,
                                        StringRef fallback) {
  for (StringRef key : {name, fallback}) {
    auto it = llvm::find_if(archive, [&](const NamedArray &entry) { return entry.first == key; });
    if (it != archive.end())
      return &*it;
  }
  return nullptr;
}

/// Loads the model: ONNX through the importer, anything else as MLIR text or bytecode.
static OwningOpRef<ModuleOp> loadModel(MLIRContext &context, llvm::SourceMgr &sourceMgr) {
  if (llvm::sys::path::extension(modelFile) == ".onnx")
    return kiln::importOnnxFile(modelFile, &context);
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(modelFile);
  if (!buffer) {
    llvm::errs() << "kiln-run: cannot read '" << modelFile << "': " << buffer.getError().message()
                 << "\n";
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sourceMgr, &context);
}

/// Binds --input and positional .npy files to the function's arguments.
static FailureOr<SmallVector<Tensor>> loadInputs(func::FuncOp function) {
  unsigned numArgs = function.getNumArguments();
  SmallVector<std::optional<Tensor>> bound(numArgs);
  SmallVector<std::string> specs(inputs.begin(), inputs.end());
  llvm::append_range(specs, positionalInputs);
  unsigned nextPositional = 0;
  for (const std::string &spec : specs) {
    StringRef name, path = spec;
    std::optional<unsigned> index;
    if (size_t eq = spec.find('='); eq != std::string::npos) {
      name = StringRef(spec).take_front(eq);
      for (unsigned i = 0; i < numArgs; ++i)
        if (getArgName(function, i) == name)
          index = i;
      if (!index) {
        std::string known;
        for (unsigned i = 0; i < numArgs; ++i)
          known += (i ? ", " : "") + getArgName(function, i);
        fail("the model has no input named '" + name + "' (its inputs: " + known + ")");
        return failure();
      }
      path = StringRef(spec).drop_front(eq + 1);
    } else {
      while (nextPositional < numArgs && bound[nextPositional])
        ++nextPositional;
      if (nextPositional == numArgs) {
        fail("too many inputs: the model takes " + llvm::Twine(numArgs) + ", '" + spec +
             "' is one more");
        return failure();
      }
      index = nextPositional;
    }
    if (bound[*index]) {
      fail("input '" + getArgName(function, *index) + "' is given twice");
      return failure();
    }
    llvm::Expected<Tensor> tensor = readNpyFile(path);
    if (!tensor) {
      fail(llvm::toString(tensor.takeError()));
      return failure();
    }
    bound[*index] = std::move(*tensor);
  }
  if (!inputsFrom.empty()) {
    auto archive = readNpzFile(inputsFrom);
    if (!archive) {
      fail(llvm::toString(archive.takeError()));
      return failure();
    }
    for (unsigned i = 0; i < numArgs; ++i) {
      if (bound[i])
        continue;
      if (const NamedArray *array =
              findNamedArray(*archive, getArgName(function, i), "in" + std::to_string(i)))
        bound[i] = array->second;
    }
  }
  // numpy has no bfloat16: float32 arrays stand in for bf16 inputs (rounded here).
  for (unsigned i = 0; i < numArgs; ++i) {
    auto type = dyn_cast<ShapedType>(function.getArgumentTypes()[i]);
    if (bound[i] && type && type.getElementType().isBF16() &&
        bound[i]->getDType() == DType::F32)
      bound[i] = bound[i]->castTo(DType::BF16);
  }
  SmallVector<Tensor> result;
  for (unsigned i = 0; i < numArgs; ++i) {
    if (!bound[i]) {
      fail("input '" + getArgName(function, i) + "' (argument #" + llvm::Twine(i) +
           ") is not given; pass --input " + getArgName(function, i) + "=FILE.npy");
      return failure();
    }
    result.push_back(std::move(*bound[i]));
  }
  return result;
}

/// numpy.allclose-style comparison; prints one line and returns whether it matched.
static bool compareOutput(StringRef name, const Tensor &actual, StringRef refName,
                          const Tensor &expected) {
  llvm::outs() << name << ": " << actual.describe() << " vs " << refName << " "
               << expected.describe();
  if (actual.getShape() != expected.getShape()) {
    llvm::outs() << ": MISMATCH (shapes differ)\n";
    return false;
  }
  double maxAbs = 0, maxRel = 0;
  int64_t outside = 0;
  for (int64_t i = 0, e = actual.getNumElements(); i < e; ++i) {
    double a = actual.getDouble(i), b = expected.getDouble(i);
    if (std::isnan(a) || std::isnan(b)) {
      outside += std::isnan(a) != std::isnan(b);
      continue;
    }
    if (std::isinf(a) || std::isinf(b)) {
      outside += a != b;
      continue;
    }
    double err = std::fabs(a - b);
    maxAbs = std::max(maxAbs, err);
    if (b != 0)
      maxRel = std::max(maxRel, err / std::fabs(b));
    if (err > absoluteTolerance + relativeTolerance * std::fabs(b))
      ++outside;
  }
  llvm::outs() << ": max abs err " << llvm::format("%.3g", maxAbs) << ", max rel err "
               << llvm::format("%.3g", maxRel) << ", " << outside << " of "
               << actual.getNumElements() << " outside rtol " << llvm::format("%g", relativeTolerance.getValue())
               << " atol " << llvm::format("%g", absoluteTolerance.getValue()) << ": "
               << (outside ? "MISMATCH" : "OK") << "\n";
  return outside == 0;
}

/// A file name for an output: ONNX names may contain '/' or ':'.
static std::string getOutputFileName(StringRef name) {
  std::string file;
  for (char c : name)
    file.push_back(llvm::isAlnum(c) || c == '_' || c == '-' || c == '.' ? c : '_');
  return file + ".npy";
}

/// A compiled artifact (kiln-compile -o model.kiln) runs on the GPU through libkilnrt, with
/// the artifact runner's own options (runtime/tools/kiln-run).
static bool isArtifact(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    if (arg.starts_with("-"))
      continue;
    if (arg.ends_with(".kiln"))
      return true;
    char magic[8] = {};
    if (FILE *file = std::fopen(argv[i], "rb")) {
      size_t read = std::fread(magic, 1, sizeof(magic), file);
      std::fclose(file);
      static const char kArtifactMagic[8] = {'\x89', 'K', 'I', 'L', 'N', '\r', '\n', '\x1a'};
      if (read == sizeof(magic) && std::memcmp(magic, kArtifactMagic, sizeof(magic)) == 0)
        return true;
    }
    return false;
  }
  return false;
}

int main(int argc, char **argv) {
  if (isArtifact(argc, argv))
    return kilnRunArtifactMain(argc, argv);
  llvm::InitLLVM initLLVM(argc, argv);
  registerTransformsPasses();
  kiln::registerKilnPasses();
  kiln::registerKilnPipelines();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Kiln model runner\n");

  if (device != "cpu")
    return fail("--device=" + device + " is not available: this build runs models on the CPU "
                                       "reference executor only (--device=cpu)");
  if (modelFile.empty())
    return fail("no model given (usage: kiln-run --device=cpu model.onnx --input NAME=in.npy)");

  DialectRegistry registry;
  registry.insert<kiln::KilnDialect, func::FuncDialect>();
  MLIRContext context(registry);
  // A diagnostic names its op by location; printing the op would dump whole functions.
  context.printOpOnDiagnostic(false);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  kiln::ToolDiagnosticHandler diagnostics(sourceMgr, &context, "kiln-run");

  OwningOpRef<ModuleOp> module = loadModel(context, sourceMgr);
  if (!module)
    return 1;
  if (!passPipeline.empty()) {
    // 'builtin.module(...)' names the module itself: parse it as a pipeline anchored there
    // (adding it to a manager would nest it once more and run it on no op at all).
    std::string error;
    llvm::raw_string_ostream errorStream(error);
    FailureOr<OpPassManager> parsed = parsePassPipeline(passPipeline, errorStream);
    if (failed(parsed))
      return fail("bad --pass-pipeline: " + error);
    if (parsed->getOpAnchorName() != ModuleOp::getOperationName())
      return fail("bad --pass-pipeline: it must be anchored on the module, as in "
                  "'builtin.module(...)', not on '" + parsed->getOpAnchorName() + "'");
    PassManager pm = PassManager::on<ModuleOp>(&context);
    static_cast<OpPassManager &>(pm) = *parsed;
    if (failed(pm.run(*module)))
      return fail("the pass pipeline failed");
  }
  auto function = module->lookupSymbol<func::FuncOp>(entry);
  if (!function || function.isExternal())
    return fail("the model has no function '@" + entry + "' with a body");

  FailureOr<SmallVector<Tensor>> inputTensors = loadInputs(function);
  if (failed(inputTensors))
    return 1;
  FailureOr<SmallVector<Tensor>> outputs = runFunction(function, *inputTensors);
  if (failed(outputs))
    return fail("execution failed");

  if (!outputDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
      return fail("cannot create '" + outputDir + "': " + ec.message());
    llvm::StringMap<std::string> writtenBy;
    for (auto [i, output] : llvm::enumerate(*outputs)) {
      std::string name = getResultName(function, i), fileName = getOutputFileName(name);
      // Sanitising may map two ONNX names to one file; never let one output overwrite another.
      if (auto [it, inserted] = writtenBy.try_emplace(fileName, name); !inserted)
        return fail("outputs '" + it->second + "' and '" + name + "' would both be written to '" +
                    fileName + "'");
      SmallString<256> path(outputDir);
      llvm::sys::path::append(path, fileName);
      // numpy has no bfloat16: such outputs are written as float32 (exact).
      const Tensor &written =
          output.getDType() == DType::BF16 ? output.castTo(DType::F32) : output;
      if (llvm::Error error = writeNpyFile(path, written))
        return fail(llvm::toString(std::move(error)));
    }
  }

  if (expectFile.empty()) {
    for (auto [i, output] : llvm::enumerate(*outputs))
      llvm::outs() << getResultName(function, i) << ": " << output.describe() << "\n";
    return 0;
  }
  auto reference = readNpzFile(expectFile);
  if (!reference)
    return fail(llvm::toString(reference.takeError()));
  bool allMatch = true;
  for (auto [i, output] : llvm::enumerate(*outputs)) {
    std::string name = getResultName(function, i);
    std::string fallback = "ort_out" + std::to_string(i);
    const NamedArray *match = findNamedArray(*reference, name, fallback);
    const Tensor *expected = match ? &match->second : nullptr;
    if (!expected) {
      llvm::outs() << name << ": MISSING (" << expectFile << " has neither '" << name
                   << "' nor '" << fallback << "')\n";
      allMatch = false;
      continue;
    }
    allMatch &= compareOutput(name, output, match->first, *expected);
  }
  return allMatch ? 0 : 1;
}
