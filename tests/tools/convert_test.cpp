// r1 convert: the safetensors reader's validation; the qwen2 HF fixture converted to F32 reproduces the
// fixture GGUF (tensors byte for byte, metadata, logits); a DeepseekV3 HF folder written here (random BF16
// weights, an MTP layer) converts with experts stacked and kv_b split per head, in both MLA layouts, and runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "backend.h"
#include "bpe_tokenizer.h"
#include "convert_arch.h"
#include "convert_hf.h"
#include "error.h"
#include "fixtures.h"
#include "gguf_file.h"
#include "gguf_set.h"
#include "half.h"
#include "model.h"
#include "pretokenizer.h"
#include "safetensors_file.h"
#include "thread_pool.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// ---- A minimal safetensors writer for the tests ----------------------------------------------------------

struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors, const std::string& extra_header = "") {
  Json header = Json::object();
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = extra_header.empty() ? header.dump() : extra_header;
  while (text.size() % 8 != 0) text += ' ';
  std::vector<uint8_t> out(8 + text.size());
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  for (const StTensor& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

StTensor bf16_tensor(const std::string& name, std::vector<uint64_t> shape, const std::vector<float>& values) {
  StTensor t{name, "BF16", std::move(shape), {}};
  for (float v : values) {
    const uint16_t h = fp32_to_bf16(v);
    t.bytes.push_back(static_cast<uint8_t>(h));
    t.bytes.push_back(static_cast<uint8_t>(h >> 8));
  }
  return t;
}

std::vector<uint8_t> header_only(const std::string& json, uint64_t data_bytes) {
  std::vector<uint8_t> out = safetensors_bytes({}, json);
  out.resize(out.size() + data_bytes, 0);
  return out;
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    SafetensorsFile::parse(bytes, "test.safetensors");
    ADD_FAILURE() << "accepted; expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ParsesAndDecodes) {
  const std::vector<uint8_t> bytes =
      safetensors_bytes({bf16_tensor("a", {2, 2}, {1.0f, -2.0f, 0.5f, 3.0f}), StTensor{"b", "F8_E4M3", {4}, {0x38, 0xb8, 0x01, 0x7e}}});
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  ASSERT_EQ(f.tensors().size(), 2u);
  const SafetensorsTensor* a = f.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 2}));
  float out[4];
  safetensors_to_f32(a->dtype, f.data(*a).data(), out, 4);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[3], 3.0f);
  const SafetensorsTensor* b = f.find("b");
  safetensors_to_f32(b->dtype, f.data(*b).data(), out, 4);
  EXPECT_EQ(out[0], 1.0f);                      // 0 0111 000
  EXPECT_EQ(out[1], -1.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -9));      // smallest subnormal
  EXPECT_EQ(out[3], 448.0f);                    // largest finite
}

TEST(Safetensors, RejectsMalformedHeaders) {
  expect_rejected({1, 2, 3}, "too short");
  std::vector<uint8_t> huge(16, 0);
  huge[7] = 0x7f;
  expect_rejected(huge, "exceeds the limit");
  std::vector<uint8_t> past(16, 0);
  past[0] = 200;
  expect_rejected(past, "past the end");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 12), "need 8");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "outside the data");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "outside the data");
  expect_rejected(header_only(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8), "unsupported dtype");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", 8), "overflows");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlaps");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "gap");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12), "cover 8 of the 12");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8), "duplicate");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[[[[2]]]],"data_offsets":[0,8]}})", 8), "nested deeper");
  expect_rejected(header_only(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  expect_rejected(header_only(R"([1,2])", 0), "not a JSON object");
  expect_rejected(header_only(R"({"a":1)", 0), "invalid JSON");
  expect_rejected(header_only(R"({"__metadata__":{"k":1}})", 0), "must be strings");
}

// ---- Comparing GGUF files ----------------------------------------------------------------------------------

void expect_same_tensors(const GgufFile& got, const GgufFile& want) {
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  for (size_t i = 0; i < want.tensors().size(); ++i) {
    const GgufTensorInfo& g = got.tensors()[i];
    const GgufTensorInfo& w = want.tensors()[i];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.shape(), w.shape());
    EXPECT_EQ(g.type->type, w.type->type);
    const auto a = got.tensor_data(g);
    const auto b = want.tensor_data(w);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0);
  }
}

