// The code tables that define the non-linear formats: the i-quant lattices (data in quant_grids.cpp), the
// IQ4_NL and FP4 value tables and the even-parity sign table. Read-only data; the quantizers' search
// indexes over these lattices live next to each quantizer.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace r1 {

// Each lattice entry packs 8 (uint64) or 4 (uint32) coordinates, one byte each, first coordinate lowest.
extern const uint64_t kIq2XxsGrid[256];  // coordinates in {8, 25, 43}
extern const uint64_t kIq2XsGrid[512];   // coordinates in {8, 25, 43}
extern const uint64_t kIq2SGrid[1024];   // coordinates in {8, 25, 43}
extern const uint32_t kIq3XxsGrid[256];  // coordinates in {4, 12, ..., 62}
extern const uint32_t kIq3SGrid[512];    // coordinates in {1, 3, ..., 15}
extern const uint64_t kIq1SGrid[2048];   // coordinates in {-1, 0, 1} as int8

// IQ4_NL / IQ4_XS: the 16 non-linear levels.
inline constexpr std::array<int8_t, 16> kIq4NlValues = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                       1,    13,   25,  38,  53,  69,  89,  113};
// MXFP4 / NVFP4: the E2M1 values, doubled so that they are integers (the scale carries the 1/2).
inline constexpr std::array<int8_t, 16> kFp4Values = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// IQ2/IQ3 store 7 sign bits per 8 values; the 8th makes the count of negative signs even. Entry i is the
// full 8-bit sign mask for the stored 7 bits i (bit j set: value j negative).
inline constexpr std::array<uint8_t, 128> kSignsEven = [] {
  std::array<uint8_t, 128> t{};
  for (int i = 0; i < 128; ++i) t[i] = static_cast<uint8_t>(i | ((std::popcount(static_cast<unsigned>(i)) & 1) << 7));
  return t;
}();

// Coordinate j (0-based) of a packed lattice entry.
inline uint8_t grid_byte(uint64_t entry, int j) { return static_cast<uint8_t>(entry >> (8 * j)); }
inline int8_t grid_sbyte(uint64_t entry, int j) { return static_cast<int8_t>(entry >> (8 * j)); }

// IQ1_S / IQ1_M: the offset added to every lattice coordinate (its sign is a per-group bit).
inline constexpr float kIq1Delta = 0.125f;

}  // namespace r1
