// Batch validation shared by every architecture: all checks happen before a forward pass touches anything.
#include "error.h"
#include "model.h"

namespace r1 {

void validate_batch(const Batch& b, size_t logits_size, int64_t n_vocab, int n_ctx,
                    std::span<const int32_t> seq_lengths) {
  const size_t n = b.tokens.size();
  if (b.positions.size() != n || b.seq_ids.size() != n || b.want_logits.size() != n) {
    throw Error("batch vectors have different lengths");
  }
  const int n_seq = static_cast<int>(seq_lengths.size());
  std::vector<int32_t> next(seq_lengths.begin(), seq_lengths.end());
  size_t wanted = 0;
  for (size_t i = 0; i < n; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= n_vocab) {
      throw Error(fmt::format("token id {} is outside the vocabulary (0..{})", b.tokens[i], n_vocab - 1));
    }
    const int32_t s = b.seq_ids[i];
    if (s < 0 || s >= n_seq) throw Error(fmt::format("sequence id {} is not one of the {} slots", s, n_seq));
    const int32_t pos = b.positions[i];
    if (pos >= n_ctx) throw Error(fmt::format("position {} does not fit the context of {} tokens", pos, n_ctx));
    // Positions of a sequence must continue where its cache ends (no holes; rewriting is done by truncating).
    if (pos != next[static_cast<size_t>(s)]) {
      throw Error(fmt::format("sequence {} continues at position {}, but the batch gives position {}", s,
                              next[static_cast<size_t>(s)], pos));
    }
    ++next[static_cast<size_t>(s)];
    wanted += b.want_logits[i] ? 1 : 0;
  }
  if (logits_size < wanted * static_cast<size_t>(n_vocab)) {
    throw Error(fmt::format("logits buffer holds {} values, the batch asks for {}", logits_size,
                            wanted * static_cast<size_t>(n_vocab)));
  }
}

}  // namespace r1
