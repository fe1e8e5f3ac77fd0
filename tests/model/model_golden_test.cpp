// The llama-like forward pass (qwen2, llama) against llama.cpp's goldens: F32 files with an F32 cache
// (exact path), F32 files with the default F16 cache and flash attention, and the Q8_0 / Q4_K_M files.
// Also: greedy decoding one token at a time through the cache (the golden greedy steps), prefill equals
// token-by-token decoding, two sequences in one batch equal each alone, and a layer split across backends.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>

#include "backend.h"
#include "cpu_features.h"
#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "golden.h"
#include "model.h"
#include "thread_pool.h"

namespace r1 {
namespace {

using testlib::max_rel_diff;
using testlib::model_path;
using testlib::run_prompt;
using testlib::run_stepwise;

struct Case {
  std::string model;     // file stem in models/
  std::string golden;    // folder in goldens/
  GgmlType cache = GgmlType::kF16;
  bool flash = true;
  double tolerance = 1e-2;
};



class GoldenTest : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenTest, PromptAndGreedyStepsMatchLlamaCpp) {
  R1_REQUIRE_FIXTURES(fixtures);
  const Case& c = GetParam();
  const GgufSet file = GgufSet::open(model_path(fixtures, c.model).string());
  ThreadPool pool(2);
  // The reference kernels, then every kernel ISA this CPU runs (scalar included), and those with a packed prompt
  // layout again on weights packed at load: all must match.
  for (testlib::BackendUnderTest& b : testlib::backends_to_test(file, pool)) {
  SCOPED_TRACE(b.label);
  CpuBackend& backend = *b.backend;
  for (const std::string prompt : {"short", "chat"}) {
    const testlib::Golden g = testlib::load_golden(fixtures / "goldens" / c.golden, prompt);
    auto model = load_model(file, ModelOptions{.n_ctx = 128, .cache_type_k = c.cache, .cache_type_v = c.cache,
                                               .flash_attention = c.flash, .trace = {}},
                            Placement{.layers = {}, .head = &backend});
    ASSERT_EQ(model->info().n_vocab, g.n_vocab);
    const std::vector<float> logits = run_prompt(*model, g.ids);
    const auto cmp = testlib::compare_logits(logits, g.logits, g.margins, g.n_vocab);
    EXPECT_LE(cmp.combined, c.tolerance) << prompt << " worst " << cmp.worst;
    EXPECT_EQ(cmp.argmax_mismatches, 0) << prompt;
    RecordProperty(b.label + "_" + prompt + "_rel_rms",
                   std::to_string(cmp.combined));

    // Greedy steps: feed the golden's greedy tokens one at a time.
    const std::vector<float> steps = run_stepwise(*model, g.greedy_ids, 0, static_cast<int32_t>(g.ids.size()));
    const auto gen = testlib::compare_logits(steps, g.gen_logits, g.gen_margins, g.n_vocab);
    EXPECT_LE(gen.combined, c.tolerance) << prompt << " greedy steps, worst " << gen.worst;
    EXPECT_EQ(gen.argmax_mismatches, 0) << prompt << " greedy steps";
  }
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const std::string m : {"tiny-qwen2-a-s1", "tiny-llama-a-s1"}) {
    out.push_back({m + ".f32", m + ".f32.kvf32-nofa", GgmlType::kF32, false, 1e-4});
    out.push_back({m + ".f32", m + ".f32", GgmlType::kF16, true, 2e-3});
    // A Q8_0 cache (-ctk/-ctv q8_0; no llama.cpp golden of its own) against the exact result: its 8-bit keys
    // and values cost about 5e-3 here, held to the quantized files' 1e-2.
    out.push_back({m + ".f32", m + ".f32.kvf32-nofa", GgmlType::kQ8_0, true, 1e-2});
    out.push_back({m + ".Q8_0", m + ".Q8_0", GgmlType::kF16, true, 1e-2});
    // llama.cpp repacks Q4_K on x86 and rounds its block sums in its own order; every r1 kernel sums Q4_K the
    // same way (ref_matmul.cpp), which took these from 1.2e-2 to about 1e-6.
    out.push_back({m + ".Q4_K_M", m + ".Q4_K_M", GgmlType::kF16, true, 1e-2});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string name = info.param.golden + (info.param.cache == GgmlType::kQ8_0 ? "_cache_q8_0" : "");
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
});


// Decoding one token at a time must give what one prefill gives, and two sequences sharing a batch must
// each give what they give alone. With an F32 cache both paths do identical arithmetic per token.
TEST(ModelConsistency, PrefillEqualsDecodeAndSequencesAreIndependent) {
  R1_REQUIRE_FIXTURES(fixtures);
  for (const std::string stem : {"tiny-qwen2-a-s1.Q8_0", "tiny-llama-a-s1.Q4_K_M"}) {
    const GgufSet file = GgufSet::open(model_path(fixtures, stem).string());
    CpuBackend backend(nullptr);
    for (GgmlType cache : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0}) {
      const ModelOptions options{.n_ctx = 64, .n_seq = 2, .cache_type_k = cache, .cache_type_v = cache, .ubatch = 5};
      const std::vector<int32_t> a = {1, 50, 7, 300, 1200, 3, 99, 1000, 42, 5, 6, 7, 8};
      const std::vector<int32_t> b = {17, 4, 1500, 250, 11, 12, 900};
      auto alone = load_model(file, options, Placement{.layers = {}, .head = &backend});
      const std::vector<float> prefill_a = run_prompt(*alone, a, 0);
      const std::vector<float> prefill_b = run_prompt(*alone, b, 1);

      auto stepwise = load_model(file, options, Placement{.layers = {}, .head = &backend});
      const std::vector<float> decoded_a = run_stepwise(*stepwise, a);
      EXPECT_LE(max_rel_diff(decoded_a, prefill_a), 1e-5) << stem << " cache " << type_info(cache).name;

      // Both sequences interleaved in one batch.
      auto together = load_model(file, options, Placement{.layers = {}, .head = &backend});
      Batch mixed;
      std::vector<std::pair<int, size_t>> order;
      for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i < a.size()) {
          mixed.add(a[i], static_cast<int32_t>(i), 0, true);
          order.emplace_back(0, i);
        }
        if (i < b.size()) {
          mixed.add(b[i], static_cast<int32_t>(i), 1, true);
          order.emplace_back(1, i);
        }
      }
      const int64_t nv = together->info().n_vocab;
      std::vector<float> out(mixed.size() * static_cast<size_t>(nv));
      together->forward(mixed, out);
      std::vector<float> got_a(prefill_a.size()), got_b(prefill_b.size());
      for (size_t r = 0; r < order.size(); ++r) {
        auto& dst = order[r].first == 0 ? got_a : got_b;
        std::copy(out.begin() + r * nv, out.begin() + (r + 1) * nv, dst.begin() + order[r].second * nv);
      }
      EXPECT_LE(max_rel_diff(got_a, prefill_a), 1e-5) << stem;
      EXPECT_LE(max_rel_diff(got_b, prefill_b), 1e-5) << stem;
    }
  }
}

