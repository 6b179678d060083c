//===- ArtifactRun.cpp - kiln-run's artifact mode ------------------------------------------===//
//
// Everything goes through the C API of kilnrt.h (this is its first client); .npy/.npz through
// the runtime's own reader (Npz.h).
//
//===----------------------------------------------------------------------------------------===//

#include "ArtifactRun.h"

#include "Npz.h"
#include "kilnrt/Artifact.h"
#include "kilnrt/kilnrt.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sys/stat.h>

using namespace kilnrt;

namespace {

const char *const kUsage =
    "usage: kiln-run MODEL.kiln [options] [INPUT.npy ...]\n"
    "\n"
    "Runs a compiled Kiln artifact on a CUDA device.\n"
    "\n"
    "  --device=cuda:N            device ordinal (default cuda:0)\n"
    "  --input NAME=FILE.npy      bind an input (repeatable; bare FILE.npy binds by position)\n"
    "  --inputs-from REF.npz      bind every unbound input found in REF.npz (by name, else in<i>)\n"
    "  --expect REF.npz           compare outputs (by name, else ort_out<i>); exit 1 on mismatch\n"
    "  --rtol X, --atol X         tolerances of --expect: |out - ref| <= atol + rtol * |ref|\n"
    "                             (default rtol 1e-3, atol 1e-4)\n"
    "  --max-error-fraction F     instead of atol/rtol: max |out - ref| <= F * max |ref| (e.g.\n"
    "                             0.02 for fp16/bf16); NaN/inf must still match\n"
    "  --min-argmax-agreement F   also require this fraction of arg-max agreement over the last\n"
    "                             axis (e.g. 0.99 for fp16/bf16 logits)\n"
    "  --repeat N, --warmup N     timed runs (default 1) after untimed ones (default 0)\n"
    "  --output-dir DIR           write each output as DIR/NAME.npy (bfloat16 as float32)\n"
    "  --print-signature          print entries, inputs, outputs, symbols and generation, and exit\n"
    "  --no-cuda-graph            launch kernels one by one (also KILN_DISABLE_CUDA_GRAPHS=1)\n"
    "\n"
    "Generation (models compiled with prefill/decode entries):\n"
    "  --generate                 generate from one or more prompts (several run as one batch):\n"
    "    --prompt-file F [--prompt-offset O] [--prompt-length N]   bytes of F as a prompt\n"
    "    --prompt TEXT            TEXT's bytes as a prompt (byte-level models)\n"
    "    --prompt-ids 1,2,3       token ids as a prompt\n"
    "    --prompts-from F --prompt-offsets O1,O2,... [--prompt-lengths N1,N2,...]\n"
    "                             one prompt per offset (a single length applies to all)\n"
    "  --max-new-tokens N         per sequence (default 128)\n"
    "  --temperature T, --top-k K, --top-p P, --seed S   sampling (default greedy)\n"
    "  --eos ID                   stop a sequence when it generates ID\n"
    "  --truncate-prompt          keep the end of a prompt that does not fit (else an error)\n"
    "  --max-batch N              KV cache slots (default: the model's maximum batch)\n"
    "  --output-json F            tokens and timings as JSON\n"
    "  --quiet                    do not print the generated text\n"
    "  One sequence is streamed to stdout as it is generated (bytes for a byte-level model, ids\n"
    "  separated by spaces otherwise); statistics go to stderr.\n"
    "\n"
    "Evaluation:\n"
    "  --eval-text F --window W [--windows N] [--output-json F]\n"
    "                             bits per byte and perplexity of a byte-level model on F: window\n"
    "                             w feeds bytes [wW, wW+W) and predicts [wW+1, wW+W] (default:\n"
    "                             every window that fits)\n";

int fail(const std::string &message) {
  std::fflush(stdout);
  std::fprintf(stderr, "kiln-run: %s\n", message.c_str());
  return 1;
}

/// One prompt of --generate: a slice of a file, a text, or ids.
struct PromptSpec {
  enum class Kind { File, Text, Ids } kind = Kind::File;
  std::string value;         // the file or the text
  long offset = 0, length = -1; // File: bytes [offset, offset + length); -1 = to the end
  std::vector<int64_t> ids;
};

struct Options {
  std::string model;
  std::string device = "cuda:0";
  std::vector<std::string> inputs; // NAME=FILE or FILE (positional)
  std::string inputsFrom, expect, outputDir;
  double rtol = 1e-3, atol = 1e-4, minArgmax = -1, maxErrorFraction = -1;
  long repeat = 1, warmup = 0;
  bool printSignature = false, noCudaGraph = false, help = false;
  std::vector<std::string> given; // every option seen, for misuse checks

  // --generate
  bool generate = false;
  std::vector<PromptSpec> prompts;
  std::string promptsFrom;
  std::vector<int64_t> promptOffsets, promptLengths;
  long maxNewTokens = 128, topK = 0, maxBatch = 0;
  double temperature = 0, topP = 1;
  uint64_t seed = 0;
  int64_t eos = -1;
  bool truncatePrompt = false, quiet = false;
  std::string outputJson;

  // --eval-text
  std::string evalText;
  long window = 0, windows = 0;

  bool saw(const char *option) const {
    return std::find(given.begin(), given.end(), option) != given.end();
  }
};

bool parseNumber(const std::string &text, double &out) {
  char *end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0' && errno == 0 && std::isfinite(out);
}

bool parseCount(const std::string &text, long &out) {
  char *end = nullptr;
  errno = 0;
  out = std::strtol(text.c_str(), &end, 10);
  return !text.empty() && end && *end == '\0' && errno == 0 && out >= 0 && out <= 100000000;
}

/// "1,2,3" -> {1, 2, 3}; false on anything else.
bool parseIntList(const std::string &text, std::vector<int64_t> &out) {
  out.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || !end || *end != '\0' || errno != 0)
      return false;
    out.push_back(v);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return !out.empty();
}

bool checkModes(const Options &o, std::string &error);