std::vector<float> run_prompt(const std::string& path, const std::vector<int32_t>& ids) {
  const GgufSet file = GgufSet::open(path);
  ThreadPool pool(2);
  CpuBackend backend(&pool);
  auto model = load_model(file, ModelOptions{.n_ctx = 64, .cache_type_k = GgmlType::kF32, .cache_type_v = GgmlType::kF32,
                                             .flash_attention = false, .trace = {}},
                          Placement{.layers = {}, .head = &backend});
  Batch b;
  for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], static_cast<int32_t>(i), 0, true);
  std::vector<float> logits(ids.size() * static_cast<size_t>(model->info().n_vocab));
  model->forward(b, logits);
  return logits;
}

Logger quiet_log() { return Logger(LogLevel::kWarn, [](LogLevel, std::string_view) {}); }

TEST(ConvertQwen2, F32ReproducesTheFixture) {
  R1_REQUIRE_FIXTURES(fixtures);
  const fs::path want_path = testlib::gunzip_to_temp(fixtures / "models" / "tiny-qwen2-a-s1.f32.gguf.gz");
  const fs::path out = testlib::temp_dir() / "qwen2-converted.f32.gguf";
  const ConvertReport report = convert_hf_to_gguf(
      ConvertOptions{.hf_dir = (fixtures / "hf" / "tiny-qwen2-a-s1-hf").string(), .out_path = out.string(),
                     .outtype = GgmlType::kF32, .name = "tiny-qwen2-a-s1",
                     .description = "random-weight test fixture (seed 1, variant a)"},
      quiet_log());
  EXPECT_EQ(report.architecture, "qwen2");
  EXPECT_TRUE(report.fallbacks.empty());
  const GgufFile got = GgufFile::open(out.string());
  const GgufFile want = GgufFile::open(want_path.string());
  expect_same_tensors(got, want);
  // Metadata: the same keys, in the same order, with the same types and values.
  const auto& g = got.metadata().entries();
  const auto& w = want.metadata().entries();
  ASSERT_EQ(g.size(), w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(g[i].first, w[i].first);
    EXPECT_TRUE(g[i].second == w[i].second) << w[i].first;
  }
  // And the model runs identically.
  const std::vector<int32_t> ids = {2003, 2001, 40, 1000, 15, 2002, 2005};
  EXPECT_EQ(run_prompt(out.string(), ids), run_prompt(want_path.string(), ids));
}

TEST(ConvertQwen2, QuantizedOuttypesKeepNormsF32AndRun) {
  R1_REQUIRE_FIXTURES(fixtures);
  const std::vector<int32_t> ids = {2003, 100, 200, 300};
  const std::vector<float> ref = run_prompt(testlib::gunzip_to_temp(fixtures / "models" / "tiny-qwen2-a-s1.f32.gguf.gz").string(), ids);
  ThreadPool pool(2);
  for (const char* type : {"f16", "bf16", "q8_0", "q4_k"}) {
    SCOPED_TRACE(type);
    const fs::path out = testlib::temp_dir() / fmt::format("qwen2-{}.gguf", type);
    const GgmlType t = parse_convert_outtype(type);
    convert_hf_to_gguf(ConvertOptions{.hf_dir = (fixtures / "hf" / "tiny-qwen2-a-s1-hf").string(), .out_path = out.string(),
                                      .outtype = t, .pool = &pool},
                       quiet_log());
    const GgufFile f = GgufFile::open(out.string());
    EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type->type, GgmlType::kF32);
    EXPECT_EQ(f.find_tensor("blk.0.attn_q.bias")->type->type, GgmlType::kF32);
    EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type->type, t);
    EXPECT_EQ(f.metadata().get_string("general.name"), "tiny-qwen2-a-s1-hf");
    const std::vector<float> logits = run_prompt(out.string(), ids);
    double err = 0, norm = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      err += (logits[i] - ref[i]) * (logits[i] - ref[i]);
      norm += ref[i] * ref[i];
    }
    // Random Gaussian weights are the worst case for 4 bits: a loose sanity bound, not a quality target.
    EXPECT_LT(std::sqrt(err / norm), t == GgmlType::kQ4_K ? 0.3 : 0.02);
  }
  EXPECT_THROW(parse_convert_outtype("iq2_xxs"), Error);
  EXPECT_THROW(parse_convert_outtype("q9_9"), Error);
}

