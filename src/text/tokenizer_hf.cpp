// Reads a Hugging Face tokenizer.json (BPE model, byte-level) and its tokenizer_config.json into a
// TokenizerSpec; also the path-based load_tokenizer() that picks the GGUF or the JSON loader.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "text_file.h"
#include "tokenizer_load.h"

namespace r1 {
namespace {

using Json = nlohmann::json;


[[noreturn]] void unsupported(const std::string& source, std::string_view what, const Json& value) {
  throw Error(fmt::format("unsupported {}: {}", what, value.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 200)))
      .file(source);
}

Normalization read_normalizer(const Json& normalizer, const std::string& source) {
  if (normalizer.is_null()) return Normalization::kNone;
  const std::string type = normalizer.value("type", "");
  if (type == "NFC") return Normalization::kNfc;
  if (type == "Sequence") {
    Normalization result = Normalization::kNone;
    for (const Json& item : normalizer.at("normalizers")) {
      if (read_normalizer(item, source) == Normalization::kNfc) result = Normalization::kNfc;
    }
    return result;
  }
  unsupported(source, "normalizer", normalizer);
}

// Collects the Split regexes of the pre-tokenizer (in order); a ByteLevel step with use_regex adds GPT-2's.
void read_pre_tokenizer(const Json& pre, const std::string& source, std::vector<std::string>* patterns) {
  if (pre.is_null()) return;
  const std::string type = pre.value("type", "");
  if (type == "Sequence") {
    for (const Json& item : pre.at("pretokenizers")) read_pre_tokenizer(item, source, patterns);
  } else if (type == "ByteLevel") {
    if (pre.value("add_prefix_space", false)) unsupported(source, "pre-tokenizer option", pre);
    if (pre.value("use_regex", true)) patterns->push_back(kGpt2Pattern);
  } else if (type == "Split") {
    const Json& pattern = pre.at("pattern");
    if (!pattern.contains("Regex") || pre.value("behavior", "") != "Isolated" || pre.value("invert", false)) {
      unsupported(source, "pre-tokenizer split", pre);
    }
    patterns->push_back(pattern.at("Regex").get<std::string>());
  } else {
    unsupported(source, "pre-tokenizer", pre);
  }
}

// A token named in tokenizer_config.json: a string or an AddedToken object {"content": ...}.
std::string token_content(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content")) return value.at("content").get<std::string>();
  return "";
}

TokenId id_of(const TokenizerSpec& spec, const std::string& content) {
  if (content.empty()) return kNoToken;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    if (spec.tokens[i] == content) return static_cast<TokenId>(i);
  }
  return kNoToken;
}

}  // namespace

