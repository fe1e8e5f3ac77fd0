// The deepseek2 forward pass (MLA over the latent cache, YaRN, MoE with sigmoid router, group limit and shared
// expert) against llama.cpp's goldens for the legacy (attn_kv_b) and split (attn_k_b/attn_v_b) layouts, plus
// the routing function on hand-made cases, layout equality, prefill == decode and independent sequences.
//
// Comparison as issue 6 defines it for MoE models: the router is a step function, so per prompt the two
// positions with the largest relative difference are left out of the combined figure, and argmax mismatches
// are allowed at up to 3% of the clear-margin (> 0.05) positions, at least one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "backend.h"
#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "golden.h"
#include "layers/mla_attention.h"
#include "layers/moe_router.h"
#include "mla_cache.h"
#include "model.h"
#include "thread_pool.h"

namespace r1 {
namespace {

using testlib::max_rel_diff;
using testlib::model_path;
using testlib::run_prompt;
using testlib::run_stepwise;



struct MoeComparison {
  double combined = 0.0;        // RMS of the per-position relative RMS differences, two largest left out
  double combined_all = 0.0;    // the same over every position
  double worst = 0.0;
  int argmax_mismatches = 0;    // among positions with golden margin > 0.05
  int clear_positions = 0;
  int allowed_mismatches() const { return std::max(1, static_cast<int>(std::floor(0.03 * clear_positions))); }
};

MoeComparison compare_moe(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& margins,
                          int64_t n_vocab) {
  MoeComparison c;
  const size_t n = want.size() / static_cast<size_t>(n_vocab);
  std::vector<double> rel(n);
  for (size_t p = 0; p < n; ++p) {
    const float* a = got.data() + p * n_vocab;
    const float* b = want.data() + p * n_vocab;
    double diff = 0.0, ref = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) {
      diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      ref += static_cast<double>(b[i]) * b[i];
    }
    rel[p] = std::sqrt(diff / std::max(ref, 1e-30));
    if (p < margins.size() && margins[p] > 0.05f) {
      ++c.clear_positions;
      if (std::max_element(a, a + n_vocab) - a != std::max_element(b, b + n_vocab) - b) ++c.argmax_mismatches;
    }
  }
  std::vector<double> sorted = rel;
  std::sort(sorted.begin(), sorted.end());
  double all = 0.0, kept = 0.0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    all += sorted[i] * sorted[i];
    if (i + 2 < sorted.size()) kept += sorted[i] * sorted[i];
  }
  c.worst = sorted.empty() ? 0.0 : sorted.back();
  c.combined_all = std::sqrt(all / static_cast<double>(std::max<size_t>(n, 1)));
  c.combined = std::sqrt(kept / static_cast<double>(std::max<size_t>(n > 2 ? n - 2 : 1, 1)));
  return c;
}

struct Case {
  std::string model;   // file stem in models/
  std::string golden;  // folder in goldens/
  GgmlType cache = GgmlType::kF16;
  bool flash = true;
  double tolerance = 1e-2;         // prompt logits
  double greedy_tolerance = -1.0;  // the greedy steps (decoding); -1: the same as the prompt's
  int max_argmax = -1;             // greedy steps: -1 the 3% rule; else a fixed allowance (known-gap cases below)
};

