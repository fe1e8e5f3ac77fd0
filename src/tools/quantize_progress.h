// ProgressBar: one self-redrawing line on a terminal (stderr by default), for long file tools such as quantize.
// Draws only when the stream is a TTY, and at most 10 times a second; prints nothing otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace r1 {

class ProgressBar {
 public:
  // total: the unit count at completion (bytes, tensors ...). enabled=false forces it off (tests, --quiet).
  ProgressBar(std::string label, uint64_t total, FILE* stream = stderr, bool enabled = true);
  ~ProgressBar();  // finishes the line if anything was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  bool active() const { return active_; }
  // Sets the amount done and a short detail (the current tensor); redraws when 100 ms have passed.
  void update(uint64_t done, std::string_view detail);
  // Draws the final state and ends the line.
  void finish();

  // The line for a state, without terminal control characters (for tests): "label [####    ]  42% detail".
  static std::string render(std::string_view label, uint64_t done, uint64_t total, std::string_view detail,
                            double seconds, int width);

 private:
  void draw(bool final_draw);

  std::string label_;
  uint64_t total_;
  FILE* stream_;
  bool active_;
  bool drawn_ = false;
  uint64_t done_ = 0;
  std::string detail_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace r1
