//===- CpuGeneration.cpp - Generation and evaluation on the CPU executor --===//
//
// Two strategies generate text from a causal language model on the CPU executor:
//  - full recompute: the full forward (@main: token ids [1, seq] -> logits [1, seq, vocab]) runs
//    on the whole sequence for each new token (any causal LM; one with a static seq is run on
//    the sequence padded at the end, which a causal model's earlier rows do not see);
//  - KV cache: when the module has @prefill and @decode (kiln-kv-cache), each prompt is
//    prefilled into its own cache slot and every step decodes one token of every unfinished
//    sequence in one @decode call, as the GPU runtime does.
// `--eval-text` computes bits per byte over windows of a file with @prefill (fresh positions
// 0..W-1 in slot 0) or the full forward.
//
//===----------------------------------------------------------------------===//

#include "CpuGeneration.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/CpuExecutor.h"
#include "kilnrt/Sampling.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace kiln;
using namespace kiln::exec;
using namespace kiln::run;
using kilnrt::checkSampling;
using kilnrt::SamplingNames;
using kilnrt::SamplingParams;
using kilnrt::SamplingRng;
using kilnrt::sampleToken;

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "kiln-run: " << message << "\n";
  return 1;
}

std::string formatType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

std::string formatTypes(TypeRange types) {
  std::string text = "(";
  for (auto [i, type] : llvm::enumerate(types))
    text += (i ? ", " : "") + formatType(type);
  return text + ")";
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

//===----------------------------------------------------------------------===//
// The model's entry functions
//===----------------------------------------------------------------------===//

/// A function that maps token ids to logits, with or without a KV cache.
struct Forward {
  mutable func::FuncOp function; // (op handles are used through const references)
  DType idsType = DType::I64;
  unsigned idsArg = 0, logitsResult = 0;
  // With a cache (@prefill/@decode).
  unsigned positionsArg = 0, slotsArg = 0, cacheArg = 0, cacheResult = 0;
  DType indexType = DType::I64;
  KVCacheType cacheType;
  int64_t vocab = 0;
  /// The largest sequence the function takes (a static seq dim, or kiln.dim_max), if bounded.
  std::optional<int64_t> maxSeq;
  /// The input's seq dim is static: shorter sequences are padded to it.
  bool staticSeq = false;
};

/// Whether `type` is token ids [1, seq] of an integer type; sets the dtype.
bool isTokenIds(Type type, DType &dtype) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || ranked.getRank() != 2 || (ranked.getDimSize(0) != 1 && !ranked.isDynamicDim(0)))
    return false;
  std::optional<DType> element = getDTypeOf(ranked.getElementType());
  if (!element || !(isSignedInteger(*element) || isUnsignedInteger(*element)))
    return false;
  dtype = *element;
  return true;
}

/// The vocabulary of logits [1, seq, vocab] (float, static vocab), or 0.
int64_t getLogitsVocab(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || ranked.getRank() != 3 || !isa<FloatType>(ranked.getElementType()) ||
      ranked.isDynamicDim(2))
    return 0;
  return ranked.getDimSize(2);
}

/// The bound kiln.dim_max gives the seq dim of argument `arg` (its kiln.dim_params name).
std::optional<int64_t> getDimMax(func::FuncOp function, unsigned arg, unsigned dim) {
  auto params = function.getArgAttrOfType<ArrayAttr>(arg, "kiln.dim_params");
  auto bounds = function->getAttrOfType<DictionaryAttr>("kiln.dim_max");
  if (!params || !bounds || params.size() <= dim)
    return std::nullopt;
  auto name = dyn_cast<StringAttr>(params[dim]);
  if (!name || name.getValue().empty())
    return std::nullopt;
  if (auto bound = dyn_cast_or_null<IntegerAttr>(bounds.get(name.getValue())))
    return bound.getInt();
  return std::nullopt;
}

