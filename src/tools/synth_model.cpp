// Synthetic models: plan (shapes from the catalog, types from the quantize planner, hyperparameter keys, a
// synthetic vocabulary) and streaming writer (rows drawn from a per-row seed, encoded by the quant layer).
//
// Weights are drawn so activations stay finite through any number of layers: every matrix is uniform with
// standard deviation 1/sqrt(fan_in) (fan_in: the row length), so a product of an RMS-normalized input has
// outputs of about unit variance; norms are 1 and biases 0; the token embedding has unit variance, so the
// residual stream starts at RMS 1 and grows like sqrt(layers). Uniform rather than normal values: the same
// variance at a fraction of the cost, and what is measured with these files is speed, not quality.
#include "synth_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "bpe_tokenizer.h"
#include "error.h"
#include "gguf_writer.h"
#include "llama3_rope.h"
#include "quant_row.h"
#include "quantize_recipes.h"
#include "thread_pool.h"

namespace r1 {
namespace {

// Hyperparameters that are not shapes, from each model's config.json (rope_theta, rms_norm_eps).
struct ModelHyper {
  std::string_view id;
  double rope_freq_base;
  double rms_eps;
};
constexpr ModelHyper kHypers[] = {
    {"deepseek-r1:1.5b", 10000.0, 1e-6},  {"deepseek-r1:7b", 10000.0, 1e-6},   {"deepseek-r1:8b", 500000.0, 1e-5},
    {"deepseek-r1:14b", 1000000.0, 1e-5}, {"deepseek-r1:32b", 1000000.0, 1e-5}, {"deepseek-r1:70b", 500000.0, 1e-5},
    {"deepseek-r1:671b", 10000.0, 1e-6},
};

// DeepSeek-V3/R1 routing and YaRN (config.json: n_group 8, topk_group 4, routed_scaling_factor 2.5,
// norm_topk_prob, scoring_func sigmoid; rope_scaling yarn, factor 40, original context 4096, mscale_all_dim 1).
constexpr int kExpertGroups = 8;
constexpr int kExpertGroupsUsed = 4;
constexpr int kMaxExpertsUsed = 8;

// The special tokens of the R1 vocabularies (text as DeepSeek's tokenizers spell them).
constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

// A short template of our own in the R1 chat format (the built-in fallback's format), so chat works without
// a warning: system text first, user turns after <｜User｜>, assistant turns closed by the end token.
constexpr std::string_view kChatTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}{% endif %}{% endfor %}"
    "{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const ModelHyper& hyper_of(const plan::CatalogModel& m) {
  for (const ModelHyper& h : kHypers) {
    if (h.id == m.id) return h;
  }
  throw Error(fmt::format("no hyperparameters for catalog model {}", m.id));
}