bool parseArgs(int argc, char **argv, bool wantModel, Options &o, std::string &error) {
  static const char *const withValue[] = {
      "device",        "input",          "inputs-from",    "expect",
      "rtol",          "atol",           "repeat",         "warmup",
      "output-dir",    "min-argmax-agreement",             "max-error-fraction",
      "prompt-file",   "prompt-offset",  "prompt-length",  "prompt",
      "prompt-ids",    "prompts-from",   "prompt-offsets", "prompt-lengths",
      "max-new-tokens", "temperature",   "top-k",          "top-p",
      "seed",          "eos",            "max-batch",      "output-json",
      "eval-text",     "window",         "windows"};
  bool optionsDone = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (optionsDone || arg.size() < 2 || arg[0] != '-') {
      if (wantModel && o.model.empty())
        o.model = arg;
      else
        o.inputs.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsDone = true;
      continue;
    }
    std::string key = arg.substr(arg[1] == '-' ? 2 : 1), value;
    bool hasValue = false;
    if (size_t eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
      hasValue = true;
    }
    bool needsValue = std::find_if(std::begin(withValue), std::end(withValue), [&](const char *k) {
                        return key == k;
                      }) != std::end(withValue);
    if (needsValue && !hasValue) {
      if (i + 1 >= argc) {
        error = "option --" + key + " needs a value";
        return false;
      }
      value = argv[++i];
    } else if (!needsValue && hasValue) {
      error = "option --" + key + " takes no value";
      return false;
    }
    o.given.push_back(key);
    if (key == "device")
      o.device = value;
    else if (key == "generate")
      o.generate = true;
    else if (key == "prompt-file" || key == "prompt") {
      PromptSpec p;
      p.kind = key == "prompt" ? PromptSpec::Kind::Text : PromptSpec::Kind::File;
      p.value = value;
      o.prompts.push_back(std::move(p));
    } else if (key == "prompt-ids") {
      PromptSpec p;
      p.kind = PromptSpec::Kind::Ids;
      p.value = value;
      if (!parseIntList(value, p.ids)) {
        error = "--prompt-ids needs comma-separated token ids, not '" + value + "'";
        return false;
      }
      o.prompts.push_back(std::move(p));
    } else if (key == "prompt-offset" || key == "prompt-length") {
      long v;
      if (o.prompts.empty() || o.prompts.back().kind != PromptSpec::Kind::File) {
        error = "--" + key + " applies to the --prompt-file before it; give --prompt-file first";
        return false;
      }
      if (!parseCount(value, v) || (key == "prompt-length" && v < 1)) {
        error = "--" + key + " needs a count" + (key == "prompt-length" ? " >= 1" : "") +
                ", not '" + value + "'";
        return false;
      }
      (key == "prompt-offset" ? o.prompts.back().offset : o.prompts.back().length) = v;
    } else if (key == "prompts-from")
      o.promptsFrom = value;
    else if (key == "prompt-offsets" || key == "prompt-lengths") {
      std::vector<int64_t> &list = key == "prompt-offsets" ? o.promptOffsets : o.promptLengths;
      if (!parseIntList(value, list) ||
          std::any_of(list.begin(), list.end(), [&](int64_t v) {
            return v < (key == "prompt-offsets" ? 0 : 1);
          })) {
        error = "--" + key + " needs comma-separated counts" +
                (key == "prompt-lengths" ? " >= 1" : "") + ", not '" + value + "'";
        return false;
      }
    } else if (key == "max-new-tokens" || key == "top-k" || key == "max-batch" ||
               key == "window" || key == "windows") {
      long v;
      bool positive = key == "max-new-tokens" || key == "window" || key == "windows";
      if (!parseCount(value, v) || (positive && v < 1)) {
        error = "--" + key + " needs a count" + (positive ? " >= 1" : "") + ", not '" + value + "'";
        return false;
      }
      (key == "max-new-tokens" ? o.maxNewTokens
       : key == "top-k"        ? o.topK
       : key == "max-batch"    ? o.maxBatch
       : key == "window"       ? o.window
                               : o.windows) = v;
    } else if (key == "temperature" || key == "top-p") {
      double v;
      if (!parseNumber(value, v) || v < 0 || (key == "top-p" && (v <= 0 || v > 1))) {
        error = key == "top-p" ? "--top-p needs a number in (0, 1], not '" + value + "'"
                               : "--temperature needs a non-negative number, not '" + value + "'";
        return false;
      }
      (key == "temperature" ? o.temperature : o.topP) = v;
    } else if (key == "seed") {
      char *end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || !end || *end != '\0' || errno != 0) {
        error = "--seed needs a non-negative integer, not '" + value + "'";
        return false;
      }
      o.seed = v;
    } else if (key == "eos") {
      std::vector<int64_t> v;
      if (!parseIntList(value, v) || v.size() != 1 || v[0] < -1) {
        error = "--eos needs a token id (or -1 for none), not '" + value + "'";
        return false;
      }
      o.eos = v[0];
    } else if (key == "truncate-prompt")
      o.truncatePrompt = true;
    else if (key == "quiet")
      o.quiet = true;
    else if (key == "output-json")
      o.outputJson = value;
    else if (key == "eval-text")
      o.evalText = value;
    else if (key == "input")
      o.inputs.push_back(value);
    else if (key == "inputs-from")
      o.inputsFrom = value;
    else if (key == "expect")
      o.expect = value;
    else if (key == "output-dir")
      o.outputDir = value;
    else if (key == "rtol" || key == "atol" || key == "min-argmax-agreement" ||
             key == "max-error-fraction") {
      double v;
      if (!parseNumber(value, v) || v < 0) {
        error = "--" + key + " needs a non-negative number, not '" + value + "'";
        return false;
      }
      (key == "rtol"                 ? o.rtol
       : key == "atol"               ? o.atol
       : key == "max-error-fraction" ? o.maxErrorFraction
                                     : o.minArgmax) = v;
    } else if (key == "repeat" || key == "warmup") {
      long v;
      if (!parseCount(value, v) || (key == "repeat" && v < 1)) {
        error = "--" + key + " needs a count" + (key == "repeat" ? " >= 1" : "") + ", not '" +
                value + "'";
        return false;
      }
      (key == "repeat" ? o.repeat : o.warmup) = v;
    } else if (key == "print-signature")
      o.printSignature = true;
    else if (key == "no-cuda-graph" || key == "no-cuda-graphs")
      o.noCudaGraph = true;
    else if (key == "help" || key == "h")
      o.help = true;
    else {
      error = "unknown option '" + arg + "' (see --help)";
      return false;
    }
  }
  return checkModes(o, error);
}

