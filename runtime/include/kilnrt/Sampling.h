//===- Sampling.h - next-token sampling, shared by GPU and CPU generation ---------*- C++ -*-===//
//
// The one host sampler of Kiln: the runtime's generator (kiln_generator, GPU generation) and
// kiln-run's CPU generation (tools/kiln-run/CpuGeneration.cpp, on the CPU executor) both draw
// their tokens with sampleToken from a SamplingRng. The stream and the draw are specified
// exactly (not left to std:: distributions), so for the same seed, sequence id and logits, GPU
// and CPU generation draw the same tokens on every platform: by construction, as they run this
// code. Plain C++17; no MLIR, LLVM or CUDA dependency (see runtime/README.md, "Sampling").
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_SAMPLING_H
#define KILNRT_SAMPLING_H

#include <cstddef>
#include <cstdint>
#include <string>

// (Identical to Artifact.h's definition.)
#ifndef KILNRT_CXX_API
#if defined(_WIN32)
#define KILNRT_CXX_API
#else
#define KILNRT_CXX_API __attribute__((visibility("default")))
#endif
#endif

namespace kilnrt {

/// How one sequence is generated: the sampler's parameters (temperature, top_k, top_p, seed)
/// and when the sequence ends (eos_id, max_new_tokens), as kiln_sampling in kilnrt.h.
struct SamplingParams {
  double temperature = 0; // 0: greedy
  int64_t topK = 0;       // 0: off
  double topP = 1;        // 1: off
  uint64_t seed = 0;
  int64_t eosId = -1;     // -1: none
  int64_t maxNewTokens = 128;
  bool truncatePrompt = false; // a prompt too long for the context keeps its last tokens
};

/// Deterministic random numbers, the same on every platform (std:: distributions are not): a
/// splitmix64 stream whose state starts at mix64(seed) ^ mix64(stream + golden gamma). Each
/// sequence draws from its own stream: (seed, sequence id).
class KILNRT_CXX_API SamplingRng {
public:
  explicit SamplingRng(uint64_t seed = 0, uint64_t stream = 0);
  uint64_t next();
  double uniform(); // [0, 1), 53 bits

private:
  uint64_t state;
};

/// Greedy decoding: the index of the first largest of `vocab` logits. NaN never wins (all NaN,
/// or vocab 0: 0).
KILNRT_CXX_API int64_t argmaxLogit(const float *logits, size_t vocab);

/// The next token from `vocab` logits. Greedy (temperature 0): argmaxLogit. Otherwise:
/// candidates sorted by descending logit (ties: lower index first), the first top_k, softmax of
/// logits / temperature (in double; +inf logits share all the mass), the smallest prefix whose
/// probability mass reaches top_p, then one draw u * mass from `rng` walked down that order.
/// NaN logits are never chosen (all NaN: token 0).
KILNRT_CXX_API int64_t sampleToken(const float *logits, size_t vocab,
                                   const SamplingParams &params, SamplingRng &rng);

/// How checkSampling names the parameters in its messages.
enum class SamplingNames {
  CApi,  // kiln_sampling's fields: "top_p 1.5 is outside (0, 1] (1 = off)"
  Flags, // kiln-run's options:     "--top-p 1.5 is outside (0, 1] (1 = off)"
};

/// Checks the parameters against a vocabulary of `vocab` tokens: temperature finite and >= 0,
/// top_k >= 0, top_p in (0, 1], eos_id -1 or in [0, vocab), max_new_tokens >= 1. Returns the
/// first problem as a message, or an empty string.
KILNRT_CXX_API std::string checkSampling(const SamplingParams &params, int64_t vocab,
                                         SamplingNames names = SamplingNames::CApi);

} // namespace kilnrt

#endif // KILNRT_SAMPLING_H
