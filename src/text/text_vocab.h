// The plain description of a byte-level BPE vocabulary (TokenizerSpec) that the GGUF and tokenizer.json loaders
// fill in and BpeTokenizer validates and indexes. Owns no behaviour; see bpe_tokenizer.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pretokenizer.h"

namespace r1 {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// Token types as GGUF numbers them (tokenizer.ggml.token_type).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // matched in text only when special parsing is on; shown only when rendering specials
  kUserDefined = 4,  // always matched in text (e.g. <think>), always shown
  kUnused = 5,
  kByte = 6,
};

enum class Normalization { kNone, kNfc };

// The space clean-up of whole-text decoding ("clean_up_tokenization_spaces"): none, llama.cpp's three passes
// (GGUF vocabularies whose pre-tokenizer llama.cpp gives it), or Hugging Face's string replacements
// (tokenizer_config.json asks for it).
enum class SpaceCleanup { kNone, kLlamaCpp, kHuggingFace };

struct TokenizerSpec {
  std::string source;  // file path, for messages
  // Token texts as stored: byte-level encoded (GPT-2 byte-to-unicode) for normal tokens, raw UTF-8 for
  // control and user-defined tokens.
  std::vector<std::string> tokens;
  std::vector<TokenType> types;  // empty: every token normal
  // Per-token flags of Hugging Face added tokens (empty when none): swallow whitespace on the left/right.
  std::vector<uint8_t> lstrip;
  std::vector<uint8_t> rstrip;
  // Merges in rank order, as byte-level token texts.
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<PreTokenizer> pre_tokenizer;  // required
  Normalization normalization = Normalization::kNone;
  // Llama 3: a pre-token that is itself in the vocabulary is emitted whole without running the merges.
  bool ignore_merges = false;
  SpaceCleanup space_cleanup = SpaceCleanup::kNone;  // decode() only; streaming decoding never cleans

  TokenId bos = kNoToken;
  TokenId eos = kNoToken;
  TokenId eot = kNoToken;
  TokenId eom = kNoToken;
  TokenId pad = kNoToken;
  TokenId unk = kNoToken;
  // What "add special tokens" puts around the text (BOS for GGUF vocabularies that set add_bos_token).
  std::vector<TokenId> prefix_tokens;
  std::vector<TokenId> suffix_tokens;

  std::string chat_template;  // empty when the file has none
};

}  // namespace r1
