// quantize_model: r1's output for the fixture models is byte-identical to llama.cpp's llama-quantize output
// (same layout, metadata order, types and encoders); streaming in small chunks changes nothing; errors.
#include <gtest/gtest.h>

#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "quantize_model.h"
#include "quantize_plan.h"
#include "thread_pool.h"

namespace r1 {
namespace {

// The first differing tensor (or region) between two files, for a readable failure.
std::string first_difference(const std::filesystem::path& ours, const std::filesystem::path& theirs) {
  const std::vector<uint8_t> a = testlib::read_file_bytes(ours);
  const std::vector<uint8_t> b = testlib::read_file_bytes(theirs);
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  if (i == a.size() && i == b.size()) return "";
  std::string where = "header";
  const GgufSet ref = GgufSet::open(theirs.string());
  const uint64_t data = ref.parts()[0].data_offset();
  for (const auto& t : ref.tensors()) {
    if (i >= data + t.info->offset && i < data + t.info->offset + t.info->n_bytes) where = t.info->name;
  }
  return "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + ", first difference at byte " +
         std::to_string(i) + " (" + where + ")";
}

void quantize_fixture(const std::string& model, const std::string& mix, uint64_t chunk_bytes, ThreadPool* pool) {
  R1_REQUIRE_FIXTURES(fixtures);
  const auto gz = fixtures / "models" / (model + ".f32.gguf.gz");
  const auto ref = fixtures / "models" / (model + "." + mix + ".gguf");
  if (!std::filesystem::exists(gz) || !std::filesystem::exists(ref)) GTEST_SKIP() << "missing fixture " << ref;
  const GgufSet in = GgufSet::open(testlib::gunzip_to_temp(gz).string());
  const std::vector<PlanInput> inputs = quantize_plan_inputs(in);
  const QuantizePlan plan =
      quantize_plan(inputs, QuantModelInfo::from_metadata(in.metadata()), {.mix = find_quant_mix(mix)});
  const auto out = testlib::temp_dir() / (model + "." + mix + ".r1.gguf");
  uint64_t last_done = 0;
  size_t calls = 0;
  quantize_model(in, plan, out.string(),
                 QuantizeModelOptions{.pool = pool, .chunk_bytes = chunk_bytes, .on_progress = [&](const auto& p) {
                   EXPECT_GE(p.bytes_done, last_done);
                   last_done = p.bytes_done;
                   ++calls;
                 }});
  EXPECT_EQ(last_done, plan.dst_bytes);
  EXPECT_GE(calls, plan.tensors.size());
  EXPECT_EQ(first_difference(out, ref), "") << model << " " << mix;
}

class QuantizeFixture : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(QuantizeFixture, ByteIdenticalToLlamaCpp) {
  ThreadPool pool(2);
  quantize_fixture(std::get<0>(GetParam()), std::get<1>(GetParam()), 64ull << 20, &pool);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QuantizeFixture,
                         ::testing::Combine(::testing::Values("tiny-llama-a-s1", "tiny-qwen2-a-s1",
                                                              "tiny-deepseek2-legacy-a-s1"),
                                            ::testing::Values("Q8_0", "Q4_K_M")));

TEST(QuantizeModel, TinyChunksSingleThreadSameBytes) {
  quantize_fixture("tiny-deepseek2-legacy-a-s1", "Q4_K_M", 4096, nullptr);
}

TEST(QuantizeModel, RequantizingNeedsConsentAndUnknownEncodersAreRefused) {
  QuantizePlan plan;
  PlannedTensor t{.name = "blk.0.ffn_up.weight", .dims = {256, 4}, .src_type = GgmlType::kQ8_0,
                  .dst_type = GgmlType::kQ4_K};
  plan.tensors.push_back(t);
  EXPECT_THROW(check_quantize_plan(plan, {}), Error);
  EXPECT_NO_THROW(check_quantize_plan(plan, {.allow_requantize = true}));
  plan.tensors[0].src_type = GgmlType::kF32;
  plan.tensors[0].dst_type = GgmlType::kQ8_K;  // an activation format: nothing writes it
  EXPECT_THROW(check_quantize_plan(plan, {}), Error);
}

TEST(QuantizeModel, RequantizeFromQ8ToQ4KMRunsAndLoads) {
  R1_REQUIRE_FIXTURES(fixtures);
  const auto src = fixtures / "models" / "tiny-llama-a-s1.Q8_0.gguf";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "missing " << src;
  const GgufSet in = GgufSet::open(src.string());
  const std::vector<PlanInput> inputs = quantize_plan_inputs(in);
  const QuantizePlan plan =
      quantize_plan(inputs, QuantModelInfo::from_metadata(in.metadata()), {.mix = find_quant_mix("Q4_K_M")});
  const auto out = testlib::temp_dir() / "requant.gguf";
  EXPECT_THROW(quantize_model(in, plan, out.string(), {}), Error);
  EXPECT_FALSE(std::filesystem::exists(out));
  quantize_model(in, plan, out.string(), {.allow_requantize = true});
  const GgufSet back = GgufSet::open(out.string());
  EXPECT_EQ(back.metadata().get_int("general.file_type"), 15);
  ASSERT_EQ(back.tensors().size(), plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) EXPECT_EQ(back.tensors()[i].info->type->type, plan.tensors[i].dst_type);
}

}  // namespace
}  // namespace r1