// Layers placed on two different backends (each with its own thread pool) give the same logits as one.
TEST(ModelPlacement, LayersSplitAcrossBackendsMatch) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(model_path(fixtures, "tiny-qwen2-a-s1.Q4_K_M").string());
  const testlib::Golden g = testlib::load_golden(fixtures / "goldens" / "tiny-qwen2-a-s1.Q4_K_M", "chat");
  ThreadPool pool(2);
  CpuBackend fast(&pool, nullptr, "cpu-threaded");
  CpuBackend scalar(nullptr, nullptr, "cpu-serial");
  auto one = load_model(file, ModelOptions{.n_ctx = 64}, Placement{.layers = {}, .head = &fast});
  auto split = load_model(file, ModelOptions{.n_ctx = 64}, Placement{.layers = {&fast, &scalar}, .head = &scalar});
  const std::vector<float> a = run_prompt(*one, g.ids);
  const std::vector<float> b = run_prompt(*split, g.ids);
  EXPECT_LE(max_rel_diff(a, b), 1e-6);
}

TEST(ModelErrors, BadBatchesAreRefusedBeforeAnyWork) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(model_path(fixtures, "tiny-llama-a-s1.Q8_0").string());
  CpuBackend backend(nullptr);
  auto model = load_model(file, ModelOptions{.n_ctx = 8}, Placement{.layers = {}, .head = &backend});
  std::vector<float> logits(static_cast<size_t>(model->info().n_vocab) * 16);
  Batch bad_token;
  bad_token.add(999999, 0, 0, true);
  EXPECT_THROW(model->forward(bad_token, logits), Error);
  Batch hole;
  hole.add(1, 3, 0, true);  // sequence 0 is empty: position 3 leaves a hole
  EXPECT_THROW(model->forward(hole, logits), Error);
  Batch too_long;
  for (int i = 0; i < 9; ++i) too_long.add(1, i, 0, false);
  EXPECT_THROW(model->forward(too_long, logits), Error);
  EXPECT_EQ(model->sequence_length(0), 0);  // nothing was written
  Batch bad_seq;
  bad_seq.add(1, 0, 5, true);
  EXPECT_THROW(model->forward(bad_seq, logits), Error);
}

}  // namespace
}  // namespace r1
