// Renders an r1::Error with its context as one line: "FILE: at byte N: tensor 'T': key 'K': message".
#include "error.h"

namespace r1 {

void Error::render() {
  std::string out;
  if (file_) out += *file_ + ": ";
  if (offset_) out += fmt::format("at byte {}: ", *offset_);
  if (tensor_) out += fmt::format("tensor '{}': ", *tensor_);
  if (key_) out += fmt::format("key '{}': ", *key_);
  out += message_;
  rendered_ = std::move(out);
}

}  // namespace r1
