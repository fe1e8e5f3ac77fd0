// `r1 synth` files that take minutes on 2 cores (the `slow` label): Qwen-1.5B shapes cut to one layer at Q4_K
// (whose encoder searches scales: over a minute for 0.5 B weights), and DeepSeek-R1's real shapes (MLA, 7168
// wide, 129k vocabulary) cut to 4 layers (3 dense + 1 MoE) and 16 experts, 4.5 B parameters at Q4_0 (the
// quickest 4-bit encoder). Each loads through the public API with finite logits and text.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixtures.h"
#include "gguf_set.h"
#include "synth_model.h"
#include "synth_test_util.h"
#include "thread_pool.h"

namespace r1 {
namespace {

TEST(SynthSlow, QwenOneLayerQ4_KLoadsAndRunsFinite) {
  const SynthPlan p = plan_synth({.like = "r1-distill-qwen-1.5b", .type = "Q4_K", .n_layer = 1});
  const std::string path = (testlib::temp_dir() / "qwen-q4_k.gguf").string();
  ThreadPool pool(2);
  write_synth(p, path, {.pool = &pool});
  testing_synth::expect_matches_plan(p, path);
  testing_synth::expect_runs_finite(path, 151936);
  std::filesystem::remove(path);
}

TEST(SynthSlow, DeepSeekR1FourLayersSixteenExpertsRunsFinite) {
  const SynthPlan p = plan_synth({.like = "deepseek-r1", .type = "Q4_0", .n_layer = 4, .n_expert = 16});
  const std::string path = (testlib::temp_dir() / "r1-cut.gguf").string();
  ThreadPool pool(2);
  write_synth(p, path, {.pool = &pool});
  testing_synth::expect_matches_plan(p, path);
  {
    const GgufSet set = GgufSet::open(path);
    EXPECT_EQ(set.metadata().get_u32("deepseek2.expert_count"), 16u);
    EXPECT_EQ(set.metadata().get_u32("deepseek2.expert_used_count"), 8u);
    EXPECT_EQ(set.metadata().get_u32("deepseek2.expert_group_count"), 8u);
    EXPECT_EQ(set.find_tensor("blk.3.ffn_gate_exps.weight")->info->shape(), (std::vector<uint64_t>{7168, 2048, 16}));
  }
  testing_synth::expect_runs_finite(path, 129280);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace r1
