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
    "  --print-signature          print inputs, outputs and symbols, and exit\n"
    "  --no-cuda-graph            launch kernels one by one (also KILN_DISABLE_CUDA_GRAPHS=1)\n";

int fail(const std::string &message) {
  std::fflush(stdout);
  std::fprintf(stderr, "kiln-run: %s\n", message.c_str());
  return 1;
}

struct Options {
  std::string model;
  std::string device = "cuda:0";
  std::vector<std::string> inputs; // NAME=FILE or FILE (positional)
  std::string inputsFrom, expect, outputDir;
  double rtol = 1e-3, atol = 1e-4, minArgmax = -1, maxErrorFraction = -1;
  long repeat = 1, warmup = 0;
  bool printSignature = false, noCudaGraph = false, help = false;
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

bool parseArgs(int argc, char **argv, bool wantModel, Options &o, std::string &error) {
  static const char *const withValue[] = {"device", "input", "inputs-from", "expect",
                                          "rtol",   "atol",  "repeat",      "warmup",
                                          "output-dir", "min-argmax-agreement",
                                          "max-error-fraction"};
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
    if (key == "device")
      o.device = value;
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

void printSignature(const kiln_model *model, const std::string &name) {
  std::printf("%s: target %s, precision %s, producer '%s', device memory %s\n", name.c_str(),
              kiln_model_target(model), kiln_model_precision(model), kiln_model_producer(model),
              formatBytes(kiln_model_device_bytes(model)).c_str());
  for (int32_t i = 0; i < kiln_model_num_symbols(model); ++i) {
    kiln_symbol_info s;
    kiln_model_symbol_info(model, i, &s);
    kiln_tensor_info in;
    kiln_model_input_info(model, s.input, &in);
    std::printf("symbol %s: 1..%lld (dim %d of input '%s')\n", s.name,
                static_cast<long long>(s.max_value), s.dim, in.name);
  }
  for (int32_t i = 0; i < kiln_model_num_inputs(model); ++i) {
    kiln_tensor_info t;
    kiln_model_input_info(model, i, &t);
    std::printf("input %s: %s %s\n", t.name, kiln_dtype_name(t.dtype), signatureDims(t).c_str());
  }
  for (int32_t i = 0; i < kiln_model_num_outputs(model); ++i) {
    kiln_tensor_info t;
    kiln_model_output_info(model, i, &t);
    std::printf("output %s: %s %s\n", t.name, kiln_dtype_name(t.dtype), signatureDims(t).c_str());
  }
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
