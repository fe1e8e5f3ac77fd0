// Parsing of chat templates: split into text and tags (with Jinja's whitespace rules), tokenize tag contents,
// and build the tree by recursive descent following Jinja's operator precedence.
#include "jinja_parse.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "error.h"

namespace r1::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& message) { throw Error(fmt::format("template line {}: {}", line, message)); }

// ---- Segments ---------------------------------------------------------------------------------------------

struct Segment {
  enum class Type { kText, kExpr, kStmt };
  Type type;
  std::string content;
  int line;
};

int line_at(std::string_view source, size_t pos) {
  return 1 + static_cast<int>(std::count(source.begin(), source.begin() + static_cast<ptrdiff_t>(pos), '\n'));
}

// Finds the closing delimiter of a tag, skipping string literals.
size_t find_tag_end(std::string_view source, size_t from, std::string_view close) {
  char quote = 0;
  for (size_t i = from; i + 1 < source.size() + 1 && i < source.size(); ++i) {
    const char c = source[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (source.substr(i, close.size()) == close) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

// Hugging Face renders templates with trim_blocks and lstrip_blocks on; so do we.
std::vector<Segment> split_segments(std::string_view source) {
  std::vector<Segment> out;
  size_t pos = 0;
  bool strip_next = false;      // "-%}" etc.: drop leading whitespace of the next text
  bool trim_newline = false;    // trim_blocks: drop one newline after a block or comment tag
  while (pos <= source.size()) {
    size_t start = source.find('{', pos);
    while (start != std::string_view::npos && start + 1 < source.size() && source[start + 1] != '{' &&
           source[start + 1] != '%' && source[start + 1] != '#') {
      start = source.find('{', start + 1);
    }
    if (start != std::string_view::npos && start + 1 >= source.size()) start = std::string_view::npos;
    const size_t text_end = start == std::string_view::npos ? source.size() : start;
    std::string text(source.substr(pos, text_end - pos));
    if (strip_next) {
      text.erase(0, text.find_first_not_of(" \t\r\n") == std::string::npos ? text.size() : text.find_first_not_of(" \t\r\n"));
    } else if (trim_newline) {
      if (text.starts_with("\r\n")) text.erase(0, 2);
      else if (text.starts_with("\n")) text.erase(0, 1);
    }
    strip_next = trim_newline = false;
    if (start == std::string_view::npos) {
      if (!text.empty()) out.push_back({Segment::Type::kText, std::move(text), line_at(source, pos)});
      break;
    }
    const char kind = source[start + 1];
    const std::string_view close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    const size_t end = kind == '#' ? source.find("#}", start + 2) : find_tag_end(source, start + 2, close);
    if (end == std::string_view::npos) fail(line_at(source, start), "tag is never closed");
    const bool left_strip = start + 2 < source.size() && source[start + 2] == '-';
    const bool left_plus = start + 2 < source.size() && source[start + 2] == '+';
    const bool right_strip = end > start + 2 && source[end - 1] == '-';
    if (left_strip) {
      const size_t keep = text.find_last_not_of(" \t\r\n");
      text.resize(keep == std::string::npos ? 0 : keep + 1);
    } else if (kind != '{' && !left_plus) {
      // lstrip_blocks: blanks from the start of the line up to a block tag go.
      const size_t line_start = source.rfind('\n', start == 0 ? 0 : start - 1);
      const size_t ls = (line_start == std::string_view::npos || start == 0) ? 0 : line_start + 1;
      if (ls >= pos && blank(source.substr(ls, start - ls))) text.resize(text.size() - std::min(text.size(), start - ls));
    }
    if (!text.empty()) out.push_back({Segment::Type::kText, std::move(text), line_at(source, pos)});
    const size_t inner_begin = start + 2 + ((left_strip || left_plus) ? 1 : 0);
    const size_t inner_end = right_strip ? end - 1 : end;
    if (kind != '#') {
      out.push_back({kind == '{' ? Segment::Type::kExpr : Segment::Type::kStmt,
                     std::string(source.substr(inner_begin, inner_end > inner_begin ? inner_end - inner_begin : 0)),
                     line_at(source, start)});
    }
    strip_next = right_strip;
    trim_newline = kind != '{';
    pos = end + 2;
  }
  return out;
}

// ---- Tokens -----------------------------------------------------------------------------------------------

struct Token {
  enum class Type { kName, kInt, kFloat, kString, kOp, kEnd };
  Type type = Type::kEnd;
  std::string text;
};

std::vector<Token> tokenize(const std::string& s, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Type::kName, s.substr(i, j - i)});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        is_float = true;
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      std::string num = s.substr(i, j - i);
      std::erase(num, '_');
      out.push_back({is_float ? Token::Type::kFloat : Token::Type::kInt, num});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string value;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[++j];
          switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '\\': value += '\\'; break;
            case '\'': value += '\''; break;
            case '"': value += '"'; break;
            default: value += '\\'; value += e;
          }
        } else {
          value += s[j];
        }
      }
      if (j >= s.size()) fail(line, "string literal is never closed");
      out.push_back({Token::Type::kString, value});
      i = j + 1;
    } else {
      static const char* const kTwo[] = {"==", "!=", "<=", ">=", "//", "**"};
      std::string op(1, c);
      for (const char* two : kTwo) {
        if (s.compare(i, 2, two) == 0) op = two;
      }
      if (op.size() == 1 && std::string_view("+-*/%~<>=()[]{}.,:|").find(c) == std::string_view::npos) {
        fail(line, fmt::format("unexpected character '{}'", c));
      }
      out.push_back({Token::Type::kOp, op});
      i += op.size();
    }
  }
  out.push_back({Token::Type::kEnd, ""});
  return out;
}

