// The driver of `r1 convert` (see convert_hf.h): reads config.json and the tokenizer files, plans the
// architecture (convert_arch.cpp), picks each tensor's type as llama.cpp's converter does, and streams the
// tensors slice by slice into GgufWriter.
#include "convert_hf.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "convert_arch.h"
#include "error.h"
#include "text_file.h"
#include "gguf_writer.h"
#include "half.h"
#include "quant_row.h"
#include "tokenizer_load.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string read_text(const fs::path& path) { return read_text_file(path.string()); }

// llama_ftype of a file whose weights are all of one type (llama-quantize --pure names the same numbers).
int file_type_of(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return 0;
    case GgmlType::kF16: return 1;
    case GgmlType::kQ4_0: return 2;
    case GgmlType::kQ4_1: return 3;
    case GgmlType::kQ8_0: return 7;
    case GgmlType::kQ5_0: return 8;
    case GgmlType::kQ5_1: return 9;
    case GgmlType::kQ2_K: return 10;
    case GgmlType::kQ3_K: return 12;
    case GgmlType::kQ4_K: return 15;
    case GgmlType::kQ5_K: return 17;
    case GgmlType::kQ6_K: return 18;
    case GgmlType::kIQ3_XXS: return 23;
    case GgmlType::kIQ4_NL: return 25;
    case GgmlType::kIQ3_S: return 26;
    case GgmlType::kIQ2_S: return 28;
    case GgmlType::kIQ4_XS: return 30;
    case GgmlType::kBF16: return 32;
    case GgmlType::kTQ1_0: return 36;
    case GgmlType::kTQ2_0: return 37;
    default: return 1024;  // "guessed": no single-type ftype
  }
}

// llama.cpp's rule: added tokens that look like control tokens are control tokens even when the tokenizer
// does not mark them special (deepseek's <｜User｜>, <|EOT|> ...).
bool looks_special(const std::string& t) {
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<unused", ">");
}

// tokenizer.ggml.pre from the pre-tokenizer tokenizer.json declares. llama.cpp hashes the tokenization of a
// probe text with the real vocabulary, which a cut-down vocabulary cannot reproduce; the regexes and the
// vocabulary's own special tokens tell the same families apart.
std::string pre_name(const TokenizerSpec& spec) {
  switch (spec.pre_tokenizer->kind()) {
    case PreTokenizerKind::kQwen2: {
      // DeepSeek-R1-Distill-Qwen: Qwen2's pattern with DeepSeek's BOS.
      for (const std::string& t : spec.tokens) {
        if (t == "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>") return "deepseek-r1-qwen";
      }
      return "qwen2";
    }
    case PreTokenizerKind::kLlama3: return "llama-bpe";
    case PreTokenizerKind::kDeepSeekV3: return "deepseek-v3";
    case PreTokenizerKind::kGpt2: return "gpt-2";
    case PreTokenizerKind::kRegex: break;
  }
  throw Error("the pre-tokenizer's regexes match no known llama.cpp pre-tokenizer; name one with --pre")
      .file(spec.source);
}

