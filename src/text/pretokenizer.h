// Pre-tokenizers: split text into the pieces that byte-level BPE then encodes one by one. Hand-written splitters
// for the patterns the R1 family uses (qwen2, llama3, deepseek-v3, gpt2) over the generated Unicode tables, and
// PCRE2 for any other pattern list. Choosing one from a GGUF `tokenizer.ggml.pre` name or from tokenizer.json
// regexes lives here too; BPE itself is bpe_tokenizer.h's job.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

enum class PreTokenizerKind {
  kGpt2,        // 's|'t|... ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,      // the Llama 3 pattern: letters with one leading non-letter, digits in groups of up to 3
  kQwen2,       // the Llama 3 pattern with single digits (Qwen2, R1-Distill-Qwen)
  kDeepSeekV3,  // digits in groups of 3, then CJK/kana runs, then the DeepSeek-V3 main pattern
  kRegex,       // any list of patterns, run by PCRE2 (deepseek-llm, deepseek-coder, default, unknown tokenizer.json)
};

// A piece of the input: [begin, end) byte offsets.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
  bool operator==(const TextSpan&) const = default;
};

// Compiled PCRE2 pattern list applied as successive "isolated" splits (each pattern splits every piece the
// previous one produced; text between matches stays a piece of its own), as llama.cpp and Hugging Face do.
class RegexSplitter {
 public:
  explicit RegexSplitter(std::vector<std::string> patterns);  // throws r1::Error on a pattern PCRE2 rejects
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  const std::vector<std::string>& patterns() const { return patterns_; }
  void split(std::string_view text, std::vector<TextSpan>* out) const;

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::unique_ptr<Compiled> compiled_;
};

class PreTokenizer {
 public:
  // From a GGUF `tokenizer.ggml.pre` value; an unknown name throws r1::Error listing the known names.
  static PreTokenizer from_gguf_name(std::string_view name);
  // From the Split regexes of a tokenizer.json (in order): known patterns get the hand-written splitter.
  static PreTokenizer from_regexes(const std::vector<std::string>& patterns);
  static PreTokenizer from_kind(PreTokenizerKind kind);
  // The pattern list llama.cpp uses when `tokenizer.ggml.pre` is missing ("default").
  static PreTokenizer default_for_missing_name();
  // The GGUF names from_gguf_name accepts, for error messages and docs.
  static std::span<const std::string_view> known_gguf_names();

  PreTokenizer(PreTokenizer&&) noexcept = default;
  PreTokenizer& operator=(PreTokenizer&&) noexcept = default;

  PreTokenizerKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  // The regexes this pre-tokenizer is equivalent to (the PCRE2 oracle of the tests runs these).
  const std::vector<std::string>& patterns() const { return patterns_; }

  // Appends the pieces of text to *out, in order, covering every byte of text exactly once.
  void split(std::string_view text, std::vector<TextSpan>* out) const;

 private:
  PreTokenizer(PreTokenizerKind kind, std::string name, std::vector<std::string> patterns);

  PreTokenizerKind kind_;
  std::string name_;
  std::vector<std::string> patterns_;
  std::unique_ptr<RegexSplitter> regex_;  // kRegex only
};

// The hand-written splitters, exposed for the differential tests against RegexSplitter.
void split_gpt2(std::string_view text, std::vector<TextSpan>* out);
void split_llama3(std::string_view text, size_t max_digits, std::vector<TextSpan>* out);
void split_deepseek_v3(std::string_view text, std::vector<TextSpan>* out);

// The patterns themselves (facts taken from the tokenizer.json files and llama.cpp's llama-vocab.cpp).
extern const char kGpt2Pattern[];
extern const char kLlama3Pattern[];
extern const char kQwen2Pattern[];
extern const char* const kDeepSeekV3Patterns[3];

}  // namespace r1