/// Options that belong to one mode must not appear in another.
bool checkModes(const Options &o, std::string &error) {
  static const char *const generateOnly[] = {
      "prompt-file", "prompt-offset", "prompt-length", "prompt", "prompt-ids", "prompts-from",
      "prompt-offsets", "prompt-lengths", "max-new-tokens", "temperature", "top-k", "top-p",
      "seed", "eos", "truncate-prompt", "max-batch", "quiet"};
  static const char *const evalOnly[] = {"window", "windows"};
  static const char *const runOnly[] = {"input", "inputs-from", "expect", "rtol", "atol",
                                        "min-argmax-agreement", "max-error-fraction", "repeat",
                                        "warmup", "output-dir"};
  bool eval = !o.evalText.empty();
  if (o.generate && eval) {
    error = "--generate and --eval-text are separate modes; give one";
    return false;
  }
  for (const char *k : generateOnly)
    if (!o.generate && o.saw(k)) {
      error = std::string("--") + k + " needs --generate";
      return false;
    }
  for (const char *k : evalOnly)
    if (!eval && o.saw(k)) {
      error = std::string("--") + k + " needs --eval-text";
      return false;
    }
  if (o.generate || eval) {
    const char *mode = o.generate ? "--generate" : "--eval-text";
    for (const char *k : runOnly)
      if (o.saw(k)) {
        error = std::string("--") + k + " is not used with " + mode;
        return false;
      }
    if (!o.inputs.empty()) {
      error = "'" + o.inputs[0] + "': " + mode + " takes no input files";
      return false;
    }
  } else if (o.saw("output-json")) {
    error = "--output-json needs --generate or --eval-text";
    return false;
  }
  if (o.generate) {
    if (o.prompts.empty() && o.promptsFrom.empty()) {
      error = "--generate needs a prompt: --prompt-file F, --prompt TEXT, --prompt-ids 1,2,3 or "
              "--prompts-from F --prompt-offsets O1,O2,...";
      return false;
    }
    if (!o.promptsFrom.empty() && o.promptOffsets.empty()) {
      error = "--prompts-from needs --prompt-offsets O1,O2,...";
      return false;
    }
    if (o.promptsFrom.empty() && (o.saw("prompt-offsets") || o.saw("prompt-lengths"))) {
      error = std::string("--") + (o.saw("prompt-offsets") ? "prompt-offsets" : "prompt-lengths") +
              " needs --prompts-from F";
      return false;
    }
    if (o.promptLengths.size() > 1 && o.promptLengths.size() != o.promptOffsets.size()) {
      error = "--prompt-lengths has " + std::to_string(o.promptLengths.size()) +
              " values for " + std::to_string(o.promptOffsets.size()) +
              " --prompt-offsets (give one per offset, or one for all)";
      return false;
    }
  }
  if (eval && o.window == 0) {
    error = "--eval-text needs --window W (bytes per window, e.g. 512)";
    return false;
  }
  return true;
}

bool parseDevice(const std::string &text, int &ordinal, std::string &error) {
  std::string rest = text;
  if (rest == "cpu") {
    error = "--device=cpu: a compiled .kiln artifact runs on CUDA devices only (run the .onnx or "
            "MLIR model for the CPU executor)";
    return false;
  }
  if (rest.compare(0, 4, "cuda") == 0 || rest.compare(0, 3, "gpu") == 0) {
    rest = rest.substr(rest[0] == 'c' ? 4 : 3);
    if (rest.empty()) {
      ordinal = 0;
      return true;
    }
    if (rest[0] != ':') {
      error = "bad --device '" + text + "' (expected cuda:N)";
      return false;
    }
    rest = rest.substr(1);
  }
  long v;
  if (!parseCount(rest, v) || v > 1024) {
    error = "bad --device '" + text + "' (expected cuda:N)";
    return false;
  }
  ordinal = static_cast<int>(v);
  return true;
}

std::string signatureDims(const kiln_tensor_info &info) {
  std::string s = "[";
  for (int32_t d = 0; d < info.rank; ++d) {
    if (d)
      s += ", ";
    s += info.dims[d] >= 0 ? std::to_string(info.dims[d]) : std::string(info.dim_names[d]);
  }
  return s + "]";
}

std::string outputFileName(const std::string &name) {
  std::string file;
  for (char c : name)
    file.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'
                       ? c
                       : '_');
  return file + ".npy";
}

