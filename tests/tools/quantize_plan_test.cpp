// quantize_plan: llama.cpp's mix rules tensor for tensor (against llama.cpp's own Q8_0 and Q4_K_M files of the
// fixture models), block-size fallbacks, overrides, the R1 recipes and the DeepSeek-R1 shape catalog.
#include <gtest/gtest.h>

#include <map>

#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "quantize_model.h"
#include "quantize_plan.h"
#include "quantize_progress.h"
#include "quantize_recipes.h"

namespace r1 {
namespace {

constexpr const char* kModels[] = {"tiny-llama-a-s1", "tiny-qwen2-a-s1", "tiny-deepseek2-legacy-a-s1"};
constexpr const char* kMixes[] = {"Q8_0", "Q4_K_M"};

QuantizePlan plan_for(const GgufSet& set, const char* mix) {
  const std::vector<PlanInput> inputs = quantize_plan_inputs(set);
  return quantize_plan(inputs, QuantModelInfo::from_metadata(set.metadata()),
                       QuantizePlanOptions{.mix = find_quant_mix(mix)});
}

TEST(QuantizePlan, MatchesLlamaCppFixtureFilesTensorForTensor) {
  R1_REQUIRE_FIXTURES(fixtures);
  for (const char* model : kModels) {
    const auto gz = fixtures / "models" / (std::string(model) + ".f32.gguf.gz");
    if (!std::filesystem::exists(gz)) GTEST_SKIP() << "missing " << gz;
    const GgufSet f32 = GgufSet::open(testlib::gunzip_to_temp(gz).string());
    for (const char* mix : kMixes) {
      SCOPED_TRACE(std::string(model) + " " + mix);
      const auto ref_path = fixtures / "models" / (std::string(model) + "." + mix + ".gguf");
      if (!std::filesystem::exists(ref_path)) GTEST_SKIP() << "missing " << ref_path;
      const GgufSet ref = GgufSet::open(ref_path.string());
      const QuantizePlan plan = plan_for(f32, mix);
      ASSERT_EQ(plan.tensors.size(), ref.tensors().size());
      uint64_t ref_bytes = 0;
      for (size_t i = 0; i < plan.tensors.size(); ++i) {
        const GgufTensorInfo& r = *ref.tensors()[i].info;
        EXPECT_EQ(plan.tensors[i].name, r.name) << "order differs at " << i;
        EXPECT_EQ(type_info(plan.tensors[i].dst_type).name, r.type->name) << r.name;
        EXPECT_EQ(plan.tensors[i].dst_bytes, r.n_bytes) << r.name;
        ref_bytes += r.n_bytes;
      }
      EXPECT_EQ(plan.dst_bytes, ref_bytes);
      EXPECT_EQ(plan.file_type, ref.metadata().get_int("general.file_type"));
    }
  }
}

PlanInput matrix(std::string name, uint64_t cols, uint64_t rows, uint64_t experts = 1) {
  std::vector<uint64_t> dims{cols, rows};
  if (experts > 1) dims.push_back(experts);
  return PlanInput{std::move(name), GgmlType::kF32, dims};
}

QuantModelInfo dense_model(int n_layer) {
  return QuantModelInfo{.arch = "llama", .n_layer = n_layer, .n_head = 8, .n_head_kv = 8};
}

TEST(QuantizePlan, Q4KMRaisesAttnVAndFfnDownInUseMoreBitsLayersAndOutputToQ6K) {
  std::vector<PlanInput> in{matrix("output.weight", 256, 64), matrix("token_embd.weight", 256, 64),
                            PlanInput{"output_norm.weight", GgmlType::kF32, {256}}};
  const int n_layer = 16;
  for (int l = 0; l < n_layer; ++l) {
    in.push_back(matrix("blk." + std::to_string(l) + ".attn_v.weight", 256, 64));
    in.push_back(matrix("blk." + std::to_string(l) + ".ffn_down.weight", 256, 64));
  }
  const QuantizePlan plan = quantize_plan(in, dense_model(n_layer), {.mix = find_quant_mix("q4_k_m")});
  std::map<std::string, GgmlType> types;
  for (const auto& t : plan.tensors) types[t.name] = t.dst_type;
  EXPECT_EQ(types["output.weight"], GgmlType::kQ6_K);
  EXPECT_EQ(types["token_embd.weight"], GgmlType::kQ4_K);
  EXPECT_EQ(types["output_norm.weight"], GgmlType::kF32);
  // use_more_bits(i, 16): i < 2, i >= 14, or (i - 2) % 3 == 2.
  for (int l = 0; l < n_layer; ++l) {
    const bool more = l < 2 || l >= 14 || (l - 2) % 3 == 2;
    const GgmlType want = more ? GgmlType::kQ6_K : GgmlType::kQ4_K;
    EXPECT_EQ(types["blk." + std::to_string(l) + ".attn_v.weight"], want) << l;
    EXPECT_EQ(types["blk." + std::to_string(l) + ".ffn_down.weight"], want) << l;
  }
  // Non-block tensors come first, then by layer, by name within a layer.
  EXPECT_EQ(plan.tensors[0].name, "output.weight");
  EXPECT_EQ(plan.tensors[3].name, "blk.0.attn_v.weight");
}

TEST(QuantizePlan, RowsThatDoNotFitTheBlockFallBackLikeLlamaCpp) {
  const std::vector<PlanInput> in{matrix("blk.0.attn_q.weight", 128, 8), matrix("blk.0.attn_k.weight", 96, 8),
                                  matrix("blk.0.ffn_up.weight", 100, 8)};
  const QuantizePlan plan = quantize_plan(in, dense_model(1), {.mix = find_quant_mix("Q4_K_S")});
  EXPECT_EQ(plan.tensors[0].dst_type, GgmlType::kQ5_0);   // attn_k (sorted first): 96 % 256 → Q5_0
  EXPECT_EQ(plan.tensors[0].fallback_from, "Q4_K");
  EXPECT_EQ(plan.tensors[2].dst_type, GgmlType::kF16);    // ffn_up: 100 is not even a multiple of 32
  EXPECT_EQ(plan.n_fallback, 3);
  const QuantizePlan iq = quantize_plan(in, dense_model(1), {.mix = find_quant_mix("IQ4_XS")});
  EXPECT_EQ(iq.tensors[1].dst_type, GgmlType::kIQ4_NL);  // attn_q: 128 → IQ4_NL
}

TEST(QuantizePlan, TensorTypeOverridesWinAndBadNamesAreClearErrors) {
  const std::vector<PlanInput> in{matrix("blk.0.ffn_down.weight", 256, 8), matrix("blk.0.ffn_up.weight", 256, 8)};
  QuantizePlanOptions options{.mix = find_quant_mix("Q4_K_M")};
  options.overrides.push_back(parse_tensor_type_override("ffn_(down|gate)=q8_0"));
  const QuantizePlan plan = quantize_plan(in, dense_model(1), options);
  EXPECT_EQ(plan.tensors[0].dst_type, GgmlType::kQ8_0);
  EXPECT_EQ(plan.tensors[0].source, "override");
  EXPECT_EQ(plan.tensors[1].dst_type, GgmlType::kQ4_K);
  EXPECT_THROW(parse_tensor_type_override("ffn_down=q9_k"), Error);
  EXPECT_THROW(parse_tensor_type_override("ffn_down"), Error);
  EXPECT_THROW(parse_tensor_type_override("ffn_(down=q4_k"), Error);
  try {
    parse_tensor_type_override("ffn_down=Q4_KM");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown tensor type 'Q4_KM'"), std::string::npos) << e.what();
  }
}

TEST(QuantizePlan, MixLookupAcceptsAliasesAndCase) {
  EXPECT_EQ(find_quant_mix("q4_k")->file_type, 15);
  EXPECT_EQ(find_quant_mix("Q5_K")->name, "Q5_K_M");
  EXPECT_EQ(find_quant_mix("iq2_m")->default_type, GgmlType::kIQ2_S);
  EXPECT_EQ(find_quant_mix("Q4_KM"), nullptr);
}

std::map<std::string, int> type_counts(const QuantizePlan& plan) {
  std::map<std::string, int> counts;
  for (const auto& t : plan.tensors) ++counts[std::string(type_info(t.dst_type).name)];
  return counts;
}

TEST(QuantizeRecipes, R1Q2KXLReproducesThePublishedTypeCounts) {
  const std::optional<CatalogModel> r1 = catalog_model("deepseek-r1");
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->tensors.size(), 1025u);
  const QuantRecipe* recipe = find_quant_recipe("r1-2.51bit");
  ASSERT_NE(recipe, nullptr);
  const QuantizePlan plan =
      quantize_plan(r1->tensors, r1->info, {.mix = find_quant_mix(recipe->mix), .recipe = recipe});
  // The loader's summary of Unsloth's DeepSeek-R1-UD-Q2_K_XL (file type 10).
  const std::map<std::string, int> want{{"F32", 361}, {"Q2_K", 171}, {"Q3_K", 3}, {"Q4_K", 306}, {"Q6_K", 184}};
  EXPECT_EQ(type_counts(plan), want);
  EXPECT_EQ(plan.file_type, 10);
}

TEST(QuantizeRecipes, R1TierSizesAreNearThePublishedSizes) {
  const std::optional<CatalogModel> r1 = catalog_model("deepseek-v3");
  ASSERT_TRUE(r1.has_value());
  double previous = 0;
  for (const QuantRecipe& recipe : all_quant_recipes()) {
    const QuantizePlan plan =
        quantize_plan(r1->tensors, r1->info, {.mix = find_quant_mix(recipe.mix), .recipe = &recipe});
    const double gib = static_cast<double>(plan.dst_bytes) / (1ull << 30);
    EXPECT_GT(gib, previous) << recipe.name;
    // Within 10% of the published figure read as GiB (docs/QUANTIZATION.md explains the gaps).
    EXPECT_NEAR(gib, recipe.published_size_gb, 0.10 * recipe.published_size_gb) << recipe.name;
    previous = gib;
    for (const auto& t : plan.tensors) {
      if (t.name.find("exps") != std::string::npos) {
        EXPECT_EQ(t.source, "recipe") << t.name;
      }
      EXPECT_TRUE(t.fallback_from.empty()) << t.name;
    }
  }
  // F16/BF16 source is about 1.34 TB.
  const QuantizePlan bf16 = quantize_plan(r1->tensors, r1->info, {.mix = find_quant_mix("BF16")});
  EXPECT_NEAR(static_cast<double>(bf16.src_bytes) / 1e12, 1.34, 0.02);
  EXPECT_NEAR(static_cast<double>(bf16.n_elements) / 1e9, 671, 1.0);
}

TEST(QuantizeRecipes, WorkOnTheTinyDeepseek2Layout) {
  const QuantModelInfo info{.arch = "deepseek2", .n_layer = 5, .n_head = 4, .n_head_kv = 4, .n_expert = 8,
                            .n_leading_dense = 1};
  std::vector<PlanInput> in{matrix("blk.0.ffn_down.weight", 512, 256)};
  for (int l = 1; l < 5; ++l) in.push_back(matrix("blk." + std::to_string(l) + ".ffn_down_exps.weight", 256, 256, 8));
  const QuantRecipe* recipe = find_quant_recipe("R1-1.58BIT");
  ASSERT_NE(recipe, nullptr);
  const QuantizePlan plan = quantize_plan(in, info, {.mix = find_quant_mix(recipe->mix), .recipe = recipe});
  EXPECT_EQ(plan.tensors[0].dst_type, GgmlType::kQ6_K);
  EXPECT_EQ(plan.tensors[1].dst_type, GgmlType::kIQ2_XXS);  // MoE layers 1..3: first three
  EXPECT_EQ(plan.tensors[3].dst_type, GgmlType::kIQ2_XXS);
  EXPECT_EQ(plan.tensors[4].dst_type, GgmlType::kIQ1_S);
  EXPECT_GT(plan.n_requires_imatrix, 0);
}

TEST(QuantizeRecipes, MoeTensorWithoutLayerIsAnError) {
  const QuantModelInfo info{.arch = "deepseek2", .n_layer = 2, .n_head = 4, .n_head_kv = 4, .n_expert = 8};
  const std::vector<PlanInput> in{matrix("extra.ffn_down.weight", 256, 8)};
  EXPECT_THROW(quantize_plan(in, info, {.mix = find_quant_mix("Q4_K_M")}), Error);
}

TEST(ProgressBar, RendersFractionAndDetailAndIsSilentOffTty) {
  const std::string line = ProgressBar::render("quantize", 50, 100, "blk.3.ffn_up.weight", 0.5, 100);
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("blk.3.ffn_up.weight"), std::string::npos);
  EXPECT_LE(ProgressBar::render("q", 1, 3, std::string(300, 'x'), 2.0, 60).size(), 60u);
  std::FILE* f = std::tmpfile();
  {
    ProgressBar bar("x", 10, f);
    EXPECT_FALSE(bar.active());
    bar.update(5, "t");
  }
  EXPECT_EQ(std::ftell(f), 0);
  std::fclose(f);
}

}  // namespace
}  // namespace r1