// The tokenizer.* keys, as llama.cpp's gpt2 vocabulary path and SpecialVocab write them.
void add_tokenizer_keys(const fs::path& dir, int64_t vocab_size, const ConvertOptions& options, GgufWriter* w,
                        const Logger& log) {
  const fs::path tok_path = dir / "tokenizer.json";
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (!fs::exists(tok_path)) throw Error("no tokenizer.json in the folder").file(dir.string());
  const std::string cfg_text = fs::exists(cfg_path) ? read_text(cfg_path) : std::string();
  const TokenizerSpec spec = tokenizer_spec_from_hf(read_text(tok_path), cfg_text, tok_path.string());
  if (static_cast<int64_t>(spec.tokens.size()) > vocab_size) {
    throw Error(fmt::format("tokenizer has {} tokens but config.json's vocab_size is {}", spec.tokens.size(), vocab_size))
        .file(tok_path.string());
  }
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int64_t i = 0; i < vocab_size; ++i) {
    const size_t u = static_cast<size_t>(i);
    if (u >= spec.tokens.size() || spec.types[u] == TokenType::kUndefined) {
      tokens.push_back(fmt::format("[PAD{}]", i));
      types.push_back(static_cast<int32_t>(TokenType::kUnused));
      continue;
    }
    std::string text = spec.tokens[u];
    TokenType type = spec.types[u];
    if (type == TokenType::kUserDefined && looks_special(text)) type = TokenType::kControl;
    if (type == TokenType::kUserDefined) {
      // "▁" (U+2581) stands for a space in user-defined tokens; rebuilt rather than replaced in place (GCC 12
      // reports a false -Wrestrict on std::string::replace here).
      std::string spaced;
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, 3, "\xe2\x96\x81") == 0) {
          spaced += ' ';
          i += 3;
        } else {
          spaced += text[i++];
        }
      }
      text = std::move(spaced);
    }
    tokens.push_back(std::move(text));
    types.push_back(static_cast<int32_t>(type));
  }
  std::vector<std::string> merges;
  merges.reserve(spec.merges.size());
  for (const auto& [a, b] : spec.merges) merges.push_back(a + " " + b);

  w->set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w->set("tokenizer.ggml.pre", GgufValue::string(options.pre.empty() ? pre_name(spec) : options.pre));
  w->set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  w->set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  w->set("tokenizer.ggml.merges", GgufValue::string_array(std::move(merges)));
  const auto id_key = [&](const char* key, TokenId id) {
    if (id != kNoToken) w->set(key, GgufValue::u32(static_cast<uint32_t>(id)));
  };
  id_key("tokenizer.ggml.bos_token_id", spec.bos);
  id_key("tokenizer.ggml.eos_token_id", spec.eos);
  id_key("tokenizer.ggml.unknown_token_id", spec.unk);
  id_key("tokenizer.ggml.padding_token_id", spec.pad);

  // add_bos/add_eos: tokenizer_config.json's flags, else what the post-processor puts around a sequence.
  std::optional<bool> add_bos, add_eos;
  std::string chat_template = spec.chat_template;
  if (!cfg_text.empty()) {
    const Json cfg = parse_json_bounded(cfg_text, cfg_path.string());
    if (cfg.is_object()) {
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) add_bos = cfg["add_bos_token"].get<bool>();
      if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) add_eos = cfg["add_eos_token"].get<bool>();
    }
  }
  if (!add_bos && !spec.prefix_tokens.empty()) add_bos = spec.prefix_tokens.front() == spec.bos;
  if (!add_eos && !spec.suffix_tokens.empty()) add_eos = spec.suffix_tokens.back() == spec.eos;
  if (add_bos) w->set("tokenizer.ggml.add_bos_token", GgufValue::boolean(*add_bos));
  if (add_eos) w->set("tokenizer.ggml.add_eos_token", GgufValue::boolean(*add_eos));
  if (chat_template.empty() && fs::exists(dir / "chat_template.jinja")) chat_template = read_text(dir / "chat_template.jinja");
  if (!chat_template.empty()) {
    w->set("tokenizer.chat_template", GgufValue::string(chat_template));
  } else {
    log.warn("{}: no chat template found (tokenizer_config.json or chat_template.jinja)", dir.string());
  }
}

// llama.cpp's converter: 1-D tensors, norms, biases and the MoE router stay F32; everything else takes the
// output type. A quantized type whose block does not divide the rows falls back (recorded in the report).
GgmlType choose_type(const ConvertTensor& t, GgmlType outtype, ConvertReport* report) {
  const std::string& n = t.name;
  if (t.dims.size() <= 1 || n.ends_with("_norm.weight") || !n.ends_with(".weight") || n.find(".ffn_gate_inp.") != std::string::npos) {
    return GgmlType::kF32;
  }
  const TypeInfo& info = type_info(outtype);
  if (t.dims[0] % info.block_size == 0) return outtype;
  // llama.cpp falls back to F16; for the 256-blocks r1 keeps 8 bits when a 32-block fits.
  const GgmlType fallback = (info.block_size > 32 && t.dims[0] % 32 == 0) ? GgmlType::kQ8_0 : GgmlType::kF16;
  report->fallbacks.push_back(fmt::format("{}: {} -> {} (rows of {})", n, info.name, type_info(fallback).name, t.dims[0]));
  return fallback;
}

}  // namespace

GgmlType parse_convert_outtype(const std::string& name) {
  const TypeInfo* info = find_type_by_name(name);
  const bool ok = info != nullptr &&
                  (info->type == GgmlType::kF32 || info->type == GgmlType::kF16 || info->type == GgmlType::kBF16 ||
                   (info->quantized && can_quantize(info->type) && !quantize_wants_importance(info->type) &&
                    info->type != GgmlType::kQ8_K && info->type != GgmlType::kQ8_1));
  if (!ok) {
    throw Error(fmt::format("--outtype '{}': not a type r1 convert writes (f32, f16, bf16, q8_0, q6_k, q5_k, q4_k, "
                            "q3_k, q2_k, q4_0, ...; importance-matrix types need r1 quantize)", name));
  }
  return info->type;
}

