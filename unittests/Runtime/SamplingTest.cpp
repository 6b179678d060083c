//===- SamplingTest.cpp - the sampler of GPU and CPU generation, on logits ------------------===//
//
// kilnrt/Sampling.h: greedy ties and NaNs, top-k, top-p and temperature (frequencies against
// the softmax), the specified random stream, and the parameter checks. The runtime's generator
// and kiln-run's CPU generation both sample with it.
//
//===----------------------------------------------------------------------------------------===//

#include "kilnrt/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

using namespace kilnrt;

namespace {

SamplingParams params(double temperature, int64_t topK = 0, double topP = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.topK = topK;
  p.topP = topP;
  return p;
}

int64_t sample(const std::vector<float> &logits, const SamplingParams &p, SamplingRng &rng) {
  return sampleToken(logits.data(), logits.size(), p, rng);
}

TEST(RuntimeSampling, GreedyTakesTheFirstMaximum) {
  SamplingRng rng(1);
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  EXPECT_EQ(sampleToken(logits.data(), logits.size(), params(0), rng), 1);
  logits[0] = NAN;
  logits[4] = 3.0f;
  EXPECT_EQ(sampleToken(logits.data(), logits.size(), params(0), rng), 4);
  std::vector<float> nans(4, NAN);
  EXPECT_EQ(sampleToken(nans.data(), nans.size(), params(0), rng), 0);
  std::vector<float> infs = {-INFINITY, INFINITY, INFINITY};
  EXPECT_EQ(sampleToken(infs.data(), infs.size(), params(0), rng), 1);
  // The default parameters are greedy; argmaxLogit skips a leading NaN.
  SamplingRng first(0, 0);
  EXPECT_EQ(sample({1.0f, 3.0f, 3.0f, -2.0f}, SamplingParams{}, first), 1);
  std::vector<float> leadingNan = {std::nanf(""), -1.0f, -0.5f};
  EXPECT_EQ(argmaxLogit(leadingNan.data(), leadingNan.size()), 2);
}

TEST(RuntimeSampling, TopKOneAndTinyTopPAreGreedy) {
  SamplingRng gen(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits(50);
    for (float &v : logits)
      v = static_cast<float>(gen.next() % 7); // many ties
    SamplingRng rng(static_cast<uint64_t>(trial));
    int64_t greedy = sampleToken(logits.data(), logits.size(), params(0), rng);
    EXPECT_EQ(sampleToken(logits.data(), logits.size(), params(1.0, 1), rng), greedy);
    EXPECT_EQ(sampleToken(logits.data(), logits.size(), params(5.0, 1, 0.5), rng), greedy);
  }
  SamplingParams topK{1.5, 1, 1, 7}, topP{1.5, 0, 1e-6, 7};
  SamplingRng a(topK.seed, 3), b(topP.seed, 3);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sample({0.1f, 0.2f, 2.0f, 1.9f}, topK, a), 2);
    EXPECT_EQ(sample({0.1f, 0.2f, 2.0f, 1.9f}, topP, b), 2);
  }
}

TEST(RuntimeSampling, TopKAndTopPRestrictTheChoice) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1.
  std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  SamplingRng rng(11);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 4000; ++i)
    ++counts[sampleToken(logits.data(), logits.size(), params(1.0, 0, 0.7), rng)];
  // The smallest prefix reaching 0.7 is {0.5, 0.3}.
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[3], 0);
  EXPECT_NEAR(counts[1] / 4000.0, 0.5 / 0.8, 0.03);
  counts.clear();
  for (int i = 0; i < 1000; ++i)
    ++counts[sampleToken(logits.data(), logits.size(), params(1.0, 0, 0.45), rng)];
  EXPECT_EQ(counts.size(), 1u); // 0.5 alone reaches 0.45
  EXPECT_EQ(counts[1], 1000);
  counts.clear();
  for (int i = 0; i < 2000; ++i)
    ++counts[sampleToken(logits.data(), logits.size(), params(1.0, 3), rng)];
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts.count(2), 0u); // the smallest is out
  counts.clear();
  for (int i = 0; i < 20000; ++i)
    ++counts[sampleToken(logits.data(), logits.size(), params(1.0), rng)];
  EXPECT_NEAR(counts[0] / 20000.0, 0.15, 0.015);
  EXPECT_NEAR(counts[1] / 20000.0, 0.5, 0.015);
  EXPECT_NEAR(counts[2] / 20000.0, 0.05, 0.01);
  EXPECT_NEAR(counts[3] / 20000.0, 0.3, 0.015);
}

// The frequencies follow softmax(logits / T) restricted by top-k and top-p.
TEST(RuntimeSampling, FrequenciesFollowTheDistribution) {
  std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  auto frequencies = [&](SamplingParams p) {
    SamplingRng rng(p.seed, 0);
    std::map<int64_t, int> counts;
    const int draws = 40000;
    for (int i = 0; i < draws; ++i)
      ++counts[sample(logits, p, rng)];
    std::vector<double> result(4, 0.0);
    for (auto [token, count] : counts)
      result[token] = double(count) / draws;
    return result;
  };
  auto softmax = [&](double temperature, int keep) {
    std::vector<double> p(4, 0.0);
    double total = 0;
    for (int i = 0; i < keep; ++i)
      total += p[i] = std::exp(logits[i] / temperature);
    for (double &x : p)
      x /= total;
    return p;
  };
  std::vector<double> plain = frequencies({1.0, 0, 1, 1}), expected = softmax(1.0, 4);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(plain[i], expected[i], 0.01) << i;
  std::vector<double> hot = frequencies({2.0, 2, 1, 1}), expectedHot = softmax(2.0, 2);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(hot[i], expectedHot[i], 0.01) << i;
  // p = 0.8 with probabilities (0.64, 0.24, 0.09, 0.03): the first two (mass 0.88) stay.
  std::vector<double> nucleus = frequencies({1.0, 0, 0.8, 1}), expectedNucleus = softmax(1.0, 2);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(nucleus[i], expectedNucleus[i], 0.01) << i;
}