class Deepseek2Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Deepseek2Golden, PromptAndGreedyStepsMatchLlamaCpp) {
  R1_REQUIRE_FIXTURES(fixtures);
  const Case& c = GetParam();
  const GgufSet file = GgufSet::open(model_path(fixtures, c.model).string());
  ThreadPool pool(2);
  // The reference kernels, then every kernel ISA this CPU runs (scalar included), and those with a packed prompt
  // layout again on weights packed at load (the experts' stacks among them): all must match.
  for (testlib::BackendUnderTest& b : testlib::backends_to_test(file, pool)) {
  const std::string& isa = b.label;
  SCOPED_TRACE(isa);
  CpuBackend& backend = *b.backend;
  for (const std::string prompt : {"short", "chat"}) {
    const testlib::Golden g = testlib::load_golden(fixtures / "goldens" / c.golden, prompt);
    auto model = load_model(file, ModelOptions{.n_ctx = 128, .cache_type_k = c.cache, .cache_type_v = c.cache,
                                               .flash_attention = c.flash},
                            Placement{.layers = {}, .head = &backend});
    ASSERT_EQ(model->info().n_vocab, g.n_vocab);
    const std::vector<float> logits = run_prompt(*model, g.ids);
    const MoeComparison cmp = compare_moe(logits, g.logits, g.margins, g.n_vocab);
    std::printf("[deepseek2] %-45s %-9s %-5s prompt: combined %.3g (all positions %.3g, worst %.3g), argmax %d/%d\n",
                c.golden.c_str(), isa.c_str(), prompt.c_str(), cmp.combined, cmp.combined_all, cmp.worst, cmp.argmax_mismatches,
                cmp.clear_positions);
    EXPECT_LE(cmp.combined, c.tolerance) << prompt << " worst " << cmp.worst;
    EXPECT_LE(cmp.argmax_mismatches, cmp.allowed_mismatches()) << prompt;
    RecordProperty(isa + "_" + prompt + "_rel_rms", std::to_string(cmp.combined));

    const std::vector<float> steps = run_stepwise(*model, g.greedy_ids, 0, static_cast<int32_t>(g.ids.size()));
    const MoeComparison gen = compare_moe(steps, g.gen_logits, g.gen_margins, g.n_vocab);
    std::printf("[deepseek2] %-45s %-9s %-5s greedy: combined %.3g (all positions %.3g, worst %.3g), argmax %d/%d\n",
                c.golden.c_str(), isa.c_str(), prompt.c_str(), gen.combined, gen.combined_all, gen.worst, gen.argmax_mismatches,
                gen.clear_positions);
    EXPECT_LE(gen.combined, c.greedy_tolerance < 0 ? c.tolerance : c.greedy_tolerance)
        << prompt << " greedy steps, worst " << gen.worst;
    EXPECT_LE(gen.argmax_mismatches, c.max_argmax < 0 ? gen.allowed_mismatches() : c.max_argmax) << prompt
                                                                                                << " greedy steps";
  }
  }
}

std::vector<Case> cases() {
  const std::string legacy = "tiny-deepseek2-legacy-a-s1";
  const std::string split = "tiny-deepseek2-split-a-s1";
  return {
      {legacy + ".f32", legacy + ".f32.kvf32-nofa", GgmlType::kF32, false, 1e-4},
      {split + ".f32", split + ".f32.kvf32-nofa", GgmlType::kF32, false, 1e-4},
      {split + ".f32", split + ".f32", GgmlType::kF16, true, 2e-3},
      // The legacy layout's prompt runs expanded, with per-head K and V rounded to F16 as llama.cpp's per-head
      // cache rounds them. Its decoding runs absorbed over the latent cache, whose F16 rounding (of the latent,
      // not of each head's K and V) differs from llama.cpp's plain attention for legacy files; in quantized
      // files the next 8-bit activation codes and the router turn that into a few percent (docs/MODELS.md).
      // The greedy bounds are regression bounds on that measured, by-design gap.
      {legacy + ".f32", legacy + ".f32", GgmlType::kF16, true, 2e-3},
      {legacy + ".Q8_0", legacy + ".Q8_0", GgmlType::kF16, true, 1e-2, 4e-2, 2},
      {legacy + ".Q4_K_M", legacy + ".Q4_K_M", GgmlType::kF16, true, 1e-2, 4e-2, 3},
  };
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Deepseek2Golden, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string name = info.param.golden;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
});