// ---- A DeepseekV3 checkpoint written here ------------------------------------------------------------------

struct TinyDeepseek {
  static constexpr int64_t kEmbd = 64, kLayers = 3, kDense = 1, kHeads = 4, kQLora = 64, kKvLora = 32, kNope = 16,
                           kRope = 8, kV = 16, kFf = 128, kFfExp = 32, kExperts = 8, kVocab = 264;
  fs::path dir;
  std::map<std::string, std::vector<float>> values;  // every HF tensor, as float (exact in BF16)
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TinyDeepseek make_tiny_deepseek(const fs::path& dir) {
  using T = TinyDeepseek;
  TinyDeepseek m;
  m.dir = dir;
  fs::create_directories(dir);
  const Json config = {
      {"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}, {"hidden_size", T::kEmbd},
      {"num_hidden_layers", T::kLayers}, {"num_attention_heads", T::kHeads}, {"num_key_value_heads", T::kHeads},
      {"q_lora_rank", T::kQLora}, {"kv_lora_rank", T::kKvLora}, {"qk_nope_head_dim", T::kNope},
      {"qk_rope_head_dim", T::kRope}, {"v_head_dim", T::kV}, {"intermediate_size", T::kFf},
      {"moe_intermediate_size", T::kFfExp}, {"n_routed_experts", T::kExperts}, {"n_shared_experts", 1},
      {"num_experts_per_tok", 2}, {"n_group", 4}, {"topk_group", 2}, {"scoring_func", "sigmoid"},
      {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5}, {"first_k_dense_replace", T::kDense},
      {"num_nextn_predict_layers", 1}, {"vocab_size", T::kVocab}, {"max_position_embeddings", 163840},
      {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"tie_word_embeddings", false},
      {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                        {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}},
      {"torch_dtype", "bfloat16"}};
  write_text(dir / "config.json", config.dump(2));

  // Tokenizer: the 256 byte tokens, then BOS, EOS and <think>; DeepSeek-V3's pre-tokenizer.
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  Json splits = Json::array();
  for (const char* p : kDeepSeekV3Patterns) {
    splits.push_back({{"type", "Split"}, {"pattern", {{"Regex", p}}}, {"behavior", "Isolated"}, {"invert", false}});
  }
  splits.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}});
  const std::string bos = "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
  const std::string eos = "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
  const Json tokenizer = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 256}, {"content", bos}, {"special", true}},
                        {{"id", 257}, {"content", eos}, {"special", true}},
                        {{"id", 258}, {"content", "<think>"}, {"special", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", splits}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", Json::array()}}}};
  write_text(dir / "tokenizer.json", tokenizer.dump());
  write_text(dir / "tokenizer_config.json",
             Json{{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", bos}, {"eos_token", eos},
                  {"pad_token", eos}, {"chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}}
                 .dump());

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<StTensor> tensors;
  const auto add = [&](const std::string& name, std::vector<uint64_t> shape, float scale, float offset = 0.0f) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = bf16_to_fp32(fp32_to_bf16(offset + scale * normal(rng)));
    if (offset > 0) {
      for (float& x : v) x = std::fabs(x);
    }
    tensors.push_back(bf16_tensor(name, std::move(shape), v));
    m.values[name] = std::move(v);
  };
  const auto mat = [&](const std::string& name, uint64_t out, uint64_t in) {
    add(name, {out, in}, 1.0f / std::sqrt(static_cast<float>(in)));
  };
  const auto norm = [&](const std::string& name, uint64_t n) { add(name, {n}, 0.1f, 1.0f); };
  const uint64_t E = T::kEmbd;
  add("model.embed_tokens.weight", {T::kVocab, E}, 1.0f);
  for (int l = 0; l <= T::kLayers; ++l) {  // layer kLayers is the MTP layer
    const std::string p = fmt::format("model.layers.{}.", l);
    norm(p + "input_layernorm.weight", E);
    mat(p + "self_attn.q_a_proj.weight", T::kQLora, E);
    norm(p + "self_attn.q_a_layernorm.weight", T::kQLora);
    mat(p + "self_attn.q_b_proj.weight", T::kHeads * (T::kNope + T::kRope), T::kQLora);
    mat(p + "self_attn.kv_a_proj_with_mqa.weight", T::kKvLora + T::kRope, E);
    norm(p + "self_attn.kv_a_layernorm.weight", T::kKvLora);
    mat(p + "self_attn.kv_b_proj.weight", T::kHeads * (T::kNope + T::kV), T::kKvLora);
    mat(p + "self_attn.o_proj.weight", E, T::kHeads * T::kV);
    norm(p + "post_attention_layernorm.weight", E);
    if (l < T::kDense) {
      mat(p + "mlp.gate_proj.weight", T::kFf, E);
      mat(p + "mlp.up_proj.weight", T::kFf, E);
      mat(p + "mlp.down_proj.weight", E, T::kFf);
    } else {
      add(p + "mlp.gate.weight", {T::kExperts, E}, 2.0f / std::sqrt(static_cast<float>(E)));
      add(p + "mlp.gate.e_score_correction_bias", {T::kExperts}, 0.05f, 0.01f);
      for (int x = 0; x < T::kExperts; ++x) {
        mat(fmt::format("{}mlp.experts.{}.gate_proj.weight", p, x), T::kFfExp, E);
        mat(fmt::format("{}mlp.experts.{}.up_proj.weight", p, x), T::kFfExp, E);
        mat(fmt::format("{}mlp.experts.{}.down_proj.weight", p, x), E, T::kFfExp);
      }
      mat(p + "mlp.shared_experts.gate_proj.weight", T::kFfExp, E);
      mat(p + "mlp.shared_experts.up_proj.weight", T::kFfExp, E);
      mat(p + "mlp.shared_experts.down_proj.weight", E, T::kFfExp);
    }
    if (l == T::kLayers) {
      mat(p + "eh_proj.weight", E, 2 * E);
      norm(p + "enorm.weight", E);
      norm(p + "hnorm.weight", E);
      norm(p + "shared_head.norm.weight", E);
      mat(p + "shared_head.head.weight", T::kVocab, E);
    }
  }
  norm("model.norm.weight", E);
  add("lm_head.weight", {T::kVocab, E}, 3.0f / std::sqrt(static_cast<float>(E)));
  // Two shards with an index, as large checkpoints come.
  const size_t half = tensors.size() / 2;
  Json weight_map = Json::object();
  for (size_t i = 0; i < tensors.size(); ++i) weight_map[tensors[i].name] = i < half ? "model-1.safetensors" : "model-2.safetensors";
  testlib::write_file_bytes(dir / "model-1.safetensors", safetensors_bytes({tensors.begin(), tensors.begin() + half}));
  testlib::write_file_bytes(dir / "model-2.safetensors", safetensors_bytes({tensors.begin() + half, tensors.end()}));
  write_text(dir / "model.safetensors.index.json", Json{{"metadata", Json::object()}, {"weight_map", weight_map}}.dump());
  return m;
}

std::vector<float> tensor_f32(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  EXPECT_EQ(t->type->type, GgmlType::kF32) << name;
  std::vector<float> out(t->n_elements);
  std::memcpy(out.data(), f.tensor_data(*t).data(), t->n_bytes);
  return out;
}

TEST(ConvertDeepseek2, ExpertsStackedKvBSplitAndRuns) {
  using T = TinyDeepseek;
  const TinyDeepseek m = make_tiny_deepseek(testlib::temp_dir() / "tiny-deepseek-v3-hf");
  const fs::path split = testlib::temp_dir() / "ds-split.gguf";
  const fs::path legacy = testlib::temp_dir() / "ds-legacy.gguf";
  convert_hf_to_gguf(ConvertOptions{.hf_dir = m.dir.string(), .out_path = split.string(), .outtype = GgmlType::kF32}, quiet_log());
  convert_hf_to_gguf(ConvertOptions{.hf_dir = m.dir.string(), .out_path = legacy.string(), .outtype = GgmlType::kF32,
                                    .mla_legacy = true},
                     quiet_log());
  const GgufFile f = GgufFile::open(split.string());
  const GgufMetadata& md = f.metadata();
  EXPECT_EQ(md.get_string("general.architecture"), "deepseek2");
  EXPECT_EQ(md.get_uint("deepseek2.block_count"), 4u);
  EXPECT_EQ(md.get_uint("deepseek2.nextn_predict_layers"), 1u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.head_count_kv"), 1u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.key_length"), uint64_t(T::kKvLora + T::kRope));
  EXPECT_EQ(md.get_uint("deepseek2.attention.value_length"), uint64_t(T::kKvLora));
  EXPECT_EQ(md.get_uint("deepseek2.attention.key_length_mla"), uint64_t(T::kNope + T::kRope));
  EXPECT_EQ(md.get_uint("deepseek2.attention.value_length_mla"), uint64_t(T::kV));
  EXPECT_EQ(md.get_uint("deepseek2.expert_count"), uint64_t(T::kExperts));
  EXPECT_EQ(md.get_uint("deepseek2.expert_gating_func"), 2u);
  EXPECT_EQ(md.get_uint("deepseek2.leading_dense_block_count"), 1u);
  EXPECT_FLOAT_EQ(static_cast<float>(md.get_float("deepseek2.rope.scaling.yarn_log_multiplier")), 0.1f);
  EXPECT_EQ(md.get_string("deepseek2.rope.scaling.type"), "yarn");
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "deepseek-v3");
  EXPECT_EQ(md.get_uint("tokenizer.ggml.bos_token_id"), 256u);
  EXPECT_EQ(md.get_uint("tokenizer.ggml.padding_token_id"), 257u);
  const std::vector<int64_t> types = md.get_int_array("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), size_t(T::kVocab));
  EXPECT_EQ(types[256], 3);
  EXPECT_EQ(types[258], 4);
  EXPECT_EQ(types[263], 5);
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens")[260], "[PAD260]");
  EXPECT_EQ(f.find_tensor("blk.1.ffn_gate_inp.weight")->type->type, GgmlType::kF32);
  EXPECT_NE(f.find_tensor("blk.3.nextn.eh_proj.weight"), nullptr);
  EXPECT_NE(f.find_tensor("blk.3.nextn.shared_head_head.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_gate_exps.weight"), nullptr);

  // Experts: gate/up dims (n_embd, n_ff_exp, n_expert), down (n_ff_exp, n_embd, n_expert); slice x = expert x.
  EXPECT_EQ(f.find_tensor("blk.2.ffn_gate_exps.weight")->shape(), (std::vector<uint64_t>{T::kEmbd, T::kFfExp, T::kExperts}));
  EXPECT_EQ(f.find_tensor("blk.2.ffn_down_exps.weight")->shape(), (std::vector<uint64_t>{T::kFfExp, T::kEmbd, T::kExperts}));
  for (const char* proj : {"gate", "up", "down"}) {
    const std::vector<float> stacked = tensor_f32(f, fmt::format("blk.2.ffn_{}_exps.weight", proj));
    const size_t per = T::kEmbd * T::kFfExp;
    for (int x = 0; x < T::kExperts; ++x) {
      const auto& want = m.values.at(fmt::format("model.layers.2.mlp.experts.{}.{}_proj.weight", x, proj));
      EXPECT_TRUE(std::equal(want.begin(), want.end(), stacked.begin() + x * per)) << proj << " expert " << x;
    }
  }
  // kv_b per head h: rows [h*(nope+v), +nope) are keys, the next v rows values; kv_b is [H*(nope+v), kv_lora].
  EXPECT_EQ(f.find_tensor("blk.0.attn_k_b.weight")->shape(), (std::vector<uint64_t>{T::kNope, T::kKvLora, T::kHeads}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_v_b.weight")->shape(), (std::vector<uint64_t>{T::kKvLora, T::kV, T::kHeads}));
  const std::vector<float>& kv_b = m.values.at("model.layers.0.self_attn.kv_b_proj.weight");
  const std::vector<float> k_b = tensor_f32(f, "blk.0.attn_k_b.weight");
  const std::vector<float> v_b = tensor_f32(f, "blk.0.attn_v_b.weight");
  const int64_t per_head = T::kNope + T::kV;
  for (int64_t h = 0; h < T::kHeads; ++h) {
    for (int64_t r = 0; r < T::kKvLora; ++r) {
      for (int64_t n = 0; n < T::kNope; ++n) {
        ASSERT_EQ(k_b[(h * T::kKvLora + r) * T::kNope + n], kv_b[(h * per_head + n) * T::kKvLora + r]);
      }
      for (int64_t v = 0; v < T::kV; ++v) {
        ASSERT_EQ(v_b[(h * T::kV + v) * T::kKvLora + r], kv_b[(h * per_head + T::kNope + v) * T::kKvLora + r]);
      }
    }
  }
  const GgufFile fl = GgufFile::open(legacy.string());
  EXPECT_EQ(fl.find_tensor("blk.0.attn_kv_b.weight")->shape(), (std::vector<uint64_t>{T::kKvLora, T::kHeads * per_head}));
  EXPECT_EQ(fl.find_tensor("blk.0.attn_k_b.weight"), nullptr);
  EXPECT_EQ(fl.metadata().get_uint("deepseek2.attention.head_count_kv"), uint64_t(T::kHeads));

  // Both layouts load and compute the same model.
  const std::vector<int32_t> ids = {256, 72, 101, 108, 108, 111, 258};
  const std::vector<float> a = run_prompt(split.string(), ids);
  const std::vector<float> b = run_prompt(legacy.string(), ids);
  double err = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i]));
    err = std::max(err, static_cast<double>(std::fabs(a[i] - b[i])));
    norm = std::max(norm, static_cast<double>(std::fabs(b[i])));
  }
  EXPECT_LT(err / norm, 1e-4);

  // Dropping the MTP layer on request; F16 output.
  const fs::path trunk = testlib::temp_dir() / "ds-trunk.gguf";
  convert_hf_to_gguf(ConvertOptions{.hf_dir = m.dir.string(), .out_path = trunk.string(), .outtype = GgmlType::kF16,
                                    .keep_mtp = false},
                     quiet_log());
  const GgufFile ft = GgufFile::open(trunk.string());
  EXPECT_EQ(ft.metadata().get_uint("deepseek2.block_count"), 3u);
  EXPECT_FALSE(ft.metadata().contains("deepseek2.nextn_predict_layers"));
  EXPECT_EQ(ft.find_tensor("blk.3.attn_norm.weight"), nullptr);
  EXPECT_EQ(ft.find_tensor("blk.1.ffn_up_exps.weight")->type->type, GgmlType::kF16);
  const std::vector<float> c = run_prompt(trunk.string(), ids);
  EXPECT_EQ(c.size(), a.size());
}

TEST(ConvertDeepseek2, BadInputIsAnError) {
  const TinyDeepseek m = make_tiny_deepseek(testlib::temp_dir() / "tiny-deepseek-bad");
  Json config = Json::parse(std::ifstream(m.dir / "config.json"));
  config["qk_nope_head_dim"] = 15;  // shapes no longer match the tensors
  write_text(m.dir / "config.json", config.dump());
  const fs::path out = testlib::temp_dir() / "bad.gguf";
  try {
    convert_hf_to_gguf(ConvertOptions{.hf_dir = m.dir.string(), .out_path = out.string(), .outtype = GgmlType::kF32}, quiet_log());
    ADD_FAILURE() << "converted a checkpoint whose shapes contradict config.json";
  } catch (const Error& e) {
    EXPECT_TRUE(e.tensor_context().has_value()) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
  config["architectures"] = {"MysteryForCausalLM"};
  write_text(m.dir / "config.json", config.dump());
  EXPECT_THROW(convert_hf_to_gguf(ConvertOptions{.hf_dir = m.dir.string(), .out_path = out.string()}, quiet_log()), Error);
}

}  // namespace
}  // namespace r1
