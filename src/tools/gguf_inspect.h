// The report behind `r1 inspect`: a summary of a GGUF file or split set (architecture, sizes, shapes, types,
// tokenizer), the full metadata and the tensor list, as JSON for scripts and as text for people.
// Reads headers only: instant on a 100 GB split set.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "gguf_set.h"

namespace r1 {

struct InspectOptions {
  bool tensors = false;  // text: list every tensor (JSON always has them)
};

nlohmann::ordered_json inspect_json(const GgufSet& set);
std::string inspect_text(const GgufSet& set, const InspectOptions& options);

// A metadata value as JSON (arrays in full, strings with invalid UTF-8 replaced).
nlohmann::ordered_json gguf_value_json(const GgufValue& value);
// A metadata value as one line of text; arrays longer than max_items are summarized.
std::string gguf_value_text(const GgufValue& value, size_t max_items);

}  // namespace r1
