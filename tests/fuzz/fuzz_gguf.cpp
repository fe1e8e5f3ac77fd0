// libFuzzer target for the GGUF reader: any byte string must parse or throw r1::Error, never crash, hang or
// leak. Parsed files also go through the metadata accessors and the inspect report, which touch every field.
#include <cstddef>
#include <cstdint>
#include <span>

#include "error.h"
#include "gguf_file.h"
#include "gguf_inspect.h"
#include "gguf_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const r1::GgufFile f = r1::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    for (const auto& [key, value] : f.metadata().entries()) {
      (void)r1::gguf_value_text(value, 4);
      (void)r1::gguf_value_json(value).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    uint64_t sum = 0;
    for (const auto& t : f.tensors()) {
      const auto bytes = f.tensor_data(t);
      if (!bytes.empty()) sum += bytes.front() + bytes.back();  // touches the first and last byte: in bounds?
    }
    (void)f.metadata().find_string("general.architecture");
    (void)f.metadata().find_int("general.file_type");
    return static_cast<int>(sum & 0);
  } catch (const r1::Error&) {
    return 0;
  }
}