/// The full forward: one argument, token ids [1, seq]; result 0 the logits [1, seq, vocab].
FailureOr<Forward> getFullForward(ModuleOp module, StringRef name, StringRef mode) {
  auto function = module.lookupSymbol<func::FuncOp>(name);
  if (!function || function.isExternal()) {
    fail(mode + " needs the model's full forward '@" + name + "', which the module lacks");
    return failure();
  }
  Forward forward;
  forward.function = function;
  FunctionType type = function.getFunctionType();
  if (type.getNumInputs() != 1 || !isTokenIds(type.getInput(0), forward.idsType) ||
      type.getNumResults() == 0 || !(forward.vocab = getLogitsVocab(type.getResult(0)))) {
    fail(mode + " needs a causal language model whose @" + name +
         " takes token ids [1, seq] (one integer tensor) and returns logits [1, seq, vocab] "
         "(float, static vocab) first; @" + name + " takes " + formatTypes(type.getInputs()) +
         " and returns " + formatTypes(type.getResults()));
    return failure();
  }
  auto ids = cast<RankedTensorType>(type.getInput(0));
  if (!ids.isDynamicDim(1)) {
    forward.maxSeq = ids.getDimSize(1);
    forward.staticSeq = true;
  } else {
    forward.maxSeq = getDimMax(function, 0, 1);
  }
  return forward;
}

/// @prefill or @decode: token ids, positions, slots and the cache in; logits and the cache out.
FailureOr<Forward> getCachedForward(func::FuncOp function) {
  Forward forward;
  forward.function = function;
  FunctionType type = function.getFunctionType();
  std::string name = "@" + function.getSymName().str();
  auto invalid = [&](const llvm::Twine &why) {
    fail(name + " is not a prefill/decode entry (" + why + "): it takes " +
         formatTypes(type.getInputs()) + " and returns " + formatTypes(type.getResults()) +
         "; pass --full-recompute to generate with the full forward");
    return failure();
  };
  std::optional<unsigned> cacheArg, positionsArg, slotsArg, idsArg;
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    auto argName = function.getArgAttrOfType<StringAttr>(i, "kiln.name");
    if (isa<KVCacheType>(type.getInput(i)))
      cacheArg = i;
    else if (argName && argName.getValue() == "kiln.positions")
      positionsArg = i;
    else if (argName && argName.getValue() == "kiln.slots")
      slotsArg = i;
    else if (!idsArg)
      idsArg = i;
    else
      return invalid("more than one argument besides positions, slots and the cache");
  }
  // Without names, the documented order: ids, positions, slots, cache.
  if (type.getNumInputs() == 4 && cacheArg && !positionsArg && !slotsArg) {
    idsArg = 0;
    positionsArg = 1;
    slotsArg = 2;
  }
  if (!cacheArg || !positionsArg || !slotsArg || !idsArg || type.getNumInputs() != 4)
    return invalid("expected token ids, positions, slots and a !kiln.kv_cache");
  forward.idsArg = *idsArg;
  forward.positionsArg = *positionsArg;
  forward.slotsArg = *slotsArg;
  forward.cacheArg = *cacheArg;
  forward.cacheType = cast<KVCacheType>(type.getInput(*cacheArg));
  if (!isTokenIds(type.getInput(*idsArg), forward.idsType))
    return invalid("the token ids must be an integer [1, seq]");
  for (unsigned index : {*positionsArg, *slotsArg}) {
    auto indices = dyn_cast<RankedTensorType>(type.getInput(index));
    std::optional<DType> dtype =
        indices ? getDTypeOf(indices.getElementType()) : std::optional<DType>();
    if (!indices || indices.getRank() != 1 || !dtype || !isSignedInteger(*dtype))
      return invalid("positions and slots must be integer [seq]");
    forward.indexType = *dtype;
  }
  std::optional<unsigned> cacheResult, logitsResult;
  for (unsigned i = 0; i < type.getNumResults(); ++i) {
    if (type.getResult(i) == forward.cacheType && !cacheResult)
      cacheResult = i;
    else if (!logitsResult && (forward.vocab = getLogitsVocab(type.getResult(i))))
      logitsResult = i;
  }
  if (!cacheResult || !logitsResult)
    return invalid("expected logits [1, seq, vocab] and the updated cache as results");
  forward.cacheResult = *cacheResult;
  forward.logitsResult = *logitsResult;
  forward.maxSeq = forward.cacheType.getMaxSeq();
  return forward;
}

