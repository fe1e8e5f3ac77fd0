// Helpers shared by the text-layer tests: reading (gzipped) fixture text, loading the fixture tokenizers once.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "bpe_tokenizer.h"
#include "log.h"
#include "tokenizer_load.h"

namespace r1::text_test {

inline std::string read_text(const std::filesystem::path& path) {
  std::string out;
  const bool gz = path.extension() == ".gz";
  const std::string command = (gz ? "gzip -dc '" : "cat '") + path.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

inline Logger quiet_logger() {
  return Logger(LogLevel::kError, [](LogLevel, std::string_view) {});
}

// Full Hugging Face tokenizer of a family folder under fixtures/tokenizers (qwen3, llama3, deepseek_v3).
inline const BpeTokenizer& hf_family_tokenizer(const std::filesystem::path& fixtures, const std::string& family) {
  static std::map<std::string, std::unique_ptr<BpeTokenizer>> cache;
  auto& slot = cache[family];
  if (!slot) {
    const auto dir = fixtures / "tokenizers" / family;
    const std::string json = read_text(dir / "tokenizer.json.gz");
    const std::string config = read_text(dir / "tokenizer_config.json");
    slot = std::make_unique<BpeTokenizer>(tokenizer_spec_from_hf(json, config, (dir / "tokenizer.json").string()));
  }
  return *slot;
}

// The tokenizer inside a tiny fixture model (its Q8_0 file: uncompressed, same vocabulary as the F32 one).
inline const BpeTokenizer& tiny_gguf_tokenizer(const std::filesystem::path& fixtures, const std::string& stem) {
  static std::map<std::string, std::unique_ptr<BpeTokenizer>> cache;
  auto& slot = cache[stem];
  if (!slot) {
    const auto path = fixtures / "models" / (stem + ".Q8_0.gguf");
    slot = std::make_unique<BpeTokenizer>(load_tokenizer_gguf_file(path.string(), quiet_logger()));
  }
  return *slot;
}

}  // namespace r1::text_test
