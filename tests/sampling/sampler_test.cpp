// Sampler: greedy, each filter's effect, penalties, and reproducibility with a seed.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "sampler.h"

namespace r1 {
namespace {

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(SamplerOptions{.temperature = 0.0f});
  const std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  Sampler s(SamplerOptions{.temperature = 1.0f, .top_k = 1, .top_p = 1.0f, .min_p = 0.0f, .seed = 3});
  const std::vector<float> logits = {0.5f, 0.4f, 2.0f, 1.9f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits, {}), 2);
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  // p ≈ {0.64, 0.24, 0.09, 0.03}: top-p 0.8 keeps two tokens, min-p 0.2 keeps two as well.
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  for (const SamplerOptions& o : {SamplerOptions{.temperature = 1.0f, .top_k = 0, .top_p = 0.8f, .min_p = 0.0f, .seed = 1},
                                  SamplerOptions{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f, .seed = 1}}) {
    Sampler s(o);
    std::map<int, int> seen;
    for (int i = 0; i < 2000; ++i) seen[s.sample(logits, {})]++;
    EXPECT_EQ(seen.size(), 2u);
    EXPECT_GT(seen[0], seen[1]);
  }
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const std::vector<float> logits = {1.0f, 0.0f};
  auto share_of_first = [&](float temperature) {
    Sampler s(SamplerOptions{.temperature = temperature, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 9});
    int first = 0;
    for (int i = 0; i < 4000; ++i) first += s.sample(logits, {}) == 0;
    return first / 4000.0;
  };
  EXPECT_NEAR(share_of_first(1.0f), 0.731, 0.03);  // e/(1+e)
  EXPECT_GT(share_of_first(0.2f), 0.98);
  EXPECT_NEAR(share_of_first(100.0f), 0.5, 0.04);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 11) * 0.3f;
  const SamplerOptions o{.temperature = 0.8f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 1234};
  Sampler a(o), b(o), c(SamplerOptions{.temperature = 0.8f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 99});
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 64; ++i) {
    ta.push_back(a.sample(logits, ta));
    tb.push_back(b.sample(logits, tb));
    tc.push_back(c.sample(logits, tc));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
  const std::vector<float> logits = {2.0f, 1.9f};
  const std::vector<int32_t> history = {0, 0, 0};
  Sampler rep(SamplerOptions{.temperature = 0.0f, .repeat_penalty = 1.5f});
  EXPECT_EQ(rep.sample(logits, history), 1);  // 2.0/1.5 < 1.9
  Sampler freq(SamplerOptions{.temperature = 0.0f, .frequency_penalty = 0.1f});
  EXPECT_EQ(freq.sample(logits, history), 1);  // 2.0 - 0.3 < 1.9
  Sampler presence(SamplerOptions{.temperature = 0.0f, .presence_penalty = 0.05f});
  EXPECT_EQ(presence.sample(logits, history), 0);  // 1.95 > 1.9
  Sampler window(SamplerOptions{.temperature = 0.0f, .repeat_penalty = 1.5f, .repeat_last_n = 0});
  EXPECT_EQ(window.sample(logits, history), 0);  // no history looked at
}

}  // namespace
}  // namespace r1
