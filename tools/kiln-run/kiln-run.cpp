//===- kiln-run.cpp - Run a model -----------------------------------------===//
//
// `kiln-run --device=cpu model.onnx --input NAME=in.npy --output-dir out/ --expect ref.npz`
// imports (or parses) a model, optionally runs a pass pipeline on it, executes it on the CPU
// reference executor and writes/compares its outputs. The model may be `.onnx` or kiln IR
// (`.mlir`, `.mlirbc`), so the same command checks a model before and after any pass.
// `--generate` and `--eval-text` generate text and measure bits per byte with a causal language
// model on the executor (CpuGeneration.cpp).
//
//===----------------------------------------------------------------------===//

#include "ArtifactRun.h"
#include "CpuGeneration.h"
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

// Generation and evaluation (CpuGeneration.cpp).
static cl::opt<bool> generate(
    "generate", cl::desc("Generate a continuation of the prompt(s) with a causal language model"),
    cl::cat(category));
static cl::list<std::string> promptFiles(
    "prompt-file", cl::desc("A prompt: the bytes of this file (with --prompt-offset/--prompt-length "
                            "after it: a slice); repeatable"),
    cl::value_desc("file"), cl::cat(category));
static cl::list<int64_t> promptOffsets("prompt-offset",
                                       cl::desc("First byte of the preceding --prompt-file"),
                                       cl::cat(category));
static cl::list<int64_t> promptLengths(
    "prompt-length", cl::desc("Bytes of the preceding --prompt-file (default: to its end)"),
    cl::cat(category));
static cl::list<std::string> promptTexts("prompt", cl::desc("A prompt given as text; repeatable"),
                                         cl::value_desc("text"), cl::cat(category));
static cl::list<std::string> promptIds("prompt-ids",
                                       cl::desc("A prompt given as token ids; repeatable"),
                                       cl::value_desc("1,2,3"), cl::cat(category));
static cl::opt<std::string> promptsFrom(
    "prompts-from", cl::desc("Several prompts: slices of this file (--prompt-offsets, "
                             "--prompt-lengths)"),
    cl::value_desc("file"), cl::cat(category));
static cl::list<int64_t> promptOffsetList("prompt-offsets", cl::CommaSeparated,
                                          cl::desc("Offsets of the --prompts-from slices"),
                                          cl::cat(category));
static cl::list<int64_t> promptLengthList("prompt-lengths", cl::CommaSeparated,
                                          cl::desc("Lengths of the --prompts-from slices"),
                                          cl::cat(category));
static cl::opt<int64_t> maxNewTokens("max-new-tokens", cl::desc("Tokens to generate per prompt"),
                                     cl::init(128), cl::cat(category));
static cl::opt<double> temperature("temperature", cl::desc("Sampling temperature (0: greedy)"),
                                   cl::init(0), cl::cat(category));
static cl::opt<int64_t> topK("top-k", cl::desc("Sample among the k most likely tokens (0: off)"),
                             cl::init(0), cl::cat(category));
static cl::opt<double> topP("top-p",
                            cl::desc("Sample among the most likely tokens of mass p (1: off)"),
                            cl::init(1), cl::cat(category));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the sampler"), cl::init(0),
                              cl::cat(category));
static cl::opt<int64_t> eos("eos", cl::desc("Stop a sequence at this token id (-1: none)"),
                            cl::init(-1), cl::cat(category));
static cl::opt<bool> truncatePrompt(
    "truncate-prompt",
    cl::desc("Keep the last tokens of a prompt too long for the context instead of failing"),
    cl::cat(category));
static cl::opt<bool> fullRecompute(
    "full-recompute",
    cl::desc("Run the full forward on the whole sequence per token even when the module has "
             "@prefill/@decode"),
    cl::cat(category));
static cl::opt<std::string> outputJson("output-json",
                                       cl::desc("Write the generated tokens or the evaluation "
                                                "and timings as JSON"),
                                       cl::value_desc("file"), cl::cat(category));
