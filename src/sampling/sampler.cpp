// The sampler chain. Each filter keeps at least one candidate, so a draw always has something to pick.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace r1 {

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

void Sampler::apply_penalties(std::span<const int32_t> history) {
  if (options_.repeat_penalty == 1.0f && options_.frequency_penalty == 0.0f && options_.presence_penalty == 0.0f) return;
  const size_t n = std::min(history.size(), static_cast<size_t>(std::max(0, options_.repeat_last_n)));
  std::unordered_map<int32_t, int> counts;
  for (size_t i = history.size() - n; i < history.size(); ++i) ++counts[history[i]];
  for (auto& c : candidates_) {
    const auto it = counts.find(c.id);
    if (it == counts.end()) continue;
    // As llama.cpp (and CTRL): divide positive logits, multiply negative ones, then the OpenAI-style terms.
    c.logit = c.logit > 0 ? c.logit / options_.repeat_penalty : c.logit * options_.repeat_penalty;
    c.logit -= static_cast<float>(it->second) * options_.frequency_penalty + options_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  apply_penalties(history);

  const auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (options_.temperature <= 0.0f) {
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
  }
  size_t keep = candidates_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) keep = static_cast<size_t>(options_.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Probabilities of the (untempered) kept candidates, for top-p and min-p.
  const auto softmax = [this](float temperature) {
    const float max_logit = candidates_.front().logit;
    double sum = 0.0;
    for (auto& c : candidates_) {
      c.p = std::exp((c.logit - max_logit) / temperature);
      sum += c.p;
    }
    for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  };
  softmax(1.0f);
  if (options_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t n = 0;
    while (n < candidates_.size()) {
      cumulative += candidates_[n].p;
      ++n;
      if (cumulative >= options_.top_p) break;
    }
    candidates_.resize(std::max<size_t>(1, n));
  }
  if (options_.min_p > 0.0f) {
    const float threshold = candidates_.front().p * options_.min_p;
    size_t n = 1;
    while (n < candidates_.size() && candidates_[n].p >= threshold) ++n;
    candidates_.resize(n);
  }
  softmax(options_.temperature);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double r = uniform(rng_);
  double cumulative = 0.0;
  for (const auto& c : candidates_) {
    cumulative += c.p;
    if (r < cumulative) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace r1
