// r1::Error: the one exception type for anything a file, a flag or a request can trigger, with its context.
// Callers add context (file, tensor, key, byte offset) as the error travels up; what() renders one line.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace r1 {

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) { render(); }

  // Context setters return *this so a throw site reads as one expression:
  //   throw Error("tensor data out of bounds").file(path).tensor(name).offset(off);
  Error& file(std::string path) & { file_ = std::move(path); render(); return *this; }
  Error& tensor(std::string name) & { tensor_ = std::move(name); render(); return *this; }
  Error& key(std::string name) & { key_ = std::move(name); render(); return *this; }
  Error& offset(uint64_t byte_offset) & { offset_ = byte_offset; render(); return *this; }
  Error&& file(std::string path) && { return std::move(file(std::move(path))); }
  Error&& tensor(std::string name) && { return std::move(tensor(std::move(name))); }
  Error&& key(std::string name) && { return std::move(key(std::move(name))); }
  Error&& offset(uint64_t byte_offset) && { return std::move(offset(byte_offset)); }

  const std::string& message() const { return message_; }
  const std::optional<std::string>& file_context() const { return file_; }
  const std::optional<std::string>& tensor_context() const { return tensor_; }
  const std::optional<std::string>& key_context() const { return key_; }
  const std::optional<uint64_t>& offset_context() const { return offset_; }

  const char* what() const noexcept override { return rendered_.c_str(); }

 private:
  void render();

  std::string message_;
  std::optional<std::string> file_;
  std::optional<std::string> tensor_;
  std::optional<std::string> key_;
  std::optional<uint64_t> offset_;
  std::string rendered_;
};

// Formats and throws in one call: throw_error("bad type id {}", id) — for sites that need no context.
template <typename... Args>
[[noreturn]] void throw_error(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace r1