bool isFloatType(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct ModelDeleter {
  void operator()(kiln_model *m) const { kiln_model_destroy(m); }
};
struct SessionDeleter {
  void operator()(kiln_session *s) const { kiln_session_destroy(s); }
};

struct GeneratorDeleter {
  void operator()(kiln_generator *g) const { kiln_generator_destroy(g); }
};

void printSignature(const kiln_model *model, const std::string &name) {
  std::printf("%s: target %s, precision %s, producer '%s', device memory %s\n", name.c_str(),
              kiln_model_target(model), kiln_model_precision(model), kiln_model_producer(model),
              formatBytes(kiln_model_device_bytes(model)).c_str());
  int32_t numEntries = kiln_model_num_entries(model);
  for (int32_t e = 0; e < numEntries; ++e) {
    // The default entry's lines keep their historical form; the others are indented under it.
    const char *indent = e == 0 ? "" : "  ";
    if (numEntries > 1)
      std::printf("entry %s%s:\n", kiln_model_entry_name(model, e), e == 0 ? " (default)" : "");
    for (int32_t i = 0; i < kiln_model_entry_num_symbols(model, e); ++i) {
      kiln_symbol_info s;
      kiln_model_entry_symbol_info(model, e, i, &s);
      kiln_tensor_info in;
      kiln_model_entry_input_info(model, e, s.input, &in);
      std::printf("%ssymbol %s: 1..%lld (dim %d of input '%s')\n", indent, s.name,
                  static_cast<long long>(s.max_value), s.dim, in.name);
    }
    for (int32_t i = 0; i < kiln_model_entry_num_inputs(model, e); ++i) {
      kiln_tensor_info t;
      kiln_model_entry_input_info(model, e, i, &t);
      std::printf("%sinput %s: %s %s\n", indent, t.name, kiln_dtype_name(t.dtype),
                  signatureDims(t).c_str());
    }
    for (int32_t i = 0; i < kiln_model_entry_num_outputs(model, e); ++i) {
      kiln_tensor_info t;
      kiln_model_entry_output_info(model, e, i, &t);
      std::printf("%soutput %s: %s %s\n", indent, t.name, kiln_dtype_name(t.dtype),
                  signatureDims(t).c_str());
    }
  }
  kiln_generation_info g;
  if (kiln_model_can_generate(model) && kiln_model_generation_info(model, &g) == KILN_OK)
    std::printf("generation: entries %s/%s, vocabulary %lld, %d sequences x %d tokens, KV cache "
                "%d layers x %d KV heads x %d head dim %s (%s per sequence)\n",
                g.prefill_entry, g.decode_entry, static_cast<long long>(g.vocab_size),
                g.max_batch, g.max_seq, g.layers, g.kv_heads, g.head_dim,
                kiln_dtype_name(g.cache_dtype),
                formatBytes(g.cache_bytes_per_sequence).c_str());
}

/// A JSON string literal.
std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

bool writeText(const std::string &path, const std::string &text, std::string &error) {
  return writeFileAtomically(path, text.data(), text.size(), 0666, error);
}

/// The model's generation info, or the runtime's message saying why it cannot generate.
bool generationInfo(const kiln_model *model, kiln_generation_info &info, std::string &error) {
  if (kiln_model_generation_info(model, &info) == KILN_OK)
    return true;
  error = kiln_last_error();
  return false;
}

/// The prompts of --generate as token ids.
bool collectPrompts(const Options &o, int64_t vocab, std::vector<std::vector<int64_t>> &prompts,
                    std::string &error) {
  auto bytesToIds = [&](const uint8_t *data, size_t n, const std::string &what) {
    if (vocab != 256) {
      error = what + " is text, but the model's vocabulary has " + std::to_string(vocab) +
              " tokens, not 256 bytes; give token ids with --prompt-ids";
      return false;
    }
    prompts.emplace_back(data, data + n);
    return true;
  };
  auto slice = [&](const std::vector<uint8_t> &bytes, const std::string &file, int64_t offset,
                   int64_t length) {
    std::string what = "the prompt from '" + file + "'";
    if (offset >= static_cast<int64_t>(bytes.size()) ||
        (length > 0 && length > static_cast<int64_t>(bytes.size()) - offset)) {
      error = "'" + file + "' has " + std::to_string(bytes.size()) + " bytes; a prompt at offset " +
              std::to_string(offset) +
              (length > 0 ? " of " + std::to_string(length) + " bytes" : std::string()) +
              " does not fit";
      return false;
    }
    size_t n = length > 0 ? static_cast<size_t>(length) : bytes.size() - static_cast<size_t>(offset);
    return bytesToIds(bytes.data() + offset, n, what);
  };
  std::map<std::string, std::vector<uint8_t>> files;
  auto file = [&](const std::string &path) -> const std::vector<uint8_t> * {
    auto it = files.find(path);
    if (it != files.end())
      return &it->second;
    std::vector<uint8_t> bytes;
    if (!readFileBytes(path, bytes, error))
      return nullptr;
    return &files.emplace(path, std::move(bytes)).first->second;
  };
  for (const PromptSpec &p : o.prompts) {
    if (p.kind == PromptSpec::Kind::Ids) {
      prompts.push_back(p.ids);
    } else if (p.kind == PromptSpec::Kind::Text) {
      if (!bytesToIds(reinterpret_cast<const uint8_t *>(p.value.data()), p.value.size(),
                      "--prompt"))
        return false;
    } else {
      const std::vector<uint8_t> *bytes = file(p.value);
      if (!bytes || !slice(*bytes, p.value, p.offset, p.length))
        return false;
    }
  }
  if (!o.promptsFrom.empty()) {
    const std::vector<uint8_t> *bytes = file(o.promptsFrom);
    if (!bytes)
      return false;
    for (size_t i = 0; i < o.promptOffsets.size(); ++i) {
      int64_t length = o.promptLengths.empty()       ? -1
                       : o.promptLengths.size() == 1 ? o.promptLengths[0]
                                                     : o.promptLengths[i];
      if (!slice(*bytes, o.promptsFrom, o.promptOffsets[i], length))
        return false;
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].empty()) {
      error = "prompt " + std::to_string(i) + " is empty";
      return false;
    }
  return true;
}

const char *finishReasonName(kiln_finish_reason reason) {
  switch (reason) {
  case KILN_FINISH_EOS: return "eos";
  case KILN_FINISH_MAX_TOKENS: return "max_new_tokens";
  case KILN_FINISH_STOPPED: return "stopped";
  default: return "none";
  }
}

struct StreamState {
  bool bytes = false; // a byte-level model: tokens are bytes
  bool print = false; // stream to stdout (one sequence, not --quiet)
  bool first = true;
};

int streamToken(void *user, int64_t, int64_t token) {
  StreamState &state = *static_cast<StreamState *>(user);
  if (!state.print)
    return 0;
  if (state.bytes)
    std::fputc(static_cast<int>(token & 0xff), stdout);
  else
    std::printf(state.first ? "%lld" : " %lld", static_cast<long long>(token));
  state.first = false;
  std::fflush(stdout);
  return 0;
}

int runGenerate(kiln_model *model, const std::string &modelName, const Options &o) {
  std::string error;
  kiln_generation_info info;
  if (!generationInfo(model, info, error))
    return fail("--generate: " + error);
  std::vector<std::vector<int64_t>> prompts;
  if (!collectPrompts(o, info.vocab_size, prompts, error))
    return fail(error);
  int ordinal = 0;
  if (!parseDevice(o.device, ordinal, error))
    return fail(error);
  if (o.maxBatch > info.max_batch)
    return fail("--max-batch " + std::to_string(o.maxBatch) + " is above the " +
                std::to_string(info.max_batch) + " sequences '" + modelName +
                "' was compiled for");

  kiln_generator_options options;
  kiln_generator_options_init(&options);
  options.device = ordinal;
  options.max_sequences = static_cast<int32_t>(o.maxBatch);
  options.disable_cuda_graphs = o.noCudaGraph;
  kiln_generator *raw = nullptr;
  if (kiln_generator_create(model, &options, &raw) != KILN_OK)
    return fail(kiln_last_error());
  std::unique_ptr<kiln_generator, GeneratorDeleter> generator(raw);
  kiln_device_info device;
  kiln_generator_device_info(generator.get(), &device);

  kiln_sampling sampling;
  kiln_sampling_init(&sampling);
  sampling.temperature = static_cast<float>(o.temperature);
  sampling.top_k = static_cast<int32_t>(o.topK);
  sampling.top_p = static_cast<float>(o.topP);
  sampling.seed = o.seed;
  sampling.eos_id = o.eos;
  sampling.max_new_tokens = static_cast<int32_t>(std::min<long>(o.maxNewTokens, INT32_MAX));
  sampling.truncate_prompt = o.truncatePrompt;

  StreamState stream;
  stream.bytes = info.vocab_size == 256;
  stream.print = prompts.size() == 1 && !o.quiet;
  struct Result {
    std::vector<int64_t> tokens;
    kiln_sequence_info info{};
  };
  std::vector<Result> results(prompts.size());
  std::map<int64_t, size_t> running; // sequence id -> prompt index
  size_t next = 0;
  auto start = std::chrono::steady_clock::now();
  // More prompts than slots: a finished sequence's slot goes to the next prompt.
  while (next < prompts.size() || !running.empty()) {
    while (next < prompts.size()) {
      int64_t id = -1;
      kiln_status status = kiln_generator_add(generator.get(), prompts[next].data(),
                                              prompts[next].size(), &sampling, &id);
      if (status == KILN_ERROR_NO_FREE_SLOT && !running.empty())
        break;
      if (status != KILN_OK)
        return fail("prompt " + std::to_string(next) + ": " +
                    kiln_generator_last_error(generator.get()));
      running[id] = next++;
    }
    int32_t active = 0;
    if (kiln_generator_step(generator.get(), streamToken, &stream, &active) != KILN_OK)
      return fail(kiln_generator_last_error(generator.get()));
    for (auto it = running.begin(); it != running.end();) {
      Result &r = results[it->second];
      kiln_generator_sequence_info(generator.get(), it->first, &r.info);
      if (!r.info.finished) {
        ++it;
        continue;
      }
      const int64_t *tokens = nullptr;
      size_t n = 0;
      kiln_generator_tokens(generator.get(), it->first, &tokens, &n);
      r.tokens.assign(tokens, tokens + n);
      kiln_generator_remove(generator.get(), it->first);
      it = running.erase(it);
    }
  }
  double wallS =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stream.print)
    std::printf("\n");

  if (prompts.size() > 1 && !o.quiet) {
    for (size_t i = 0; i < results.size(); ++i) {
      const Result &r = results[i];
      std::printf("--- sequence %zu: prompt %lld tokens, %zu new (%s) ---\n", i,
                  static_cast<long long>(r.info.prompt_length), r.tokens.size(),
                  finishReasonName(r.info.finish_reason));
      if (stream.bytes) {
        std::string text(r.tokens.begin(), r.tokens.end());
        std::fwrite(text.data(), 1, text.size(), stdout);
      } else {
        for (size_t t = 0; t < r.tokens.size(); ++t)
          std::printf(t ? " %lld" : "%lld", static_cast<long long>(r.tokens[t]));
      }
      std::printf("\n");
    }
  }

  kiln_generator_stats stats;
  kiln_generator_decode_stats(generator.get(), &stats);
  uint64_t newTokens = 0;
  for (const Result &r : results)
    newTokens += r.tokens.size();
  // Statistics go to stderr so that stdout is exactly the generated text; printed at the end so
  // that a failure is a single line.
  std::fprintf(stderr, "device %d: %s (sm_%d), CUDA driver %d.%d\n", device.ordinal, device.name,
               device.compute_capability, device.driver_version / 1000,
               device.driver_version % 1000 / 10);
  std::fprintf(stderr,
               "%zu sequence%s, %llu new tokens in %.3f s (%.1f tokens/s); prefill %.3f ms GPU "
               "for %llu tokens; decode %llu steps, %s ms/step GPU median (min %s, max %s), "
               "CUDA graphs %s\n",
               results.size(), results.size() == 1 ? "" : "s",
               static_cast<unsigned long long>(newTokens), wallS,
               wallS > 0 ? static_cast<double>(newTokens) / wallS : 0.0, stats.prefill_ms_total,
               static_cast<unsigned long long>(stats.prefill_tokens),
               static_cast<unsigned long long>(stats.decode_steps),
               fmt("%.3f", stats.decode_ms_median).c_str(), fmt("%.3f", stats.decode_ms_min).c_str(),
               fmt("%.3f", stats.decode_ms_max).c_str(), stats.cuda_graphs_enabled ? "on" : "off");

  if (!o.outputJson.empty()) {
    std::string json = "{\"model\": " + jsonString(modelName) +
                       ", \"precision\": " + jsonString(kiln_model_precision(model)) +
                       ", \"device\": " + jsonString(device.name) + ", \"sequences\": [";
    for (size_t i = 0; i < results.size(); ++i) {
      const Result &r = results[i];
      json += std::string(i ? ", " : "") + "{\"prompt_length\": " +
              std::to_string(r.info.prompt_length) +
              ", \"prompt_given\": " + std::to_string(r.info.prompt_given) +
              ", \"finish_reason\": " + jsonString(finishReasonName(r.info.finish_reason)) +
              ", \"prefill_ms\": " + jsonNumber(r.info.prefill_ms) + ", \"tokens\": [";
      for (size_t t = 0; t < r.tokens.size(); ++t)
        json += (t ? ", " : "") + std::to_string(r.tokens[t]);
      json += "]}";
    }
    json += "], \"max_new_tokens\": " + std::to_string(o.maxNewTokens) +
            ", \"max_batch\": " + std::to_string(stats.max_sequences) +
            ", \"prefill_ms\": " + jsonNumber(stats.prefill_ms_total) +
            ", \"prefill_tokens\": " + std::to_string(stats.prefill_tokens) +
            ", \"decode_steps\": " + std::to_string(stats.decode_steps) +
            ", \"decode_tokens\": " + std::to_string(stats.decode_tokens) +
            ", \"decode_ms_per_step\": {\"median\": " + jsonNumber(stats.decode_ms_median) +
            ", \"min\": " + jsonNumber(stats.decode_ms_min) +
            ", \"max\": " + jsonNumber(stats.decode_ms_max) +
            ", \"total\": " + jsonNumber(stats.decode_ms_total) + "}" +
            ", \"cuda_graphs\": " + (stats.cuda_graphs_enabled ? "true" : "false") +
            ", \"wall_s\": " + jsonNumber(wallS) + ", \"new_tokens\": " +
            std::to_string(newTokens) + "}\n";
    if (!writeText(o.outputJson, json, error))
      return fail(error);
  }
  return 0;
}