// The two layouts hold the same weights; in the same form they run the same arithmetic. With an F16 cache the
// legacy file's prompt runs expanded (per-head K and V rounded to F16, as llama.cpp's per-head cache rounds
// them) and the split file's absorbed (the latent rounded), which the fixtures' README puts ~1e-3 apart.
TEST(Deepseek2Layouts, LegacyAndSplitGiveTheSameLogits) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet legacy = GgufSet::open(model_path(fixtures, "tiny-deepseek2-legacy-a-s1.f32").string());
  const GgufSet split = GgufSet::open(model_path(fixtures, "tiny-deepseek2-split-a-s1.f32").string());
  const testlib::Golden g = testlib::load_golden(fixtures / "goldens" / "tiny-deepseek2-split-a-s1.f32", "chat");
  CpuBackend backend(nullptr);
  const auto run = [&](const GgufSet& file, GgmlType cache, MlaForm form) {
    const ModelOptions options{.n_ctx = 64, .cache_type_k = cache, .cache_type_v = cache, .mla_form = form};
    auto model = load_model(file, options, Placement{.layers = {}, .head = &backend});
    return run_prompt(*model, g.ids);
  };
  EXPECT_LE(max_rel_diff(run(legacy, GgmlType::kF32, MlaForm::kAuto), run(split, GgmlType::kF32, MlaForm::kAuto)), 1e-5);
  EXPECT_LE(max_rel_diff(run(legacy, GgmlType::kF16, MlaForm::kAbsorbed), run(split, GgmlType::kF16, MlaForm::kAuto)),
            1e-5);
  EXPECT_LE(max_rel_diff(run(legacy, GgmlType::kF16, MlaForm::kAuto), run(split, GgmlType::kF16, MlaForm::kAuto)), 3e-3);
}

// Decoding one token at a time gives what one prefill gives (micro-batches of 5 included), and two sequences
// sharing a batch each give what they give alone: in each form on its own (the expanded form with an F32
// cache, where earlier positions read back from the cache are the values the micro-batch computed).
TEST(Deepseek2Consistency, PrefillEqualsDecodeAndSequencesAreIndependent) {
  R1_REQUIRE_FIXTURES(fixtures);
  struct Setup {
    std::string stem;
    GgmlType cache;
    MlaForm form;
  };
  const std::string legacy = "tiny-deepseek2-legacy-a-s1.Q8_0", split = "tiny-deepseek2-split-a-s1.f32";
  const std::vector<Setup> setups = {
      {legacy, GgmlType::kF32, MlaForm::kAbsorbed}, {legacy, GgmlType::kF16, MlaForm::kAbsorbed},
      {legacy, GgmlType::kF32, MlaForm::kExpanded}, {split, GgmlType::kF32, MlaForm::kAuto},
      {split, GgmlType::kF16, MlaForm::kAuto},
  };
  for (const Setup& setup : setups) {
    const GgufSet file = GgufSet::open(model_path(fixtures, setup.stem).string());
    CpuBackend backend(nullptr);
    const GgmlType cache = setup.cache;
    const std::string label = fmt::format("{} cache {} form {}", setup.stem, type_info(cache).name,
                                          static_cast<int>(setup.form));
    {
      const ModelOptions options{.n_ctx = 64, .n_seq = 2, .cache_type_k = cache, .cache_type_v = cache, .ubatch = 5,
                                 .mla_form = setup.form};
      const std::vector<int32_t> a = {0, 50, 7, 300, 1200, 3, 99, 1000, 42, 5, 6, 7, 2806};
      const std::vector<int32_t> b = {0, 4, 1500, 250, 11, 12, 900};
      auto alone = load_model(file, options, Placement{.layers = {}, .head = &backend});
      EXPECT_EQ(alone->info().kv_bytes_per_token, 3u * 144u * (cache == GgmlType::kF32 ? 4u : 2u));
      const std::vector<float> prefill_a = run_prompt(*alone, a, 0);
      const std::vector<float> prefill_b = run_prompt(*alone, b, 1);

      auto stepwise = load_model(file, options, Placement{.layers = {}, .head = &backend});
      const std::vector<float> decoded_a = run_stepwise(*stepwise, a);
      EXPECT_LE(max_rel_diff(decoded_a, prefill_a), 1e-5) << label;
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
      EXPECT_LE(max_rel_diff(got_a, prefill_a), 1e-5) << label;
      EXPECT_LE(max_rel_diff(got_b, prefill_b), 1e-5) << label;
    }
  }
}

