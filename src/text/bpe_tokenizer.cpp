// Byte-level BPE: special-token partitioning, pre-tokenization and merges in token-id space, and decoding.
// Matches llama.cpp's llm_tokenizer_bpe and Hugging Face's BPE model: the adjacent pair with the lowest merge
// rank is merged first, the leftmost one among equals.
#include "bpe_tokenizer.h"

#include <algorithm>
#include <climits>
#include <queue>

#include <fmt/format.h>

#include "error.h"
#include "text_unicode.h"

namespace r1 {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes (controls, space,
// DEL, NBSP, soft hyphen ...) are moved to U+0100 onwards in byte order, so every token text is printable.
constexpr std::array<uint16_t, 256> make_byte_table() {
  std::array<uint16_t, 256> table{};
  uint16_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? static_cast<uint16_t>(b) : next++;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kByteToCodepoint = make_byte_table();

constexpr int kNotAByte = -1;
constexpr std::array<int16_t, 324> make_codepoint_table() {
  std::array<int16_t, 324> table{};
  for (auto& v : table) v = kNotAByte;
  for (int b = 0; b < 256; ++b) table[kByteToCodepoint[b]] = static_cast<int16_t>(b);
  return table;
}
constexpr std::array<int16_t, 324> kCodepointToByte = make_codepoint_table();

// Words longer than this (in bytes) use the heap-based merge loop; shorter ones a scan, which is faster for
// the few-symbol words that dominate real text.
constexpr size_t kSmallWord = 48;

constexpr std::string_view kEndOfTurnTexts[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end_of_text|>",
                                                "<|endoftext|>"};

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

uint32_t byte_to_codepoint(uint8_t byte) { return kByteToCodepoint[byte]; }

bool byte_level_decode(std::string_view text, std::string* out) {
  bool clean = true;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = decode_utf8(text, &pos);
    if (cp < kCodepointToByte.size() && kCodepointToByte[cp] != kNotAByte) {
      out->push_back(static_cast<char>(kCodepointToByte[cp]));
    } else {
      out->append(text.substr(start, pos - start));
      clean = false;
    }
  }
  return clean;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(&out, kByteToCodepoint[static_cast<uint8_t>(c)]);
  return out;
}

// ---- MergeTable -------------------------------------------------------------------------------------------

void BpeTokenizer::MergeTable::build(size_t n) {
  size_t capacity = 16;
  while (capacity < n + n / 2) capacity *= 2;
  slots.assign(capacity, Slot{});
  mask = capacity - 1;
}

static inline uint64_t merge_key(TokenId left, TokenId right) {
  return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
}
static inline uint64_t merge_hash(uint64_t key) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ull;
  return key ^ (key >> 32);
}

void BpeTokenizer::MergeTable::insert(TokenId left, TokenId right, int32_t rank, TokenId merged) {
  const uint64_t key = merge_key(left, right);
  for (uint64_t i = merge_hash(key) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots[i];
    if (slot.key == key) return;  // a repeated pair keeps its first (lowest) rank
    if (slot.key == ~uint64_t{0}) {
      slot = {key, rank, merged};
      return;
    }
  }
}

const BpeTokenizer::MergeTable::Slot* BpeTokenizer::MergeTable::find(TokenId left, TokenId right) const {
  const uint64_t key = merge_key(left, right);
  for (uint64_t i = merge_hash(key) & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots[i];
    if (slot.key == key) return &slot;
    if (slot.key == ~uint64_t{0}) return nullptr;
  }
}

// ---- Construction -----------------------------------------------------------------------------------------

BpeTokenizer::BpeTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
  const size_t n = spec_.tokens.size();
  const auto fail = [&](std::string message) { return Error(std::move(message)).file(spec_.source); };
  if (n == 0) throw fail("tokenizer has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) throw fail("tokenizer has too many tokens");
  if (!spec_.pre_tokenizer) throw fail("tokenizer has no pre-tokenizer");
  if (!spec_.types.empty() && spec_.types.size() != n) {
    throw fail(fmt::format("{} token types for {} tokens", spec_.types.size(), n));
  }
  types_ = spec_.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : spec_.types;
  spec_.lstrip.resize(n, 0);
  spec_.rstrip.resize(n, 0);
  for (TokenId* id : {&spec_.bos, &spec_.eos, &spec_.eot, &spec_.eom, &spec_.pad, &spec_.unk}) {
    if (*id != kNoToken && !valid(*id)) throw fail(fmt::format("special token id {} out of range (vocabulary {})", *id, n));
  }
  for (const auto* list : {&spec_.prefix_tokens, &spec_.suffix_tokens}) {
    for (TokenId id : *list) {
      if (!valid(id)) throw fail(fmt::format("added token id {} out of range (vocabulary {})", id, n));
    }
  }

  pieces_.resize(n);
  stored_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<TokenId>(i);
    const std::string& text = spec_.tokens[i];
    stored_to_id_.emplace(text, id);
    switch (types_[i]) {
      case TokenType::kNormal:
      case TokenType::kByte:
      case TokenType::kUnknown:
      case TokenType::kUndefined:
        byte_level_decode(text, &pieces_[i]);
        if (types_[i] == TokenType::kNormal && !text.empty()) bytes_to_id_.emplace(pieces_[i], id);
        break;
      case TokenType::kControl:
      case TokenType::kUserDefined:
      case TokenType::kUnused:
        pieces_[i] = text;
        break;
    }
    const bool special = types_[i] == TokenType::kControl || types_[i] == TokenType::kUserDefined ||
                         types_[i] == TokenType::kUnknown;
    if (special && !text.empty()) specials_by_byte_[static_cast<uint8_t>(text[0])].push_back(id);
  }
  for (auto& bucket : specials_by_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](TokenId a, TokenId b) { return spec_.tokens[a].size() > spec_.tokens[b].size(); });
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = stored_to_id_.find(codepoint_to_utf8(kByteToCodepoint[b]));
    byte_tokens_[b] = it == stored_to_id_.end() ? kNoToken : it->second;
  }

  merges_.build(spec_.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const auto& [left, right] = spec_.merges[rank];
    joined.assign(left).append(right);
    const auto l = stored_to_id_.find(left);
    const auto r = stored_to_id_.find(right);
    const auto m = stored_to_id_.find(joined);
    // A merge whose parts or result are not tokens can never produce a token; skipping it changes nothing
    // for consistent vocabularies and keeps the id-space merge loop total.
    if (l == stored_to_id_.end() || r == stored_to_id_.end() || m == stored_to_id_.end()) continue;
    merges_.insert(l->second, r->second, static_cast<int32_t>(rank), m->second);
  }
  spec_.merges.clear();
  spec_.merges.shrink_to_fit();

  for (TokenId id : {spec_.eos, spec_.eot, spec_.eom}) {
    if (id != kNoToken && std::find(eog_.begin(), eog_.end(), id) == eog_.end()) eog_.push_back(id);
  }
  for (std::string_view text : kEndOfTurnTexts) {
    const TokenId id = find_token(text);
    if (id != kNoToken && types_[id] == TokenType::kControl && std::find(eog_.begin(), eog_.end(), id) == eog_.end()) {
      eog_.push_back(id);
    }
  }
}