/// -log2 of the softmax probability of `target` in `logits` (double precision).
double bitsOf(const float *logits, size_t vocab, size_t target) {
  double maxValue = -INFINITY;
  for (size_t i = 0; i < vocab; ++i)
    maxValue = std::max(maxValue, static_cast<double>(logits[i]));
  double sum = 0;
  for (size_t i = 0; i < vocab; ++i)
    sum += std::exp(static_cast<double>(logits[i]) - maxValue);
  double logProb = static_cast<double>(logits[target]) - maxValue - std::log(sum);
  return -logProb / std::log(2.0);
}

int runEvalText(kiln_model *model, const std::string &modelName, const Options &o) {
  std::string error;
  std::vector<uint8_t> text;
  if (!readFileBytes(o.evalText, text, error))
    return fail(error);
  int ordinal = 0;
  if (!parseDevice(o.device, ordinal, error))
    return fail(error);
  // The prefill entry when there is one (it computes every position's logits), else the
  // default entry, which must take the token ids [1, seq] and return [1, seq, vocab] logits.
  const bool viaPrefill = kiln_model_can_generate(model) != 0;
  int64_t vocab = 0, maxContext = 0;
  std::string entryName;
  if (viaPrefill) {
    kiln_generation_info info;
    if (!generationInfo(model, info, error))
      return fail(error);
    vocab = info.vocab_size;
    entryName = info.prefill_entry;
    kiln_symbol_info t;
    kiln_model_entry_symbol_info(model, kiln_model_find_entry(model, info.prefill_entry), 0, &t);
    maxContext = std::min<int64_t>(info.max_seq, t.max_value);
  } else {
    entryName = kiln_model_entry_name(model, 0);
    kiln_tensor_info in, out;
    if (kiln_model_num_inputs(model) != 1 || kiln_model_num_outputs(model) < 1 ||
        kiln_model_input_info(model, 0, &in) != KILN_OK ||
        kiln_model_output_info(model, 0, &out) != KILN_OK || in.dtype != KILN_DTYPE_I64 ||
        in.rank != 2 || in.dims[1] >= 0 || out.rank != 3 || out.dims[2] < 0)
      return fail("--eval-text: '" + modelName + "' has no prefill entry, and its entry '" +
                  entryName +
                  "' is not a language model (one int64 [1, seq] input, [1, seq, vocab] logits)");
    vocab = out.dims[2];
    kiln_symbol_info t;
    kiln_model_symbol_info(model, 0, &t);
    maxContext = t.max_value;
  }
  if (vocab != 256)
    return fail("--eval-text needs a byte-level model (vocabulary 256); '" + modelName +
                "' has a vocabulary of " + std::to_string(vocab));
  if (o.window > maxContext)
    return fail("--window " + std::to_string(o.window) + " exceeds the maximum context of '" +
                modelName + "' (" + std::to_string(maxContext) + " tokens)");
  const size_t window = static_cast<size_t>(o.window);
  size_t fit = text.size() > 0 ? (text.size() - 1) / window : 0;
  size_t windows = o.windows > 0 ? static_cast<size_t>(o.windows) : fit;
  if (windows == 0 || windows > fit)
    return fail("'" + o.evalText + "' is too short: it has " + std::to_string(text.size()) +
                " bytes; " + std::to_string(std::max<size_t>(windows, 1)) + " window" +
                (windows > 1 ? "s" : "") + " of " + std::to_string(window) + " need " +
                std::to_string(std::max<size_t>(windows, 1) * window + 1));

  std::vector<int64_t> ids(window);
  std::vector<float> logits(window * 256);
  std::unique_ptr<kiln_generator, GeneratorDeleter> generator;
  std::unique_ptr<kiln_session, SessionDeleter> session;
  if (viaPrefill) {
    kiln_generator_options options;
    kiln_generator_options_init(&options);
    options.device = ordinal;
    options.max_sequences = 1; // one slot is all evaluation needs
    options.disable_cuda_graphs = o.noCudaGraph;
    kiln_generator *raw = nullptr;
    if (kiln_generator_create(model, &options, &raw) != KILN_OK)
      return fail(kiln_last_error());
    generator.reset(raw);
  } else {
    kiln_session_options options;
    kiln_session_options_init(&options);
    options.device = ordinal;
    options.disable_cuda_graphs = o.noCudaGraph;
    kiln_session *raw = nullptr;
    if (kiln_session_create(model, &options, &raw) != KILN_OK)
      return fail(kiln_last_error());
    session.reset(raw);
  }
  double bits = 0, gpuMs = 0;
  auto start = std::chrono::steady_clock::now();
  for (size_t w = 0; w < windows; ++w) {
    const uint8_t *bytes = text.data() + w * window;
    for (size_t i = 0; i < window; ++i)
      ids[i] = bytes[i];
    if (generator) {
      if (kiln_generator_logits(generator.get(), ids.data(), window, logits.data(),
                                logits.size()) != KILN_OK)
        return fail(kiln_generator_last_error(generator.get()));
    } else {
      int64_t dims[2] = {1, static_cast<int64_t>(window)};
      double ms = 0;
      if (kiln_session_bind_input(session.get(), 0, ids.data(), KILN_DTYPE_I64, dims, 2) !=
              KILN_OK ||
          kiln_session_run(session.get()) != KILN_OK ||
          kiln_session_read_output(session.get(), 0, logits.data(),
                                   logits.size() * sizeof(float)) != KILN_OK)
        return fail(kiln_session_last_error(session.get()));
      kiln_session_last_gpu_time_ms(session.get(), &ms);
      gpuMs += ms;
    }
    for (size_t i = 0; i < window; ++i)
      bits += bitsOf(logits.data() + i * 256, 256, bytes[i + 1]);
  }
  double wallS =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (generator) {
    kiln_generator_stats stats;
    kiln_generator_decode_stats(generator.get(), &stats);
    gpuMs = stats.prefill_ms_total;
  }
  const size_t predictions = windows * window;
  double bitsPerByte = bits / static_cast<double>(predictions);
  double perplexity = std::exp2(bitsPerByte);
  std::printf("%s: bits per byte %.4f, perplexity %.4f (per byte), %zu predictions in %zu "
              "window%s of %zu bytes of '%s' (entry %s)\n",
              modelName.c_str(), bitsPerByte, perplexity, predictions, windows,
              windows == 1 ? "" : "s", window, o.evalText.c_str(), entryName.c_str());
  std::printf("GPU time %.3f ms, host wall time %.3f s\n", gpuMs, wallS);
  if (!o.outputJson.empty()) {
    std::string json = "{\"model\": " + jsonString(modelName) +
                       ", \"precision\": " + jsonString(kiln_model_precision(model)) +
                       ", \"text\": " + jsonString(o.evalText) +
                       ", \"entry\": " + jsonString(entryName) +
                       ", \"bits_per_byte\": " + fmt("%.6f", bitsPerByte) +
                       ", \"perplexity\": " + fmt("%.6f", perplexity) +
                       ", \"predictions\": " + std::to_string(predictions) +
                       ", \"windows\": " + std::to_string(windows) +
                       ", \"window\": " + std::to_string(window) +
                       ", \"gpu_ms\": " + jsonNumber(gpuMs) + ", \"wall_s\": " +
                       jsonNumber(wallS) + "}\n";
    if (!writeText(o.outputJson, json, error))
      return fail(error);
  }
  return 0;
}