// ---- Expressions ------------------------------------------------------------------------------------------

class ExprParser {
 public:
  ExprParser(std::vector<Token> tokens, int line) : tokens_(std::move(tokens)), line_(line) {}

  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  bool at_end() const { return peek().type == Token::Type::kEnd; }
  bool is_op(std::string_view op, size_t ahead = 0) const { return peek(ahead).type == Token::Type::kOp && peek(ahead).text == op; }
  bool is_name(std::string_view name, size_t ahead = 0) const { return peek(ahead).type == Token::Type::kName && peek(ahead).text == name; }
  bool accept_op(std::string_view op) { return is_op(op) ? (++pos_, true) : false; }
  bool accept_name(std::string_view name) { return is_name(name) ? (++pos_, true) : false; }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) fail(line_, fmt::format("expected '{}' but found '{}'", op, peek().text));
  }
  std::string expect_name() {
    if (peek().type != Token::Type::kName) fail(line_, fmt::format("expected a name but found '{}'", peek().text));
    return tokens_[pos_++].text;
  }
  void expect_end() {
    if (!at_end()) fail(line_, fmt::format("unexpected '{}'", peek().text));
  }

  ExprPtr expression() { return ternary(); }
  // For "for x in EXPR if COND": the "if" there filters the loop instead of starting a conditional expression.
  ExprPtr expression_no_ternary() { return or_expr(); }

 private:
  ExprPtr make(Expr::Kind kind, std::string name, std::vector<ExprPtr> args) {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->line = line_;
    e->name = std::move(name);
    e->args = std::move(args);
    for (const ExprPtr& child : e->args) note_child(e.get(), child);
    return e;
  }
  // Keeps parent->depth the height of its subtree; fails beyond kMaxExprDepth.
  void note_child(Expr* parent, const ExprPtr& child) {
    if (!child) return;
    parent->depth = std::max(parent->depth, child->depth + 1);
    if (parent->depth > kMaxExprDepth) fail(line_, fmt::format("expression nested deeper than {}", kMaxExprDepth));
  }
  // Counts the parser's own recursion (parentheses, "not not", "- -", "else" chains) before it goes deep; a
  // parenthesis costs three levels (ternary, not_expr, unary).
  struct RecursionGuard {
    explicit RecursionGuard(ExprParser* p) : parser(p) {
      if (++parser->recursion_ > 3 * kMaxExprDepth) fail(parser->line_, fmt::format("expression nested deeper than {}", kMaxExprDepth));
    }
    ~RecursionGuard() { --parser->recursion_; }
    ExprParser* parser;
  };

  ExprPtr ternary() {
    const RecursionGuard guard(this);
    ExprPtr value = or_expr();
    while (accept_name("if")) {
      ExprPtr cond = or_expr();
      ExprPtr other = accept_name("else") ? ternary() : nullptr;
      value = make(Expr::Kind::kTernary, "", {value, cond, other});
    }
    return value;
  }
  ExprPtr or_expr() {
    ExprPtr left = and_expr();
    while (accept_name("or")) left = make(Expr::Kind::kBinary, "or", {left, and_expr()});
    return left;
  }
  ExprPtr and_expr() {
    ExprPtr left = not_expr();
    while (accept_name("and")) left = make(Expr::Kind::kBinary, "and", {left, not_expr()});
    return left;
  }
  ExprPtr not_expr() {
    const RecursionGuard guard(this);
    if (accept_name("not")) return make(Expr::Kind::kUnary, "not", {not_expr()});
    return compare();
  }
  ExprPtr compare() {
    ExprPtr left = math1();
    while (true) {
      std::string op;
      for (const char* candidate : {"==", "!=", "<=", ">=", "<", ">"}) {
        if (is_op(candidate)) op = candidate;
      }
      if (!op.empty()) {
        ++pos_;
      } else if (is_name("in")) {
        ++pos_;
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        pos_ += 2;
        op = "not in";
      } else {
        return left;
      }
      left = make(Expr::Kind::kBinary, op, {left, math1()});
    }
  }
  ExprPtr math1() {
    ExprPtr left = concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = tokens_[pos_++].text;
      left = make(Expr::Kind::kBinary, op, {left, concat()});
    }
    return left;
  }
  ExprPtr concat() {
    ExprPtr left = math2();
    while (accept_op("~")) left = make(Expr::Kind::kBinary, "~", {left, math2()});
    return left;
  }
  ExprPtr math2() {
    ExprPtr left = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = tokens_[pos_++].text;
      left = make(Expr::Kind::kBinary, op, {left, power()});
    }
    return left;
  }
  ExprPtr power() {
    ExprPtr left = unary();
    while (accept_op("**")) left = make(Expr::Kind::kBinary, "**", {left, unary()});
    return left;
  }
  ExprPtr unary() {
    const RecursionGuard guard(this);
    if (accept_op("-")) return make(Expr::Kind::kUnary, "-", {unary()});
    if (accept_op("+")) return unary();
    ExprPtr e = postfix(primary());
    // Filters and tests bind tighter than every binary operator.
    while (true) {
      if (accept_op("|")) {
        ExprPtr f = make(Expr::Kind::kFilter, expect_name(), {e});
        if (accept_op("(")) call_args(f.get());
        e = postfix(f);
      } else if (accept_name("is")) {
        const bool negated = accept_name("not");
        ExprPtr t = make(Expr::Kind::kTest, expect_name(), {e});
        t->negated = negated;
        if (accept_op("(")) {
          call_args(t.get());
        } else if (peek().type == Token::Type::kString || peek().type == Token::Type::kInt ||
                   peek().type == Token::Type::kFloat ||
                   (peek().type == Token::Type::kName && !is_name("and") && !is_name("or") && !is_name("else") &&
                    !is_name("if") && !is_name("in") && !is_name("not") && !is_name("is"))) {
          t->args.push_back(postfix(primary()));
          note_child(t.get(), t->args.back());
        }
        e = t;
      } else {
        return e;
      }
    }
  }
  void call_args(Expr* call) {  // after "("
    while (!accept_op(")")) {
      if (peek().type == Token::Type::kName && is_op("=", 1)) {
        std::string name = expect_name();
        expect_op("=");
        call->kwargs.emplace_back(std::move(name), expression());
        note_child(call, call->kwargs.back().second);
      } else {
        call->args.push_back(expression());
        note_child(call, call->args.back());
      }
      if (!is_op(")")) expect_op(",");
    }
  }
  ExprPtr postfix(ExprPtr e) {
    while (true) {
      if (accept_op(".")) {
        e = make(Expr::Kind::kAttr, expect_name(), {e});
      } else if (accept_op("[")) {
        ExprPtr start, stop, step;
        if (!is_op(":")) start = expression();
        if (accept_op(":")) {
          if (!is_op("]") && !is_op(":")) stop = expression();
          if (accept_op(":") && !is_op("]")) step = expression();
          expect_op("]");
          e = make(Expr::Kind::kSlice, "", {e, start, stop, step});
        } else {
          expect_op("]");
          e = make(Expr::Kind::kIndex, "", {e, start});
        }
      } else if (accept_op("(")) {
        ExprPtr call = make(Expr::Kind::kCall, "", {e});
        call_args(call.get());
        e = call;
      } else {
        return e;
      }
    }
  }
  ExprPtr primary() {
    const Token t = peek();
    ++pos_;
    switch (t.type) {
      case Token::Type::kInt: {
        auto e = make(Expr::Kind::kLiteral, "", {});
        try {
          e->literal = Value::integer(std::stoll(t.text));
        } catch (const std::exception&) {
          fail(line_, fmt::format("integer literal {} out of range", t.text));
        }
        return e;
      }
      case Token::Type::kFloat: {
        auto e = make(Expr::Kind::kLiteral, "", {});
        e->literal = Value::number(std::stod(t.text));
        return e;
      }
      case Token::Type::kString: {
        std::string s = t.text;
        while (peek().type == Token::Type::kString) s += tokens_[pos_++].text;  // "a" "b" concatenates
        auto e = make(Expr::Kind::kLiteral, "", {});
        e->literal = Value::string(std::move(s));
        return e;
      }
      case Token::Type::kName: {
        auto e = make(Expr::Kind::kLiteral, "", {});
        if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") e->literal = Value::none();
        else return make(Expr::Kind::kName, t.text, {});
        return e;
      }
      case Token::Type::kOp:
        if (t.text == "(") {
          if (accept_op(")")) return make(Expr::Kind::kTuple, "", {});
          ExprPtr first = expression();
          if (accept_op(")")) return first;
          std::vector<ExprPtr> items{first};
          while (accept_op(",")) {
            if (is_op(")")) break;
            items.push_back(expression());
          }
          expect_op(")");
          return make(Expr::Kind::kTuple, "", std::move(items));
        }
        if (t.text == "[") {
          std::vector<ExprPtr> items;
          while (!accept_op("]")) {
            items.push_back(expression());
            if (!is_op("]")) expect_op(",");
          }
          return make(Expr::Kind::kList, "", std::move(items));
        }
        if (t.text == "{") {
          std::vector<ExprPtr> items;
          while (!accept_op("}")) {
            items.push_back(expression());
            expect_op(":");
            items.push_back(expression());
            if (!is_op("}")) expect_op(",");
          }
          return make(Expr::Kind::kDict, "", std::move(items));
        }
        break;
      case Token::Type::kEnd: fail(line_, "unexpected end of expression");
    }
    fail(line_, fmt::format("unexpected '{}'", t.text));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_;
  int recursion_ = 0;
};

