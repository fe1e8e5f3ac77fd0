// Perplexity arithmetic against hand-computed values, the reference-run statistics (identical runs: KLD 0,
// same top 100 %; a known pair of distributions), and the reference-logits file: round trip and every way a
// damaged file must be refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "error.h"
#include "perplexity.h"

namespace r1 {
namespace {

TEST(Perplexity, LogSoftmaxIsNormalizedAndShiftInvariant) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, -1000.0f};
  std::vector<float> lp;
  log_softmax(logits.data(), 4, lp);
  double sum = 0;
  for (float v : lp) sum += std::exp(static_cast<double>(v));
  EXPECT_NEAR(sum, 1.0, 1e-6);
  const double z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(lp[2], 3.0 - z, 1e-6);
  std::vector<float> shifted = {1001.0f, 1002.0f, 1003.0f, 0.0f}, lp2;
  log_softmax(shifted.data(), 4, lp2);
  EXPECT_NEAR(lp2[0], lp[0], 1e-5);
}

TEST(Perplexity, UniformModelHasPerplexityOfTheVocabulary) {
  const int64_t n_vocab = 7;
  std::vector<float> logits(n_vocab, 0.5f), lp;
  log_softmax(logits.data(), n_vocab, lp);
  QualityAccumulator acc;
  for (int i = 0; i < 20; ++i) acc.add(lp.data(), n_vocab, i % n_vocab);
  const QualitySummary s = acc.summary();
  EXPECT_EQ(s.positions, 20u);
  EXPECT_NEAR(s.ppl, 7.0, 1e-5);
  EXPECT_NEAR(s.ppl_err, 0.0, 1e-6);
  EXPECT_FALSE(s.has_base);
  EXPECT_THROW(acc.add(lp.data(), n_vocab, 7), Error);
}

TEST(Perplexity, PerplexityIsExpOfMeanNegativeLogLikelihood) {
  // Two positions: the right token has probability 1/2, then 1/8: PPL = exp((ln 2 + ln 8) / 2) = 4.
  const float a[2] = {std::log(0.5f), std::log(0.5f)};
  const float b[2] = {std::log(0.875f), std::log(0.125f)};
  QualityAccumulator acc;
  acc.add(a, 2, 0);
  acc.add(b, 2, 1);
  EXPECT_NEAR(acc.summary().ppl, 4.0, 1e-5);
  EXPECT_NEAR(acc.running_ppl(), 4.0, 1e-5);
}

TEST(Perplexity, AgainstAReferenceRun) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const int64_t n_vocab = 50;
  QualityAccumulator same, other;
  std::vector<float> logits(n_vocab), lp, noisy(n_vocab), lq;
  for (int pos = 0; pos < 200; ++pos) {
    for (auto& v : logits) v = normal(rng);
    log_softmax(logits.data(), n_vocab, lp);
    for (int64_t i = 0; i < n_vocab; ++i) noisy[static_cast<size_t>(i)] = logits[static_cast<size_t>(i)] + 0.3f * normal(rng);
    log_softmax(noisy.data(), n_vocab, lq);
    const int32_t next = static_cast<int32_t>(rng() % n_vocab);
    same.add(lp.data(), n_vocab, next, lp.data());
    other.add(lq.data(), n_vocab, next, lp.data());
  }
  const QualitySummary s = same.summary();
  ASSERT_TRUE(s.has_base);
  EXPECT_EQ(s.kld, 0.0);
  EXPECT_EQ(s.kld_pct.max, 0.0);
  EXPECT_EQ(s.same_top, 1.0);
  EXPECT_EQ(s.dp, 0.0);
  EXPECT_NEAR(s.ln_ppl_ratio, 0.0, 1e-12);
  EXPECT_NEAR(s.ppl, s.ppl_base, 1e-9);

  const QualitySummary o = other.summary();
  EXPECT_GT(o.kld, 0.001);
  EXPECT_LT(o.kld, 1.0);
  EXPECT_LE(o.kld_pct.min, o.kld_pct.median);
  EXPECT_LE(o.kld_pct.median, o.kld_pct.max);
  EXPECT_GT(o.same_top, 0.3);
  EXPECT_LT(o.same_top, 1.0);
  EXPECT_GT(o.dp_rms, 0.0);
}

