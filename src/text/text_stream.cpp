// The streaming detokenizer: whole UTF-8 characters out, partial ones held back until the next token.
#include "text_stream.h"

#include "text_unicode.h"

namespace r1 {

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = decode_utf8(text, &pos);
    if (cp == kReplacementCharacter && pos == start + 1 && static_cast<uint8_t>(text[start]) >= 0x80) {
      append_utf8(&out, kReplacementCharacter);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

std::string StreamDecoder::push(TokenId id) { return push_bytes(tokenizer_->token_to_piece(id, render_special_)); }

std::string StreamDecoder::push_bytes(std::string_view bytes) {
  pending_.append(bytes);
  const size_t ready = pending_.size() - incomplete_utf8_suffix(pending_);
  std::string out = replace_invalid_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = replace_invalid_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace r1
