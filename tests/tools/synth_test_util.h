// Shared by the synth tests: load a written synthetic model through the public API and check that it
// tokenizes, gives finite, non-constant logits and generates.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gguf_set.h"
#include "r1/r1.h"
#include "synth_model.h"

namespace r1::testing_synth {

// The written file holds the planned tensors, in order, at their planned types.
inline void expect_matches_plan(const SynthPlan& p, const std::string& path) {
  const GgufSet set = GgufSet::open(path);
  ASSERT_EQ(set.tensors().size(), p.quant.tensors.size());
  for (size_t i = 0; i < p.quant.tensors.size(); ++i) {
    EXPECT_EQ(set.tensors()[i].info->type->type, p.quant.tensors[i].dst_type) << p.quant.tensors[i].name;
    EXPECT_EQ(set.tensors()[i].info->shape(), p.quant.tensors[i].dims) << p.quant.tensors[i].name;
  }
}

inline void expect_runs_finite(const std::string& path, int64_t n_vocab) {
  EngineOptions o;
  o.model = path;
  o.threads = 2;
  o.context = 64;
  const std::unique_ptr<Engine> engine = Engine::load(o);
  EXPECT_EQ(engine->model().n_vocab, n_vocab);
  const std::string text = "Hello world, what is 2+2?";
  const std::vector<int32_t> tokens = engine->tokenize(text, true, true);
  ASSERT_GT(tokens.size(), 5u);
  EXPECT_LT(tokens.size(), text.size() + 1);  // the letter-pair merges apply
  EXPECT_EQ(engine->detokenize(std::vector<int32_t>(tokens.begin() + 1, tokens.end())), text);
  const std::vector<float> logits = engine->logits(tokens);
  ASSERT_EQ(logits.size(), tokens.size() * static_cast<size_t>(n_vocab));
  double sum = 0, sum_sq = 0;
  for (float v : logits) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double mean = sum / static_cast<double>(logits.size());
  const double stddev = std::sqrt(sum_sq / static_cast<double>(logits.size()) - mean * mean);
  EXPECT_GT(stddev, 0.1);   // weights drawn at unit output variance: logits spread, neither collapse
  EXPECT_LT(stddev, 100.0); // nor blow up
  GenerateOptions g;
  g.max_tokens = 4;
  g.sampling.temperature = 0.0f;
  const Reply r = engine->new_session()->chat("What is 2+2?", g);
  EXPECT_TRUE(r.stats.stop_reason == "length" || r.stats.stop_reason == "eos") << r.stats.stop_reason;
}

}  // namespace r1::testing_synth