/// @prefill and @decode, when the module has both with bodies.
FailureOr<std::optional<std::pair<Forward, Forward>>> getCachedEntries(ModuleOp module) {
  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  auto decode = module.lookupSymbol<func::FuncOp>("decode");
  bool hasPrefill = prefill && !prefill.isExternal(), hasDecode = decode && !decode.isExternal();
  if (!hasPrefill && !hasDecode)
    return std::optional<std::pair<Forward, Forward>>();
  if (hasPrefill != hasDecode) {
    fail(llvm::Twine("the module has @") + (hasPrefill ? "prefill" : "decode") + " but no @" +
         (hasPrefill ? "decode" : "prefill") + "; pass --full-recompute to generate with the " +
         "full forward");
    return failure();
  }
  FailureOr<Forward> first = getCachedForward(prefill);
  if (failed(first))
    return failure();
  FailureOr<Forward> second = getCachedForward(decode);
  if (failed(second))
    return failure();
  if (first->cacheType != second->cacheType || first->vocab != second->vocab) {
    fail("@prefill and @decode disagree on the cache type or the vocabulary");
    return failure();
  }
  return std::optional<std::pair<Forward, Forward>>(std::make_pair(*first, *second));
}

/// The functions a mode runs: @prefill/@decode when the module has them (unless
/// --full-recompute), else the full forward.
struct Strategy {
  std::optional<std::pair<Forward, Forward>> cached; // @prefill, @decode
  std::optional<Forward> full;

  /// @prefill, or the full forward: its signature gives the vocabulary and the maximum context.
  const Forward &prefillOrFull() const { return cached ? cached->first : *full; }
};

/// Picks the strategy of `mode` ("--generate", "--eval-text"); `entry` names the full forward.
FailureOr<Strategy> selectStrategy(ModuleOp module, bool fullRecompute, StringRef entry,
                                   StringRef mode) {
  Strategy strategy;
  if (!fullRecompute) {
    auto entries = getCachedEntries(module);
    if (failed(entries))
      return failure();
    strategy.cached = *entries;
  }
  if (!strategy.cached) {
    FailureOr<Forward> forward = getFullForward(module, entry, mode);
    if (failed(forward))
      return failure();
    strategy.full = *forward;
  }
  return strategy;
}

//===----------------------------------------------------------------------===//
// Running the functions
//===----------------------------------------------------------------------===//

Tensor makeIndexTensor(DType dtype, ArrayRef<int64_t> shape, ArrayRef<int64_t> values) {
  Tensor tensor = Tensor::zeros(dtype, shape);
  for (auto [i, value] : llvm::enumerate(values))
    tensor.setInt(static_cast<int64_t>(i), value);
  return tensor;
}

/// Row `row` of logits [1, seq, vocab] as floats.
std::vector<float> getLogitRow(const Tensor &logits, int64_t row) {
  int64_t vocab = logits.getShape()[2];
  std::vector<float> values(vocab);
  if (getStorage(logits.getDType()) == Storage::Float) {
    ArrayRef<float> all = logits.getFloats();
    std::copy_n(all.data() + row * vocab, vocab, values.data());
  } else {
    for (int64_t i = 0; i < vocab; ++i)
      values[i] = static_cast<float>(logits.getDouble(row * vocab + i));
  }
  return values;
}

/// Runs the full forward on `tokens` (padded to a static seq) and returns the logits.
FailureOr<Tensor> runFull(const Forward &forward, ArrayRef<int64_t> tokens,
                          ConstantCache &constants) {
  int64_t length = static_cast<int64_t>(tokens.size());
  int64_t seq = forward.staticSeq ? *forward.maxSeq : length;
  SmallVector<int64_t> ids(tokens.begin(), tokens.end());
  ids.resize(seq, 0); // causal: the padding after the last token does not reach its row
  FailureOr<SmallVector<Tensor>> results = runFunctionTakingInputs(
      forward.function, {makeIndexTensor(forward.idsType, {1, seq}, ids)}, &constants);
  if (failed(results)) {
    fail("execution of @" + forward.function.getSymName() + " failed");
    return failure();
  }
  return (*results)[forward.logitsResult];
}

