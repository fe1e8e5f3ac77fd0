// Pins every code table that defines a format (i-quant lattices, IQ4_NL and FP4 levels, the even-parity sign
// table) by checksum and sample entries, and decodes every 8-bit code of the table-driven formats.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "half.h"
#include "quant_blocks.h"
#include "quant_grids.h"
#include "quant_lattice.h"
#include "quant_row.h"

namespace r1 {
namespace {

// FNV-1a over the little-endian bytes of each entry.
template <typename T>
uint64_t fnv1a(const T* values, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    for (size_t b = 0; b < sizeof(T); ++b) {
      h ^= static_cast<uint8_t>(static_cast<uint64_t>(values[i]) >> (8 * b));
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

TEST(QuantTables, LatticesArePinned) {
  // Checksums and entries taken from the format definition (llama.cpp ggml-common.h).
  EXPECT_EQ(fnv1a(kIq2XxsGrid, 256), 0xbb4ee025b5ac6e8eull);
  EXPECT_EQ(fnv1a(kIq2XsGrid, 512), 0xc9b1ee61e79909bdull);
  EXPECT_EQ(fnv1a(kIq2SGrid, 1024), 0x123edd38a3b62b90ull);
  EXPECT_EQ(fnv1a(kIq3XxsGrid, 256), 0xdfa5dc83d6a155d5ull);
  EXPECT_EQ(fnv1a(kIq3SGrid, 512), 0xfa37020c25b44829ull);
  EXPECT_EQ(fnv1a(kIq1SGrid, 2048), 0x6703ed863501ae2eull);

  EXPECT_EQ(kIq2XxsGrid[1], 0x080808080808082bull);
  EXPECT_EQ(kIq2XxsGrid[128], 0x082b2b0808082b08ull);
  EXPECT_EQ(kIq2XxsGrid[255], 0x2b2b2b1908081908ull);
  EXPECT_EQ(kIq2XsGrid[256], 0x190808080808192bull);
  EXPECT_EQ(kIq2XsGrid[511], 0x2b2b2b2b2b2b2b2bull);
  EXPECT_EQ(kIq2SGrid[512], 0x19080819082b1919ull);
  EXPECT_EQ(kIq3XxsGrid[128], 0x141c3e04u);
  EXPECT_EQ(kIq3XxsGrid[255], 0x3e341c04u);
  EXPECT_EQ(kIq3SGrid[256], 0x05090507u);
  EXPECT_EQ(kIq3SGrid[511], 0x0f0f0101u);
  EXPECT_EQ(kIq1SGrid[0], 0xffffffffffffffffull);
  EXPECT_EQ(kIq1SGrid[1024], 0x0000000000ff0100ull);
  EXPECT_EQ(kIq1SGrid[2047], 0x0101010101010101ull);
}

TEST(QuantTables, LatticeCoordinatesAreInTheirAlphabets) {
  for (uint64_t e : kIq2XsGrid) {
    for (int j = 0; j < 8; ++j) EXPECT_TRUE(grid_byte(e, j) == 8 || grid_byte(e, j) == 25 || grid_byte(e, j) == 43);
  }
  for (uint64_t e : kIq1SGrid) {
    for (int j = 0; j < 8; ++j) EXPECT_LE(std::abs(grid_sbyte(e, j)), 1);
  }
  for (uint32_t e : kIq3SGrid) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(grid_byte(e, j) % 2, 1);
  }
}

TEST(QuantTables, ValueTablesAndSigns) {
  const int8_t iq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kIq4NlValues[i], iq4[i]);
  const int8_t fp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kFp4Values[i], fp4[i]);
  // ggml's ksigns_iq2xs starts 0, 129, 130, 3, 132 and ends 126, 255.
  EXPECT_EQ(kSignsEven[0], 0);
  EXPECT_EQ(kSignsEven[1], 129);
  EXPECT_EQ(kSignsEven[3], 3);
  EXPECT_EQ(kSignsEven[4], 132);
  EXPECT_EQ(kSignsEven[126], 126);
  EXPECT_EQ(kSignsEven[127], 255);
  for (int i = 0; i < 128; ++i) EXPECT_EQ(std::popcount(static_cast<unsigned>(kSignsEven[i])) % 2, 0);
}

TEST(QuantTables, LatticeIndexesMapEveryGridPointToItself) {
  for (LatticeKind kind : {LatticeKind::kIq2Xxs, LatticeKind::kIq2Xs, LatticeKind::kIq2S, LatticeKind::kIq3Xxs,
                           LatticeKind::kIq3S}) {
    const LatticeIndex& lattice = lattice_index(kind);
    for (int g = 0; g < lattice.grid_size(); ++g) {
      int8_t L[8];
      for (int i = 0; i < lattice.dims; ++i) L[i] = static_cast<int8_t>((lattice.point(g)[i] - 1) / 2);
      ASSERT_EQ(lattice.map[cube_index(lattice, L)], g);
    }
    // Every off-grid cube point has at least one neighbour.
    for (int m : lattice.map) {
      if (m < 0) {
        ASSERT_GT(lattice.neighbours_of(m).size(), 0u);
      }
    }
  }
}

// Decodes one block of a 32-element format with every byte value in every code position.
template <typename Block>
std::vector<float> decode_block(GgmlType type, const Block& b) {
  std::vector<float> out(type_info(type).block_size);
  dequantize_row(type, &b, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

TEST(QuantTables, EveryCodeOfIq4NlAndMxfp4) {
  for (int code = 0; code < 256; ++code) {
    BlockIq4Nl b{};
    b.d = fp32_to_fp16(0.5f);
    std::memset(b.qs, code, sizeof b.qs);
    const auto y = decode_block(GgmlType::kIQ4_NL, b);
    for (int j = 0; j < 16; ++j) {
      ASSERT_EQ(y[j], 0.5f * kIq4NlValues[code & 15]);
      ASSERT_EQ(y[j + 16], 0.5f * kIq4NlValues[code >> 4]);
    }
    BlockMxfp4 m{};
    m.e = 127;  // 2^0: the E2M1 value itself
    std::memset(m.qs, code, sizeof m.qs);
    const auto z = decode_block(GgmlType::kMXFP4, m);
    ASSERT_EQ(z[0], 0.5f * kFp4Values[code & 15]);
    ASSERT_EQ(z[16], 0.5f * kFp4Values[code >> 4]);
  }
  // Every E8M0 exponent: 2^(e-127), with e = 0 and 1 as subnormals.
  for (int e = 0; e < 255; ++e) {
    BlockMxfp4 m{};
    m.e = static_cast<uint8_t>(e);
    std::memset(m.qs, 0x22, sizeof m.qs);  // E2M1 code 2 = 1.0
    const auto z = decode_block(GgmlType::kMXFP4, m);
    ASSERT_EQ(z[0], std::ldexp(1.0f, e - 127)) << e;
  }
}

TEST(QuantTables, EveryCodeOfTernaryFormats) {
  // TQ1_0: every byte the encoder can write (ceil(v*256/243), v < 243) decodes to v's five trits.
  for (int v = 0; v < 243; ++v) {
    BlockTq1_0 b{};
    b.d = fp32_to_fp16(1.0f);
    std::memset(b.qs, (v * 256 + 242) / 243, sizeof b.qs);
    const auto y = decode_block(GgmlType::kTQ1_0, b);
    int digits[5], rest = v;
    for (int t = 4; t >= 0; --t) {
      digits[t] = rest % 3;
      rest /= 3;
    }
    for (int t = 0; t < 5; ++t) ASSERT_EQ(y[32 * t], digits[t] - 1.0f) << "v=" << v << " trit " << t;
  }
  // TQ2_0: each 2-bit field decodes to q - 1.
  for (int code = 0; code < 256; ++code) {
    BlockTq2_0 b{};
    b.d = fp32_to_fp16(1.0f);
    std::memset(b.qs, code, sizeof b.qs);
    const auto y = decode_block(GgmlType::kTQ2_0, b);
    for (int l = 0; l < 4; ++l) ASSERT_EQ(y[32 * l], static_cast<float>(((code >> (2 * l)) & 3) - 1));
  }
}

TEST(QuantTables, EveryGridIndexOfTheIQuants) {
  // IQ2_XS: 9-bit index and 7 sign bits in each uint16; a scale nibble of 3 makes the block scale d.
  for (int index = 0; index < 512; ++index) {
    BlockIq2Xs b{};
    b.d = fp32_to_fp16(1.0f);
    std::memset(b.scales, 0x33, sizeof b.scales);  // (0.5 + 3) * 0.25 = 0.875
    for (uint16_t& q : b.qs) q = static_cast<uint16_t>(index | (5 << 9));  // signs 5 -> mask kSignsEven[5]
    const auto y = decode_block(GgmlType::kIQ2_XS, b);
    for (int j = 0; j < 8; ++j) {
      const float expect = 0.875f * grid_byte(kIq2XsGrid[index], j) * (kSignsEven[5] & (1 << j) ? -1.f : 1.f);
      ASSERT_EQ(y[j], expect) << index;
    }
  }
  // IQ1_S: all 2048 indexes (8 low bits in qs, 3 high bits per group in qh), scale code 0, positive delta.
  for (int index = 0; index < 2048; ++index) {
    BlockIq1S b{};
    b.d = fp32_to_fp16(1.0f);
    std::memset(b.qs, index & 255, sizeof b.qs);
    for (uint16_t& h : b.qh) h = static_cast<uint16_t>((index >> 8) * 0x249);  // same 3 bits for all 4 groups
    const auto y = decode_block(GgmlType::kIQ1_S, b);
    for (int j = 0; j < 8; ++j) ASSERT_EQ(y[j], grid_sbyte(kIq1SGrid[index], j) + kIq1Delta) << index;
  }
}

}  // namespace
}  // namespace r1
