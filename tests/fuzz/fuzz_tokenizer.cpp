// libFuzzer target for the tokenizer: arbitrary bytes through byte-level BPE (special-token matching,
// every pre-tokenizer, merges) with and without special parsing, then decoding whole and streamed. The
// vocabulary is tests/data/tokenizers/tiny-qwen2 (2,000 tokens, the R1-Distill-Qwen special tokens).
// Findings: a crash, a sanitizer report, or a broken invariant (__builtin_trap):
// * every id is valid, and with special parsing off no control token (<｜User｜>, ...) comes out of text;
// * without normalization the pieces of the ids are exactly the input bytes (encoding loses nothing);
// * decode() is the pieces with the vocabulary's space clean-up; streaming gives the sanitized pieces.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "bpe_tokenizer.h"
#include "error.h"
#include "text_stream.h"
#include "tokenizer_load.h"
#include "utf8.h"

namespace {

using namespace r1;

constexpr size_t kMaxInput = 8192;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

std::string read_file_for_fuzz(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The fixture vocabulary under each pre-tokenizer r1 has (hand-written and PCRE2), and once as tokenizer.json
// declares it (NFC normalization).
std::vector<BpeTokenizer> make_tokenizers() {
  const std::string path = std::string(R1_SOURCE_DIR) + "/tests/data/tokenizers/tiny-qwen2/tokenizer.json";
  std::vector<BpeTokenizer> out;
  const Logger log;
  out.push_back(load_tokenizer(path, log));
  const auto variant = [&](const char* pre_name, SpaceCleanup cleanup) {
    TokenizerSpec spec = tokenizer_spec_from_hf(read_file_for_fuzz(path), "", path);
    spec.normalization = Normalization::kNone;
    spec.pre_tokenizer = PreTokenizer::from_gguf_name(pre_name);
    spec.ignore_merges = std::string_view(pre_name) == "llama-bpe";
    spec.space_cleanup = cleanup;
    out.emplace_back(std::move(spec));
  };
  variant("deepseek-r1-qwen", SpaceCleanup::kNone);
  variant("llama-bpe", SpaceCleanup::kLlamaCpp);
  variant("deepseek-v3", SpaceCleanup::kNone);
  variant("gpt2", SpaceCleanup::kHuggingFace);
  variant("deepseek-llm", SpaceCleanup::kLlamaCpp);
  return out;
}

void check(const BpeTokenizer& tok, std::string_view text, bool parse_special, bool add_special, bool exact) {
  const std::vector<TokenId> ids = tok.encode(text, {.parse_special = parse_special, .add_special = add_special});
  std::string pieces;
  StreamDecoder stream(tok);
  std::string streamed;
  for (TokenId id : ids) {
    require(tok.valid(id));
    pieces += tok.token_to_piece(id);
    streamed += stream.push(id);
  }
  streamed += stream.finish();
  require(streamed == sanitize_utf8(pieces));
  require(tok.decode(ids) == clean_up_spaces(pieces, tok.space_cleanup()));
  if (add_special) return;
  if (!parse_special) {
    for (TokenId id : ids) require(tok.token_type(id) != TokenType::kControl);
  }
  if (exact) require(pieces == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<BpeTokenizer> tokenizers = make_tokenizers();
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), std::min(size - 1, kMaxInput));
  const size_t which = selector % tokenizers.size();
  const bool add_special = (selector / tokenizers.size()) % 2 == 1;
  try {
    for (bool parse_special : {false, true}) check(tokenizers[which], text, parse_special, add_special, which != 0);
  } catch (const r1::Error&) {
    __builtin_trap();  // encoding and decoding accept any bytes
  }
  return 0;
}
