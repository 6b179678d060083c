//===- Sampling.cpp - Next-token sampling from logits ---------------------===//

#include "kiln/Executor/Sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

using namespace kiln::exec;

std::string kiln::exec::validateSamplingOptions(const SamplingOptions &options) {
  if (!(options.temperature >= 0) || std::isinf(options.temperature))
    return "the temperature must be a finite value >= 0 (0 = greedy), got " +
           std::to_string(options.temperature);
  if (options.topK < 0)
    return "top-k must be >= 0 (0 = off), got " + std::to_string(options.topK);
  if (!(options.topP > 0 && options.topP <= 1))
    return "top-p must be in (0, 1] (1 = off), got " + std::to_string(options.topP);
  return "";
}

/// splitmix64's output function (Steele, Lea and Flood), a strong 64-bit mixer.
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

Sampler::Sampler(const SamplingOptions &options, uint64_t sequenceId)
    : options(options), state(mix64(options.seed) ^ mix64(sequenceId + kGoldenGamma)) {}

double Sampler::nextUniform() {
  state += kGoldenGamma;
  return static_cast<double>(mix64(state) >> 11) * 0x1.0p-53;
}

int64_t kiln::exec::argmaxLogit(llvm::ArrayRef<float> logits) {
  int64_t best = 0;
  bool found = false;
  for (int64_t i = 0, e = static_cast<int64_t>(logits.size()); i < e; ++i) {
    if (std::isnan(logits[i]))
      continue;
    if (!found || logits[i] > logits[best]) {
      best = i;
      found = true;
    }
  }
  return best;
}

int64_t Sampler::sample(llvm::ArrayRef<float> logits) {
  if (options.temperature == 0 || logits.size() <= 1)
    return argmaxLogit(logits);
  // Candidates in descending order of logit, ties by index (the order of the draw).
  std::vector<int64_t> order;
  order.reserve(logits.size());
  for (int64_t i = 0, e = static_cast<int64_t>(logits.size()); i < e; ++i)
    if (!std::isnan(logits[i]))
      order.push_back(i);
  if (order.empty())
    return 0;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  if (options.topK > 0 && static_cast<size_t>(options.topK) < order.size())
    order.resize(static_cast<size_t>(options.topK));
  // Softmax of logits / temperature over the candidates, in double.
  std::vector<double> probs(order.size());
  double maxScaled = static_cast<double>(logits[order.front()]) / options.temperature;
  double total = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    probs[i] = std::exp(static_cast<double>(logits[order[i]]) / options.temperature - maxScaled);
    total += probs[i];
  }
  for (double &p : probs)
    p /= total;
  // Top-p: the smallest prefix whose mass reaches p (at least one token).
  if (options.topP < 1) {
    double mass = 0;
    size_t keep = 0;
    while (keep < probs.size()) {
      mass += probs[keep++];
      if (mass >= options.topP)
        break;
    }
    probs.resize(keep);
    order.resize(keep);
  }
  double kept = std::accumulate(probs.begin(), probs.end(), 0.0);
  double target = nextUniform() * kept;
  double cumulative = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    cumulative += probs[i];
    if (target < cumulative)
      return order[i];
  }
  return order.back();
}
