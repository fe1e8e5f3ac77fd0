// libFuzzer target for the safetensors reader: any byte string must parse or throw r1::Error, never crash,
// hang or leak. Parsed files have every tensor's first and last byte touched and float tensors decoded.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "error.h"
#include "safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const r1::SafetensorsFile f = r1::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz.safetensors");
    uint64_t sum = 0;
    std::vector<float> floats;
    for (const auto& t : f.tensors()) {
      const auto bytes = f.data(t);
      if (!bytes.empty()) sum += bytes.front() + bytes.back();  // in bounds?
      if (r1::safetensors_dtype_is_float(t.dtype) && t.n_elements <= 4096) {
        floats.resize(t.n_elements);
        r1::safetensors_to_f32(t.dtype, bytes.data(), floats.data(), floats.size());
      }
    }
    return static_cast<int>(sum & 0);
  } catch (const r1::Error&) {
    return 0;
  }
}
