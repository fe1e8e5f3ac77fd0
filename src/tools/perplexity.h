// Perplexity, and the quality of a model against a saved reference run (KL divergence, top-1 agreement, the
// change in the probability of the right token), measured as llama.cpp's perplexity tool measures them: the
// text's tokens cut into chunks of n_ctx, each chunk starting with BOS when the model adds one, evaluated
// alone, and scored on its second half (the logits at positions n_ctx/2 .. n_ctx-2 predict the next token).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace r1 {

class AtomicFile;
class MappedFile;

// The first scored position of a chunk; a chunk of n_ctx scores n_ctx - 1 - first positions.
inline int perplexity_first_scored(int n_ctx) { return n_ctx / 2; }

// How many chunks of n_ctx tokens a text of n_tokens gives, as llama.cpp's perplexity and imatrix tools cut it
// (whole chunks only, at least two; max_chunks > 0 caps the count). Throws r1::Error naming text_file when the
// text is too short.
int perplexity_chunk_count(size_t n_tokens, int n_ctx, int max_chunks, const std::string& text_file);
// Chunk c: tokens [c * n_ctx, (c + 1) * n_ctx) of the whole text, its first token replaced by BOS when the
// model adds one (bos set), so each chunk is evaluated alone as if it began the text.
std::vector<int32_t> perplexity_chunk(const std::vector<int32_t>& tokens, int n_ctx, int c, std::optional<int32_t> bos);

// log(softmax(logits)), computed in double and stored as float.
void log_softmax(const float* logits, int64_t n_vocab, std::vector<float>& out);

struct Percentiles {
  double max = 0, p99_9 = 0, p99 = 0, p95 = 0, p90 = 0, p75 = 0, median = 0, p25 = 0, p10 = 0, p5 = 0, p1 = 0,
         p0_1 = 0, min = 0;
};

struct QualitySummary {
  size_t positions = 0;
  double ppl = 0, ppl_err = 0;  // exp(mean negative log-likelihood) and its standard error
  bool has_base = false;        // the rest needs a reference run
  double ppl_base = 0;
  double ln_ppl_ratio = 0, ln_ppl_ratio_err = 0;  // mean(nll - nll_base)
  double kld = 0, kld_err = 0;                    // mean KL(base || model) per position
  Percentiles kld_pct;
  double dp = 0, dp_err = 0, dp_rms = 0;  // p_model(right token) - p_base(right token)
  Percentiles dp_pct;
  double same_top = 0, same_top_err = 0;  // share of positions where both put the same token first
};

// Accumulates scored positions: the model's log-probabilities, the token that came next, and optionally the
// reference run's log-probabilities for the same position.
class QualityAccumulator {
 public:
  void add(const float* logprobs, int64_t n_vocab, int32_t next_token, const float* base_logprobs = nullptr);
  // Perplexity of everything added so far (llama.cpp prints it after each chunk).
  double running_ppl() const;
  QualitySummary summary() const;

 private:
  std::vector<double> nll_, nll_base_, kld_, dp_;
  size_t same_top_ = 0;
};

// The reference-run file (--save-logits, --kld-base): "R1KLBASE", version 1, n_ctx, n_vocab, n_chunks (uint32
// each), the chunks' tokens (int32, n_chunks × n_ctx), then each scored position's log-probabilities as fp16
// (n_chunks × (n_ctx - 1 - n_ctx/2) rows of n_vocab).
class ReferenceLogitsWriter {
 public:
  ReferenceLogitsWriter(const std::string& path, int n_ctx, int64_t n_vocab, const std::vector<int32_t>& tokens);
  ~ReferenceLogitsWriter();
  void add_row(const float* logprobs);
  void commit();  // checks that every row was written, then renames the file into place

 private:
  std::unique_ptr<AtomicFile> file_;
  int64_t n_vocab_;
  uint64_t rows_expected_, rows_ = 0;
  std::vector<uint16_t> buf_;
};

class ReferenceLogitsReader {
 public:
  // Validates the header and that the size matches it exactly; throws r1::Error naming the file.
  explicit ReferenceLogitsReader(const std::string& path);
  ~ReferenceLogitsReader();
  int n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return n_vocab_; }
  int n_chunks() const { return n_chunks_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Scored position `row` (chunk-major) as float log-probabilities.
  void row(uint64_t row, std::vector<float>& out) const;

 private:
  std::unique_ptr<MappedFile> file_;
  int n_ctx_ = 0;
  int64_t n_vocab_ = 0;
  int n_chunks_ = 0;
  std::vector<int32_t> tokens_;
  uint64_t rows_offset_ = 0;
};

}  // namespace r1
