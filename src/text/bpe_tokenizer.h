// BpeTokenizer: byte-level BPE encoding (special-token matching, normalization, pre-tokenization, merges by
// rank) and decoding of token ids to bytes. Loading a TokenizerSpec from files is tokenizer_load.h's job;
// the streaming UTF-8-safe decoder is text_stream.h's.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text_vocab.h"

namespace r1 {

struct EncodeOptions {
  // Match control tokens (type 3) written in the text. User-defined tokens (type 4) are always matched.
  bool parse_special = true;
  // Put the vocabulary's prefix/suffix tokens (its BOS when add_bos_token is set) around the result.
  bool add_special = false;
};

class BpeTokenizer {
 public:
  // Validates and indexes spec; throws r1::Error naming spec.source on inconsistent data.
  explicit BpeTokenizer(TokenizerSpec spec);

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;
  void encode_into(std::string_view text, const EncodeOptions& options, std::vector<TokenId>* out) const;

  // The bytes a token stands for. Control and unused tokens give "" unless render_special.
  std::string_view token_to_piece(TokenId id, bool render_special = true) const;
  // The whole text of ids, with the vocabulary's space clean-up (see SpaceCleanup) applied.
  std::string decode(std::span<const TokenId> ids, bool render_special = true) const;

  size_t n_tokens() const { return spec_.tokens.size(); }
  bool valid(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < spec_.tokens.size(); }
  TokenType token_type(TokenId id) const { return types_[id]; }
  const std::string& token_text(TokenId id) const { return spec_.tokens[id]; }  // as stored
  // The token whose stored text is exactly text (special tokens by their raw content), or kNoToken.
  TokenId find_token(std::string_view text) const;

  TokenId bos() const { return spec_.bos; }
  TokenId eos() const { return spec_.eos; }
  TokenId pad() const { return spec_.pad; }
  bool add_bos() const { return !spec_.prefix_tokens.empty() && spec_.prefix_tokens.front() == spec_.bos; }
  // End-of-generation: EOS, EOT, EOM and the usual end-of-turn control tokens.
  bool is_end_of_generation(TokenId id) const;
  const std::vector<TokenId>& end_of_generation_tokens() const { return eog_; }

  const PreTokenizer& pre_tokenizer() const { return *spec_.pre_tokenizer; }
  Normalization normalization() const { return spec_.normalization; }
  bool ignore_merges() const { return spec_.ignore_merges; }
  SpaceCleanup space_cleanup() const { return spec_.space_cleanup; }
  const std::string& chat_template() const { return spec_.chat_template; }
  const std::string& source() const { return spec_.source; }

 private:
  // Open-addressing table (left id, right id) -> (rank, merged id); merges are looked up once per adjacent
  // pair per step, so this is the hot path of encoding.
  struct MergeTable {
    struct Slot {
      uint64_t key = ~uint64_t{0};
      int32_t rank = 0;
      TokenId merged = kNoToken;
    };
    std::vector<Slot> slots;
    uint64_t mask = 0;
    void build(size_t n);
    void insert(TokenId left, TokenId right, int32_t rank, TokenId merged);
    const Slot* find(TokenId left, TokenId right) const;
  };

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TextMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

  void encode_text(std::string_view text, std::vector<TokenId>* out) const;
  void encode_piece(std::string_view piece, std::vector<TokenId>* out) const;
  void merge_small(std::vector<TokenId>* symbols) const;
  void merge_large(std::vector<TokenId>* symbols) const;
  bool special_allowed(TokenId id, bool parse_special) const;

  TokenizerSpec spec_;
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;        // decoded bytes of every token
  std::array<TokenId, 256> byte_tokens_{};  // the token of each single byte (kNoToken when missing)
  MergeTable merges_;
  TextMap stored_to_id_;                    // stored text -> id, every token
  TextMap bytes_to_id_;                     // decoded bytes -> id, normal tokens (ignore_merges)
  // Special tokens (control, user-defined, unknown), bucketed by first byte, longest first.
  std::array<std::vector<TokenId>, 256> specials_by_byte_;
  std::vector<TokenId> eog_;
};

// GPT-2's byte-to-unicode table: the codepoint that stands for each byte in byte-level token texts.
uint32_t byte_to_codepoint(uint8_t byte);
// Decodes a byte-level token text to bytes; false when it contains a character outside the table (those
// characters are then copied through as UTF-8).
bool byte_level_decode(std::string_view text, std::string* out);
std::string byte_level_encode(std::string_view bytes);

// Removes the spaces a word-level detokenizer would not have written, as `style` does it:
// kLlamaCpp: " ?" " !" " ." " ," lose the space; " ' " becomes "'"; " 's" " 'm" " 're" " 've" lose the space
// (" 't" " 'd" " 'll" keep it), three passes over the bytes as llama.cpp's detokenizer makes them.
// kHuggingFace: transformers' replacements, in order: " ." " ?" " !" " ," " ' " " n't" " 'm" " 's" " 've" " 're".
std::string clean_up_spaces(std::string_view text, SpaceCleanup style);

}  // namespace r1
