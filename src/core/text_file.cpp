// Whole-file reads and depth-bounded JSON parsing (see text_file.h).
#include "text_file.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "error.h"

namespace r1 {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open file").file(path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

nlohmann::json parse_json_bounded(std::string_view text, const std::string& source, int max_depth) {
  try {
    return nlohmann::json::parse(text.begin(), text.end(), [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > max_depth) throw Error(fmt::format("JSON nested deeper than {}", max_depth)).file(source);
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("invalid JSON: {}", e.what())).file(source);
  }
}

}  // namespace r1
