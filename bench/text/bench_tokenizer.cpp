// Tokenizer throughput: MB/s of encoding a large mixed text (English, code, CJK, numbers, emoji, built from the
// fixture texts) with the full qwen2, llama-bpe and deepseek-v3 vocabularies. A program, not a test; it also
// writes the text and vocabulary-only GGUF files so another tokenizer (llama.cpp's) can be timed on the same input.
//
//   bench_tokenizer --fixtures DIR --make OUT_DIR [--mb 8]   writes OUT_DIR/corpus.txt and OUT_DIR/<vocab>.gguf
//   bench_tokenizer --text FILE [--repeats 5] [--ids-out PREFIX] VOCAB...   times encode() on each vocabulary
//
// A vocabulary-only GGUF is a tiny fixture model's metadata (architecture, hyper-parameters) with the full Hugging
// Face vocabulary of its family in the tokenizer.ggml.* keys, and no tensors.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "error.h"
#include "gguf_file.h"
#include "gguf_writer.h"
#include "tokenizer_load.h"

namespace {

namespace fs = std::filesystem;
using namespace r1;

std::string read_file(const fs::path& path) {
  if (path.extension() == ".gz") {
    FILE* pipe = popen(("gzip -dc '" + path.string() + "'").c_str(), "r");
    if (!pipe) throw_error("cannot run gzip on {}", path.string());
    std::string out;
    char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    if (pclose(pipe) != 0) throw_error("gzip failed on {}", path.string());
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open").file(path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error("cannot write").file(path.string());
}

// One unit of the corpus: the fixtures README (English prose with numbers), the chat templates (code), the
// tokenizer test strings (CJK, emoji, other scripts, whitespace runs, digits) four times over, and llama.cpp's
// tokenizer test inputs. The unit is repeated up to the wanted size.
std::string make_corpus(const fs::path& fixtures, size_t min_bytes) {
  std::string unit = read_file(fixtures / "README.md");
  for (const auto& entry : fs::directory_iterator(fixtures / "chat_templates")) unit += read_file(entry.path());
  const auto cases = nlohmann::json::parse(read_file(fixtures / "tokenizer_cases" / "cases.json"));
  for (int round = 0; round < 4; ++round) {
    for (const auto& c : cases.at("cases")) unit += c.at("text").get<std::string>() + "\n";
  }
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(fixtures / "tokenizer_pairs")) {
    if (entry.path().extension() == ".inp") inputs.push_back(entry.path());
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& p : inputs) unit += read_file(p);
  std::string corpus;
  while (corpus.size() < min_bytes) corpus += unit;
  return corpus;
}

struct Family {
  const char* name;      // output file stem and tokenizer.ggml.pre
  const char* hf_dir;    // fixtures/tokenizers/<dir>
  const char* base;      // fixtures/models/<base>: architecture and hyper-parameters
};

constexpr Family kFamilies[] = {
    {"qwen2", "qwen3", "tiny-qwen2-a-s1.Q8_0.gguf"},
    {"llama-bpe", "llama3", "tiny-llama-a-s1.Q8_0.gguf"},
    {"deepseek-v3", "deepseek_v3", "tiny-deepseek2-legacy-a-s1.Q8_0.gguf"},
};

void write_vocab_gguf(const fs::path& fixtures, const Family& family, const fs::path& out) {
  const fs::path dir = fixtures / "tokenizers" / family.hf_dir;
  const TokenizerSpec spec = tokenizer_spec_from_hf(read_file(dir / "tokenizer.json.gz"),
                                                    read_file(dir / "tokenizer_config.json"), dir.string());
  const GgufFile base = GgufFile::open((fixtures / "models" / family.base).string());
  GgufWriter w;
  for (const auto& [key, value] : base.metadata().entries()) {
    if (!key.starts_with("tokenizer.ggml.")) w.set(key, value);
  }
  std::vector<std::string> merges;
  merges.reserve(spec.merges.size());
  for (const auto& [left, right] : spec.merges) merges.push_back(left + " " + right);
  std::vector<int32_t> types(spec.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  for (size_t i = 0; i < spec.types.size(); ++i) types[i] = static_cast<int32_t>(spec.types[i]);
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string(family.name));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(spec.tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(std::move(merges)));
  if (spec.bos != kNoToken) w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(spec.bos)));
  if (spec.eos != kNoToken) w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(spec.eos)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  w.write(out.string());
}

int make(const fs::path& fixtures, const fs::path& out_dir, double mb) {
  fs::create_directories(out_dir);
  const std::string corpus = make_corpus(fixtures, static_cast<size_t>(mb * 1e6));
  write_file(out_dir / "corpus.txt", corpus);
  const size_t ascii = static_cast<size_t>(std::count_if(corpus.begin(), corpus.end(), [](char c) { return (c & 0x80) == 0; }));
  fmt::print("{}: {} bytes, {:.1f}% ASCII\n", (out_dir / "corpus.txt").string(), corpus.size(), 100.0 * ascii / corpus.size());
  for (const Family& family : kFamilies) {
    const fs::path out = out_dir / (std::string(family.name) + ".gguf");
    write_vocab_gguf(fixtures, family, out);
    fmt::print("{}\n", out.string());
  }
  return 0;
}

int bench(const fs::path& text_path, int repeats, const std::string& ids_out, const std::vector<std::string>& vocabs) {
  const std::string text = read_file(text_path);
  const Logger log;
  for (const std::string& vocab : vocabs) {
    const BpeTokenizer tok = load_tokenizer(vocab, log);
    std::vector<TokenId> ids;
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      ids.clear();
      const auto t0 = std::chrono::steady_clock::now();
      tok.encode_into(text, {.parse_special = true, .add_special = false}, &ids);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    fmt::print("r1 {}: {} bytes, {} tokens, best of {}: {:.3f} s, {:.2f} MB/s\n", vocab, text.size(), ids.size(),
               repeats, best, text.size() / best / 1e6);
    if (!ids_out.empty()) {
      const fs::path out = ids_out + fs::path(vocab).stem().string() + ".ids";
      write_file(out, std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(TokenId)));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string fixtures, make_dir, text, ids_out;
  double mb = 8;
  int repeats = 5;
  std::vector<std::string> vocabs;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw_error("{} needs a value", a);
        return argv[++i];
      };
      if (a == "--fixtures") fixtures = value();
      else if (a == "--make") make_dir = value();
      else if (a == "--mb") mb = std::stod(value());
      else if (a == "--text") text = value();
      else if (a == "--repeats") repeats = std::stoi(value());
      else if (a == "--ids-out") ids_out = value();
      else vocabs.push_back(a);
    }
    if (!make_dir.empty()) return make(fixtures.empty() ? "../shared/fixtures" : fixtures, make_dir, mb);
    if (text.empty() || vocabs.empty()) {
      std::fprintf(stderr, "usage: bench_tokenizer --fixtures DIR --make OUT_DIR [--mb 8]\n"
                           "       bench_tokenizer --text FILE [--repeats 5] [--ids-out PREFIX] VOCAB...\n");
      return 2;
    }
    return bench(text, std::max(repeats, 1), ids_out, vocabs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
}
