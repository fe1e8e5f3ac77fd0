// llama.cpp's `general.file_type` values (llama_ftype): the named quantization mixes, by number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1 {

// "Q4_K_M" for 15, "F16" for 1 ...; empty when the number is not one llama.cpp defines.
std::string_view file_type_name(int64_t file_type);

}  // namespace r1
