// Perplexity and reference-run statistics (see perplexity.h).
#include "perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "atomic_file.h"
#include "check.h"
#include "error.h"
#include "half.h"
#include "mapped_file.h"

namespace r1 {

int perplexity_chunk_count(size_t n_tokens, int n_ctx, int max_chunks, const std::string& text_file) {
  if (n_ctx < 4) throw Error(fmt::format("-c {} is too small (at least 4)", n_ctx));
  const size_t ctx = static_cast<size_t>(n_ctx);
  if (n_tokens < 2 * ctx) {
    throw Error(fmt::format("the text has {} tokens; a context of {} needs at least {} (two chunks)", n_tokens, ctx,
                            2 * ctx))
        .file(text_file);
  }
  const int n = static_cast<int>(std::min<size_t>(n_tokens / ctx, 1u << 30));
  return max_chunks > 0 ? std::min(n, max_chunks) : n;
}

std::vector<int32_t> perplexity_chunk(const std::vector<int32_t>& tokens, int n_ctx, int c, std::optional<int32_t> bos) {
  const size_t begin = static_cast<size_t>(c) * static_cast<size_t>(n_ctx);
  R1_CHECK(c >= 0 && begin + static_cast<size_t>(n_ctx) <= tokens.size());
  std::vector<int32_t> chunk(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                             tokens.begin() + static_cast<std::ptrdiff_t>(begin + static_cast<size_t>(n_ctx)));
  if (bos) chunk[0] = *bos;
  return chunk;
}

void log_softmax(const float* logits, int64_t n_vocab, std::vector<float>& out) {
  out.resize(static_cast<size_t>(n_vocab));
  float max = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_sum = std::log(sum) + max;
  for (int64_t i = 0; i < n_vocab; ++i) out[static_cast<size_t>(i)] = static_cast<float>(logits[i] - log_sum);
}

namespace {

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

// Mean and its standard error (the sample standard deviation over sqrt(n - 1), as llama.cpp reports).
std::pair<double, double> mean_and_error(const std::vector<double>& v) {
  if (v.empty()) return {0.0, 0.0};
  double sum = 0.0, sum2 = 0.0;
  for (double x : v) {
    sum += x;
    sum2 += x * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = sum / n;
  const double var = std::max(0.0, sum2 / n - mean * mean);
  return {mean, v.size() > 1 ? std::sqrt(var / (n - 1.0)) : 0.0};
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double f) { return v[static_cast<size_t>(std::lround(f * static_cast<double>(v.size() - 1)))]; };
  p.max = v.back();
  p.p99_9 = at(0.999);
  p.p99 = at(0.99);
  p.p95 = at(0.95);
  p.p90 = at(0.90);
  p.p75 = at(0.75);
  p.median = at(0.5);
  p.p25 = at(0.25);
  p.p10 = at(0.10);
  p.p5 = at(0.05);
  p.p1 = at(0.01);
  p.p0_1 = at(0.001);
  p.min = v.front();
  return p;
}

}  // namespace

void QualityAccumulator::add(const float* logprobs, int64_t n_vocab, int32_t next_token, const float* base) {
  if (next_token < 0 || next_token >= n_vocab) throw Error(fmt::format("token {} is outside the vocabulary", next_token));
  const double lp = logprobs[next_token];
  nll_.push_back(-lp);
  if (base == nullptr) return;
  const double lpb = base[next_token];
  nll_base_.push_back(-lpb);
  double kld = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const double pb = std::exp(static_cast<double>(base[i]));
    if (pb > 0.0) kld += pb * (static_cast<double>(base[i]) - logprobs[i]);  // 0 · log 0 counts as 0
  }
  kld_.push_back(std::max(0.0, kld));  // rounding can leave a tiny negative sum for identical distributions
  dp_.push_back(std::exp(lp) - std::exp(lpb));
  same_top_ += argmax(logprobs, n_vocab) == argmax(base, n_vocab) ? 1 : 0;
}

double QualityAccumulator::running_ppl() const { return std::exp(mean_and_error(nll_).first); }

