// The streaming <think>…</think> splitter: a three-state machine over a small held-back buffer.
#include "reasoning_split.h"

#include <algorithm>

namespace r1 {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t skip_spaces(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

size_t trim_end(std::string_view s, size_t end) {
  while (end > 0 && is_space(s[end - 1])) --end;
  return end;
}

// Length of the longest suffix of s that is a proper prefix of tag (text that may become the tag).
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t len = std::min(s.size(), tag.size() - 1); len > 0; --len) {
    if (s.substr(s.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(ReasoningSplitOptions options)
    : options_(std::move(options)), state_(options_.starts_in_reasoning ? State::kReasoning : State::kStart) {}

ReasoningDelta ReasoningSplitter::push(std::string_view text) {
  pending_.append(text);
  ReasoningDelta out;
  process(false, &out);
  return out;
}

ReasoningDelta ReasoningSplitter::finish() {
  ReasoningDelta out;
  process(true, &out);
  pending_.clear();
  return out;
}

void ReasoningSplitter::process(bool final, ReasoningDelta* out) {
  const std::string_view open = options_.open_tag;
  const std::string_view close = options_.close_tag;
  while (true) {
    switch (state_) {
      case State::kStart: {
        // Before anything is shown: either the model opens its reasoning or it answers straight away.
        const size_t i = skip_spaces(pending_);
        const std::string_view rest = std::string_view(pending_).substr(i);
        if (rest.empty()) return;
        if (rest.starts_with(open)) {
          pending_.erase(0, i + open.size());
          state_ = State::kReasoning;
          at_section_start_ = true;
          continue;
        }
        if (!final && open.starts_with(rest)) return;  // may still become the open tag
        state_ = State::kContent;
        at_section_start_ = true;
        continue;
      }
      case State::kReasoning: {
        if (at_section_start_) {
          pending_.erase(0, skip_spaces(pending_));
          if (pending_.empty()) return;
          at_section_start_ = false;
        }
        const size_t close_at = pending_.find(close);
        if (close_at != std::string::npos) {
          out->reasoning.append(pending_, 0, trim_end(pending_, close_at));
          pending_.erase(0, close_at + close.size());
          state_ = State::kContent;
          at_section_start_ = true;
          continue;
        }
        if (final) {
          out->reasoning.append(pending_, 0, trim_end(pending_, pending_.size()));
          pending_.clear();
          return;
        }
        // Hold back a possible start of </think> and the whitespace before it (trimmed if the tag follows).
        const size_t held = partial_tag_suffix(pending_, close);
        const size_t ready = trim_end(pending_, pending_.size() - held);
        out->reasoning.append(pending_, 0, ready);
        pending_.erase(0, ready);
        return;
      }
      case State::kContent: {
        if (at_section_start_) {
          pending_.erase(0, skip_spaces(pending_));
          if (pending_.empty()) return;
          at_section_start_ = false;
        }
        out->content.append(pending_);
        pending_.clear();
        return;
      }
    }
  }
}

bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag, std::string_view close_tag) {
  const size_t open = prompt.rfind(open_tag);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.rfind(close_tag);
  return close == std::string_view::npos || close < open;
}

}  // namespace r1
