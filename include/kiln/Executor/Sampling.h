//===- Sampling.h - Next-token sampling from logits -------------*- C++ -*-===//
//
// The host sampler of CPU generation (kiln-run --generate on the CPU executor), with the
// semantics of the runtime's (docs/Executor.md): greedy is the first index of the largest logit;
// otherwise logits / temperature -> top-k -> softmax -> top-p (the smallest prefix of the
// probabilities in descending order whose mass is >= p) -> one draw from a per-sequence random
// stream seeded from (seed, sequence id). Deterministic: the same seed, sequence and logits give
// the same token on every platform (the generator and the draw are specified here, not left to
// the standard library's distributions).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_EXECUTOR_SAMPLING_H
#define KILN_EXECUTOR_SAMPLING_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>

namespace kiln::exec {

struct SamplingOptions {
  double temperature = 0; // 0: greedy
  int64_t topK = 0;       // 0: off
  double topP = 1;        // 1: off
  uint64_t seed = 0;
};

/// An error message for options out of range (temperature < 0, top-k < 0, top-p outside
/// (0, 1]), or an empty string.
std::string validateSamplingOptions(const SamplingOptions &options);

/// Draws the tokens of one sequence.
class Sampler {
public:
  Sampler(const SamplingOptions &options, uint64_t sequenceId);

  /// The next token from one row of logits (the vocabulary). A NaN logit is never chosen; a
  /// row of NaNs gives token 0.
  int64_t sample(llvm::ArrayRef<float> logits);

  /// A uniform double in [0, 1) from the sequence's stream (53 random bits).
  double nextUniform();

private:
  SamplingOptions options;
  uint64_t state; // splitmix64
};

/// The index of the first largest logit (greedy decoding; NaN never wins).
int64_t argmaxLogit(llvm::ArrayRef<float> logits);

} // namespace kiln::exec

#endif // KILN_EXECUTOR_SAMPLING_H
