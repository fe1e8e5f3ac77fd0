// Evaluation of a parsed chat template against variables, sandboxed: only the data passed in is reachable,
// loops, output and macro recursion are bounded, and every failure is an r1::Error naming the template line.
#pragma once

#include <cstddef>
#include <string>

#include "jinja_parse.h"
#include "jinja_value.h"

namespace r1::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{16} << 20;
  size_t max_loop_iterations = size_t{1} << 20;  // all loops of one render together
  int max_call_depth = 64;
};

// context must be a dict: its entries are the template's variables.
std::string render(const Template& tmpl, const Value& context, const RenderLimits& limits = {});

}  // namespace r1::jinja
