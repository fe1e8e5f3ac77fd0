// Reading untrusted text inputs (JSON configs, tokenizer files, problem sets): the whole file as a string, and
// JSON parsed with its nesting bounded before nlohmann's recursive structures see it.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace r1 {

// The file's bytes; r1::Error naming the file when it cannot be opened.
std::string read_text_file(const std::string& path);

// Parses JSON whose nesting is at most max_depth; r1::Error naming source otherwise or on a syntax error.
nlohmann::json parse_json_bounded(std::string_view text, const std::string& source, int max_depth = 64);

}  // namespace r1