// Under kAuto a legacy file's prompt runs expanded and its decoding absorbed; on an F32 file with an F32 cache
// the two forms differ only in summation order.
TEST(Deepseek2Consistency, AutoFormsAgreeOnAnExactFile) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(model_path(fixtures, "tiny-deepseek2-legacy-a-s1.f32").string());
  CpuBackend backend(nullptr);
  const ModelOptions options{.n_ctx = 64, .cache_type_k = GgmlType::kF32, .cache_type_v = GgmlType::kF32};
  const std::vector<int32_t> ids = {0, 50, 7, 300, 1200, 3, 99, 1000, 42, 5, 6, 7, 2806};
  auto prefill = load_model(file, options, Placement{.layers = {}, .head = &backend});
  auto stepwise = load_model(file, options, Placement{.layers = {}, .head = &backend});
  const std::vector<float> decoded = run_stepwise(*stepwise, ids);
  EXPECT_LE(max_rel_diff(decoded, run_prompt(*prefill, ids)), 1e-5);
}

// Which form a sequence's micro-batch takes, on DeepSeek-R1's attention shape (128 heads, nope 128, rope 64,
// value 128, kv_lora_rank 512): expanded for the micro-batch that starts a sequence, absorbed after that.
TEST(MlaForm, ExpandsPromptsAndAbsorbsDecoding) {
  MlaShape r1;
  r1.n_head = 128;
  r1.n_nope = 128;
  r1.n_rot = 64;
  r1.head_v = 128;
  r1.kv_lora_rank = 512;
  const uint8_t dummy = 0;
  MlaWeights legacy;
  legacy.kv_b.data = &dummy;
  const MlaWeights split;
  const auto positions = [](int32_t from, int32_t count) {
    std::vector<int32_t> p(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) p[static_cast<size_t>(i)] = from + i;
    return p;
  };
  const auto expands = [&](const MlaWeights& w, MlaForm form, int32_t past, int32_t count) {
    return mla_expands(r1, w, MlaRun{.cache_type = GgmlType::kF16, .flash = true, .form = form}, past + count,
                       positions(past, count));
  };
  EXPECT_TRUE(expands(legacy, MlaForm::kAuto, 0, 512));     // a prompt
  EXPECT_TRUE(expands(legacy, MlaForm::kAuto, 0, 1));       // the first token alone
  EXPECT_FALSE(expands(legacy, MlaForm::kAuto, 512, 512));  // the second micro-batch of a long prompt
  EXPECT_FALSE(expands(legacy, MlaForm::kAuto, 1000, 1));   // decoding
  EXPECT_FALSE(expands(legacy, MlaForm::kAuto, 2000, 50));  // a short chat turn after a long one
  EXPECT_FALSE(expands(legacy, MlaForm::kAbsorbed, 0, 512));
  EXPECT_TRUE(expands(legacy, MlaForm::kExpanded, 1000, 1));
  EXPECT_FALSE(expands(legacy, MlaForm::kExpanded, 20000, 1));  // 1.6 GB of rebuilt K and V: over the limit
  EXPECT_FALSE(expands(split, MlaForm::kAuto, 0, 512));         // no attn_kv_b to rebuild with
  EXPECT_FALSE(expands(split, MlaForm::kExpanded, 0, 512));
}

TEST(Deepseek2Options, MismatchedCacheTypesAreRefused) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(model_path(fixtures, "tiny-deepseek2-legacy-a-s1.Q8_0").string());
  CpuBackend backend(nullptr);
  EXPECT_THROW(load_model(file, ModelOptions{.n_ctx = 8, .cache_type_k = GgmlType::kF16, .cache_type_v = GgmlType::kF32},
                          Placement{.layers = {}, .head = &backend}),
               Error);
}