// ---- Statements -------------------------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::vector<Segment> segments) : segments_(std::move(segments)) {}

  Body parse_all() {
    std::string stop;
    Body body = parse_body({}, &stop);
    return body;
  }

 private:
  // Parses until a statement whose keyword is in stops (returned in *stop, its parser left in stop_parser_).
  Body parse_body(const std::vector<std::string_view>& stops, std::string* stop) {
    // Blocks nest by recursion here and in the evaluator: bound them.
    struct DepthGuard {
      explicit DepthGuard(int* d, int line) : depth(d) {
        if (++*depth > kMaxBlockDepth + 1) fail(line, fmt::format("blocks nested deeper than {}", kMaxBlockDepth));
      }
      ~DepthGuard() { --*depth; }
      int* depth;
    } guard(&block_depth_, pos_ > 0 ? segments_[pos_ - 1].line : 1);
    Body body;
    while (pos_ < segments_.size()) {
      const Segment& seg = segments_[pos_++];
      auto node = std::make_shared<Node>();
      node->line = seg.line;
      if (seg.type == Segment::Type::kText) {
        node->kind = Node::Kind::kText;
        node->text = seg.content;
        body.push_back(node);
        continue;
      }
      ExprParser p(tokenize(seg.content, seg.line), seg.line);
      if (seg.type == Segment::Type::kExpr) {
        node->kind = Node::Kind::kOutput;
        node->expr = p.expression();
        p.expect_end();
        body.push_back(node);
        continue;
      }
      const std::string keyword = p.expect_name();
      if (std::find(stops.begin(), stops.end(), keyword) != stops.end()) {
        *stop = keyword;
        stop_parser_ = std::make_unique<ExprParser>(std::move(p));
        return body;
      }
      if (keyword == "if") {
        node->kind = Node::Kind::kIf;
        node->conditions.push_back(p.expression());
        p.expect_end();
        std::string s;
        while (true) {
          node->bodies.push_back(parse_body({"elif", "else", "endif"}, &s));
          if (s == "elif") {
            node->conditions.push_back(stop_parser_->expression());
            stop_parser_->expect_end();
          } else if (s == "else") {
            stop_parser_->expect_end();
            node->bodies.push_back(parse_body({"endif"}, &s));
            if (s != "endif") fail(seg.line, "'if' without 'endif'");
            break;
          } else if (s == "endif") {
            break;
          } else {
            fail(seg.line, "'if' without 'endif'");
          }
        }
      } else if (keyword == "for") {
        node->kind = Node::Kind::kFor;
        node->names.push_back(p.expect_name());
        while (p.accept_op(",")) node->names.push_back(p.expect_name());
        if (!p.accept_name("in")) fail(seg.line, "expected 'in' in 'for'");
        node->expr = p.expression_no_ternary();
        if (p.accept_name("if")) node->conditions.push_back(p.expression_no_ternary());
        if (p.is_name("recursive")) fail(seg.line, "unsupported: recursive for loops");
        p.expect_end();
        std::string s;
        node->bodies.push_back(parse_body({"else", "endfor"}, &s));
        if (s == "else") node->bodies.push_back(parse_body({"endfor"}, &s));
        if (s != "endfor") fail(seg.line, "'for' without 'endfor'");
      } else if (keyword == "set") {
        node->names.push_back(p.expect_name());
        if (p.accept_op(".")) node->text = p.expect_name();
        while (p.accept_op(",")) node->names.push_back(p.expect_name());
        if (p.accept_op("=")) {
          node->kind = Node::Kind::kSet;
          node->expr = p.expression();
          p.expect_end();
        } else {
          p.expect_end();
          node->kind = Node::Kind::kSetBlock;
          std::string s;
          node->bodies.push_back(parse_body({"endset"}, &s));
          if (s != "endset") fail(seg.line, "'set' block without 'endset'");
        }
      } else if (keyword == "macro") {
        node->kind = Node::Kind::kMacro;
        node->names.push_back(p.expect_name());
        p.expect_op("(");
        while (!p.accept_op(")")) {
          node->names.push_back(p.expect_name());
          node->defaults.push_back(p.accept_op("=") ? p.expression() : nullptr);
          if (!p.is_op(")")) p.expect_op(",");
        }
        p.expect_end();
        std::string s;
        node->bodies.push_back(parse_body({"endmacro"}, &s));
        if (s != "endmacro") fail(seg.line, "'macro' without 'endmacro'");
      } else if (keyword == "break" || keyword == "continue") {
        node->kind = keyword == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
        p.expect_end();
      } else if (keyword == "generation" || keyword == "endgeneration") {
        continue;  // Hugging Face's assistant-mask markers: no output of their own
      } else {
        fail(seg.line, fmt::format("unsupported statement '{}'", keyword));
      }
      body.push_back(node);
    }
    if (!stops.empty()) fail(segments_.empty() ? 1 : segments_.back().line, fmt::format("missing '{}'", stops.back()));
    return body;
  }

  std::vector<Segment> segments_;
  size_t pos_ = 0;
  std::unique_ptr<ExprParser> stop_parser_;
  int block_depth_ = 0;
};

}  // namespace

Template parse_template(std::string_view source) {
  // Jinja drops one trailing newline of the template source (keep_trailing_newline is off by default).
  if (source.ends_with("\n")) source.remove_suffix(1);
  Parser parser(split_segments(source));
  return Template{parser.parse_all()};
}

}  // namespace r1::jinja
