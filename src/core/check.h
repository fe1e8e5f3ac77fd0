// CHECK / DCHECK: guards for r1's own invariants (never for input validation, which throws r1::Error).
// R1_CHECK is always on; R1_DCHECK compiles away in release builds and guards hot loops.
#pragma once

namespace r1::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* message) noexcept;
}  // namespace r1::detail

#define R1_CHECK(cond, ...)                                                          \
  do {                                                                               \
    if (!(cond)) [[unlikely]]                                                        \
      ::r1::detail::check_failed(#cond, __FILE__, __LINE__, "" __VA_ARGS__);         \
  } while (0)

#ifdef NDEBUG
#define R1_DCHECK(cond, ...) \
  do {                       \
  } while (0)
#else
#define R1_DCHECK(cond, ...) R1_CHECK(cond, __VA_ARGS__)
#endif