TokenId BpeTokenizer::find_token(std::string_view text) const {
  const auto it = stored_to_id_.find(text);
  return it == stored_to_id_.end() ? kNoToken : it->second;
}

bool BpeTokenizer::is_end_of_generation(TokenId id) const {
  return std::find(eog_.begin(), eog_.end(), id) != eog_.end();
}

// ---- Encoding ---------------------------------------------------------------------------------------------

bool BpeTokenizer::special_allowed(TokenId id, bool parse_special) const {
  return types_[id] == TokenType::kUserDefined || parse_special;
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  encode_into(text, options, &out);
  return out;
}

void BpeTokenizer::encode_into(std::string_view text, const EncodeOptions& options, std::vector<TokenId>* out) const {
  if (options.add_special) out->insert(out->end(), spec_.prefix_tokens.begin(), spec_.prefix_tokens.end());
  // Special tokens are found first, leftmost and then longest (as Hugging Face's added-token matcher does);
  // the text between them goes through normalization, pre-tokenization and BPE.
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto& bucket = specials_by_byte_[static_cast<uint8_t>(text[pos])];
    TokenId match = kNoToken;
    for (TokenId id : bucket) {
      if (special_allowed(id, options.parse_special) && text.substr(pos).starts_with(spec_.tokens[id])) {
        match = id;
        break;
      }
    }
    if (match == kNoToken) {
      ++pos;
      continue;
    }
    size_t plain_end = pos;
    if (spec_.lstrip[match]) {
      while (plain_end > plain_start && is_ascii_space(text[plain_end - 1])) --plain_end;
    }
    encode_text(text.substr(plain_start, plain_end - plain_start), out);
    out->push_back(match);
    pos += spec_.tokens[match].size();
    if (spec_.rstrip[match]) {
      while (pos < text.size() && is_ascii_space(text[pos])) ++pos;
    }
    plain_start = pos;
  }
  encode_text(text.substr(plain_start), out);
  if (options.add_special) out->insert(out->end(), spec_.suffix_tokens.begin(), spec_.suffix_tokens.end());
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<TokenId>* out) const {
  if (text.empty()) return;
  std::string normalized;
  if (spec_.normalization == Normalization::kNfc) {
    normalized = normalize_nfc(text);
    text = normalized;
  }
  std::vector<TextSpan> pieces;
  spec_.pre_tokenizer->split(text, &pieces);
  for (const TextSpan& piece : pieces) encode_piece(text.substr(piece.begin, piece.end - piece.begin), out);
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<TokenId>* out) const {
  if (piece.size() == 1) {
    const TokenId id = byte_tokens_[static_cast<uint8_t>(piece[0])];
    if (id != kNoToken) out->push_back(id);
    return;
  }
  if (spec_.ignore_merges) {
    const auto it = bytes_to_id_.find(piece);
    if (it != bytes_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<TokenId> symbols;
  symbols.reserve(piece.size());
  // A byte without a token is dropped, as Hugging Face's BPE does without byte fallback or unknown token.
  for (char c : piece) {
    const TokenId id = byte_tokens_[static_cast<uint8_t>(c)];
    if (id != kNoToken) symbols.push_back(id);
  }
  if (symbols.size() <= kSmallWord) {
    merge_small(&symbols);
  } else {
    merge_large(&symbols);
  }
  out->insert(out->end(), symbols.begin(), symbols.end());
}

void BpeTokenizer::merge_small(std::vector<TokenId>* symbols) const {
  std::vector<TokenId>& s = *symbols;
  while (s.size() >= 2) {
    int32_t best_rank = INT32_MAX;
    size_t best = 0;
    TokenId best_merged = kNoToken;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const MergeTable::Slot* slot = merges_.find(s[i], s[i + 1]);
      if (slot != nullptr && slot->rank < best_rank) {
        best_rank = slot->rank;
        best = i;
        best_merged = slot->merged;
      }
    }
    if (best_merged == kNoToken) break;
    s[best] = best_merged;
    s.erase(s.begin() + static_cast<ptrdiff_t>(best) + 1);
  }
}

void BpeTokenizer::merge_large(std::vector<TokenId>* symbols) const {
  // Doubly linked symbols and a min-heap of candidate pairs ordered by (rank, left position). A candidate is
  // stale when either side has changed since it was pushed; a symbol's text only grows from a fixed start, so
  // comparing the two ids is enough to tell.
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    int32_t rank;
    int32_t left;
    TokenId left_id;
    TokenId right_id;
    TokenId merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const auto n = static_cast<int32_t>(symbols->size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {(*symbols)[i], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto push = [&](int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    const int32_t right = sym[left].next;
    const MergeTable::Slot* slot = merges_.find(sym[left].id, sym[right].id);
    if (slot != nullptr) heap.push({slot->rank, left, sym[left].id, sym[right].id, slot->merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& left = sym[c.left];
    if (left.id != c.left_id || left.next < 0) continue;
    Symbol& right = sym[left.next];
    if (right.id != c.right_id) continue;
    left.id = c.merged;
    right.id = kNoToken;
    left.next = right.next;
    if (left.next >= 0) sym[left.next].prev = c.left;
    push(left.prev);
    push(c.left);
  }
  symbols->clear();
  for (int32_t i = 0; i >= 0 && i < n; i = sym[i].next) symbols->push_back(sym[i].id);
}

// ---- Decoding ---------------------------------------------------------------------------------------------

std::string_view BpeTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (!valid(id)) return {};
  const TokenType type = types_[id];
  if ((type == TokenType::kControl || type == TokenType::kUnused) && !render_special) return {};
  return pieces_[id];
}

std::string BpeTokenizer::decode(std::span<const TokenId> ids, bool render_special) const {
  std::string out;
  for (TokenId id : ids) out.append(token_to_piece(id, render_special));
  return spec_.space_cleanup == SpaceCleanup::kNone ? out : clean_up_spaces(out, spec_.space_cleanup);
}

namespace {

// llama.cpp's clean-up, one pass at a time; each pass keeps the first byte and looks at the bytes around the
// current one in its own input.
std::string drop_space_before_punctuation(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    const char x = in[i];
    if (i > 0 && in[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) out.pop_back();
    out += x;
  }
  return out;
}

std::string join_lone_apostrophe(std::string_view in) {
  std::string out;
  bool prev_space = false;  // the byte before i counts as a space (a joined " ' " hides its right space)
  for (size_t i = 0; i < in.size(); ++i) {
    const char x = in[i];
    if (i > 0 && x == '\'' && prev_space && i + 1 < in.size() && in[i + 1] == ' ') {
      out.back() = x;  // " ' " -> "'": the left space replaced, the right one skipped
      ++i;
      prev_space = false;
      continue;
    }
    out += x;
    prev_space = x == ' ';
  }
  return out;
}

std::string join_contractions(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    const char x = in[i];
    if (i > 0 && in[i - 1] == ' ' && x == '\'' && i + 1 < in.size()) {
      const char x1 = in[i + 1];
      const char x2 = i + 2 < in.size() ? in[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm' || ((x1 == 'r' || x1 == 'v') && x2 == 'e')) out.pop_back();
    }
    out += x;
  }
  return out;
}

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s->find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(*s, pos, hit - pos);
    out.append(to);
  }
  if (pos == 0) return;
  out.append(*s, pos);
  *s = std::move(out);
}

}  // namespace

std::string clean_up_spaces(std::string_view text, SpaceCleanup style) {
  switch (style) {
    case SpaceCleanup::kNone:
      return std::string(text);
    case SpaceCleanup::kLlamaCpp:
      return join_contractions(join_lone_apostrophe(drop_space_before_punctuation(text)));
    case SpaceCleanup::kHuggingFace: {
      std::string out(text);
      static constexpr std::string_view kReplacements[][2] = {
          {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
          {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
      for (const auto& [from, to] : kReplacements) replace_all(&out, from, to);
      return out;
    }
  }
  return std::string(text);
}

}  // namespace r1
