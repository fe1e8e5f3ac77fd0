// Search indexes over the i-quant lattices, built once on first use from the grid tables: for every point of
// the integer cube a quantizer rounds to, either its grid index or the list of its nearest grid points.
// The IQ1/IQ2/IQ3 quantizers share them; decoding never needs them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace r1 {

struct LatticeIndex {
  int dims = 0;  // coordinates per grid point: 8 (IQ1, IQ2) or 4 (IQ3)
  int bits = 0;  // bits per coordinate level in a cube index: 2 or 3
  // Grid points as the search sees them: coordinate level l (0, 1, 2, ...) stored as the odd integer 2l+1.
  std::vector<int8_t> points;  // grid_size × dims
  // map[u] for a cube index u (levels packed `bits` per coordinate, first coordinate lowest): >= 0 the grid
  // index of that point; < 0 then -(offset+1), where neighbours[offset] is a count followed by that many
  // grid indices (the points at the nearest few distances, nearest first, ties by index).
  std::vector<int> map;
  std::vector<uint16_t> neighbours;

  const int8_t* point(int index) const { return points.data() + static_cast<size_t>(index) * dims; }
  std::span<const uint16_t> neighbours_of(int map_value) const {
    const uint16_t* p = neighbours.data() + (-map_value - 1);
    return {p + 1, p[0]};
  }
  int grid_size() const { return static_cast<int>(points.size()) / dims; }
};

enum class LatticeKind { kIq2Xxs, kIq2Xs, kIq2S, kIq1S, kIq3Xxs, kIq3S };

// The index of one lattice, built on the first call (thread-safe) and immutable afterwards.
const LatticeIndex& lattice_index(LatticeKind kind);

// The cube index of levels L[0..dims).
inline int cube_index(const LatticeIndex& lattice, const int8_t* L) {
  int u = 0;
  for (int i = 0; i < lattice.dims; ++i) u |= L[i] << (lattice.bits * i);
  return u;
}

}  // namespace r1

namespace r1 {

// The scale-and-points search that IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S share (as ggml runs it): for a
// block of non-negative values xval, scan candidate scales; at each, round every group of `dims` values to
// cube levels, replace off-grid groups by their best neighbour, and keep the least-squares best; then refine.
struct LatticeSearch {
  int kmax_q;      // levels per coordinate: 3 (IQ2) or 8 (IQ3)
  int n_steps;     // candidates is = -n_steps .. n_steps
  float step;      // candidate inverse scales (2*kmax_q - 1 + is*step) / reference
  bool scan_from_qp;  // IQ2_XXS: the reference is a make_qp_quants fit; otherwise the block maximum
  enum class Refine { kOffGridGroups, kAllGroupsIfOffGrid, kAllGroups } refine;
  bool start_on_grid;
};

// Returns the block scale (levels in L, per coordinate), or nullopt when the block is to be stored as all
// zero (IQ2_XXS's degenerate fit). The scale can come out negative only in degenerate cases; callers then
// negate it and flip the signs. n is a multiple of lattice.dims.
std::optional<float> lattice_search(const LatticeIndex& lattice, const LatticeSearch& search, int n, const float* xval,
                     const float* weight, const float* waux, int8_t* L);

// The grid index of the (on-grid) levels of one group; R1_CHECKs that the point is on the grid.
int on_grid_index(const LatticeIndex& lattice, const int8_t* L);

// Splits values into magnitudes and sign bits per group of 8. With even_parity (formats that store 7 sign
// bits) an odd count of negatives is fixed by flipping the least important element, whose xval becomes
// negative. signs[k] receives the sign bits of group k (7 or 8 of them).
void split_signs(const float* x, const float* weight, int n, bool even_parity, float* xval, uint8_t* signs);

}  // namespace r1
