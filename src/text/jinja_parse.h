// The chat-template syntax tree and its parser: Jinja text, {{ expressions }}, {% statements %} and comments,
// with whitespace control ({%- -%}) and Hugging Face's trim_blocks/lstrip_blocks. Evaluation is jinja_eval.h's.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jinja_value.h"

namespace r1::jinja {

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

struct Expr {
  enum class Kind { kLiteral, kName, kList, kDict, kTuple, kAttr, kIndex, kSlice, kCall, kFilter, kTest, kUnary, kBinary, kTernary };
  Kind kind = Kind::kLiteral;
  int line = 0;
  Value literal;                 // kLiteral
  std::string name;              // name, attribute, filter, test or operator
  std::vector<ExprPtr> args;     // operands; see parser for each kind's layout (null entries allowed in slices)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;          // kTest: "is not"
  int depth = 1;                 // height of this subtree (bounded by the parser: evaluation recurses over it)
};

struct Node;
using NodePtr = std::shared_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue };
  Kind kind = Kind::kText;
  int line = 0;
  std::string text;                  // kText: the text; kSet/kSetBlock: attribute after '.', if any
  ExprPtr expr;                      // kOutput, kSet value, kFor iterable
  std::vector<ExprPtr> conditions;   // kIf: one per branch; kFor: the optional filter (size 0 or 1)
  std::vector<Body> bodies;          // kIf: one per branch (+ else); kFor: body (+ else); kMacro/kSetBlock: body
  std::vector<std::string> names;    // kFor/kSet targets; kMacro: name then parameter names
  std::vector<ExprPtr> defaults;     // kMacro: default per parameter (null when none)
};

struct Template {
  Body body;
};

// Nesting bounds that keep parsing, evaluation and destruction (all recursive) far from the stack's end.
inline constexpr int kMaxExprDepth = 128;   // height of an expression tree, also left-nested chains (a+a+...)
inline constexpr int kMaxBlockDepth = 64;   // {% if/for/macro/set %} blocks inside each other

// Throws r1::Error "template line N: ..." for syntax errors, unsupported constructs and nesting beyond the bounds.
Template parse_template(std::string_view source);

}  // namespace r1::jinja
