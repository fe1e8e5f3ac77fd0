// Logger defaults: the stderr sink and the -v mapping.
#include "log.h"

#include <algorithm>
#include <cstdio>

namespace r1 {

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kTrace: return "trace";
  }
  return "?";
}

Logger::Logger()
    : level_(LogLevel::kWarn), sink_([](LogLevel level, std::string_view message) {
        std::fprintf(stderr, "r1: %.*s: %.*s\n", static_cast<int>(log_level_name(level).size()),
                     log_level_name(level).data(), static_cast<int>(message.size()), message.data());
      }) {}

void Logger::set_verbosity(int verbose_count) {
  const int level = std::clamp(static_cast<int>(LogLevel::kWarn) + verbose_count, 0, static_cast<int>(LogLevel::kTrace));
  level_ = static_cast<LogLevel>(level);
}

}  // namespace r1
