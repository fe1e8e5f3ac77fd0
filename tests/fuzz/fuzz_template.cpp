// libFuzzer target for the chat-template interpreter: arbitrary template source is parsed and, when it parses,
// rendered over a small conversation with tight limits. Anything but output or an r1::Error is a finding: a
// crash, a sanitizer report, a hang, unbounded memory, or output beyond the limit (__builtin_trap).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat_template.h"
#include "error.h"

namespace {

constexpr size_t kMaxSource = 16384;
constexpr size_t kMaxOutput = 1 << 16;

const nlohmann::ordered_json& messages() {
  static const nlohmann::ordered_json m = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi <think> 中文 😀"},
    {"role": "assistant", "content": "<think>\nok\n</think>\n\nHello!", "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{\"x\": [1, 2.5, null, true]}"}}]},
    {"role": "tool", "content": "42"},
    {"role": "user", "content": ""}
  ])");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), std::min(size, kMaxSource));
  r1::ChatTemplateOptions options{.add_generation_prompt = size % 2 == 0,
                                  .bos_token = "<｜begin▁of▁sentence｜>",
                                  .eos_token = "<｜end▁of▁sentence｜>",
                                  .extra_variables = {{"tools", nlohmann::ordered_json::array({{{"name", "f"}}})}},
                                  .limits = {.max_output_bytes = kMaxOutput,
                                             .max_loop_iterations = 20000,
                                             .max_call_depth = 16}};
  try {
    const r1::ChatTemplate tmpl = r1::ChatTemplate::parse(source);
    const std::string out = tmpl.render(messages(), options);
    if (out.size() > kMaxOutput) __builtin_trap();
  } catch (const r1::Error&) {
  }
  return 0;
}
