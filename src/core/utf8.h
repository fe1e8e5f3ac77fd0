// UTF-8 validation and repair (strict: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <string>
#include <string_view>

namespace r1 {

bool is_valid_utf8(std::string_view s);
// Number of leading bytes of s that form complete, valid UTF-8 sequences.
size_t valid_utf8_prefix(std::string_view s);
// s with every invalid byte replaced by U+FFFD (for JSON output and terminals).
std::string sanitize_utf8(std::string_view s);

}  // namespace r1