/// Runs @prefill or @decode on packed tokens; moves the cache in and back out.
FailureOr<Tensor> runCached(const Forward &forward, ArrayRef<int64_t> tokens,
                            ArrayRef<int64_t> positions, ArrayRef<int64_t> slots, Tensor &cache,
                            ConstantCache &constants) {
  int64_t count = static_cast<int64_t>(tokens.size());
  SmallVector<Tensor> inputs(4);
  inputs[forward.idsArg] = makeIndexTensor(forward.idsType, {1, count}, tokens);
  inputs[forward.positionsArg] = makeIndexTensor(forward.indexType, {count}, positions);
  inputs[forward.slotsArg] = makeIndexTensor(forward.indexType, {count}, slots);
  inputs[forward.cacheArg] = std::move(cache);
  FailureOr<SmallVector<Tensor>> results =
      runFunctionTakingInputs(forward.function, std::move(inputs), &constants);
  if (failed(results)) {
    fail("execution of @" + forward.function.getSymName() + " failed");
    return failure();
  }
  cache = std::move((*results)[forward.cacheResult]);
  return (*results)[forward.logitsResult];
}

//===----------------------------------------------------------------------===//
// Prompts
//===----------------------------------------------------------------------===//

FailureOr<std::vector<int64_t>> readPrompt(const PromptSpec &spec, int64_t vocab) {
  std::vector<int64_t> tokens;
  if (spec.kind == PromptSpec::Kind::Ids) {
    for (StringRef item : llvm::split(StringRef(spec.value), ',')) {
      int64_t id;
      if (item.trim().getAsInteger(10, id)) {
        fail("--prompt-ids: '" + item + "' is not an integer (expected ids like 1,2,3)");
        return failure();
      }
      tokens.push_back(id);
    }
    return tokens;
  }
  if (vocab != 256) {
    fail(llvm::Twine(spec.kind == PromptSpec::Kind::File ? "--prompt-file" : "--prompt") +
         " gives bytes as token ids, which needs a byte-level model (vocabulary 256); this "
         "model's vocabulary is " + llvm::Twine(vocab) + ": give --prompt-ids");
    return failure();
  }
  if (spec.kind == PromptSpec::Kind::Text) {
    for (unsigned char byte : spec.value)
      tokens.push_back(byte);
    return tokens;
  }
  auto buffer = llvm::MemoryBuffer::getFile(spec.value, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    fail("cannot read '" + spec.value + "': " + buffer.getError().message());
    return failure();
  }
  StringRef data = (*buffer)->getBuffer();
  int64_t size = static_cast<int64_t>(data.size());
  if (spec.offset < 0 || spec.offset > size ||
      (spec.length && (*spec.length < 0 || spec.offset + *spec.length > size))) {
    fail("--prompt-offset " + llvm::Twine(spec.offset) +
         (spec.length ? " --prompt-length " + std::to_string(*spec.length) : std::string()) +
         " is outside '" + spec.value + "' (" + llvm::Twine(size) + " bytes)");
    return failure();
  }
  StringRef slice = data.substr(spec.offset, spec.length ? *spec.length : StringRef::npos);
  for (unsigned char byte : slice)
    tokens.push_back(byte);
  return tokens;
}

/// Prints tokens: bytes for a byte-level vocabulary, else ids separated by spaces.
void printTokens(llvm::raw_ostream &os, ArrayRef<int64_t> tokens, int64_t vocab, bool first) {
  for (int64_t token : tokens) {
    if (vocab == 256) {
      os << static_cast<char>(token);
    } else {
      if (!first)
        os << ' ';
      os << token;
    }
    first = false;
  }
}

struct Sequence {
  std::vector<int64_t> prompt, generated;
  SamplingRng rng; // the sequence's stream of random numbers
  bool finished = false;
  std::string finishReason;

  /// The next token from one row of logits, with the GPU runtime's sampler: for the same seed,
  /// sequence index and logits, CPU and GPU generation draw the same token.
  int64_t sample(ArrayRef<float> logits, const SamplingParams &params) {
    return sampleToken(logits.data(), logits.size(), params, rng);
  }
};

/// Median and minimum of per-step times.
llvm::json::Object summarizeSteps(std::vector<double> times) {
  llvm::json::Object summary;
  summary["count"] = static_cast<int64_t>(times.size());
  if (times.empty())
    return summary;
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  summary["median"] = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  summary["min"] = times.front();
  return summary;
}

int writeJson(const std::string &path, llvm::json::Value value) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return fail("cannot write '" + path + "': " + ec.message());
  os << llvm::formatv("{0:2}", value) << "\n";
  return 0;
}

} // namespace

//===----------------------------------------------------------------------===//
// --generate
//===----------------------------------------------------------------------===//

