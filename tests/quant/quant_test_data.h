// Loading the all-types format fixture for the quant tests: tests/data/formats (committed copy) first, then the
// shared fixtures folder. Holds the GGUF, ggml's reference dequantization, the importance weights and the JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::testing {

struct AllTypesFixture {
  std::filesystem::path gguf_path;
  std::vector<float> dequant;     // every tensor of the JSON list, rows × cols floats each, in JSON order
  std::vector<float> importance;  // cols values
  nlohmann::json json;
  int rows = 0, cols = 0;
};

// nullopt when neither copy exists.
std::optional<AllTypesFixture> load_all_types_fixture();

}  // namespace r1::testing
