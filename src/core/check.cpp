// The one place an internal invariant failure ends the process, with where it happened.
#include "check.h"

#include <cstdio>
#include <cstdlib>

namespace r1::detail {

void check_failed(const char* expr, const char* file, int line, const char* message) noexcept {
  std::fprintf(stderr, "r1: internal check failed: %s at %s:%d%s%s\n", expr, file, line, message[0] ? ": " : "",
               message);
  std::abort();
}

}  // namespace r1::detail