QualitySummary QualityAccumulator::summary() const {
  QualitySummary s;
  s.positions = nll_.size();
  const auto [nll, nll_err] = mean_and_error(nll_);
  s.ppl = std::exp(nll);
  s.ppl_err = s.ppl * nll_err;
  if (nll_base_.empty()) return s;
  s.has_base = true;
  s.ppl_base = std::exp(mean_and_error(nll_base_).first);
  std::vector<double> diff(nll_.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = nll_[i] - nll_base_[i];
  std::tie(s.ln_ppl_ratio, s.ln_ppl_ratio_err) = mean_and_error(diff);
  std::tie(s.kld, s.kld_err) = mean_and_error(kld_);
  s.kld_pct = percentiles(kld_);
  std::tie(s.dp, s.dp_err) = mean_and_error(dp_);
  double sq = 0.0;
  for (double d : dp_) sq += d * d;
  s.dp_rms = std::sqrt(sq / static_cast<double>(dp_.size()));
  s.dp_pct = percentiles(dp_);
  const double n = static_cast<double>(nll_.size());
  s.same_top = static_cast<double>(same_top_) / n;
  s.same_top_err = n > 1 ? std::sqrt(s.same_top * (1.0 - s.same_top) / (n - 1.0)) : 0.0;
  return s;
}

// ---- the reference-run file

namespace {

constexpr char kMagic[8] = {'R', '1', 'K', 'L', 'B', 'A', 'S', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 8 + 4 * 4;

uint64_t scored_per_chunk(int n_ctx) { return static_cast<uint64_t>(n_ctx - 1 - perplexity_first_scored(n_ctx)); }

}  // namespace

ReferenceLogitsWriter::ReferenceLogitsWriter(const std::string& path, int n_ctx, int64_t n_vocab,
                                             const std::vector<int32_t>& tokens)
    : file_(std::make_unique<AtomicFile>(path)), n_vocab_(n_vocab) {
  if (n_ctx < 2 || n_vocab <= 0 || tokens.size() % static_cast<size_t>(n_ctx) != 0) {
    throw Error("reference logits: the tokens must be whole chunks").file(path);
  }
  const uint32_t n_chunks = static_cast<uint32_t>(tokens.size() / static_cast<size_t>(n_ctx));
  rows_expected_ = n_chunks * scored_per_chunk(n_ctx);
  const uint32_t header[4] = {kVersion, static_cast<uint32_t>(n_ctx), static_cast<uint32_t>(n_vocab), n_chunks};
  file_->write(kMagic, sizeof kMagic);
  file_->write(header, sizeof header);
  file_->write(tokens.data(), tokens.size() * sizeof(int32_t));
  buf_.resize(static_cast<size_t>(n_vocab));
}

ReferenceLogitsWriter::~ReferenceLogitsWriter() = default;

void ReferenceLogitsWriter::add_row(const float* logprobs) {
  if (rows_ >= rows_expected_) throw Error("reference logits: more rows than the chunks score");
  for (int64_t i = 0; i < n_vocab_; ++i) buf_[static_cast<size_t>(i)] = fp32_to_fp16(logprobs[i]);
  file_->write(buf_.data(), buf_.size() * sizeof(uint16_t));
  ++rows_;
}

void ReferenceLogitsWriter::commit() {
  if (rows_ != rows_expected_) {
    throw Error(fmt::format("reference logits: {} of {} rows written", rows_, rows_expected_));
  }
  file_->commit();
}

ReferenceLogitsReader::ReferenceLogitsReader(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  const uint8_t* d = file_->data();
  const uint64_t size = file_->size();
  if (size < kHeaderBytes || std::memcmp(d, kMagic, sizeof kMagic) != 0) {
    throw Error("not an r1 reference-logits file (written by r1 perplexity --save-logits)").file(path);
  }
  uint32_t header[4];
  std::memcpy(header, d + 8, sizeof header);
  if (header[0] != kVersion) throw Error(fmt::format("reference-logits version {} is not supported", header[0])).file(path);
  if (header[1] < 2 || header[1] > (1u << 24) || header[2] == 0 || header[2] > (1u << 24) || header[3] == 0 ||
      header[3] > (1u << 24)) {
    throw Error(fmt::format("reference-logits header out of range: n_ctx {}, n_vocab {}, chunks {}", header[1],
                            header[2], header[3]))
        .file(path);
  }
  n_ctx_ = static_cast<int>(header[1]);
  n_vocab_ = header[2];
  n_chunks_ = static_cast<int>(header[3]);
  const uint64_t n_tokens = static_cast<uint64_t>(n_chunks_) * static_cast<uint64_t>(n_ctx_);
  rows_offset_ = kHeaderBytes + n_tokens * 4;
  const uint64_t rows = static_cast<uint64_t>(n_chunks_) * scored_per_chunk(n_ctx_);
  const uint64_t expected = rows_offset_ + rows * static_cast<uint64_t>(n_vocab_) * 2;
  if (size != expected) {
    throw Error(fmt::format("reference-logits file has {} bytes, its header needs {} (truncated or damaged)", size,
                            expected))
        .file(path);
  }
  tokens_.resize(n_tokens);
  std::memcpy(tokens_.data(), d + kHeaderBytes, n_tokens * 4);
}

ReferenceLogitsReader::~ReferenceLogitsReader() = default;

void ReferenceLogitsReader::row(uint64_t r, std::vector<float>& out) const {
  const uint64_t rows = static_cast<uint64_t>(n_chunks_) * scored_per_chunk(n_ctx_);
  if (r >= rows) throw Error(fmt::format("reference-logits row {} of {}", r, rows)).file(file_->path());
  out.resize(static_cast<size_t>(n_vocab_));
  const uint8_t* p = file_->data() + rows_offset_ + r * static_cast<uint64_t>(n_vocab_) * 2;
  for (int64_t i = 0; i < n_vocab_; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    out[static_cast<size_t>(i)] = fp16_to_fp32(h);
  }
}

}  // namespace r1