const NpyArray *findArray(const NamedArrays &arrays, const std::string &name,
                          const std::string &fallback, std::string *found) {
  for (const std::string &key : {name, fallback}) {
    for (const auto &entry : arrays) {
      if (entry.first == key) {
        if (found)
          *found = key;
        return &entry.second;
      }
    }
  }
  return nullptr;
}

/// Compares one output with its reference; prints one line; returns whether it passed.
bool compareOutput(const std::string &name, const NpyArray &actual, const std::string &refName,
                   const NpyArray &expected, const Options &o) {
  std::printf("%s: %s vs %s %s", name.c_str(), actual.describe().c_str(), refName.c_str(),
              expected.describe().c_str());
  if (actual.shape != expected.shape) {
    std::printf(": FAIL (shapes differ)\n");
    return false;
  }
  size_t n = actual.numElements();
  double maxErr = 0, maxRef = 0, maxRel = 0;
  uint64_t outside = 0, special = 0;
  for (size_t i = 0; i < n; ++i) {
    double a = actual.getDouble(i), b = expected.getDouble(i);
    if (std::isnan(a) || std::isnan(b)) {
      special += std::isnan(a) != std::isnan(b);
      continue;
    }
    if (std::isinf(a) || std::isinf(b)) {
      special += a != b;
      continue;
    }
    double err = std::fabs(a - b);
    maxErr = std::max(maxErr, err);
    maxRef = std::max(maxRef, std::fabs(b));
    if (b != 0)
      maxRel = std::max(maxRel, err / std::fabs(b));
    if (err > o.atol + o.rtol * std::fabs(b))
      ++outside;
  }
  // Arg-max agreement over the last axis (first maximum; NaNs never win).
  uint64_t positions = 0, agree = 0;
  size_t last = actual.shape.empty() ? 0 : static_cast<size_t>(actual.shape.back());
  if (last > 0) {
    positions = n / last;
    for (uint64_t p = 0; p < positions; ++p) {
      size_t base = static_cast<size_t>(p) * last, ia = 0, ib = 0;
      double ba = -INFINITY, bb = -INFINITY;
      for (size_t j = 0; j < last; ++j) {
        double a = actual.getDouble(base + j), b = expected.getDouble(base + j);
        if (a > ba) {
          ba = a;
          ia = j;
        }
        if (b > bb) {
          bb = b;
          ib = j;
        }
      }
      agree += ia == ib;
    }
  }
  double agreement = positions ? static_cast<double>(agree) / static_cast<double>(positions) : 1.0;
  bool argmaxOk = o.minArgmax < 0 || agreement >= o.minArgmax;
  outside += special;
  bool closeEnough = o.maxErrorFraction >= 0
                         ? special == 0 && maxErr <= o.maxErrorFraction * maxRef
                         : outside == 0;
  bool pass = closeEnough && argmaxOk;
  std::string criterion =
      o.maxErrorFraction >= 0
          ? fmt("%.3g", maxRef > 0 ? maxErr / maxRef : 0.0) + " of max|ref| (needs <= " +
                fmt("%g", o.maxErrorFraction) + "), "
          : "";
  std::printf(": max|err| %s, max|ref| %s, %smax rel err %s, %llu of %zu outside atol %g + rtol "
              "%g * |ref|, argmax agreement %llu/%llu (%.4f)%s: %s\n",
              fmt("%.3g", maxErr).c_str(), fmt("%.3g", maxRef).c_str(), criterion.c_str(),
              fmt("%.3g", maxRel).c_str(), static_cast<unsigned long long>(outside), n, o.atol,
              o.rtol, static_cast<unsigned long long>(agree),
              static_cast<unsigned long long>(positions), agreement,
              o.minArgmax >= 0 ? (" (needs " + fmt("%.4f", o.minArgmax) + ")").c_str() : "",
              pass ? "PASS" : "FAIL");
  return pass;
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats summarize(std::vector<double> v) {
  Stats s;
  if (v.empty())
    return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return s;
}

std::string timingLine(const char *what, const Stats &s) {
  return std::string(what) + ": median " + fmt("%.3f", s.median) + " ms, min " +
         fmt("%.3f", s.min) + " ms, max " + fmt("%.3f", s.max) + " ms";
}

bool makeDirectories(const std::string &dir, std::string &error) {
  std::string path;
  size_t start = 0;
  while (start <= dir.size()) {
    size_t slash = dir.find('/', start);
    if (slash == std::string::npos)
      slash = dir.size();
    path = dir.substr(0, slash);
    if (!path.empty() && ::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
      error = "cannot create '" + dir + "': " + std::strerror(errno);
      return false;
    }
    start = slash + 1;
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = "cannot create '" + dir + "': not a directory";
    return false;
  }
  return true;
}

int runModel(kiln_model *model, const std::string &modelName, const Options &o) {
  if (o.printSignature) {
    printSignature(model, modelName);
    return 0;
  }
  if (o.generate)
    return runGenerate(model, modelName, o);
  if (!o.evalText.empty())
    return runEvalText(model, modelName, o);
  int ordinal = 0;
  std::string error;
  if (!parseDevice(o.device, ordinal, error))
    return fail(error);

  // Inputs: --input NAME=FILE and positional FILEs, then --inputs-from.
  int32_t numInputs = kiln_model_num_inputs(model);
  std::vector<kiln_tensor_info> infos(static_cast<size_t>(numInputs));
  for (int32_t i = 0; i < numInputs; ++i)
    kiln_model_input_info(model, i, &infos[static_cast<size_t>(i)]);
  std::vector<std::unique_ptr<NpyArray>> bound(static_cast<size_t>(numInputs));
  int32_t nextPositional = 0;
  for (const std::string &spec : o.inputs) {
    int32_t index = -1;
    std::string path = spec;
    if (size_t eq = spec.find('='); eq != std::string::npos) {
      std::string name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
      index = kiln_model_find_input(model, name.c_str());
      if (index < 0) {
        std::string known;
        for (const kiln_tensor_info &t : infos)
          known += (known.empty() ? "" : ", ") + std::string(t.name);
        return fail("the model has no input named '" + name + "' (its inputs: " + known + ")");
      }
    } else {
      while (nextPositional < numInputs && bound[static_cast<size_t>(nextPositional)])
        ++nextPositional;
      if (nextPositional == numInputs)
        return fail("too many inputs: the model takes " + std::to_string(numInputs) + ", '" +
                    spec + "' is one more");
      index = nextPositional;
    }
    if (bound[static_cast<size_t>(index)])
      return fail("input '" + std::string(infos[static_cast<size_t>(index)].name) +
                  "' is given twice");
    auto array = std::make_unique<NpyArray>();
    if (!readNpyFile(path, *array, error))
      return fail(error);
    bound[static_cast<size_t>(index)] = std::move(array);
  }
  if (!o.inputsFrom.empty()) {
    NamedArrays archive;
    if (!readNpzFile(o.inputsFrom, archive, error))
      return fail(error);
    for (int32_t i = 0; i < numInputs; ++i) {
      if (bound[static_cast<size_t>(i)])
        continue;
      if (const NpyArray *a = findArray(archive, infos[static_cast<size_t>(i)].name,
                                        "in" + std::to_string(i), nullptr))
        bound[static_cast<size_t>(i)] = std::make_unique<NpyArray>(*a);
    }
  }
  for (int32_t i = 0; i < numInputs; ++i) {
    const kiln_tensor_info &t = infos[static_cast<size_t>(i)];
    if (!bound[static_cast<size_t>(i)])
      return fail("input '" + std::string(t.name) + "' is not given; pass --input " + t.name +
                  "=FILE.npy" + (o.inputsFrom.empty() ? " or --inputs-from REF.npz" : ""));
    // numpy has no bfloat16 (float32 stands in) and tests often hold float32 for fp16 models:
    // convert within floats and within integers; anything else is the runtime's dtype error.
    NpyArray &a = *bound[static_cast<size_t>(i)];
    DType want = static_cast<DType>(t.dtype);
    if (a.dtype != want && isFloatType(a.dtype) == isFloatType(want))
      a = a.castTo(want);
  }

  kiln_session_options options;
  kiln_session_options_init(&options);
  options.device = ordinal;
  options.disable_cuda_graphs = o.noCudaGraph;
  kiln_session *rawSession = nullptr;
  if (kiln_session_create(model, &options, &rawSession) != KILN_OK)
    return fail(kiln_last_error());
  std::unique_ptr<kiln_session, SessionDeleter> session(rawSession);
  kiln_device_info device;
  kiln_session_device_info(session.get(), &device);
  std::printf("device %d: %s (sm_%d, %s free of %s), CUDA driver %d.%d\n", device.ordinal,
              device.name, device.compute_capability, formatBytes(device.free_bytes).c_str(),
              formatBytes(device.total_bytes).c_str(), device.driver_version / 1000,
              device.driver_version % 1000 / 10);

  for (int32_t i = 0; i < numInputs; ++i) {
    const NpyArray &a = *bound[static_cast<size_t>(i)];
    if (kiln_session_bind_input(session.get(), i, a.data.data(), static_cast<kiln_dtype>(a.dtype),
                                a.shape.data(), static_cast<int32_t>(a.shape.size())) != KILN_OK)
      return fail(kiln_session_last_error(session.get()));
  }

  std::vector<double> gpuMs, wallMs;
  for (long r = 0; r < o.warmup + o.repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (kiln_session_run(session.get()) != KILN_OK)
      return fail(kiln_session_last_error(session.get()));
    auto end = std::chrono::steady_clock::now();
    if (r < o.warmup)
      continue;
    double ms = 0;
    kiln_session_last_gpu_time_ms(session.get(), &ms);
    gpuMs.push_back(ms);
    wallMs.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }

  int32_t numOutputs = kiln_model_num_outputs(model);
  std::vector<std::pair<std::string, NpyArray>> outputs;
  for (int32_t i = 0; i < numOutputs; ++i) {
    kiln_tensor_info t;
    kiln_model_output_info(model, i, &t);
    NpyArray a;
    a.dtype = static_cast<DType>(t.dtype);
    int32_t rank = 0;
    a.shape.resize(static_cast<size_t>(t.rank));
    size_t bytes = 0;
    if (kiln_session_output_shape(session.get(), i, a.shape.data(), t.rank, &rank) != KILN_OK ||
        kiln_session_output_bytes(session.get(), i, &bytes) != KILN_OK)
      return fail(kiln_session_last_error(session.get()));
    a.data.resize(bytes);
    if (kiln_session_read_output(session.get(), i, a.data.data(), bytes) != KILN_OK)
      return fail(kiln_session_last_error(session.get()));
    outputs.emplace_back(t.name, std::move(a));
  }

  if (!o.outputDir.empty()) {
    if (!makeDirectories(o.outputDir, error))
      return fail(error);
    std::map<std::string, std::string> writtenBy;
    for (const auto &[name, array] : outputs) {
      std::string file = outputFileName(name);
      auto [it, inserted] = writtenBy.emplace(file, name);
      if (!inserted)
        return fail("outputs '" + it->second + "' and '" + name + "' would both be written to '" +
                    file + "'");
      // numpy has no bfloat16: such outputs are written as float32 (exact).
      NpyArray written = array.dtype == DType::BF16 ? array.castTo(DType::F32) : array;
      if (!writeNpyFile(o.outputDir + "/" + file, written, error))
        return fail(error);
    }
  }

  bool allPass = true;
  if (o.expect.empty()) {
    for (const auto &[name, array] : outputs)
      std::printf("%s: %s\n", name.c_str(), array.describe().c_str());
  } else {
    NamedArrays reference;
    if (!readNpzFile(o.expect, reference, error))
      return fail(error);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string &name = outputs[i].first;
      std::string fallback = "ort_out" + std::to_string(i), refName;
      const NpyArray *expected = findArray(reference, name, fallback, &refName);
      if (!expected) {
        std::printf("%s: MISSING (%s has neither '%s' nor '%s'): FAIL\n", name.c_str(),
                    o.expect.c_str(), name.c_str(), fallback.c_str());
        allPass = false;
        continue;
      }
      allPass &= compareOutput(name, outputs[i].second, refName, *expected, o);
    }
  }

  kiln_session_stats stats;
  kiln_session_get_stats(session.get(), &stats);
  std::printf("%s (%ld run%s after %ld warmup; %llu kernel launches per run; CUDA graphs %s)\n",
              timingLine("GPU time per run", summarize(gpuMs)).c_str(), o.repeat,
              o.repeat == 1 ? "" : "s", o.warmup,
              static_cast<unsigned long long>(stats.kernels_launched),
              stats.cuda_graphs_enabled ? "on" : "off");
  std::printf("%s\n", timingLine("host wall time per run", summarize(wallMs)).c_str());
  if (!allPass)
    return fail("outputs do not match '" + o.expect + "'");
  return 0;
}