TEST(RuntimeSampling, TemperatureSharpensOrFlattens) {
  std::vector<float> logits = {1.0f, 2.0f, 0.0f, 1.5f};
  auto share = [&](double temperature) {
    SamplingRng rng(5);
    int top = 0;
    for (int i = 0; i < 5000; ++i)
      top += sampleToken(logits.data(), logits.size(), params(temperature), rng) == 1;
    return top / 5000.0;
  };
  double cold = share(0.05), normal = share(1.0), hot = share(20.0);
  EXPECT_GT(cold, 0.99);
  EXPECT_GT(normal, hot);
  EXPECT_NEAR(hot, 0.25, 0.05);
}

TEST(RuntimeSampling, SameSeedSameDraws) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i)
    logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  auto draws = [&](uint64_t seed, uint64_t stream) {
    SamplingRng rng(seed, stream);
    std::vector<int64_t> out;
    for (int i = 0; i < 50; ++i)
      out.push_back(sampleToken(logits.data(), logits.size(), params(1.0, 40, 0.9), rng));
    return out;
  };
  EXPECT_EQ(draws(42, 0), draws(42, 0));
  EXPECT_NE(draws(42, 0), draws(43, 0));
  EXPECT_NE(draws(42, 0), draws(42, 1));
  // Without top-k and top-p too: the stream is (seed, sequence).
  std::vector<float> few = {0.0f, 0.5f, 1.0f, 0.2f, -0.3f};
  auto draw = [&](uint64_t seed, uint64_t sequence) {
    SamplingParams p{1.0, 0, 1, seed};
    SamplingRng rng(p.seed, sequence);
    std::vector<int64_t> tokens;
    for (int i = 0; i < 32; ++i)
      tokens.push_back(sample(few, p, rng));
    return tokens;
  };
  EXPECT_EQ(draw(42, 0), draw(42, 0));
  EXPECT_NE(draw(42, 0), draw(42, 1));
  EXPECT_NE(draw(42, 0), draw(43, 0));
  // The stream is specified (GPU and CPU generation both draw from it): splitmix64 from
  // mix64(seed) ^ mix64(id + gamma).
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const uint64_t gamma = 0x9e3779b97f4a7c15ULL;
  uint64_t state = mix(42) ^ mix(3 + gamma);
  SamplingRng rng(42, 3);
  for (int i = 0; i < 4; ++i) {
    state += gamma;
    EXPECT_EQ(rng.next(), mix(state));
  }
  double u = SamplingRng(9).uniform();
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  // The draw walks the sorted candidates: u below the top probability picks the top token.
  std::vector<float> two = {0.0f, 0.0f};
  SamplingRng first(1, 0), copy(1, 0);
  double uniform = copy.uniform();
  EXPECT_EQ(sampleToken(two.data(), two.size(), params(1.0), first), uniform < 0.5 ? 0 : 1);
}

TEST(RuntimeSampling, ValidatesParameters) {
  EXPECT_EQ(checkSampling(params(0), 16), "");
  EXPECT_EQ(checkSampling(params(NAN), 16),
            "temperature nan must be finite and >= 0 (0 = greedy)");
  EXPECT_NE(checkSampling(params(1, 0, 0), 16), "");
  SamplingParams p;
  p.eosId = -2;
  EXPECT_NE(checkSampling(p, 16), "");
  EXPECT_EQ(checkSampling({0.7, 40, 0.9, 1}, 16), "");
  EXPECT_NE(checkSampling({-1, 0, 1, 0}, 16), "");
  EXPECT_NE(checkSampling({1, -2, 1, 0}, 16), "");
  EXPECT_NE(checkSampling({1, 0, 0, 0}, 16), "");
  EXPECT_NE(checkSampling({1, 0, 1.5, 0}, 16), "");
  // kiln-run's CPU generation names its options.
  EXPECT_EQ(checkSampling(params(-1), 16, SamplingNames::Flags),
            "--temperature -1 must be finite and >= 0 (0 = greedy)");
  EXPECT_EQ(checkSampling(params(1, -2), 16, SamplingNames::Flags),
            "--top-k -2 must be >= 0 (0 = off)");
  EXPECT_EQ(checkSampling(params(1, 0, 1.5), 16, SamplingNames::Flags),
            "--top-p 1.5 is outside (0, 1] (1 = off)");
  SamplingParams eos;
  eos.eosId = 16;
  EXPECT_EQ(checkSampling(eos, 16, SamplingNames::Flags),
            "--eos 16 is outside the vocabulary [0, 16) (-1 = none)");
  SamplingParams none;
  none.maxNewTokens = 0;
  EXPECT_EQ(checkSampling(none, 16, SamplingNames::Flags), "--max-new-tokens 0 must be >= 1");
  EXPECT_EQ(checkSampling(none, 16), "max_new_tokens 0 must be >= 1");
}

} // namespace
