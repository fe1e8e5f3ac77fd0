// Llama 3.1 rope frequency scaling as llama.cpp's converter stores it (`rope_freqs.weight`: one F32 divisor per
// rotated pair), shared by `r1 convert` (numbers from config.json) and `r1 synth` (the catalog's Llama rows).
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace r1 {

struct Llama3RopeScaling {
  float freq_base = 500000.0f;       // rope_theta
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_context = 8192.0;  // original_max_position_embeddings
};

// Computed in float32 as the converter does (torch float32 arithmetic): wavelengths shorter than
// original_context / high_freq_factor keep their frequency, longer than original_context / low_freq_factor are
// divided by factor, and the band between is interpolated.
inline std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, int64_t head_dim) {
  const double low_wavelen = s.original_context / s.low_freq_factor;
  const double high_wavelen = s.original_context / s.high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const float freq = 1.0f / std::pow(s.freq_base, static_cast<float>(i) / static_cast<float>(head_dim));
    const float wavelen = static_cast<float>(2 * std::numbers::pi) / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(s.factor));
    } else {
      const float smooth = (static_cast<float>(s.original_context) / wavelen - static_cast<float>(s.low_freq_factor)) /
                           static_cast<float>(s.high_freq_factor - s.low_freq_factor);
      out.push_back(1.0f / ((1.0f - smooth) / static_cast<float>(s.factor) + smooth));
    }
  }
  return out;
}

}  // namespace r1