TEST(Perplexity, KldOfAKnownPair) {
  // KL(base || q) with base = (1/2, 1/2), q = (3/4, 1/4): 0.5 ln(2/3) + 0.5 ln 2 = 0.5 ln(4/3).
  const float base[2] = {std::log(0.5f), std::log(0.5f)};
  const float q[2] = {std::log(0.75f), std::log(0.25f)};
  QualityAccumulator acc;
  acc.add(q, 2, 0, base);
  const QualitySummary s = acc.summary();
  EXPECT_NEAR(s.kld, 0.5 * std::log(4.0 / 3.0), 1e-6);
  EXPECT_NEAR(s.dp, 0.25, 1e-6);  // the right token went from 1/2 to 3/4
  EXPECT_EQ(s.same_top, 1.0);     // argmax ties resolve to the first token in both
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("r1_ppl_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Perplexity, ReferenceFileRoundTripsAndRefusesDamage) {
  const int n_ctx = 8;  // scores positions 4..6: 3 rows per chunk
  const int64_t n_vocab = 5;
  std::vector<int32_t> tokens(2 * n_ctx);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i % n_vocab);
  const std::string path = temp_path("ref.bin");
  std::vector<std::vector<float>> rows;
  {
    ReferenceLogitsWriter w(path, n_ctx, n_vocab, tokens);
    for (int r = 0; r < 6; ++r) {
      std::vector<float> logits(n_vocab), lp;
      for (int64_t i = 0; i < n_vocab; ++i) logits[static_cast<size_t>(i)] = static_cast<float>((r + 1) * i) * 0.25f;
      log_softmax(logits.data(), n_vocab, lp);
      rows.push_back(lp);
      w.add_row(lp.data());
    }
    EXPECT_THROW(w.add_row(rows[0].data()), Error);
    w.commit();
  }
  ReferenceLogitsReader r(path);
  EXPECT_EQ(r.n_ctx(), n_ctx);
  EXPECT_EQ(r.n_vocab(), n_vocab);
  EXPECT_EQ(r.n_chunks(), 2);
  EXPECT_EQ(r.tokens(), tokens);
  std::vector<float> got;
  for (uint64_t i = 0; i < 6; ++i) {
    r.row(i, got);
    for (int64_t v = 0; v < n_vocab; ++v) EXPECT_NEAR(got[static_cast<size_t>(v)], rows[i][static_cast<size_t>(v)], 2e-3);
  }
  EXPECT_THROW(r.row(6, got), Error);

  // An unfinished writer leaves nothing behind.
  const std::string unfinished = temp_path("unfinished.bin");
  {
    ReferenceLogitsWriter w(unfinished, n_ctx, n_vocab, tokens);
    w.add_row(rows[0].data());
    EXPECT_THROW(w.commit(), Error);
  }
  EXPECT_FALSE(std::filesystem::exists(unfinished));

  // Truncated, extended, wrong magic, absurd header.
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; };
  const std::string bad = temp_path("bad.bin");
  write(bad, bytes.substr(0, bytes.size() - 1));
  EXPECT_THROW(ReferenceLogitsReader{bad}, Error);
  write(bad, bytes + "x");
  EXPECT_THROW(ReferenceLogitsReader{bad}, Error);
  write(bad, "R1KLBASX" + bytes.substr(8));
  EXPECT_THROW(ReferenceLogitsReader{bad}, Error);
  std::string huge = bytes;
  huge[16] = '\xff';  // n_vocab's high byte
  huge[17] = '\xff';
  huge[18] = '\xff';
  huge[19] = '\x7f';
  write(bad, huge);
  EXPECT_THROW(ReferenceLogitsReader{bad}, Error);
  write(bad, bytes.substr(0, 10));
  EXPECT_THROW(ReferenceLogitsReader{bad}, Error);
  std::filesystem::remove(bad);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace r1
