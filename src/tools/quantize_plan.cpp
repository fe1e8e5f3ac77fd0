// The mix table and the per-tensor type rules. The rules restate, in our own structure, the facts of
// llama.cpp's src/llama-quant.cpp (llama_tensor_get_type and its helpers) at the commit of our fixtures:
// tensor categories by name, the counters over attn_v-like and ffn tensors, use_more_bits, the MoE and
// GQA special cases, the block-size fallbacks. Tests compare plans with llama.cpp's files tensor for tensor.
#include "quantize_plan.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <regex>

#include "error.h"
#include "gguf_file.h"
#include "quantize_recipes.h"

namespace r1 {
namespace {

// llama_ftype numbers (llama.h).
enum Ftype : int {
  kAllF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9, kQ2_K = 10, kQ3_K_S = 11,
  kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15, kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18,
  kIQ2_XXS = 19, kIQ2_XS = 20, kQ2_K_S = 21, kIQ3_XS = 22, kIQ3_XXS = 23, kIQ1_S = 24, kIQ4_NL = 25,
  kIQ3_S = 26, kIQ3_M = 27, kIQ2_S = 28, kIQ2_M = 29, kIQ4_XS = 30, kIQ1_M = 31, kBF16 = 32, kTQ1_0 = 36,
  kTQ2_0 = 37, kMXFP4_MOE = 38, kQ1_0 = 40, kQ2_0 = 41,
};

using T = GgmlType;

constexpr QuantMix kMixes[] = {
    {"Q1_0", kQ1_0, T::kQ1_0, "1.125 bpw"},
    {"Q2_0", kQ2_0, T::kQ2_0, "2.25 bpw (group 64)"},
    {"Q4_0", kQ4_0, T::kQ4_0, "4.5 bpw legacy"},
    {"Q4_1", kQ4_1, T::kQ4_1, "5.0 bpw legacy"},
    {"MXFP4_MOE", kMXFP4_MOE, T::kMXFP4, "MXFP4 experts, Q8_0 elsewhere"},
    {"Q5_0", kQ5_0, T::kQ5_0, "5.5 bpw legacy"},
    {"Q5_1", kQ5_1, T::kQ5_1, "6.0 bpw legacy"},
    {"IQ2_XXS", kIQ2_XXS, T::kIQ2_XXS, "2.06 bpw (wants an importance matrix)"},
    {"IQ2_XS", kIQ2_XS, T::kIQ2_XS, "2.31 bpw (wants an importance matrix)"},
    {"IQ2_S", kIQ2_S, T::kIQ2_XS, "2.5 bpw mix (wants an importance matrix)"},
    {"IQ2_M", kIQ2_M, T::kIQ2_S, "2.7 bpw mix (wants an importance matrix)"},
    {"IQ1_S", kIQ1_S, T::kIQ1_S, "1.56 bpw (wants an importance matrix)"},
    {"IQ1_M", kIQ1_M, T::kIQ1_M, "1.75 bpw (wants an importance matrix)"},
    {"TQ1_0", kTQ1_0, T::kTQ1_0, "1.69 bpw ternary"},
    {"TQ2_0", kTQ2_0, T::kTQ2_0, "2.06 bpw ternary"},
    {"Q2_K", kQ2_K, T::kQ2_K, "k-quant mix around Q2_K"},
    {"Q2_K_S", kQ2_K_S, T::kQ2_K, "smaller Q2_K mix (wants an importance matrix)"},
    {"IQ3_XXS", kIQ3_XXS, T::kIQ3_XXS, "3.06 bpw (wants an importance matrix)"},
    {"IQ3_S", kIQ3_S, T::kIQ3_S, "3.44 bpw"},
    {"IQ3_M", kIQ3_M, T::kIQ3_S, "3.66 bpw mix"},
    {"IQ3_XS", kIQ3_XS, T::kIQ3_S, "3.3 bpw mix"},
    {"Q3_K_S", kQ3_K_S, T::kQ3_K, "k-quant mix, Q3_K throughout"},
    {"Q3_K_M", kQ3_K_M, T::kQ3_K, "k-quant mix around Q3_K"},
    {"Q3_K_L", kQ3_K_L, T::kQ3_K, "larger Q3_K mix"},
    {"IQ4_NL", kIQ4_NL, T::kIQ4_NL, "4.5 bpw non-linear"},
    {"IQ4_XS", kIQ4_XS, T::kIQ4_XS, "4.25 bpw non-linear"},
    {"Q4_K_S", kQ4_K_S, T::kQ4_K, "k-quant mix, Q4_K nearly throughout"},
    {"Q4_K_M", kQ4_K_M, T::kQ4_K, "k-quant mix around Q4_K (the usual default)"},
    {"Q5_K_S", kQ5_K_S, T::kQ5_K, "k-quant mix, Q5_K throughout"},
    {"Q5_K_M", kQ5_K_M, T::kQ5_K, "k-quant mix around Q5_K"},
    {"Q6_K", kQ6_K, T::kQ6_K, "6.56 bpw"},
    {"Q8_0", kQ8_0, T::kQ8_0, "8.5 bpw"},
    {"F16", kF16, T::kF16, "16 bpw"},
    {"BF16", kBF16, T::kBF16, "16 bpw bfloat"},
    {"F32", kAllF32, T::kF32, "32 bpw"},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// llama.cpp's tensor categories, decided by name alone (same order of tests).
enum class Category { kTokenEmbd, kAttnQ, kAttnV, kAttnK, kAttnQkv, kAttnKvB, kAttnOutput, kFfnUp, kFfnGate,
                      kFfnDown, kOutput, kOther };

bool is_token_embd(std::string_view n) { return n == "token_embd.weight" || n == "per_layer_token_embd.weight"; }

Category category_of(std::string_view n) {
  if (n == "output.weight") return Category::kOutput;
  if (is_token_embd(n)) return Category::kTokenEmbd;
  if (contains(n, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(n, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (contains(n, "attn_v.weight")) return Category::kAttnV;
  if (contains(n, "attn_k.weight")) return Category::kAttnK;
  if (contains(n, "attn_q.weight")) return Category::kAttnQ;
  if (contains(n, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(n, "ffn_up")) return Category::kFfnUp;
  if (contains(n, "ffn_gate")) return Category::kFfnGate;
  if (contains(n, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

bool is_attn_v_like(Category c) {
  return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB;
}

// Name parts that llama.cpp never quantizes (small, positional, routing or integer tables).
constexpr std::string_view kNeverQuantized[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
    "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
    "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
    "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",
    "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
    "mm.a.code_embd",
};

int effective_dims(const std::vector<uint64_t>& dims) {  // ggml_n_dims: trailing 1s do not count
  int n = static_cast<int>(dims.size());
  while (n > 1 && dims[n - 1] == 1) --n;
  return n;
}

bool allows_quantization(const PlanInput& t, bool quantize_output) {
  if (effective_dims(t.dims) < 2) return false;
  const std::string_view n = t.name;
  if (!ends_with(n, "weight")) return false;
  if (!quantize_output && n == "output.weight") return false;
  if (n == "position_embd.weight" || n == "token_types.weight") return false;
  for (std::string_view part : kNeverQuantized) {
    if (contains(n, part)) return false;
  }
  return true;
}

std::optional<int> layer_of(std::string_view name) {
  int layer = -1;
  const std::string s(name);
  if (std::sscanf(s.c_str(), "blk.%d.", &layer) != 1) return std::nullopt;
  return layer;
}

bool wants_imatrix(std::string_view name, GgmlType t, int ftype) {
  if (is_token_embd(name) || name == "output.weight") return false;
  switch (t) {
    case T::kIQ3_XXS: case T::kIQ2_XXS: case T::kIQ2_XS: case T::kIQ2_S: case T::kIQ1_M: case T::kIQ1_S:
      return true;
    case T::kQ2_K:
      return ftype == kQ2_K_S;
    default:
      return false;
  }
}

// The running state of one planning pass (llama.cpp keeps the same counters while it walks the tensors).
struct RuleState {
  const QuantModelInfo& model;
  const QuantizePlanOptions& options;
  int ftype;
  bool tied_embeddings = true;
  int n_attention_wv = 0;
  int i_attention_wv = 0;
  int i_ffn_down = 0;
  int i_ffn_gate = 0;
  int i_ffn_up = 0;
};

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// (layer, n_layer) for the ffn rules: for MoE models the layer comes from the name (experts of one layer need
// not be adjacent); for dense models the running counter is the layer.
std::pair<int, int> ffn_layer(const RuleState& s, int counter, const std::string& name) {
  const int n_layer = s.model.n_layer;
  if (std::max(1, s.model.n_expert) > 1) {
    const std::optional<int> layer = layer_of(name);
    if (!layer) throw Error("cannot determine the layer of this tensor (expected blk.N.)").tensor(name);
    if (*layer < 0 || *layer >= n_layer) {
      throw Error(fmt::format("layer {} is outside [0, {})", *layer, n_layer)).tensor(name);
    }
    return {*layer, n_layer};
  }
  return {counter, n_layer};
}

bool is_iq2_family(int f) {
  return f == kIQ2_XXS || f == kIQ2_XS || f == kIQ1_S || f == kIQ2_S || f == kIQ2_M || f == kIQ1_M;
}

// The mix rules proper: llama_tensor_get_type_impl's decisions, branch for branch.
GgmlType mix_rule(RuleState& s, GgmlType t, const PlanInput& tensor, Category cat) {
  const int f = s.ftype;
  const QuantModelInfo& m = s.model;
  const bool falcon = m.arch == "falcon";
  const bool is_70b = m.arch == "llama" && m.n_layer == 80 && m.n_head != m.n_head_kv;
  const std::string& name = tensor.name;

  if (cat == Category::kOutput || (s.tied_embeddings && cat == Category::kTokenEmbd)) {
    if (s.options.output_type) return *s.options.output_type;
    const uint64_t nx = tensor.dims[0];
    if (f == kMXFP4_MOE) return T::kQ8_0;
    if (falcon || nx % type_info(t).block_size != 0) return T::kQ8_0;
    if (f == kIQ2_XXS || f == kIQ2_XS || f == kIQ3_XXS || f == kIQ1_S || f == kIQ2_S || f == kIQ2_M || f == kIQ1_M) {
      return T::kQ5_K;
    }
    return t != T::kQ8_0 ? T::kQ6_K : t;
  }
  if (f == kMXFP4_MOE) {
    const bool moe = tensor.dims.size() > 2 && tensor.dims[2] > 1;
    return moe ? T::kMXFP4 : T::kQ8_0;
  }
  if (cat == Category::kTokenEmbd) {
    if (s.options.token_embd_type) return *s.options.token_embd_type;
    if (f == kIQ2_XXS || f == kIQ2_XS || f == kIQ1_S || f == kIQ1_M) return T::kQ2_K;
    if (f == kIQ2_S || f == kIQ2_M || f == kIQ3_XXS) return T::kIQ3_S;
    if (f == kTQ1_0 || f == kTQ2_0 || f == kQ2_0) return T::kQ4_K;
    return t;
  }
  if (is_iq2_family(f)) {
    const GgmlType iq3_or_q2 = (f == kIQ2_S || f == kIQ2_M) ? T::kIQ3_S : T::kQ2_K;
    if (is_attn_v_like(cat)) {
      t = (m.n_gqa() >= 4 || m.n_expert >= 4) ? T::kQ4_K : iq3_or_q2;
      ++s.i_attention_wv;
    } else if (m.n_expert == 8 && cat == Category::kAttnK) {
      t = T::kQ4_K;
    } else if (cat == Category::kFfnDown) {
      if (s.i_ffn_down < m.n_layer / 8) t = iq3_or_q2;
      ++s.i_ffn_down;
    } else if (cat == Category::kAttnOutput) {
      if (m.n_expert == 8) t = T::kQ5_K;
      else if (f == kIQ1_S || f == kIQ1_M) t = T::kIQ2_XXS;
      else if (f == kIQ2_S || f == kIQ2_M) t = T::kIQ3_S;
    }
    return t;
  }
  if (is_attn_v_like(cat)) {
    const int gqa = m.n_gqa();
    if (f == kQ2_K) t = gqa >= 4 ? T::kQ4_K : T::kQ3_K;
    else if (f == kQ2_K_S && gqa >= 4) t = T::kQ4_K;
    else if (f == kIQ3_XXS) t = gqa >= 4 ? T::kQ4_K : (!s.options.has_imatrix ? T::kIQ3_S : T::kIQ3_XXS);
    else if ((f == kIQ3_XS || f == kIQ3_S) && gqa >= 4) t = T::kQ4_K;
    else if (f == kIQ3_M) t = T::kQ4_K;
    else if (f == kQ3_K_M) t = s.i_attention_wv < 2 ? T::kQ5_K : T::kQ4_K;
    else if (f == kQ3_K_L) t = T::kQ5_K;
    else if ((f == kIQ4_NL || f == kIQ4_XS) && gqa >= 4) t = T::kQ5_K;
    else if ((f == kQ4_K_M || f == kQ5_K_M) && use_more_bits(s.i_attention_wv, s.n_attention_wv)) t = T::kQ6_K;
    else if (f == kQ4_K_S && s.i_attention_wv < 4) t = T::kQ5_K;
    // attn_v is n_gqa times smaller than attn_q in Llama-70B: more bits there cost almost nothing.
    if (is_70b && (t == T::kQ3_K || t == T::kQ4_K)) t = T::kQ5_K;
    if (m.n_expert == 8) t = T::kQ8_0;
    ++s.i_attention_wv;
    return t;
  }
  if (cat == Category::kAttnK) {
    if (m.n_expert == 8) t = T::kQ8_0;
    else if (f == kIQ3_XS) t = T::kIQ3_XXS;
    else if (f == kIQ3_XXS) t = T::kIQ2_S;
    return t;
  }
  if (cat == Category::kAttnQ) {
    if (f == kIQ3_XS) t = T::kIQ3_XXS;
    else if (f == kIQ3_XXS) t = T::kIQ2_S;
    return t;
  }
  if (cat == Category::kFfnDown) {
    const auto [i, n] = ffn_layer(s, s.i_ffn_down, name);
    if (f == kQ2_K) t = T::kQ3_K;
    else if (f == kQ2_K_S) { if (i < n / 8) t = T::kQ4_K; }
    else if (f == kIQ3_XXS && !s.options.has_imatrix) t = i < n / 8 ? T::kQ4_K : T::kQ3_K;
    else if (f == kQ3_K_M) {
      t = i < n / 16 ? T::kQ5_K : (!falcon || use_more_bits(i, n)) ? T::kQ4_K : T::kQ3_K;
    } else if (f == kIQ3_M && (i < n / 8 || (m.n_expert == 8 && use_more_bits(i, n)))) t = T::kQ4_K;
    else if (f == kQ3_K_L) t = falcon ? T::kQ4_K : T::kQ5_K;
    else if (f == kQ4_K_M) {
      if (falcon) t = i < n / 16 ? T::kQ6_K : use_more_bits(i, n) ? T::kQ5_K : T::kQ4_K;
      else if (use_more_bits(i, n)) t = T::kQ6_K;
    } else if (i < n / 8 && (f == kIQ4_NL || f == kIQ4_XS) && !s.options.has_imatrix) t = T::kQ5_K;
    else if (f == kQ5_K_M && use_more_bits(i, n)) t = T::kQ6_K;
    else if (f == kQ4_K_S && !falcon && i < n / 8) t = T::kQ5_K;
    else if ((f == kQ4_0 || f == kQ5_0) && s.options.has_imatrix && i < n / 8) {
      t = f == kQ4_0 ? T::kQ4_1 : T::kQ5_1;  // guards the first ffn_down layers (with an imatrix only)
    }
    ++s.i_ffn_down;
    return t;
  }
  if (cat == Category::kAttnOutput) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (f == kQ2_K || f == kIQ3_XS || f == kIQ3_XXS || f == kQ3_K_S || f == kQ3_K_M || f == kIQ4_NL ||
            f == kQ4_K_S || f == kQ4_K_M || f == kIQ3_S || f == kIQ3_M || f == kIQ4_XS) {
          t = T::kQ5_K;
        }
      } else {
        if (f == kQ2_K) t = T::kQ3_K;
        else if (f == kIQ3_XXS) t = T::kIQ3_S;
        else if (f == kQ3_K_M) t = T::kQ4_K;
        else if (f == kQ3_K_L) t = T::kQ5_K;
        else if (f == kIQ3_M) t = T::kQ4_K;
      }
    } else if (f == kQ3_K_L) {
      t = T::kQ4_K;
    }
    return t;
  }
  if (cat == Category::kFfnGate || cat == Category::kFfnUp) {
    int& counter = cat == Category::kFfnGate ? s.i_ffn_gate : s.i_ffn_up;
    const auto [i, n] = ffn_layer(s, counter, name);
    if (f == kIQ3_XS && i >= n / 8 && i < 7 * n / 8) t = T::kIQ3_XXS;
    ++counter;
    return t;
  }
  return t;
}

// A row length the wanted type cannot hold falls back to a type with 32-element blocks, as llama.cpp does.
GgmlType block_fallback(const PlanInput& tensor, GgmlType wanted, std::string* fallback_from) {
  const uint64_t ncols = tensor.dims[0];
  if (ncols % type_info(wanted).block_size == 0) return wanted;
  GgmlType t;
  switch (wanted) {
    case T::kIQ1_S: case T::kIQ1_M: case T::kIQ2_XXS: case T::kIQ2_XS: case T::kIQ2_S: case T::kIQ3_XXS:
    case T::kIQ3_S: case T::kIQ4_XS:
      t = T::kIQ4_NL; break;
    case T::kQ2_0: case T::kQ2_K: case T::kQ3_K: case T::kTQ1_0: case T::kTQ2_0:
      t = T::kQ4_0; break;
    case T::kQ4_K: t = T::kQ5_0; break;
    case T::kQ5_K: t = T::kQ5_1; break;
    case T::kQ6_K: t = T::kQ8_0; break;
    default:
      throw Error(fmt::format("row length {} is not a multiple of the {} block size {}, and {} has no fallback type",
                              ncols, type_info(wanted).name, type_info(wanted).block_size, type_info(wanted).name))
          .tensor(tensor.name);
  }
  if (ncols % type_info(t).block_size != 0) t = T::kF16;  // rows not even a multiple of 32
  *fallback_from = std::string(type_info(wanted).name);
  return t;
}

uint64_t tensor_bytes(GgmlType type, const std::vector<uint64_t>& dims) {
  uint64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  const std::optional<uint64_t> row = row_bytes(type_info(type), dims.empty() ? 0 : dims[0]);
  return row ? *row * rows : 0;
}

}  // namespace

std::span<const QuantMix> all_quant_mixes() { return kMixes; }

const QuantMix* find_quant_mix(std::string_view name) {
  if (iequals(name, "Q3_K")) name = "Q3_K_M";
  else if (iequals(name, "Q4_K")) name = "Q4_K_M";
  else if (iequals(name, "Q5_K")) name = "Q5_K_M";
  for (const QuantMix& m : kMixes) {
    if (iequals(m.name, name)) return &m;
  }
  return nullptr;
}

std::string quant_mix_names() {
  std::string out;
  for (const QuantMix& m : kMixes) {
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

QuantModelInfo QuantModelInfo::from_metadata(const GgufMetadata& md) {
  QuantModelInfo info;
  info.arch = md.find_string("general.architecture").value_or("");
  const std::string p = info.arch + ".";
  info.n_layer = static_cast<int>(md.find_int(p + "block_count").value_or(0));
  // head counts may be per-layer arrays in some architectures: take layer 0 as llama.cpp's n_gqa() does.
  auto first_int = [&](const std::string& key) -> std::optional<int64_t> {
    const GgufValue* v = md.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type() == GgufType::kArray) {
      const std::vector<int64_t> all = md.get_int_array(key);
      return all.empty() ? std::nullopt : std::optional<int64_t>(all.front());
    }
    return md.find_int(key);
  };
  info.n_head = static_cast<int>(first_int(p + "attention.head_count").value_or(0));
  info.n_head_kv = static_cast<int>(first_int(p + "attention.head_count_kv").value_or(info.n_head));
  info.n_expert = static_cast<int>(md.find_int(p + "expert_count").value_or(0));
  info.n_leading_dense = static_cast<int>(md.find_int(p + "leading_dense_block_count").value_or(0));
  return info;
}

TensorTypeOverride parse_tensor_type_override(std::string_view text) {
  const size_t eq = text.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    throw Error(fmt::format("--tensor-type '{}': expected REGEX=TYPE (for example ffn_down=q6_k)", text));
  }
  const std::string pattern(text.substr(0, eq));
  const std::string_view type_name = text.substr(eq + 1);
  const TypeInfo* info = find_type_by_name(type_name);
  if (info == nullptr) {
    throw Error(fmt::format("--tensor-type '{}': unknown tensor type '{}' (types are named as llama.cpp names "
                            "them: Q4_K, Q6_K, IQ2_XXS, Q8_0, F16, ...)", text, type_name));
  }
  try {
    std::regex compiled(pattern);
  } catch (const std::regex_error& e) {
    throw Error(fmt::format("--tensor-type '{}': invalid regular expression: {}", text, e.what()));
  }
  return {pattern, info->type};
}

bool quantize_tensor_order_less(const std::string& a, const std::string& b) {
  const int la = layer_of(a).value_or(-1);
  const int lb = layer_of(b).value_or(-1);
  if (la != lb) return la < lb;
  return a < b;
}

QuantizePlan quantize_plan(std::span<const PlanInput> tensors, const QuantModelInfo& model,
                           const QuantizePlanOptions& options) {
  if (options.mix == nullptr) throw Error("no quantization type or mix given");
  const QuantMix& mix = *options.mix;
  RuleState state{.model = model, .options = options, .ftype = mix.file_type};

  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return quantize_tensor_order_less(tensors[a].name, tensors[b].name); });

  for (const PlanInput& t : tensors) {
    if (t.dims.empty()) throw Error("tensor has no dimensions").tensor(t.name);
    const Category c = category_of(t.name);
    if (is_attn_v_like(c)) ++state.n_attention_wv;
    if (c == Category::kOutput) state.tied_embeddings = false;
  }

  std::vector<std::pair<std::regex, GgmlType>> overrides;
  for (const TensorTypeOverride& o : options.overrides) overrides.emplace_back(std::regex(o.pattern), o.type);

  QuantizePlan plan;
  plan.file_type = mix.file_type;
  const bool default_quantized = type_info(mix.default_type).quantized;
  for (size_t index : order) {
    const PlanInput& t = tensors[index];
    PlannedTensor p{.name = t.name, .dims = t.dims, .src_type = t.type, .dst_type = t.type};
    p.input_index = index;
    p.n_elements = 1;
    for (uint64_t d : t.dims) p.n_elements *= d;
    p.src_bytes = tensor_bytes(t.type, t.dims);
    p.quantizable = allows_quantization(t, options.quantize_output);
    const Category cat = category_of(t.name);
    p.source = "kept";
    if (p.quantizable) {
      if (options.token_embd_type && cat == Category::kTokenEmbd) {
        p.dst_type = *options.token_embd_type;
        p.source = "override";
      } else if (options.output_type && cat == Category::kOutput) {
        p.dst_type = *options.output_type;
        p.source = "override";
      } else if (!default_quantized) {
        p.dst_type = mix.default_type;
        p.source = "mix";
      } else {
        GgmlType wanted = mix.default_type;
        bool chosen = false;
        for (const auto& [re, type] : overrides) {
          if (std::regex_search(t.name, re)) {
            wanted = type;
            p.source = "override";
            chosen = true;
            break;
          }
        }
        if (!chosen && options.recipe != nullptr) {
          if (const std::optional<GgmlType> r = recipe_tensor_type(*options.recipe, t.name, model)) {
            wanted = *r;
            p.source = "recipe";
            chosen = true;
          }
        }
        if (!chosen && !options.pure) {
          wanted = mix_rule(state, wanted, t, cat);
          p.source = "mix";
        } else if (!chosen) {
          p.source = "pure";
        }
        p.dst_type = block_fallback(t, wanted, &p.fallback_from);
        if (!p.fallback_from.empty()) ++plan.n_fallback;
      }
    }
    p.requires_imatrix = p.quantizable && wants_imatrix(t.name, p.dst_type, mix.file_type);
    if (p.requires_imatrix) ++plan.n_requires_imatrix;
    p.dst_bytes = p.dst_type == p.src_type ? p.src_bytes : tensor_bytes(p.dst_type, t.dims);
    plan.src_bytes += p.src_bytes;
    plan.dst_bytes += p.dst_bytes;
    plan.n_elements += p.n_elements;
    plan.tensors.push_back(std::move(p));
  }
  return plan;
}

std::string format_quantize_plan(const QuantizePlan& plan, bool per_tensor) {
  std::string out;
  auto mib = [](uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  if (per_tensor) {
    size_t width = 36;
    for (const PlannedTensor& t : plan.tensors) width = std::max(width, t.name.size());
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& t = plan.tensors[i];
      std::string shape;
      for (uint64_t d : t.dims) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
      out += fmt::format("[{:4}/{:4}] {:<{}} [{:>20}] {:>7} -> {:>7} {:10.3f} MiB -> {:10.3f} MiB  {}{}\n", i + 1,
                         plan.tensors.size(), t.name, width, shape, type_info(t.src_type).name,
                         type_info(t.dst_type).name, mib(t.src_bytes), mib(t.dst_bytes), t.source,
                         t.fallback_from.empty() ? "" : fmt::format(" (fallback from {})", t.fallback_from));
    }
  }
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const PlannedTensor& t : plan.tensors) {
    auto& [count, bytes] = by_type[std::string(type_info(t.dst_type).name)];
    ++count;
    bytes += t.dst_bytes;
  }
  out += "types:";
  for (const auto& [name, cb] : by_type) out += fmt::format(" {}×{} ({:.2f} MiB)", cb.first, name, mib(cb.second));
  out += "\n";
  out += fmt::format("model size: {:12.2f} MiB ({:.2f} GB, {:.2f} BPW)\n", mib(plan.src_bytes),
                     static_cast<double>(plan.src_bytes) / 1e9, plan.src_bpw());
  out += fmt::format("quant size: {:12.2f} MiB ({:.2f} GB, {:.2f} GiB, {:.2f} BPW)\n", mib(plan.dst_bytes),
                     static_cast<double>(plan.dst_bytes) / 1e9, static_cast<double>(plan.dst_bytes) / (1u << 30),
                     plan.dst_bpw());
  if (plan.n_fallback > 0) {
    out += fmt::format("{} of {} tensors fell back to another type (row length not a multiple of the block)\n",
                       plan.n_fallback, plan.tensors.size());
  }
  return out;
}

}  // namespace r1
