// StreamDecoder: turns generated token ids into text as they arrive, holding back the bytes of a UTF-8
// character that is not complete yet, so a caller never prints half a character. Invalid bytes come out as
// U+FFFD (core's sanitize_utf8). Splitting reasoning from answer is reasoning_split.h's job.
#pragma once

#include <string>

#include "bpe_tokenizer.h"

namespace r1 {

class StreamDecoder {
 public:
  explicit StreamDecoder(const BpeTokenizer& tokenizer, bool render_special = true)
      : tokenizer_(&tokenizer), render_special_(render_special) {}

  // The text that token id completes (possibly empty while a character is still incomplete).
  std::string push(TokenId id);
  // The text of raw bytes, for callers that already hold pieces.
  std::string push_bytes(std::string_view bytes);
  // End of stream: what is still held back, an incomplete character becoming U+FFFD.
  std::string finish();
  bool has_pending() const { return !pending_.empty(); }

 private:
  const BpeTokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace r1