int mainWithModel(int argc, char **argv, bool wantModel, const void *embedded, size_t size,
                  const std::string &embeddedName) {
  Options o;
  std::string error;
  if (!parseArgs(argc, argv, wantModel, o, error))
    return fail(error);
  if (o.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  kiln_model *raw = nullptr;
  std::string name;
  if (wantModel) {
    if (o.model.empty())
      return fail("no model given\n" + std::string(kUsage));
    name = o.model;
    if (kiln_model_load_file(o.model.c_str(), &raw) != KILN_OK)
      return fail(kiln_last_error());
  } else {
    name = embeddedName;
    if (kiln_model_load_memory(embedded, size, embeddedName.c_str(), &raw) != KILN_OK)
      return fail(kiln_last_error());
  }
  std::unique_ptr<kiln_model, ModelDeleter> model(raw);
  return runModel(model.get(), name, o);
}

} // namespace

int kilnRunArtifactMain(int argc, char **argv) {
  try {
    return mainWithModel(argc, argv, true, nullptr, 0, "");
  } catch (const std::bad_alloc &) {
    return fail("out of host memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  }
}

int kilnRunEmbeddedArtifactMain(int argc, char **argv, const void *artifact, size_t size,
                                const std::string &artifactName) {
  try {
    return mainWithModel(argc, argv, false, artifact, size, artifactName);
  } catch (const std::bad_alloc &) {
    return fail("out of host memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  }
}

bool kilnRunIsArtifactPath(const std::string &path) {
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".kiln") == 0)
    return true;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  unsigned char magic[8] = {0};
  size_t n = std::fread(magic, 1, 8, f);
  std::fclose(f);
  static const unsigned char kMagic[8] = {0x89, 'K', 'I', 'L', 'N', '\r', '\n', 0x1A};
  return n == 8 && std::memcmp(magic, kMagic, 8) == 0;
}
