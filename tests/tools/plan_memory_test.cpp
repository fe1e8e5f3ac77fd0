// `r1 plan` memory arithmetic: KV-cache bytes for known shapes, catalog parameter counts and file sizes
// against published figures, GGUF files (fixtures and a split set) read exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "gguf_writer.h"
#include "model_catalog.h"
#include "plan_profile.h"

namespace r1::plan {
namespace {

ModelProfile catalog(std::string_view model, std::string_view quant) {
  const CatalogModel* m = find_model(model);
  const QuantRecipe* r = find_recipe(quant);
  EXPECT_NE(m, nullptr) << model;
  EXPECT_NE(r, nullptr) << quant;
  return profile_from_catalog(*m, *r);
}

TEST(PlanMemory, KvBytesPerTokenForKnownShapes) {
  // DeepSeek-R1 (MLA latent cache): 61 layers × (512 + 64) values × 2 bytes.
  EXPECT_EQ(catalog("671b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 61u * 576 * 2);
  // Q8_0: 576 values = 18 blocks of 34 bytes per layer.
  EXPECT_EQ(catalog("671b", "Q4_K_M").kv_bytes_per_token(GgmlType::kQ8_0), 61u * 18 * 34);
  EXPECT_EQ(catalog("671b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF32), 61u * 576 * 4);
  // Llama-like: 2 (K and V) × layers × KV heads × head dim × 2 bytes.
  EXPECT_EQ(catalog("1.5b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 28 * 2 * 128 * 2);
  EXPECT_EQ(catalog("7b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 28 * 4 * 128 * 2);
  EXPECT_EQ(catalog("8b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 32 * 8 * 128 * 2);
  EXPECT_EQ(catalog("14b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 48 * 8 * 128 * 2);
  EXPECT_EQ(catalog("32b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 64 * 8 * 128 * 2);
  EXPECT_EQ(catalog("70b", "Q4_K_M").kv_bytes_per_token(GgmlType::kF16), 2u * 80 * 8 * 128 * 2);
  // 8B at Q8_0: 1024 values per K row = 32 blocks × 34 bytes.
  EXPECT_EQ(catalog("8b", "Q8_0").kv_bytes_per_token(GgmlType::kQ8_0), 2u * 32 * 32 * 34);
}

TEST(PlanMemory, CatalogParameterCountsMatchPublishedSizes) {
  struct Row {
    const char* model;
    double params;  // Hugging Face model cards (BF16 safetensors parameter counts)
    double tolerance;
  };
  const Row rows[] = {{"1.5b", 1.78e9, 0.01}, {"7b", 7.62e9, 0.01},   {"8b", 8.03e9, 0.01},
                      {"14b", 14.8e9, 0.01},  {"32b", 32.8e9, 0.01},  {"70b", 70.6e9, 0.01},
                      {"671b", 671e9, 0.01}};
  for (const Row& row : rows) {
    const double n = static_cast<double>(catalog(row.model, "F16").n_params());
    EXPECT_NEAR(n / row.params, 1.0, row.tolerance) << row.model << ": " << n;
  }
  // DeepSeek-V3/R1: 37B activated per token (paper); the routed share is 8 of 256 experts.
  const ModelProfile r1 = catalog("671b", "F16");
  EXPECT_NEAR(r1.active_params() / 37e9, 1.0, 0.03) << r1.active_params();
  EXPECT_DOUBLE_EQ(r1.expert_fraction(), 8.0 / 256.0);
  // A dense model is active in full (no embedding lookup counted).
  const ModelProfile q7 = catalog("7b", "F16");
  EXPECT_DOUBLE_EQ(q7.active_params(), static_cast<double>(q7.n_params() - q7.embed_params));
}

TEST(PlanMemory, CatalogFileSizesMatchPublishedFiles) {
  for (const CatalogModel& m : model_catalog()) {
    ASSERT_GT(m.published_q4_k_m_bytes, 0u) << m.id;
    const double ours = static_cast<double>(catalog(m.id, "Q4_K_M").weight_bytes());
    // Published sizes are rounded to two significant figures (ollama tags), so 6 % either way.
    EXPECT_NEAR(ours / m.published_q4_k_m_bytes, 1.0, 0.06) << m.id << ": " << ours;
  }
  for (const QuantRecipe& r : quant_recipes()) {
    if (r.published_671b_bytes == 0) continue;
    const double ours = static_cast<double>(catalog("671b", r.name).weight_bytes());
    // The dynamic recipes are approximations of Unsloth's per-tensor choices.
    EXPECT_NEAR(ours / r.published_671b_bytes, 1.0, 0.08) << r.name << ": " << ours;
  }
}

TEST(PlanMemory, CatalogBytesFollowTheTypeTable) {
  // 7B at Q8_0: every 2-D weight at 34 bytes per 32, norms and biases at F32.
  const CatalogModel& m = *find_model("7b");
  uint64_t expected = 0;
  for (const PlanTensor& t : catalog_tensors(m, *find_recipe("Q8_0"))) {
    const bool f32 = t.name.find("norm") != std::string::npos || t.name.find(".bias") != std::string::npos;
    expected += f32 ? t.n_elements * 4 : t.n_elements / 32 * 34;
  }
  EXPECT_EQ(catalog("7b", "Q8_0").weight_bytes(), expected);
  // The dynamic 1.58-bit recipe puts routed experts at IQ1_S: 50 bytes per 256 weights.
  const ModelProfile r1 = catalog("671b", "UD-IQ1_S");
  EXPECT_EQ(r1.layers[10].expert_bytes, 3ull * 256 * 7168 * 2048 / 256 * 50);
  EXPECT_EQ(r1.layers[0].expert_bytes, 0u);  // a leading dense layer
  EXPECT_THROW(profile_from_catalog(*find_model("7b"), *find_recipe("UD-IQ1_S")), Error);
}

// Tensor bytes computed from the dims and the type table, independently of GgufSet's own sizes.
uint64_t bytes_from_dims(const GgufSet& set) {
  uint64_t total = 0;
  for (const auto& t : set.tensors()) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t.info->n_dims; ++d) n *= t.info->dims[d];
    total += n / t.info->type->block_size * t.info->type->type_size;
  }
  return total;
}

TEST(PlanMemory, FixtureFilesReadExactly) {
  R1_REQUIRE_FIXTURES(fixtures);
  struct Row {
    const char* file;
    uint64_t kv_f16;  // hand-computed from the fixture's metadata
    int n_layer;
    bool moe;
  };
  const Row rows[] = {
      // qwen2: 2 layers, 2 KV heads, head dim 256 / 4 = 64: 2 × 2 × 2 × 64 × 2 bytes.
      {"tiny-qwen2-a-s1.Q4_K_M.gguf", 2u * 2 * 2 * 64 * 2, 2, false},
      {"tiny-qwen2-a-s1.Q8_0.gguf", 2u * 2 * 2 * 64 * 2, 2, false},
      // deepseek2: 3 layers × (kv_lora_rank 128 + rope 16) × 2 bytes.
      {"tiny-deepseek2-legacy-a-s1.Q8_0.gguf", 3u * (128 + 16) * 2, 3, true},
      {"tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf", 3u * (128 + 16) * 2, 3, true},
  };
  for (const Row& row : rows) {
    const auto path = fixtures / "models" / row.file;
    const GgufSet set = GgufSet::open(path.string());
    const ModelProfile p = profile_from_gguf(set);
    EXPECT_EQ(p.shape.n_layer, row.n_layer) << row.file;
    EXPECT_EQ(p.is_moe(), row.moe) << row.file;
    EXPECT_EQ(p.kv_bytes_per_token(GgmlType::kF16), row.kv_f16) << row.file;
    EXPECT_EQ(p.weight_bytes(), bytes_from_dims(set)) << row.file;
    EXPECT_EQ(p.file_bytes, std::filesystem::file_size(path)) << row.file;
    EXPECT_LT(p.weight_bytes(), p.file_bytes) << row.file;
  }
  const ModelProfile q = profile_from_gguf(GgufSet::open((fixtures / "models" / "tiny-qwen2-a-s1.Q4_K_M.gguf").string()));
  EXPECT_EQ(q.quant, "Q4_K_M");
  const ModelProfile d =
      profile_from_gguf(GgufSet::open((fixtures / "models" / "tiny-deepseek2-legacy-a-s1.Q8_0.gguf").string()));
  EXPECT_EQ(d.layers[0].expert_bytes, 0u);  // leading dense layer
  EXPECT_GT(d.layers[1].expert_bytes, 0u);
  EXPECT_DOUBLE_EQ(d.expert_fraction(), 2.0 / 8.0);
}

TEST(PlanMemory, SplitSetSumsEveryPart) {
  // A llama-like model written as two parts; all sizes by hand.
  const auto dir = testlib::temp_dir() / "plan-split";
  std::filesystem::create_directories(dir);
  const std::string prefix = (dir / "m").string();
  const uint64_t d = 64, ff = 128, vocab = 100;
  std::vector<std::vector<uint8_t>> storage;
  const auto add = [&storage](GgufWriter& w, const std::string& name, GgmlType type, std::vector<uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t x : dims) n *= x;
    const TypeInfo& t = type_info(type);
    storage.emplace_back(n / t.block_size * t.type_size, 0);
    w.add_tensor(name, type, std::move(dims), storage.back());
  };
  const int n_tensors = 2 + 2 * 9;
  for (uint32_t part = 0; part < 2; ++part) {
    GgufWriter w;
    if (part == 0) {
      w.set("general.architecture", GgufValue::string("llama"));
      w.set("llama.block_count", GgufValue::u32(2));
      w.set("llama.embedding_length", GgufValue::u32(static_cast<uint32_t>(d)));
      w.set("llama.feed_forward_length", GgufValue::u32(static_cast<uint32_t>(ff)));
      w.set("llama.attention.head_count", GgufValue::u32(4));
      w.set("llama.attention.head_count_kv", GgufValue::u32(2));
      add(w, "token_embd.weight", GgmlType::kQ8_0, {d, vocab});
    } else {
      add(w, "output.weight", GgmlType::kF16, {d, vocab});
    }
    w.set("split.no", GgufValue::u16(static_cast<uint16_t>(part)));
    w.set("split.count", GgufValue::u16(2));
    w.set("split.tensors.count", GgufValue::i32(n_tensors));
    const std::string b = "blk." + std::to_string(part) + ".";
    add(w, b + "attn_norm.weight", GgmlType::kF32, {d});
    add(w, b + "attn_q.weight", GgmlType::kQ8_0, {d, d});
    add(w, b + "attn_k.weight", GgmlType::kQ8_0, {d, d / 2});
    add(w, b + "attn_v.weight", GgmlType::kQ8_0, {d, d / 2});
    add(w, b + "attn_output.weight", GgmlType::kQ8_0, {d, d});
    add(w, b + "ffn_norm.weight", GgmlType::kF32, {d});
    add(w, b + "ffn_gate.weight", GgmlType::kQ8_0, {d, ff});
    add(w, b + "ffn_up.weight", GgmlType::kQ8_0, {d, ff});
    add(w, b + "ffn_down.weight", GgmlType::kQ8_0, {ff, d});
    w.write(GgufSet::split_path(prefix, part + 1, 2));
  }
  const ModelProfile p = profile_from_gguf(GgufSet::open(GgufSet::split_path(prefix, 2, 2)));
  const auto q8 = [](uint64_t n) { return n / 32 * 34; };
  const uint64_t attn = 4 * d + q8(d * d) * 2 + q8(d * d / 2) * 2;
  const uint64_t ffn = 4 * d + q8(d * ff) * 3;
  EXPECT_EQ(p.layers[0].attn_bytes, attn);
  EXPECT_EQ(p.layers[1].ffn_bytes, ffn);
  EXPECT_EQ(p.embed_bytes, q8(d * vocab));
  EXPECT_EQ(p.output_bytes, d * vocab * 2);
  EXPECT_EQ(p.weight_bytes(), 2 * (attn + ffn) + q8(d * vocab) + d * vocab * 2);
  EXPECT_EQ(p.file_bytes, std::filesystem::file_size(GgufSet::split_path(prefix, 1, 2)) +
                              std::filesystem::file_size(GgufSet::split_path(prefix, 2, 2)));
  // 2 layers × (K + V) × 2 KV heads × head dim 16 × 2 bytes.
  EXPECT_EQ(p.kv_bytes_per_token(GgmlType::kF16), 2u * 2 * 2 * 16 * 2);
}

TEST(PlanMemory, UnknownArchitectureIsAnError) {
  const auto path = testlib::temp_dir() / "plan-unknown.gguf";
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("mamba"));
  w.write(path.string());
  EXPECT_THROW(profile_from_gguf(GgufSet::open(path.string())), Error);
}

}  // namespace
}  // namespace r1::plan