static cl::opt<bool> quiet("quiet", cl::desc("No statistics on stderr"), cl::cat(category));
static cl::opt<std::string> evalText(
    "eval-text", cl::desc("Report bits per byte of a byte-level model over windows of this file"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<int64_t> window("window", cl::desc("Bytes per --eval-text window"), cl::init(0),
                               cl::cat(category));
static cl::opt<int64_t> windows("windows",
                                cl::desc("Windows to evaluate (default: as many as the file holds)"),
                                cl::init(0), cl::cat(category));

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

/// The prompts in command-line order; --prompt-offset/--prompt-length apply to the --prompt-file
/// before them.
static FailureOr<std::vector<kiln::run::PromptSpec>> collectPrompts() {
  using kiln::run::PromptSpec;
  struct Item {
    unsigned position;
    enum { File, Text, Ids, Offset, Length } kind;
    unsigned index;
  };
  std::vector<Item> items;
  for (unsigned i = 0; i < promptFiles.size(); ++i)
    items.push_back({promptFiles.getPosition(i), Item::File, i});
  for (unsigned i = 0; i < promptTexts.size(); ++i)
    items.push_back({promptTexts.getPosition(i), Item::Text, i});
  for (unsigned i = 0; i < promptIds.size(); ++i)
    items.push_back({promptIds.getPosition(i), Item::Ids, i});
  for (unsigned i = 0; i < promptOffsets.size(); ++i)
    items.push_back({promptOffsets.getPosition(i), Item::Offset, i});
  for (unsigned i = 0; i < promptLengths.size(); ++i)
    items.push_back({promptLengths.getPosition(i), Item::Length, i});
  llvm::sort(items, [](const Item &a, const Item &b) { return a.position < b.position; });
  std::vector<PromptSpec> prompts;
  bool lastIsFile = false, hasOffset = false, hasLength = false;
  for (const Item &item : items) {
    switch (item.kind) {
    case Item::File:
      prompts.push_back({PromptSpec::Kind::File, promptFiles[item.index], 0, std::nullopt});
      lastIsFile = true;
      hasOffset = hasLength = false;
      break;
    case Item::Text:
      prompts.push_back({PromptSpec::Kind::Text, promptTexts[item.index], 0, std::nullopt});
      lastIsFile = false;
      break;
    case Item::Ids:
      prompts.push_back({PromptSpec::Kind::Ids, promptIds[item.index], 0, std::nullopt});
      lastIsFile = false;
      break;
    case Item::Offset:
    case Item::Length: {
      bool isOffset = item.kind == Item::Offset;
      const char *name = isOffset ? "--prompt-offset" : "--prompt-length";
      if (!lastIsFile || (isOffset ? hasOffset : hasLength)) {
        fail(llvm::Twine(name) + " must follow a --prompt-file (once per file)");
        return failure();
      }
      if (isOffset) {
        prompts.back().offset = promptOffsets[item.index];
        hasOffset = true;
      } else {
        prompts.back().length = promptLengths[item.index];
        hasLength = true;
      }
      break;
    }
    }
  }
  if (!promptsFrom.empty()) {
    if (promptOffsetList.empty() ||
        (!promptLengthList.empty() && promptLengthList.size() != promptOffsetList.size())) {
      fail("--prompts-from needs --prompt-offsets o1,o2,... and as many --prompt-lengths");
      return failure();
    }
    for (unsigned i = 0; i < promptOffsetList.size(); ++i)
      prompts.push_back({PromptSpec::Kind::File, promptsFrom, promptOffsetList[i],
                         promptLengthList.empty() ? std::optional<int64_t>()
                                                  : std::optional<int64_t>(promptLengthList[i])});
  } else if (!promptOffsetList.empty() || !promptLengthList.empty()) {
    fail("--prompt-offsets/--prompt-lengths need --prompts-from");
    return failure();
  }
  return prompts;
}

/// Checks that the options of the modes are not mixed; returns an error message or "".
static std::string checkModeOptions() {
  bool anyPrompt = !promptFiles.empty() || !promptTexts.empty() || !promptIds.empty() ||
                   !promptsFrom.empty() || !promptOffsets.empty() || !promptLengths.empty();
  bool runOptions = !inputs.empty() || !positionalInputs.empty() || !inputsFrom.empty() ||
                    !outputDir.empty() || !expectFile.empty();
  if (generate && !evalText.empty())
    return "--generate and --eval-text are separate runs";
  if ((generate || !evalText.empty()) && runOptions)
    return std::string(generate ? "--generate" : "--eval-text") +
           " takes no --input/--inputs-from/--output-dir/--expect (nor input files)";
  if (anyPrompt && !generate)
    return "prompt options need --generate";
  if ((window.getNumOccurrences() || windows.getNumOccurrences()) && evalText.empty())
    return "--window/--windows need --eval-text";
  if (windows.getNumOccurrences() && windows < 1)
    return "--windows must be at least 1";
  return "";
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
  if (std::string error = checkModeOptions(); !error.empty())
    return fail(error);

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
  if (generate) {
    FailureOr<std::vector<kiln::run::PromptSpec>> prompts = collectPrompts();
    if (failed(prompts))
      return 1;
    kiln::run::GenerationOptions options;
    options.prompts = std::move(*prompts);
    options.sampling.temperature = temperature;
    options.sampling.topK = topK;
    options.sampling.topP = topP;
    options.sampling.seed = seed;
    options.sampling.eosId = eos;
    options.sampling.maxNewTokens = maxNewTokens;
    options.sampling.truncatePrompt = truncatePrompt;
    options.fullRecompute = fullRecompute;
    options.entry = entry;
    options.outputJson = outputJson;
    options.quiet = quiet;
    return kiln::run::runCpuGeneration(*module, options);
  }
  if (!evalText.empty()) {
    kiln::run::EvalTextOptions options;
    options.file = evalText;
    options.window = window;
    if (windows.getNumOccurrences())
      options.windows = windows;
    options.fullRecompute = fullRecompute;
    options.entry = entry;
    options.outputJson = outputJson;
    options.quiet = quiet;
    return kiln::run::runCpuTextEvaluation(*module, options);
  }
  if (!outputJson.empty() || fullRecompute)
    return fail("--output-json and --full-recompute go with --generate or --eval-text");

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