ConvertReport convert_hf_to_gguf(const ConvertOptions& options, const Logger& log) {
  const fs::path dir(options.hf_dir);
  if (!fs::is_directory(dir)) throw Error("not a folder (expected a Hugging Face checkpoint folder)").file(options.hf_dir);
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path)) throw Error("no config.json in the folder").file(options.hf_dir);
  const Json config_json = parse_json_bounded(read_text(config_path), config_path.string());
  if (!config_json.is_object()) throw Error("config.json is not a JSON object").file(config_path.string());
  const HfConfig config(config_json, config_path.string());

  const SafetensorsSet weights = SafetensorsSet::open_dir(options.hf_dir);
  TensorSource source(&weights);
  ArchPlan plan = plan_architecture(config, &source, options, log);
  std::vector<std::string> unexpected;
  for (const std::string& name : source.unused()) {
    if (name.ends_with("rotary_emb.inv_freq")) continue;  // recomputed by every runtime
    if (plan.arch == "deepseek2" && !options.keep_mtp && name.starts_with("model.layers.")) {
      const int64_t layer = std::atoll(name.c_str() + 13);
      if (layer >= config.get_int("num_hidden_layers")) continue;  // MTP layers dropped on request
    }
    unexpected.push_back(name);
  }
  if (!unexpected.empty()) {
    throw Error(fmt::format("{} tensor(s) of the checkpoint have no place in a {} GGUF (first: {})", unexpected.size(),
                            plan.arch, unexpected.front()))
        .tensor(unexpected.front());
  }

  GgufWriter w;
  w.set("general.architecture", GgufValue::string(plan.arch));
  w.set("general.type", GgufValue::string("model"));
  std::string name = options.name;
  if (name.empty()) name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  w.set("general.name", GgufValue::string(name));
  if (!options.description.empty()) w.set("general.description", GgufValue::string(options.description));
  w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(file_type_of(options.outtype))));
  w.set("general.quantization_version", GgufValue::u32(2));
  for (auto& [key, value] : plan.keys) w.set(key, std::move(value));
  add_tokenizer_keys(dir, plan.vocab_size, options, &w, log);

  ConvertReport report;
  report.architecture = plan.arch;
  for (ConvertTensor& t : plan.tensors) {
    const GgmlType type = choose_type(t, options.outtype, &report);
    const uint64_t cols = t.dims[0];
    const uint64_t rows = t.dims.size() >= 2 ? t.dims[1] : 1;
    const uint64_t slices = t.dims.size() >= 3 ? t.dims[2] : 1;
    ThreadPool* pool = options.pool;
    auto fill = t.fill;
    w.add_tensor(t.name, type, t.dims, [=](const GgufWriter::ByteSink& write) {
      std::vector<float> buf(rows * cols);
      std::vector<uint8_t> bytes;
      for (uint64_t s = 0; s < slices; ++s) {
        fill(s, buf.data());
        const size_t n = buf.size();
        switch (type) {
          case GgmlType::kF32:
            bytes.resize(n * 4);
            std::memcpy(bytes.data(), buf.data(), n * 4);
            break;
          case GgmlType::kF16:
          case GgmlType::kBF16:
            bytes.resize(n * 2);
            for (size_t i = 0; i < n; ++i) {
              const uint16_t h = type == GgmlType::kF16 ? fp32_to_fp16(buf[i]) : fp32_to_bf16(buf[i]);
              bytes[2 * i] = static_cast<uint8_t>(h);
              bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
            }
            break;
          default:
            bytes.resize(*row_bytes(type_info(type), cols) * rows);
            quantize_rows(type, buf.data(), bytes.data(),
                          QuantizeRowsOptions{.n_rows = static_cast<int64_t>(rows), .n_per_row = static_cast<int64_t>(cols),
                                              .importance = nullptr, .pool = pool});
            break;
        }
        write(bytes);
      }
    });
    report.n_bytes += w.tensor_bytes(w.n_tensors() - 1);
    log.info("{:<32} {:>6} {}", t.name, type_info(type).name, fmt::join(t.dims, " x "));
  }
  report.n_tensors = w.n_tensors();
  for (const std::string& f : report.fallbacks) log.info("fallback type: {}", f);
  w.write(options.out_path);
  return report;
}

}  // namespace r1
