// Sampler: turns a row of logits into the next token. The chain follows llama.cpp's default order:
// repetition/frequency/presence penalties, top-k, top-p, min-p, temperature, then a draw from a seeded
// generator (same seed and inputs, same tokens). Temperature <= 0 means greedy (argmax after penalties).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace r1 {

struct SamplerOptions {
  float temperature = 0.6f;   // R1's recommended default
  int top_k = 40;             // 0: off
  float top_p = 0.95f;        // 1: off
  float min_p = 0.05f;        // 0: off
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;     // tokens of history the penalties look at
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);

  // Picks a token from logits (n_vocab values). history: the tokens so far (prompt and generated).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  const SamplerOptions& options() const { return options_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties(std::span<const int32_t> history);

  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
};

}  // namespace r1