int kiln::run::runCpuGeneration(ModuleOp module, const GenerationOptions &options) {
  if (options.prompts.empty())
    return fail("--generate needs a prompt: --prompt-file F [--prompt-offset O] "
                "[--prompt-length N], --prompt TEXT or --prompt-ids 1,2,3");
  FailureOr<Strategy> strategy =
      selectStrategy(module, options.fullRecompute, options.entry, "--generate");
  if (failed(strategy))
    return 1;
  const std::optional<std::pair<Forward, Forward>> &cached = strategy->cached;
  const std::optional<Forward> &full = strategy->full;
  int64_t vocab = strategy->prefillOrFull().vocab;
  std::optional<int64_t> maxContext = strategy->prefillOrFull().maxSeq;
  // The runtime's checks (kilnrt/Sampling.h), named as kiln-run's options.
  const SamplingParams &sampling = options.sampling;
  if (std::string problem = checkSampling(sampling, vocab, SamplingNames::Flags);
      !problem.empty())
    return fail(problem);

  // Read and check every prompt before running anything.
  std::vector<Sequence> sequences;
  for (auto [index, spec] : llvm::enumerate(options.prompts)) {
    FailureOr<std::vector<int64_t>> tokens = readPrompt(spec, vocab);
    if (failed(tokens))
      return 1;
    std::string which = options.prompts.size() > 1 ? "prompt " + std::to_string(index) + " "
                                                    : std::string("the prompt ");
    if (tokens->empty())
      return fail(which + "is empty");
    for (auto [position, token] : llvm::enumerate(*tokens))
      if (token < 0 || token >= vocab)
        return fail(which + "has token " + llvm::Twine(token) + " at position " +
                    llvm::Twine(position) + ", outside the vocabulary [0, " + llvm::Twine(vocab) +
                    ")");
    int64_t length = static_cast<int64_t>(tokens->size());
    if (maxContext && length + sampling.maxNewTokens > *maxContext) {
      int64_t keep = *maxContext - sampling.maxNewTokens;
      if (!sampling.truncatePrompt || keep < 1)
        return fail(which + "has " + llvm::Twine(length) + " tokens; with --max-new-tokens " +
                    llvm::Twine(sampling.maxNewTokens) + " that is " +
                    llvm::Twine(length + sampling.maxNewTokens) +
                    ", more than the model's maximum context of " + llvm::Twine(*maxContext) +
                    (keep >= 1 ? " (--truncate-prompt keeps its last " + std::to_string(keep) +
                                     " tokens)"
                               : std::string()));
      tokens->erase(tokens->begin(), tokens->end() - keep);
    }
    // Sequence i draws from the stream (seed, i), as the GPU generator's sequence of id i.
    sequences.push_back(
        Sequence{std::move(*tokens), {}, SamplingRng(sampling.seed, static_cast<uint64_t>(index))});
  }
  if (cached && static_cast<int64_t>(sequences.size()) > cached->first.cacheType.getMaxBatch())
    return fail(llvm::Twine(sequences.size()) + " prompts, but the cache of @prefill holds " +
                llvm::Twine(cached->first.cacheType.getMaxBatch()) + " sequences (max_batch)");

  bool stream = sequences.size() == 1;
  llvm::raw_ostream &out = llvm::outs();
  // Appends a sampled token; returns whether the sequence goes on.
  auto accept = [&](Sequence &sequence, int64_t token) {
    sequence.generated.push_back(token);
    if (stream) {
      printTokens(out, token, vocab, sequence.generated.size() == 1);
      out.flush();
    }
    if (token == sampling.eosId) {
      sequence.finished = true;
      sequence.finishReason = "eos";
    } else if (static_cast<int64_t>(sequence.generated.size()) >= sampling.maxNewTokens) {
      sequence.finished = true;
      sequence.finishReason = "length";
    }
    return !sequence.finished;
  };

  // The weights are decoded once for all the runs.
  ConstantCache constants;
  auto start = std::chrono::steady_clock::now();
  double prefillMs = 0;
  std::vector<double> stepMs;
  if (cached) {
    const Forward &prefill = cached->first, &decode = cached->second;
    Tensor cache = createKVCache(prefill.cacheType, static_cast<int64_t>(sequences.size()));
    for (auto [slot, sequence] : llvm::enumerate(sequences)) {
      auto begin = std::chrono::steady_clock::now();
      int64_t length = static_cast<int64_t>(sequence.prompt.size());
      SmallVector<int64_t> positions, slots(length, static_cast<int64_t>(slot));
      for (int64_t i = 0; i < length; ++i)
        positions.push_back(i);
      FailureOr<Tensor> logits = runCached(prefill, sequence.prompt, positions, slots, cache, constants);
      if (failed(logits))
        return 1;
      accept(sequence, sequence.sample(getLogitRow(*logits, length - 1), sampling));
      prefillMs += millisecondsSince(begin);
    }
    // One decode step for every unfinished sequence, each at its own position.
    while (true) {
      SmallVector<int64_t> tokens, positions, slots;
      SmallVector<Sequence *> active;
      for (auto [slot, sequence] : llvm::enumerate(sequences)) {
        if (sequence.finished)
          continue;
        tokens.push_back(sequence.generated.back());
        positions.push_back(
            static_cast<int64_t>(sequence.prompt.size() + sequence.generated.size()) - 1);
        slots.push_back(static_cast<int64_t>(slot));
        active.push_back(&sequence);
      }
      if (active.empty())
        break;
      auto begin = std::chrono::steady_clock::now();
      FailureOr<Tensor> logits = runCached(decode, tokens, positions, slots, cache, constants);
      if (failed(logits))
        return 1;
      for (auto [row, sequence] : llvm::enumerate(active))
        accept(*sequence,
               sequence->sample(getLogitRow(*logits, static_cast<int64_t>(row)), sampling));
      stepMs.push_back(millisecondsSince(begin));
    }
  } else {
    for (Sequence &sequence : sequences) {
      std::vector<int64_t> tokens = sequence.prompt;
      do {
        auto begin = std::chrono::steady_clock::now();
        FailureOr<Tensor> logits = runFull(*full, tokens, constants);
        if (failed(logits))
          return 1;
        int64_t token = sequence.sample(
            getLogitRow(*logits, static_cast<int64_t>(tokens.size()) - 1), sampling);
        tokens.push_back(token);
        double ms = millisecondsSince(begin);
        if (sequence.generated.empty())
          prefillMs += ms;
        else
          stepMs.push_back(ms);
        if (!accept(sequence, token))
          break;
      } while (true);
    }
  }
  double totalMs = millisecondsSince(start);

  if (stream) {
    out << "\n";
  } else {
    for (auto [index, sequence] : llvm::enumerate(sequences)) {
      out << "[sequence " << index << "] ";
      printTokens(out, sequence.generated, vocab, true);
      out << "\n";
    }
  }
  out.flush();

  const char *strategyName = cached ? "kv-cache" : "full-recompute";
  size_t generated = 0;
  for (const Sequence &sequence : sequences)
    generated += sequence.generated.size();
  llvm::json::Object steps = summarizeSteps(stepMs);
  if (!options.quiet) {
    llvm::errs() << "kiln-run: cpu " << strategyName << ": " << generated << " tokens for "
                 << sequences.size() << (sequences.size() == 1 ? " sequence" : " sequences")
                 << " in " << llvm::format("%.1f", totalMs / 1000) << " s (prefill "
                 << llvm::format("%.1f", prefillMs) << " ms";
    if (!stepMs.empty())
      llvm::errs() << ", " << (cached ? "decode" : "forward") << " median "
                   << llvm::format("%.1f", *steps.getNumber("median")) << " ms/step";
    llvm::errs() << ")\n";
  }

  if (!options.outputJson.empty()) {
    llvm::json::Array list;
    for (const Sequence &sequence : sequences) {
      llvm::json::Array tokens;
      for (int64_t token : sequence.generated)
        tokens.push_back(token);
      list.push_back(llvm::json::Object{
          {"prompt_length", static_cast<int64_t>(sequence.prompt.size())},
          {"tokens", std::move(tokens)},
          {"finish_reason", sequence.finishReason}});
    }
    llvm::json::Object result{{"device", "cpu"},
                              {"strategy", strategyName},
                              {"sequences", std::move(list)},
                              {"prefill_ms", prefillMs},
                              {"decode_ms_per_step", std::move(steps)},
                              {"total_ms", totalMs}};
    if (int code = writeJson(options.outputJson, std::move(result)))
      return code;
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// --eval-text
//===----------------------------------------------------------------------===//

int kiln::run::runCpuTextEvaluation(ModuleOp module, const EvalTextOptions &options) {
  FailureOr<Strategy> strategy =
      selectStrategy(module, options.fullRecompute, options.entry, "--eval-text");
  if (failed(strategy))
    return 1;
  bool cached = strategy->cached.has_value();
  const Forward &forward = strategy->prefillOrFull(); // @prefill or the full forward
  if (forward.vocab != 256)
    return fail("--eval-text needs a byte-level model (vocabulary 256, token id = byte value); "
                "this model's vocabulary is " + llvm::Twine(forward.vocab));
  int64_t window = options.window;
  if (window < 1)
    return fail("--eval-text needs --window W (bytes per window, at least 1)");
  if (forward.maxSeq && window > *forward.maxSeq)
    return fail("--window " + llvm::Twine(window) + " is longer than the model's maximum "
                "context of " + llvm::Twine(*forward.maxSeq));

  auto buffer = llvm::MemoryBuffer::getFile(options.file, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("cannot read '" + options.file + "': " + buffer.getError().message());
  StringRef data = (*buffer)->getBuffer();
  int64_t size = static_cast<int64_t>(data.size());
  int64_t available = size > 0 ? (size - 1) / window : 0;
  int64_t windows = options.windows.value_or(available);
  if (options.windows && *options.windows < 1)
    return fail("--windows must be at least 1, got " + llvm::Twine(*options.windows));
  if (windows < 1 || windows > available)
    return fail("'" + options.file + "' is too short: " + llvm::Twine(windows < 1 ? 1 : windows) +
                " windows of " + llvm::Twine(window) + " bytes need " +
                llvm::Twine((windows < 1 ? 1 : windows) * window + 1) + " bytes (each window's "
                "last byte predicts the next), the file has " + llvm::Twine(size));

  std::optional<Tensor> cache;
  if (cached)
    cache = createKVCache(forward.cacheType, 1);
  SmallVector<int64_t> positions, slots(window, 0);
  for (int64_t i = 0; i < window; ++i)
    positions.push_back(i);
  ConstantCache constants;
  auto start = std::chrono::steady_clock::now();
  double nats = 0;
  int64_t predictions = 0;
  for (int64_t w = 0; w < windows; ++w) {
    SmallVector<int64_t> tokens;
    for (int64_t i = 0; i < window; ++i)
      tokens.push_back(static_cast<unsigned char>(data[w * window + i]));
    // Positions 0..W-1 of slot 0 are rewritten before they are read: no reset between windows.
    FailureOr<Tensor> logits =
        cached ? runCached(forward, tokens, positions, slots, *cache, constants)
               : runFull(forward, tokens, constants);
    if (failed(logits))
      return 1;
    for (int64_t i = 0; i < window; ++i) {
      std::vector<float> row = getLogitRow(*logits, i);
      double maxLogit = -std::numeric_limits<double>::infinity();
      for (float logit : row)
        maxLogit = std::max(maxLogit, static_cast<double>(logit));
      double sum = 0;
      for (float logit : row)
        sum += std::exp(static_cast<double>(logit) - maxLogit);
      int64_t next = static_cast<unsigned char>(data[w * window + i + 1]);
      nats += maxLogit + std::log(sum) - static_cast<double>(row[next]);
      ++predictions;
    }
  }
  double totalMs = millisecondsSince(start);
  double bitsPerByte = nats / predictions / std::log(2.0);
  double perplexity = std::exp(nats / predictions);
  std::string entry = "@" + forward.function.getSymName().str();
  llvm::outs() << "bits per byte: " << llvm::format("%.4f", bitsPerByte) << ", perplexity "
               << llvm::format("%.4f", perplexity) << ", " << predictions << " predictions in "
               << windows << " windows of " << window << " bytes (cpu, " << entry << ")\n";
  if (!options.quiet)
    llvm::errs() << "kiln-run: " << llvm::format("%.1f", totalMs / 1000) << " s, "
                 << llvm::format("%.1f", totalMs / windows) << " ms per window\n";
  if (!options.outputJson.empty())
    return writeJson(options.outputJson,
                     llvm::json::Object{{"device", "cpu"},
                                        {"entry", entry},
                                        {"bits_per_byte", bitsPerByte},
                                        {"perplexity", perplexity},
                                        {"predictions", predictions},
                                        {"windows", windows},
                                        {"window", window},
                                        {"total_ms", totalMs}});
  return 0;
}