TokenizerSpec tokenizer_spec_from_hf(std::string_view tokenizer_json, std::string_view config_json, std::string source) {
  TokenizerSpec spec;
  spec.source = std::move(source);
  const Json root = parse_json_bounded(tokenizer_json, spec.source);
  try {
    const Json& model = root.at("model");
    if (model.value("type", "BPE") != "BPE") unsupported(spec.source, "tokenizer model", model.at("type"));
    if (model.contains("byte_fallback") && model.at("byte_fallback").is_boolean() && model.at("byte_fallback").get<bool>()) {
      unsupported(spec.source, "BPE option", Json("byte_fallback"));
    }
    // Vocabulary: token text -> id, then added tokens (which may extend it or repeat entries).
    size_t n = 0;
    for (const auto& [text, id] : model.at("vocab").items()) n = std::max<size_t>(n, id.get<size_t>() + 1);
    const Json added = root.value("added_tokens", Json::array());
    for (const Json& token : added) n = std::max<size_t>(n, token.at("id").get<size_t>() + 1);
    if (n > (size_t{1} << 24)) throw Error(fmt::format("vocabulary of {} tokens is implausibly large", n)).file(spec.source);
    spec.tokens.assign(n, "");
    spec.types.assign(n, TokenType::kUndefined);  // holes in the id range stay undefined and unmatched
    for (const auto& [text, id] : model.at("vocab").items()) {
      spec.tokens[id.get<size_t>()] = text;
      spec.types[id.get<size_t>()] = TokenType::kNormal;
    }
    spec.lstrip.assign(n, 0);
    spec.rstrip.assign(n, 0);
    for (const Json& token : added) {
      const size_t id = token.at("id").get<size_t>();
      spec.tokens[id] = token.at("content").get<std::string>();
      // Hugging Face "special" added tokens are skipped when decoding with skip_special_tokens: control tokens.
      spec.types[id] = token.value("special", false) ? TokenType::kControl : TokenType::kUserDefined;
      spec.lstrip[id] = token.value("lstrip", false);
      spec.rstrip[id] = token.value("rstrip", false);
    }
    for (const Json& merge : model.at("merges")) {
      if (merge.is_array() && merge.size() == 2) {
        spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else if (merge.is_string()) {
        const std::string& s = merge.get_ref<const std::string&>();
        const size_t space = s.find(' ', 1);
        if (space == std::string::npos) unsupported(spec.source, "merge", merge);
        spec.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else {
        unsupported(spec.source, "merge", merge);
      }
    }
    spec.ignore_merges = model.contains("ignore_merges") && model.at("ignore_merges").is_boolean() &&
                         model.at("ignore_merges").get<bool>();
    spec.normalization = read_normalizer(root.value("normalizer", Json()), spec.source);
    std::vector<std::string> patterns;
    read_pre_tokenizer(root.value("pre_tokenizer", Json()), spec.source, &patterns);
    if (patterns.empty()) unsupported(spec.source, "pre-tokenizer (none splits the text)", root.value("pre_tokenizer", Json()));
    spec.pre_tokenizer = PreTokenizer::from_regexes(patterns);

    // "Add special tokens" is what the post-processor's template puts around a single sequence.
    const Json post = root.value("post_processor", Json());
    if (post.is_object() && post.value("type", "") == "TemplateProcessing") {
      bool before = true;
      for (const Json& item : post.at("single")) {
        if (item.contains("Sequence")) {
          before = false;
          continue;
        }
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        for (const Json& id : post.at("special_tokens").at(name).at("ids")) {
          (before ? spec.prefix_tokens : spec.suffix_tokens).push_back(id.get<TokenId>());
        }
      }
    }
  } catch (const Json::exception& e) {
    throw Error(fmt::format("malformed tokenizer.json: {}", e.what())).file(spec.source);
  }

  if (!config_json.empty()) {
    const Json config = parse_json_bounded(config_json, spec.source + " (tokenizer_config.json)");
    try {
      spec.bos = id_of(spec, token_content(config.value("bos_token", Json())));
      spec.eos = id_of(spec, token_content(config.value("eos_token", Json())));
      spec.pad = id_of(spec, token_content(config.value("pad_token", Json())));
      spec.unk = id_of(spec, token_content(config.value("unk_token", Json())));
      if (config.value("clean_up_tokenization_spaces", false)) spec.space_cleanup = SpaceCleanup::kHuggingFace;
      const Json chat_template = config.value("chat_template", Json());
      if (chat_template.is_string()) {
        spec.chat_template = chat_template.get<std::string>();
      } else if (chat_template.is_array()) {  // named templates: take "default"
        for (const Json& item : chat_template) {
          if (item.value("name", "") == "default") spec.chat_template = item.value("template", "");
        }
      }
    } catch (const Json::exception& e) {
      throw Error(fmt::format("malformed tokenizer_config.json: {}", e.what())).file(spec.source);
    }
  }
  if (spec.bos == kNoToken && !spec.prefix_tokens.empty()) spec.bos = spec.prefix_tokens.front();
  return spec;
}

BpeTokenizer load_tokenizer_hf_file(const std::string& tokenizer_json_path, const Logger& log) {
  const std::string json = read_text_file(tokenizer_json_path);
  const std::filesystem::path config_path =
      std::filesystem::path(tokenizer_json_path).parent_path() / "tokenizer_config.json";
  std::string config;
  if (std::filesystem::exists(config_path)) {
    config = read_text_file(config_path.string());
  } else {
    log.info("{}: no tokenizer_config.json beside it: no chat template, BOS/EOS from the post-processor only",
             tokenizer_json_path);
  }
  return BpeTokenizer(tokenizer_spec_from_hf(json, config, tokenizer_json_path));
}

BpeTokenizer load_tokenizer(const std::string& path, const Logger& log) {
  const std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) return load_tokenizer_hf_file((p / "tokenizer.json").string(), log);
  if (p.filename() == "tokenizer_config.json") return load_tokenizer_hf_file((p.parent_path() / "tokenizer.json").string(), log);
  if (p.extension() == ".json") return load_tokenizer_hf_file(path, log);
  return load_tokenizer_gguf_file(path, log);
}

}  // namespace r1