// The cache holds (kv_lora_rank + n_rot) values per token and layer, not per-head keys and values: for the
// fixture 3 layers x (128 + 16) x element size; for DeepSeek-R1's shape 61 x 576 x 2 = 70,272 bytes (F16), which
// plain attention would need 128 heads x (192 + 128) values for: about 71 times more.
TEST(Deepseek2Options, KvBytesPerTokenAreTheLatentCache) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(model_path(fixtures, "tiny-deepseek2-legacy-a-s1.Q8_0").string());
  CpuBackend backend(nullptr);
  for (const auto& [type, element] : {std::pair{GgmlType::kF16, 2u}, std::pair{GgmlType::kF32, 4u}}) {
    const auto model = load_model(file, ModelOptions{.n_ctx = 8, .cache_type_k = type, .cache_type_v = type},
                                  Placement{.layers = {}, .head = &backend});
    EXPECT_EQ(model->info().kv_bytes_per_token, 3u * (128 + 16) * element);
    EXPECT_EQ(model->info().kv_cache_layout,
              fmt::format("MLA latent 128 + rope 16 values ({}) x 3 layers", type_info(type).name));
  }
  const MlaCache r1_shape(MlaCache::Shape{.n_layer = 61, .n_seq = 1, .n_ctx = 1, .kv_lora_rank = 512, .n_rot = 64,
                                          .type = GgmlType::kF16});
  EXPECT_EQ(r1_shape.bytes_per_token(), 61u * 576 * 2);
  EXPECT_EQ(61u * 128 * (192 + 128) * 2 / r1_shape.bytes_per_token(), 71u);
  const MlaCache r1_q8(MlaCache::Shape{.n_layer = 61, .n_seq = 1, .n_ctx = 1, .kv_lora_rank = 512, .n_rot = 64,
                                       .type = GgmlType::kQ8_0});
  EXPECT_EQ(r1_q8.bytes_per_token(), 61u * 576 / 32 * 34);
}

// Routing on hand-made scores: sigmoid gate, bias used for choosing only, group limit, normalize and scale.
TEST(MoeRouter, SigmoidBiasGroupsNormalizeScale) {
  // 8 experts in 4 groups of 2, keep 2 groups, pick 2 experts.
  const std::vector<float> bias = {0, 0, 0, 0, 0, 0, 0, 1.0f};
  RouterParams p{.n_expert = 8, .n_used = 2, .n_group = 4, .n_group_used = 2, .gating = ExpertGating::kSigmoid,
                 .selection_bias = bias.data(), .normalize = true, .scale = 2.5f};
  // Logits: expert 0 best alone, but group 0's second expert is poor; group 1 (2, 3) is good as a pair;
  // expert 7's bias lifts group 3 above the others.
  const std::vector<float> logits = {3.0f, -4.0f, 1.5f, 1.5f, 1.0f, 0.0f, -1.0f, -2.0f};
  std::vector<int32_t> ex(2);
  std::vector<float> w(2);
  route_experts(p, logits.data(), 1, ex.data(), w.data());
  // Group sums: g0 = σ(3)+σ(-4) ≈ 0.97, g1 = 2σ(1.5) ≈ 1.63, g2 ≈ 1.23, g3 = σ(-1)+σ(-2)+1 ≈ 1.39 → g1, g3.
  // Within them: 7 (σ(-2)+1 ≈ 1.12) and then 2 or 3 (0.82, tie → lower index).
  EXPECT_EQ(ex[0], 7);
  EXPECT_EQ(ex[1], 2);
  const float s7 = 1.0f / (1.0f + std::exp(2.0f)), s2 = 1.0f / (1.0f + std::exp(-1.5f));
  EXPECT_NEAR(w[0], 2.5f * s7 / (s7 + s2), 1e-6);  // the weight uses the unbiased score
  EXPECT_NEAR(w[1], 2.5f * s2 / (s7 + s2), 1e-6);

  // No groups, softmax gating, no normalization: plain top-k of the softmax.
  RouterParams q{.n_expert = 8, .n_used = 2, .gating = ExpertGating::kSoftmax};
  route_experts(q, logits.data(), 1, ex.data(), w.data());
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 2);
  double z = 0.0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(w[0], std::exp(3.0) / z, 1e-6);
}

}  // namespace
}  // namespace r1

