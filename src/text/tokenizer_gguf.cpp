// Reads a byte-level BPE vocabulary from GGUF metadata, following llama.cpp's keys and defaults
// (llama-vocab.cpp, load()): tokens, token types, merges, special ids, add_bos/add_eos and the pre-tokenizer.
#include <fmt/format.h>

#include "error.h"
#include "tokenizer_load.h"

namespace r1 {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

TokenId find_id(const GgufMetadata& md, std::string_view key, size_t n_tokens) {
  const std::optional<int64_t> v = md.find_int(key);
  if (!v) return kNoToken;
  // llama.cpp treats -1 as "not set"; anything else out of range is a broken file.
  if (*v == -1 || *v == 0xFFFFFFFF) return kNoToken;
  if (*v < 0 || static_cast<uint64_t>(*v) >= n_tokens) {
    throw Error(fmt::format("token id {} out of range (vocabulary {})", *v, n_tokens)).file(md.source()).key(std::string(key));
  }
  return static_cast<TokenId>(*v);
}

// The llama.cpp pre-tokenizer names whose vocabulary adds BOS and skips merges for whole-vocabulary words.
bool is_llama3_name(std::string_view pre) { return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe"; }

// llama.cpp cleans spaces when detokenizing BPE vocabularies except for these pre-tokenizers (of those r1 knows).
bool llama_cpp_keeps_spaces(std::string_view pre) {
  return pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "deepseek-v3" || pre == "deepseek-llm" ||
         pre == "deepseek-coder";
}

}  // namespace

TokenizerSpec tokenizer_spec_from_gguf(const GgufMetadata& md, const Logger& log) {
  TokenizerSpec spec;
  spec.source = md.source();
  const std::optional<std::string> model = md.find_string(kModelKey);
  if (!model) throw Error("no tokenizer in this file").file(md.source()).key(std::string(kModelKey));
  if (*model != "gpt2") {
    throw Error(fmt::format("unsupported tokenizer model '{}' (r1 supports byte-level BPE, 'gpt2')", *model))
        .file(md.source())
        .key(std::string(kModelKey));
  }
  spec.tokens = md.get_string_array(kTokensKey);
  const size_t n = spec.tokens.size();
  if (md.contains(kTypesKey)) {
    const std::vector<int64_t> types = md.get_int_array(kTypesKey);
    if (types.size() != n) {
      throw Error(fmt::format("{} token types for {} tokens", types.size(), n)).file(md.source()).key(std::string(kTypesKey));
    }
    spec.types.reserve(n);
    for (int64_t t : types) {
      if (t < 0 || t > static_cast<int64_t>(TokenType::kByte)) {
        throw Error(fmt::format("unknown token type {}", t)).file(md.source()).key(std::string(kTypesKey));
      }
      spec.types.push_back(static_cast<TokenType>(t));
    }
  }
  const std::vector<std::string> merges = md.get_string_array(kMergesKey);
  spec.merges.reserve(merges.size());
  for (const std::string& merge : merges) {
    // "left right"; the split is at the first space after the first character, as llama.cpp does, because
    // byte-level texts never contain a plain space.
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) {
      throw Error(fmt::format("malformed merge '{}'", merge)).file(md.source()).key(std::string(kMergesKey));
    }
    spec.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }

  const std::optional<std::string> pre = md.find_string(kPreKey);
  if (!pre || pre->empty()) {
    log.warn("{}: no '{}' key: using the default pre-tokenizer; tokenization may differ from the model's own",
             md.source(), kPreKey);
    spec.pre_tokenizer = PreTokenizer::default_for_missing_name();
  } else {
    try {
      spec.pre_tokenizer = PreTokenizer::from_gguf_name(*pre);
    } catch (Error& e) {
      e.file(md.source());
      throw;
    }
    spec.ignore_merges = is_llama3_name(*pre);
  }
  spec.space_cleanup = pre && llama_cpp_keeps_spaces(*pre) ? SpaceCleanup::kNone : SpaceCleanup::kLlamaCpp;

  spec.bos = find_id(md, "tokenizer.ggml.bos_token_id", n);
  spec.eos = find_id(md, "tokenizer.ggml.eos_token_id", n);
  spec.eot = find_id(md, "tokenizer.ggml.eot_token_id", n);
  spec.eom = find_id(md, "tokenizer.ggml.eom_token_id", n);
  spec.pad = find_id(md, "tokenizer.ggml.padding_token_id", n);
  spec.unk = find_id(md, "tokenizer.ggml.unknown_token_id", n);
  // llama.cpp: BPE vocabularies add no BOS unless the pre-tokenizer is Llama 3's; the file's flag wins.
  const bool add_bos = md.find_bool("tokenizer.ggml.add_bos_token").value_or(pre && is_llama3_name(*pre));
  const bool add_eos = md.find_bool("tokenizer.ggml.add_eos_token").value_or(false);
  if (add_bos) {
    if (spec.bos == kNoToken) throw Error("add_bos_token is set but there is no BOS token").file(md.source());
    spec.prefix_tokens.push_back(spec.bos);
  }
  if (add_eos) {
    if (spec.eos == kNoToken) throw Error("add_eos_token is set but there is no EOS token").file(md.source());
    spec.suffix_tokens.push_back(spec.eos);
  }
  spec.chat_template = md.find_string("tokenizer.chat_template").value_or("");
  return spec;
}

BpeTokenizer load_tokenizer_gguf(const GgufMetadata& metadata, const Logger& log) {
  return BpeTokenizer(tokenizer_spec_from_gguf(metadata, log));
}

BpeTokenizer load_tokenizer_gguf_file(const std::string& path, const Logger& log) {
  const GgufFile file = GgufFile::open(path);
  return load_tokenizer_gguf(file.metadata(), log);
}

}  // namespace r1
