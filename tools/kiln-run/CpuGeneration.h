//===- CpuGeneration.h - Generation and evaluation on the CPU executor -*- C++ -*-===//
//
// kiln-run's `--generate` and `--eval-text` modes for models run on the CPU reference executor
// (ONNX or kiln IR; compiled `.kiln` artifacts go to the GPU runtime's runner instead). See
// docs/Executor.md.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_CPUGENERATION_H
#define KILN_TOOLS_KILN_RUN_CPUGENERATION_H

#include "kilnrt/Sampling.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::run {

/// One prompt as given on the command line.
struct PromptSpec {
  enum class Kind { File, Text, Ids };
  Kind kind = Kind::Text;
  std::string value;                 // the file, the text, or the comma-separated ids
  int64_t offset = 0;                // File: the first byte
  std::optional<int64_t> length;     // File: how many bytes (default: to the end)
};

struct GenerationOptions {
  std::vector<PromptSpec> prompts;
  /// Sampling, --eos, --max-new-tokens and --truncate-prompt, as the GPU runtime's generator
  /// takes them: the same sampler (kilnrt/Sampling.h) draws the tokens.
  kilnrt::SamplingParams sampling;
  bool fullRecompute = false; // run the full forward per token even with @prefill/@decode
  std::string entry = "main"; // the full forward
  std::string outputJson;
  bool quiet = false;
};

struct EvalTextOptions {
  std::string file;
  int64_t window = 0;
  std::optional<int64_t> windows; // default: as many as the file holds
  bool fullRecompute = false;     // use the full forward even with @prefill
  std::string entry = "main";
  std::string outputJson;
  bool quiet = false;
};

/// Generates continuations of the prompts; returns the process exit code. Errors are printed
/// as "kiln-run: ..." (and the executor's diagnostics through the context's handler).
int runCpuGeneration(mlir::ModuleOp module, const GenerationOptions &options);

/// Bits per byte of the model over windows of a file; returns the process exit code.
int runCpuTextEvaluation(mlir::ModuleOp module, const EvalTextOptions &options);

} // namespace kiln::run

#endif // KILN_TOOLS_KILN_RUN_CPUGENERATION_H
