// Loading a BpeTokenizer from a GGUF file's metadata (tokenizer.ggml.*, vocabulary-only files too) or from a
// Hugging Face tokenizer.json (+ tokenizer_config.json beside it). The tokenizer itself is bpe_tokenizer.h.
#pragma once

#include <string>
#include <string_view>

#include "bpe_tokenizer.h"
#include "gguf_file.h"
#include "log.h"

namespace r1 {

// From GGUF metadata. A missing `tokenizer.ggml.pre` warns on log and uses llama.cpp's "default" pattern.
TokenizerSpec tokenizer_spec_from_gguf(const GgufMetadata& metadata, const Logger& log);
BpeTokenizer load_tokenizer_gguf(const GgufMetadata& metadata, const Logger& log);
BpeTokenizer load_tokenizer_gguf_file(const std::string& path, const Logger& log);

// From the text of a tokenizer.json and (optionally, may be empty) of its tokenizer_config.json.
TokenizerSpec tokenizer_spec_from_hf(std::string_view tokenizer_json, std::string_view config_json, std::string source);
// tokenizer_json_path names the tokenizer.json; a tokenizer_config.json in the same folder is read when present.
BpeTokenizer load_tokenizer_hf_file(const std::string& tokenizer_json_path, const Logger& log);

// Any of the above by path: a folder (its tokenizer.json), a tokenizer_config.json (the tokenizer.json beside it),
// another *.json file (a tokenizer.json), or a GGUF file.
BpeTokenizer load_tokenizer(const std::string& path, const Logger& log);

}  // namespace r1