std::string catalog_names() {
  std::string out;
  for (const plan::CatalogModel& m : plan::model_catalog()) {
    const std::string_view repo = m.hf_repo.substr(m.hf_repo.find('/') + 1);
    std::string name(repo.starts_with("DeepSeek-R1-") ? repo.substr(9) : repo);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

// The catalog row with --layers / --experts applied.
plan::CatalogModel cut_model(const SynthOptions& o) {
  const plan::CatalogModel* found = plan::find_model(o.like);
  if (found == nullptr) throw Error(fmt::format("unknown model '{}'; known: {}", o.like, catalog_names()));
  plan::CatalogModel m = *found;
  if (o.n_layer < 0 || o.n_layer > m.n_layer) {
    throw Error(fmt::format("--layers {}: {} has {} layers", o.n_layer, m.id, m.n_layer));
  }
  if (o.n_layer > 0) {
    m.n_layer = o.n_layer;
    m.n_dense_lead = std::min(m.n_dense_lead, m.n_layer);
  }
  if (o.n_expert != 0) {
    if (!m.is_moe()) throw Error(fmt::format("--experts: {} is a dense model", m.id));
    if (o.n_expert < 1 || o.n_expert > m.n_expert) {
      throw Error(fmt::format("--experts {}: {} has {} routed experts", o.n_expert, m.id, m.n_expert));
    }
    m.n_expert = o.n_expert;
    // Keep the real 8 experts per token whenever there are 8, so a token reads the real number of bytes.
    m.n_expert_used = std::min(m.n_expert_used, std::min(m.n_expert, kMaxExpertsUsed));
  }
  return m;
}

// What --type names: a mix, an R1 recipe, or one tensor type for every weight.
struct ResolvedType {
  QuantMix mix{};
  const QuantRecipe* recipe = nullptr;
  bool pure = false;
  std::string label;
};

ResolvedType resolve_type(const std::string& name, const plan::CatalogModel& m) {
  ResolvedType r;
  if (const QuantRecipe* recipe = find_quant_recipe(name)) {
    if (!m.is_moe()) throw Error(fmt::format("{} is a recipe for mixture-of-experts models; {} is dense", name, m.id));
    r.recipe = recipe;
    r.mix = *find_quant_mix(recipe->mix);
    r.label = fmt::format("{} (recipe: {})", recipe->name, recipe->summary);
    return r;
  }
  for (const QuantMix& mix : all_quant_mixes()) {
    if (iequals(mix.name, name)) {
      r.mix = mix;
      r.label = fmt::format("{} (mix: {})", mix.name, mix.summary);
      return r;
    }
  }
  const TypeInfo* t = find_type_by_name(name);
  if (t == nullptr || !can_quantize(t->type)) {
    throw Error(fmt::format("--type '{}' is not a type r1 can write, a mix ({}) or a recipe ({})", name,
                            quant_mix_names(), quant_recipe_names()));
  }
  // One type for every weight (norms, biases and the router stay F32). general.file_type: the mix of that
  // default type when there is one, else llama.cpp's "guessed" (1024).
  r.pure = true;
  r.mix = QuantMix{t->name, 1024, t->type, "every weight one type"};
  for (const QuantMix& mix : all_quant_mixes()) {
    if (mix.default_type == t->type) {
      r.mix.file_type = mix.file_type;
      break;
    }
  }
  r.label = fmt::format("{} (every weight)", t->name);
  return r;
}

// ---- metadata ---------------------------------------------------------------------------------------------

using Metadata = std::vector<std::pair<std::string, GgufValue>>;

void architecture_keys(const plan::CatalogModel& m, Metadata* md) {
  const ModelHyper& h = hyper_of(m);
  const std::string a = std::string(m.arch) + ".";
  const auto u32 = [&](const std::string& key, int64_t v) {
    md->emplace_back(a + key, GgufValue::u32(static_cast<uint32_t>(v)));
  };
  const auto f32 = [&](const std::string& key, double v) {
    md->emplace_back(a + key, GgufValue::f32(static_cast<float>(v)));
  };
  u32("block_count", m.n_layer);
  u32("context_length", m.n_ctx_train);
  u32("embedding_length", m.n_embd);
  u32("feed_forward_length", m.n_ff);
  u32("attention.head_count", m.n_head);
  u32("attention.head_count_kv", m.n_head_kv);
  f32("rope.freq_base", h.rope_freq_base);
  f32("attention.layer_norm_rms_epsilon", h.rms_eps);
  if (m.arch == "llama") {
    u32("vocab_size", m.n_vocab);
    u32("rope.dimension_count", m.head_dim);
  }
  if (m.arch != "deepseek2") return;
  // Legacy MLA layout (one attn_kv_b): per-head key (nope + rope) and value sizes.
  u32("vocab_size", m.n_vocab);
  u32("leading_dense_block_count", m.n_dense_lead);
  u32("attention.q_lora_rank", m.q_lora_rank);
  u32("attention.kv_lora_rank", m.kv_lora_rank);
  u32("attention.key_length", m.nope_dim + m.rope_dim);
  u32("attention.value_length", m.head_dim);
  u32("rope.dimension_count", m.rope_dim);
  u32("expert_count", m.n_expert);
  u32("expert_used_count", m.n_expert_used);
  u32("expert_shared_count", m.n_expert_shared);
  u32("expert_feed_forward_length", m.n_ff_expert);
  f32("expert_weights_scale", 2.5);
  md->emplace_back(a + "expert_weights_norm", GgufValue::boolean(true));
  u32("expert_gating_func", 2);  // sigmoid
  // Group-limited routing only when the (possibly cut) experts still form 8 groups of at least 2 that can
  // supply the experts used; otherwise no group limit, as for files without these keys.
  const int per_group = m.n_expert / kExpertGroups;
  if (m.n_expert % kExpertGroups == 0 && per_group >= 2 && kExpertGroupsUsed * per_group >= m.n_expert_used) {
    u32("expert_group_count", kExpertGroups);
    u32("expert_group_used_count", kExpertGroupsUsed);
  }
  md->emplace_back(a + "rope.scaling.type", GgufValue::string("yarn"));
  f32("rope.scaling.factor", 40.0);
  u32("rope.scaling.original_context_length", 4096);
  f32("rope.scaling.yarn_beta_fast", 32.0);
  f32("rope.scaling.yarn_beta_slow", 1.0);
  f32("rope.scaling.yarn_log_multiplier", 0.1);  // mscale_all_dim 1, stored divided by 10 as llama.cpp does
}

// A byte-level BPE vocabulary of exactly n_vocab tokens: the 256 bytes, 702 merged pieces (letter pairs and
// space + letter, with their merges), filler words " abcd" (space + four letters, unreachable by merges but
// readable when a random model samples them), and the R1 special tokens at the end.
void tokenizer_keys(const plan::CatalogModel& m, Metadata* md) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  tokens.reserve(static_cast<size_t>(m.n_vocab));
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_level_encode(std::string(1, static_cast<char>(b))));
  const std::string space = byte_level_encode(" ");
  for (char x = 'a'; x <= 'z'; ++x) {
    for (char y = 'a'; y <= 'z'; ++y) {
      tokens.push_back(std::string{x, y});
      merges.push_back(std::string{x, ' ', y});
    }
    tokens.push_back(space + x);
    merges.push_back(space + ' ' + x);
  }
  const std::string_view specials[] = {kBos, kEos, kUser, kAssistant, kThinkOpen, kThinkClose};
  const int64_t n_special = std::size(specials);
  if (m.n_vocab < static_cast<int64_t>(tokens.size()) + n_special || m.n_vocab > 26 * 26 * 26 * 26) {
    throw Error(fmt::format("a vocabulary of {} tokens is outside what synth can fill", m.n_vocab));
  }
  types.assign(tokens.size(), 1);  // normal
  for (int64_t i = 0; static_cast<int64_t>(tokens.size()) < m.n_vocab - n_special; ++i) {
    std::string word = space;
    for (int64_t k = 0, v = i; k < 4; ++k, v /= 26) word += static_cast<char>('a' + v % 26);
    tokens.push_back(std::move(word));
    types.push_back(1);
  }
  const int32_t bos = static_cast<int32_t>(tokens.size());
  for (std::string_view s : specials) {
    tokens.emplace_back(s);
    types.push_back(s == kThinkOpen || s == kThinkClose ? 4 : 3);  // user-defined : control
  }
  const std::string pre = m.arch == "qwen2" ? "deepseek-r1-qwen" : m.arch == "llama" ? "llama-bpe" : "deepseek-v3";
  md->emplace_back("tokenizer.ggml.model", GgufValue::string("gpt2"));
  md->emplace_back("tokenizer.ggml.pre", GgufValue::string(pre));
  md->emplace_back("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  md->emplace_back("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  md->emplace_back("tokenizer.ggml.merges", GgufValue::string_array(std::move(merges)));
  md->emplace_back("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(bos)));
  md->emplace_back("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(bos + 1)));
  md->emplace_back("tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<uint32_t>(bos + 1)));
  md->emplace_back("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  md->emplace_back("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  md->emplace_back("tokenizer.chat_template", GgufValue::string(std::string(kChatTemplate)));
}

// ---- tensors ----------------------------------------------------------------------------------------------

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

SynthTensor fill_for(const std::string& name, const std::vector<uint64_t>& dims) {
  if (ends_with(name, "_norm.weight")) return {.fill = SynthFill::kOnes};
  if (ends_with(name, ".bias")) return {.fill = SynthFill::kZeros};
  if (name == "token_embd.weight") return {.fill = SynthFill::kUniform, .scale = 1.0f};
  return {.fill = SynthFill::kUniform, .scale = 1.0f / std::sqrt(static_cast<float>(dims[0]))};
}

// Llama 3.1's frequency divisors (config.json: factor 8, low 1, high 4, original context 8192).
std::vector<float> llama3_factors(const plan::CatalogModel& m) {
  return llama3_rope_factors(Llama3RopeScaling{.freq_base = static_cast<float>(hyper_of(m).rope_freq_base)}, m.head_dim);
}

uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t name_hash(std::string_view s) {  // FNV-1a
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return h;
}

// One row of uniform values with standard deviation `scale`, from a seed of its own (so any chunking and any
// number of threads give the same file): two 24-bit draws per 64-bit step of a splitmix64 stream.
void uniform_row(uint64_t seed, float scale, float* out, uint64_t n) {
  const float a = scale * std::sqrt(3.0f) / static_cast<float>(1 << 23);
  uint64_t state = seed;
  for (uint64_t i = 0; i < n; i += 2) {
    state += 0x9E3779B97F4A7C15ull;
    const uint64_t r = mix64(state);
    out[i] = (static_cast<float>(r & 0xFFFFFF) - static_cast<float>(1 << 23)) * a;
    if (i + 1 < n) out[i + 1] = (static_cast<float>((r >> 32) & 0xFFFFFF) - static_cast<float>(1 << 23)) * a;
  }
}

void fill_rows(const SynthTensor& f, uint64_t tensor_seed, uint64_t first_row, uint64_t n_rows, uint64_t n_per_row,
               float* out, ThreadPool* pool) {
  switch (f.fill) {
    case SynthFill::kOnes: std::fill_n(out, n_rows * n_per_row, 1.0f); return;
    case SynthFill::kZeros: std::fill_n(out, n_rows * n_per_row, 0.0f); return;
    case SynthFill::kRopeFactors:
      std::copy_n(f.values.begin() + static_cast<int64_t>(first_row * n_per_row), n_rows * n_per_row, out);
      return;
    case SynthFill::kUniform: break;
  }
  const auto run = [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      uniform_row(mix64(tensor_seed + first_row + r), f.scale, out + r * n_per_row, n_per_row);
    }
  };
  if (pool != nullptr) pool->parallel_range(n_rows, 16, run);
  else run(0, n_rows, 0);
}

}  // namespace

SynthPlan plan_synth(const SynthOptions& options) {
  SynthPlan p;
  p.model = cut_model(options);
  p.seed = options.seed;
  const plan::CatalogModel& m = p.model;
  const ResolvedType type = resolve_type(options.type, m);
  p.type_label = type.label;

  std::vector<PlanInput> inputs;
  for (plan::CatalogTensor& t : plan::catalog_tensor_shapes(m)) {
    inputs.push_back(PlanInput{std::move(t.name), GgmlType::kF32, std::move(t.dims)});
  }
  std::vector<float> rope_factors;
  if (m.arch == "llama") {  // Llama 3.1 frequency scaling, stored as llama.cpp's converter stores it
    rope_factors = llama3_factors(m);
    inputs.push_back(PlanInput{"rope_freqs.weight", GgmlType::kF32, {rope_factors.size()}});
  }
  const QuantModelInfo info{.arch = std::string(m.arch), .n_layer = m.n_layer, .n_head = m.n_head,
                            .n_head_kv = m.n_head_kv, .n_expert = m.n_expert, .n_leading_dense = m.n_dense_lead};
  p.quant = quantize_plan(inputs, info, QuantizePlanOptions{.mix = &type.mix, .recipe = type.recipe, .pure = type.pure});
  for (const PlannedTensor& t : p.quant.tensors) {
    if (t.name == "rope_freqs.weight") {
      p.fills.push_back({.fill = SynthFill::kRopeFactors, .values = rope_factors});
    } else {
      p.fills.push_back(fill_for(t.name, t.dims));
    }
    if (!can_quantize(t.dst_type)) throw Error(fmt::format("r1 cannot write {} tensors", type_info(t.dst_type).name)).tensor(t.name);
  }

  p.metadata.emplace_back("general.architecture", GgufValue::string(std::string(m.arch)));
  p.metadata.emplace_back("general.type", GgufValue::string("model"));
  p.metadata.emplace_back("general.name", GgufValue::string(fmt::format("synthetic {}", m.id)));
  p.metadata.emplace_back("general.description",
                          GgufValue::string(fmt::format("r1 synth: random weights shaped like {} ({} layers{}), seed {}",
                                                        m.hf_repo, m.n_layer,
                                                        m.is_moe() ? fmt::format(", {} experts", m.n_expert) : "",
                                                        options.seed)));
  architecture_keys(m, &p.metadata);
  tokenizer_keys(m, &p.metadata);
  p.metadata.emplace_back("general.quantization_version", GgufValue::u32(2));
  p.metadata.emplace_back("general.file_type", GgufValue::u32(static_cast<uint32_t>(p.quant.file_type)));
  return p;
}

std::string format_synth_plan(const SynthPlan& p, const bool per_tensor) {
  const plan::CatalogModel& m = p.model;
  std::string out = fmt::format("synth {} ({}): {} layers", m.id, m.hf_repo, m.n_layer);
  if (m.is_moe()) {
    out += fmt::format(" ({} dense), {} routed experts ({} used per token) + {} shared", m.n_dense_lead, m.n_expert,
                       m.n_expert_used, m.n_expert_shared);
  }
  out += fmt::format(", vocabulary {}, type {}\n", m.n_vocab, p.type_label);
  out += fmt::format("parameters: {} ({:.2f} B); {} tensors\n", p.quant.n_elements, p.quant.n_elements / 1e9,
                     p.quant.tensors.size());
  return out + format_quantize_plan(p.quant, per_tensor);
}

void write_synth(const SynthPlan& p, const std::string& out_path, const SynthWriteOptions& options) {
  GgufWriter writer;
  for (const auto& [key, value] : p.metadata) writer.set(key, value);
  ThreadPool* pool = options.pool;
  const uint64_t chunk_bytes = std::max<uint64_t>(options.chunk_bytes, 1);
  uint64_t bytes_done = 0;
  for (size_t i = 0; i < p.quant.tensors.size(); ++i) {
    const PlannedTensor* tp = &p.quant.tensors[i];
    const SynthTensor* fp = &p.fills[i];
    const uint64_t tensor_seed = mix64(name_hash(tp->name) ^ mix64(p.seed));
    // Runs inside writer.write(), while the plan, options and bytes_done are alive.
    GgufWriter::Producer producer = [&, tp, fp, i, tensor_seed](const GgufWriter::ByteSink& write) {
      const PlannedTensor& t = *tp;
      const uint64_t n_per_row = t.dims[0];
      const uint64_t n_rows = t.n_elements / n_per_row;
      const uint64_t dst_row = *row_bytes(type_info(t.dst_type), n_per_row);
      const uint64_t chunk_rows = std::clamp<uint64_t>(chunk_bytes / (n_per_row * sizeof(float)), 1, n_rows);
      std::vector<float> values(chunk_rows * n_per_row);
      std::vector<uint8_t> encoded(chunk_rows * dst_row);
      for (uint64_t r0 = 0; r0 < n_rows; r0 += chunk_rows) {
        const uint64_t n = std::min(chunk_rows, n_rows - r0);
        fill_rows(*fp, tensor_seed, r0, n, n_per_row, values.data(), pool);
        const size_t bytes = quantize_rows(t.dst_type, values.data(), encoded.data(),
                                           QuantizeRowsOptions{.n_rows = static_cast<int64_t>(n),
                                                               .n_per_row = static_cast<int64_t>(n_per_row),
                                                               .importance = nullptr,
                                                               .pool = pool});
        write(std::span<const uint8_t>(encoded.data(), bytes));
        bytes_done += bytes;
        if (options.on_progress) {
          options.on_progress(QuantizeProgress{.tensor_index = i, .n_tensors = p.quant.tensors.size(),
                                               .tensor_name = &t.name, .bytes_done = bytes_done,
                                               .bytes_total = p.quant.dst_bytes});
        }
      }
    };
    writer.add_tensor(tp->name, tp->dst_type, tp->dims, std::move(producer));
  }
  writer.write(out_path);
}

}  // namespace r1
