// The streaming detokenizer: whole UTF-8 characters out, partial ones held back until the next token.
#include "text_stream.h"

#include "text_unicode.h"
#include "utf8.h"

namespace r1 {

std::string StreamDecoder::push(TokenId id) { return push_bytes(tokenizer_->token_to_piece(id, render_special_)); }

std::string StreamDecoder::push_bytes(std::string_view bytes) {
  pending_.append(bytes);
  const size_t ready = pending_.size() - incomplete_utf8_suffix(pending_);
  std::string out = sanitize_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace r1
