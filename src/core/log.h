// Logger: leveled messages to a sink (stderr by default). Quiet by default: only errors and warnings show;
// each -v on the command line raises the level by one. No global instance: it travels in a context object.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace r1 {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

std::string_view log_level_name(LogLevel level);

class Logger {
 public:
  using Sink = std::function<void(LogLevel, std::string_view)>;

  Logger();  // stderr sink, level kWarn
  Logger(LogLevel level, Sink sink) : level_(level), sink_(std::move(sink)) {}

  LogLevel level() const { return level_; }
  void set_level(LogLevel level) { level_ = level; }
  // -v → info, -vv → debug, -vvv → trace.
  void set_verbosity(int verbose_count);
  bool enabled(LogLevel level) const { return static_cast<int>(level) <= static_cast<int>(level_); }

  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(level)) sink_(level, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) const { log(LogLevel::kError, f, std::forward<Args>(a)...); }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... a) const { log(LogLevel::kWarn, f, std::forward<Args>(a)...); }
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) const { log(LogLevel::kInfo, f, std::forward<Args>(a)...); }
  template <typename... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) const { log(LogLevel::kDebug, f, std::forward<Args>(a)...); }

 private:
  LogLevel level_;
  Sink sink_;
};

}  // namespace r1
