//===- Sampling.cpp - next-token sampling, shared by GPU and CPU generation --------------===//
//
// The stream and the draw are specified exactly (not left to std:: distributions). The GPU
// generator (Generator.cpp) and kiln-run's CPU generation (tools/kiln-run/CpuGeneration.cpp) both
// sample with this code: for the same seed, sequence id and logits, GPU and CPU generation draw
// the same tokens on every platform.
//
//===----------------------------------------------------------------------------------------===//

#include "kilnrt/Sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace kilnrt {

static constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

/// splitmix64's output function (Steele, Lea and Flood), a strong 64-bit mixer.
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

SamplingRng::SamplingRng(uint64_t seed, uint64_t stream)
    : state(mix64(seed) ^ mix64(stream + kGoldenGamma)) {}

uint64_t SamplingRng::next() {
  state += kGoldenGamma;
  return mix64(state);
}

double SamplingRng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int64_t argmaxLogit(const float *logits, size_t vocab) {
  size_t best = 0;
  bool found = false;
  for (size_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i]))
      continue;
    if (!found || logits[i] > logits[best]) {
      best = i;
      found = true;
    }
  }
  return static_cast<int64_t>(best);
}

int64_t sampleToken(const float *logits, size_t vocab, const SamplingParams &params,
                    SamplingRng &rng) {
  if (vocab == 0)
    return 0;
  if (params.temperature <= 0 || vocab == 1)
    return argmaxLogit(logits, vocab);
  // Candidates in descending order of logit, ties by index: the order of the draw.
  std::vector<int64_t> order;
  order.reserve(vocab);
  for (size_t i = 0; i < vocab; ++i)
    if (!std::isnan(logits[i]))
      order.push_back(static_cast<int64_t>(i));
  if (order.empty())
    return 0;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  if (params.topK > 0 && static_cast<uint64_t>(params.topK) < order.size())
    order.resize(static_cast<size_t>(params.topK));
  const float top = logits[order.front()];
  if (std::isinf(top) && top > 0) {
    // +inf logits share all the mass (the softmax below would be inf - inf).
    size_t n = 0;
    while (n < order.size() && logits[order[n]] == top)
      ++n;
    return order[static_cast<size_t>(rng.uniform() * static_cast<double>(n))];
  }
  // Softmax of logits / temperature over the candidates, in double.
  std::vector<double> probs(order.size());
  double maxScaled = static_cast<double>(top) / params.temperature, total = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    probs[i] = std::exp(static_cast<double>(logits[order[i]]) / params.temperature - maxScaled);
    total += probs[i];
  }
  for (double &p : probs)
    p /= total;
  // Top-p: the smallest prefix whose mass reaches p (at least one token).
  if (params.topP < 1) {
    double mass = 0;
    size_t keep = 0;
    while (keep < probs.size()) {
      mass += probs[keep++];
      if (mass >= params.topP)
        break;
    }
    probs.resize(keep);
    order.resize(keep);
  }
  double kept = 0;
  for (double p : probs)
    kept += p;
  double target = rng.uniform() * kept, cumulative = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    cumulative += probs[i];
    if (target < cumulative)
      return order[i];
  }
  return order.back();
}

static std::string formatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string checkSampling(const SamplingParams &p, int64_t vocab, SamplingNames names) {
  bool flags = names == SamplingNames::Flags;
  auto name = [&](const char *field, const char *flag) { return std::string(flags ? flag : field); };
  if (!std::isfinite(p.temperature) || p.temperature < 0)
    return name("temperature", "--temperature") + " " + formatNumber(p.temperature) +
           " must be finite and >= 0 (0 = greedy)";
  if (p.topK < 0)
    return name("top_k", "--top-k") + " " + std::to_string(p.topK) + " must be >= 0 (0 = off)";
  if (!(p.topP > 0 && p.topP <= 1))
    return name("top_p", "--top-p") + " " + formatNumber(p.topP) + " is outside (0, 1] (1 = off)";
  if (p.eosId < -1 || p.eosId >= vocab)
    return name("eos_id", "--eos") + " " + std::to_string(p.eosId) +
           " is outside the vocabulary [0, " + std::to_string(vocab) + ") (-1 = none)";
  if (p.maxNewTokens < 1)
    return name("max_new_tokens", "--max-new-tokens") + " " + std::to_string(p.maxNewTokens) +
           " must be >= 1";
  return "";
}

} // namespace kilnrt
