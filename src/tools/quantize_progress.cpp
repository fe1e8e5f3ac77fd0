// ProgressBar drawing: carriage return, the line, erase to end of line; terminal width from TIOCGWINSZ.
#include "quantize_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace r1 {
namespace {

int terminal_width(FILE* stream) {
  winsize ws{};
  if (::ioctl(::fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total, FILE* stream, bool enabled)
    : label_(std::move(label)), total_(total), stream_(stream),
      active_(enabled && stream != nullptr && ::isatty(::fileno(stream)) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_() {}

ProgressBar::~ProgressBar() {
  if (drawn_) finish();
}

void ProgressBar::update(uint64_t done, std::string_view detail) {
  if (!active_) return;
  done_ = done;
  detail_.assign(detail);
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;  // ≤ 10 redraws a second
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish() {
  if (!active_) return;
  done_ = total_;
  detail_.clear();
  draw(true);
  std::fputc('\n', stream_);
  std::fflush(stream_);
  drawn_ = false;
  active_ = false;
}

void ProgressBar::draw(bool final_draw) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = render(label_, done_, total_, detail_, seconds, terminal_width(stream_) - 1);
  std::fprintf(stream_, "\r%s\x1b[K", line.c_str());
  if (!final_draw) std::fflush(stream_);
  drawn_ = true;
}

std::string ProgressBar::render(std::string_view label, uint64_t done, uint64_t total, std::string_view detail,
                                double seconds, int width) {
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  std::string eta;
  if (fraction > 0.0 && fraction < 1.0 && seconds > 1.0) {
    const int left = static_cast<int>(seconds * (1.0 - fraction) / fraction);
    eta = fmt::format(" eta {}:{:02}", left / 60, left % 60);
  } else if (fraction >= 1.0) {
    eta = fmt::format(" {:.1f}s", seconds);
  }
  const std::string tail = fmt::format(" {:3.0f}%{}", fraction * 100.0, eta);
  const int bar = std::clamp(width / 3, 10, 40);
  const int filled = static_cast<int>(fraction * bar + 0.5);
  std::string line = fmt::format("{} [{}{}]{}", label, std::string(filled, '#'), std::string(bar - filled, ' '), tail);
  if (!detail.empty()) line += fmt::format(" {}", detail);
  if (width > 0 && static_cast<int>(line.size()) > width) line.resize(static_cast<size_t>(width));
  return line;
}

}  // namespace r1
