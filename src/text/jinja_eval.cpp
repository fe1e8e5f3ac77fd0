// The chat-template interpreter: statements, expressions with Python semantics, and the filters, tests, string
// and dict methods and globals that real chat templates use. Nothing outside the passed-in data is reachable.
#include "jinja_eval.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <unordered_map>

#include <fmt/format.h>

#include "error.h"
#include "text_unicode.h"

namespace r1::jinja {
namespace {

using K = Value::Kind;

[[noreturn]] void fail(int line, const std::string& message) { throw Error(fmt::format("template line {}: {}", line, message)); }

enum class Flow { kNormal, kBreak, kContinue };

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    decode_utf8(s, &pos);
    out.push_back(s.substr(start, pos - start));
  }
  return out;
}

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
  const auto drop = [&](char c) { return chars && chars->is_string() ? chars->s.find(c) != std::string::npos : is_py_space(c); };
  size_t b = 0, e = s.size();
  if (left) while (b < e && drop(s[b])) ++b;
  if (right) while (e > b && drop(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string title_case(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
      start = false;
    } else {
      start = !(u >= 0x80);
    }
  }
  return out;
}

Value list_of(const Value& v, int line) {
  switch (v.kind) {
    case K::kArray: return v;
    case K::kUndefined: return Value::list();
    case K::kString: {
      Array items;
      for (auto& ch : utf8_chars(v.s)) items.push_back(Value::string(ch));
      return Value::list(std::move(items));
    }
    case K::kObject: {
      Array keys;
      for (const auto& [k, _] : *v.object) keys.push_back(Value::string(k));
      return Value::list(std::move(keys));
    }
    default: fail(line, fmt::format("{} is not iterable", kind_name(v)));
  }
}

const Value* arg(std::vector<Value>& args, Kwargs& kwargs, size_t index, std::string_view name) {
  for (auto& [k, v] : kwargs) {
    if (k == name) return &v;
  }
  return index < args.size() ? &args[index] : nullptr;
}

int64_t py_index(int64_t i, size_t size) { return i < 0 ? i + static_cast<int64_t>(size) : i; }

class Renderer {
 public:
  Renderer(const Value& context, const RenderLimits& limits) : limits_(limits) {
    scopes_.emplace_back();
    for (const auto& [k, v] : *context.object) scopes_.back()[k] = v;
    install_globals();
  }

  void exec(const Body& body, std::string* out) {
    if (run(body, out) != Flow::kNormal) fail(0, "'break' or 'continue' outside a loop");
  }

 private:
  // ---- statements ----
  Flow run(const Body& body, std::string* out) {
    for (const NodePtr& node : body) {
      const Flow flow = run_node(*node, out);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  void emit(std::string* out, std::string_view text) {
    out->append(text);
    if (out->size() > limits_.max_output_bytes) fail(0, fmt::format("output larger than {} bytes", limits_.max_output_bytes));
  }

  Flow run_node(const Node& node, std::string* out) {
    switch (node.kind) {
      case Node::Kind::kText: emit(out, node.text); return Flow::kNormal;
      case Node::Kind::kOutput: emit(out, to_output(eval(*node.expr))); return Flow::kNormal;
      case Node::Kind::kIf:
        for (size_t b = 0; b < node.bodies.size(); ++b) {
          if (b >= node.conditions.size() || eval(*node.conditions[b]).truthy()) return run(node.bodies[b], out);
        }
        return Flow::kNormal;
      case Node::Kind::kFor: return run_for(node, out);
      case Node::Kind::kSet: assign(node, eval(*node.expr)); return Flow::kNormal;
      case Node::Kind::kSetBlock: {
        std::string captured;
        exec_scoped(node.bodies[0], &captured);
        assign(node, Value::string(captured));
        return Flow::kNormal;
      }
      case Node::Kind::kMacro: define_macro(node); return Flow::kNormal;
      case Node::Kind::kBreak: return Flow::kBreak;
      case Node::Kind::kContinue: return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void exec_scoped(const Body& body, std::string* out) {
    scopes_.emplace_back();
    run(body, out);
    scopes_.pop_back();
  }

  void assign(const Node& node, Value value) {
    if (!node.text.empty()) {  // set ns.attr = value
      Value target = lookup(node.names[0]);
      if (target.kind != K::kObject || !target.is_namespace) {
        fail(node.line, fmt::format("cannot assign attribute '{}' of {}: only namespace() objects can be changed", node.text, node.names[0]));
      }
      target.set(node.text, std::move(value));
      return;
    }
    if (node.names.size() == 1) {
      scopes_.back()[node.names[0]] = std::move(value);
      return;
    }
    const Value items = list_of(value, node.line);
    if (items.array->size() != node.names.size()) fail(node.line, "wrong number of values to unpack");
    for (size_t k = 0; k < node.names.size(); ++k) scopes_.back()[node.names[k]] = (*items.array)[k];
  }

  Flow run_for(const Node& node, std::string* out) {
    const Value source = eval(*node.expr);
    if (source.is_none()) fail(node.line, "cannot loop over none");
    const Value all = list_of(source, node.line);
    // Unpacked targets ("for k, v in d.items()") need per-item lists; a dict gives its keys.
    std::vector<Value> items;
    for (const Value& item : *all.array) {
      if (!node.conditions.empty()) {
        scopes_.emplace_back();
        bind_targets(node, item);
        const bool keep = eval(*node.conditions[0]).truthy();
        scopes_.pop_back();
        if (!keep) continue;
      }
      items.push_back(item);
    }
    if (items.empty()) {
      if (node.bodies.size() > 1) exec_scoped(node.bodies[1], out);
      return Flow::kNormal;
    }
    const size_t n = items.size();
    for (size_t k = 0; k < n; ++k) {
      if (++iterations_ > limits_.max_loop_iterations) fail(node.line, fmt::format("more than {} loop iterations", limits_.max_loop_iterations));
      scopes_.emplace_back();
      bind_targets(node, items[k]);
      Value loop = Value::dict({{"index", Value::integer(static_cast<int64_t>(k + 1))},
                                {"index0", Value::integer(static_cast<int64_t>(k))},
                                {"revindex", Value::integer(static_cast<int64_t>(n - k))},
                                {"revindex0", Value::integer(static_cast<int64_t>(n - k - 1))},
                                {"first", Value::boolean(k == 0)},
                                {"last", Value::boolean(k + 1 == n)},
                                {"length", Value::integer(static_cast<int64_t>(n))}});
      if (k > 0) loop.set("previtem", items[k - 1]);
      if (k + 1 < n) loop.set("nextitem", items[k + 1]);
      loop.set("cycle", Value::callable([k](std::vector<Value>& args, Kwargs&) {
        return args.empty() ? Value() : args[k % args.size()];
      }));
      scopes_.back()["loop"] = loop;
      const Flow flow = run(node.bodies[0], out);
      scopes_.pop_back();
      if (flow == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  void bind_targets(const Node& node, const Value& item) {
    if (node.names.size() == 1) {
      scopes_.back()[node.names[0]] = item;
      return;
    }
    const Value parts = list_of(item, node.line);
    if (parts.array->size() != node.names.size()) fail(node.line, "wrong number of values to unpack in 'for'");
    for (size_t k = 0; k < node.names.size(); ++k) scopes_.back()[node.names[k]] = (*parts.array)[k];
  }

  void define_macro(const Node& node) {
    const Node* macro = &node;
    scopes_.back()[node.names[0]] = Value::callable([this, macro](std::vector<Value>& args, Kwargs& kwargs) {
      if (++depth_ > limits_.max_call_depth) fail(macro->line, "macros nested too deeply");
      std::unordered_map<std::string, Value> frame;
      const size_t n_params = macro->names.size() - 1;
      if (args.size() > n_params) fail(macro->line, fmt::format("macro '{}' takes {} arguments", macro->names[0], n_params));
      for (size_t k = 0; k < n_params; ++k) {
        const std::string& name = macro->names[k + 1];
        const Value* given = k < args.size() ? &args[k] : nullptr;
        for (auto& [kw, v] : kwargs) {
          if (kw == name) given = &v;
        }
        frame[name] = given ? *given : macro->defaults[k] ? eval(*macro->defaults[k]) : Value();
      }
      // A macro sees the template's top-level names and its parameters, not its caller's locals.
      std::vector<std::unordered_map<std::string, Value>> saved;
      saved.swap(scopes_);
      scopes_.push_back(saved.front());
      scopes_.push_back(std::move(frame));
      std::string out;
      try {
        run(macro->bodies[0], &out);
      } catch (...) {
        scopes_.swap(saved);
        --depth_;
        throw;
      }
      scopes_.swap(saved);
      --depth_;
      return Value::string(std::move(out));
    });
  }

  // ---- expressions ----
  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      const auto found = it->find(name);
      if (found != it->end()) return found->second;
    }
    const auto g = globals_.find(name);
    return g == globals_.end() ? Value() : g->second;
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.literal;
      case Expr::Kind::kName: return lookup(e.name);
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        Array items;
        for (const ExprPtr& a : e.args) items.push_back(eval(*a));
        return Value::list(std::move(items));
      }
      case Expr::Kind::kDict: {
        Value d = Value::dict();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          const Value key = eval(*e.args[k]);
          if (!key.is_string()) fail(e.line, "dict keys must be strings");
          d.set(key.s, eval(*e.args[k + 1]));
        }
        return d;
      }
      case Expr::Kind::kAttr: return attribute(eval(*e.args[0]), e.name, e.line);
      case Expr::Kind::kIndex: return index(eval(*e.args[0]), eval(*e.args[1]), e.line);
      case Expr::Kind::kSlice: return slice(e);
      case Expr::Kind::kCall: {
        const Value callee = eval(*e.args[0]);
        if (callee.kind != K::kFunction) fail(e.line, fmt::format("{} is not callable", kind_name(callee)));
        std::vector<Value> args;
        for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
        Kwargs kwargs;
        for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
        try {
          return (*callee.function)(args, kwargs);
        } catch (const Error& err) {
          if (err.message().starts_with("template line")) throw;
          fail(e.line, err.message());
        }
      }
      case Expr::Kind::kFilter: return filter(e);
      case Expr::Kind::kTest: {
        const bool result = test(e);
        return Value::boolean(e.negated ? !result : result);
      }
      case Expr::Kind::kUnary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value::boolean(!v.truthy());
        if (v.kind == K::kInt) return Value::integer(-v.i);
        if (v.kind == K::kFloat) return Value::number(-v.f);
        fail(e.line, fmt::format("cannot negate {}", kind_name(v)));
      }
      case Expr::Kind::kBinary: return binary(e);
      case Expr::Kind::kTernary:
        if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value();
    }
    return Value();
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value l = eval(*e.args[0]);
      return l.truthy() ? eval(*e.args[1]) : l;
    }
    if (op == "or") {
      Value l = eval(*e.args[0]);
      return l.truthy() ? l : eval(*e.args[1]);
    }
    const Value l = eval(*e.args[0]);
    const Value r = eval(*e.args[1]);
    if (op == "==") return Value::boolean(equal(l, r));
    if (op == "!=") return Value::boolean(!equal(l, r));
    if (op == "~") return Value::string(to_output(l) + to_output(r));
    if (op == "in" || op == "not in") return Value::boolean(contains(r, l, e.line) == (op == "in"));
    try {
      if (op == "<") return Value::boolean(less(l, r));
      if (op == ">") return Value::boolean(less(r, l));
      if (op == "<=") return Value::boolean(!less(r, l));
      if (op == ">=") return Value::boolean(!less(l, r));
    } catch (const Error& err) {
      fail(e.line, err.message());
    }
    if (op == "+" && l.is_string() && r.is_string()) return Value::string(l.s + r.s);
    if (op == "+" && l.kind == K::kArray && r.kind == K::kArray) {
      Array items = *l.array;
      items.insert(items.end(), r.array->begin(), r.array->end());
      return Value::list(std::move(items));
    }
    if (op == "*" && l.is_string() && r.kind == K::kInt) {
      std::string s;
      for (int64_t k = 0; k < r.i && s.size() <= limits_.max_output_bytes; ++k) s += l.s;
      return Value::string(s);
    }
    if (!l.is_number() || !r.is_number()) {
      fail(e.line, fmt::format("unsupported operand types for {}: {} and {}", op, kind_name(l), kind_name(r)));
    }
    const bool ints = l.kind != K::kFloat && r.kind != K::kFloat;
    const int64_t li = l.kind == K::kBool ? l.b : l.i, ri = r.kind == K::kBool ? r.b : r.i;
    const double lf = l.as_double(), rf = r.as_double();
    if (op == "+") return ints ? Value::integer(li + ri) : Value::number(lf + rf);
    if (op == "-") return ints ? Value::integer(li - ri) : Value::number(lf - rf);
    if (op == "*") return ints ? Value::integer(li * ri) : Value::number(lf * rf);
    if ((op == "/" || op == "//" || op == "%") && rf == 0) fail(e.line, "division by zero");
    if (op == "/") return Value::number(lf / rf);
    if (op == "//") return ints ? Value::integer(static_cast<int64_t>(std::floor(lf / rf))) : Value::number(std::floor(lf / rf));
    if (op == "%") {
      if (ints) return Value::integer(((li % ri) + ri) % ri);
      return Value::number(lf - rf * std::floor(lf / rf));
    }
    if (op == "**") return ints && ri >= 0 ? Value::integer(static_cast<int64_t>(std::pow(lf, rf))) : Value::number(std::pow(lf, rf));
    fail(e.line, fmt::format("unknown operator {}", op));
  }

  bool contains(const Value& container, const Value& item, int line) {
    switch (container.kind) {
      case K::kString:
        if (!item.is_string()) fail(line, "'in <string>' needs a string on the left");
        return container.s.find(item.s) != std::string::npos;
      case K::kArray:
        return std::any_of(container.array->begin(), container.array->end(), [&](const Value& v) { return equal(v, item); });
      case K::kObject: return item.is_string() && container.find(item.s) != nullptr;
      case K::kUndefined: return false;
      default: fail(line, fmt::format("'in' needs a string, list or dict, not {}", kind_name(container)));
    }
  }

  Value index(const Value& obj, const Value& key, int line) {
    if (obj.kind == K::kObject) {
      if (!key.is_string()) return Value();
      const Value* v = obj.find(key.s);
      return v ? *v : Value();
    }
    if ((obj.kind == K::kArray || obj.is_string()) && key.kind == K::kInt) {
      if (obj.is_string()) {
        const auto chars = utf8_chars(obj.s);
        const int64_t k = py_index(key.i, chars.size());
        return k >= 0 && k < static_cast<int64_t>(chars.size()) ? Value::string(chars[k]) : Value();
      }
      const int64_t k = py_index(key.i, obj.array->size());
      return k >= 0 && k < static_cast<int64_t>(obj.array->size()) ? (*obj.array)[k] : Value();
    }
    if (obj.undefined()) return Value();
    if (obj.is_none()) fail(line, "cannot index none");
    return Value();
  }

  Value slice(const Expr& e) {
    const Value obj = eval(*e.args[0]);
    const auto bound = [&](const ExprPtr& p) -> std::optional<int64_t> {
      if (!p) return std::nullopt;
      const Value v = eval(*p);
      if (v.is_none()) return std::nullopt;
      if (v.kind != K::kInt) fail(e.line, "slice bounds must be integers");
      return v.i;
    };
    const std::optional<int64_t> start = bound(e.args[1]), stop = bound(e.args[2]), step_opt = bound(e.args[3]);
    const int64_t step = step_opt.value_or(1);
    if (step == 0) fail(e.line, "slice step cannot be zero");
    Array items;
    std::vector<std::string> chars;
    if (obj.is_string()) {
      chars = utf8_chars(obj.s);
    } else if (obj.kind != K::kArray) {
      fail(e.line, fmt::format("cannot slice {}", kind_name(obj)));
    }
    const auto n = static_cast<int64_t>(obj.is_string() ? chars.size() : obj.array->size());
    const auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v < 0 ? *v + n : *v;
      return step > 0 ? std::clamp<int64_t>(x, 0, n) : std::clamp<int64_t>(x, -1, n - 1);
    };
    const int64_t b = clamp(start, step > 0 ? 0 : n - 1), end = clamp(stop, step > 0 ? n : -1);
    std::string s;
    for (int64_t k = b; step > 0 ? k < end : k > end; k += step) {
      if (obj.is_string()) s += chars[k];
      else items.push_back((*obj.array)[k]);
    }
    return obj.is_string() ? Value::string(s) : Value::list(std::move(items));
  }

  Value attribute(const Value& obj, const std::string& name, int line) {
    if (obj.kind == K::kString) return string_method(obj, name, line);
    if (obj.kind == K::kObject) {
      if (!obj.is_namespace && (name == "items" || name == "keys" || name == "values" || name == "get")) {
        return dict_method(obj, name);
      }
      const Value* v = obj.find(name);
      return v ? *v : Value();
    }
    if (obj.kind == K::kArray && (name == "append" || name == "pop" || name == "insert" || name == "extend")) {
      fail(line, fmt::format("unsupported: list.{} (templates cannot change data)", name));
    }
    return Value();
  }

  static Value dict_method(const Value& obj, const std::string& name) {
    return Value::callable([obj, name](std::vector<Value>& args, Kwargs&) {
      if (name == "get") {
        const Value* v = args.empty() || !args[0].is_string() ? nullptr : obj.find(args[0].s);
        return v ? *v : (args.size() > 1 ? args[1] : Value::none());
      }
      Array out;
      for (const auto& [k, v] : *obj.object) {
        if (name == "items") out.push_back(Value::list({Value::string(k), v}));
        else if (name == "keys") out.push_back(Value::string(k));
        else out.push_back(v);
      }
      return Value::list(std::move(out));
    });
  }

  static Value string_method(const Value& obj, const std::string& name, int line) {
    static const char* const kMethods[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper",
                                           "lower", "replace", "title", "capitalize", "find", "count", "join", "splitlines"};
    if (std::find(std::begin(kMethods), std::end(kMethods), name) == std::end(kMethods)) {
      fail(line, fmt::format("unsupported string method '{}'", name));
    }
    const std::string s = obj.s;
    return Value::callable([s, name](std::vector<Value>& args, Kwargs& kwargs) -> Value {
      const Value* a0 = arg(args, kwargs, 0, "");
      if (name == "strip") return Value::string(strip(s, a0, true, true));
      if (name == "lstrip") return Value::string(strip(s, a0, true, false));
      if (name == "rstrip") return Value::string(strip(s, a0, false, true));
      if (name == "upper") return Value::string(ascii_case(s, true));
      if (name == "lower") return Value::string(ascii_case(s, false));
      if (name == "title") return Value::string(title_case(s));
      if (name == "capitalize") return Value::string(s.empty() ? s : ascii_case(s.substr(0, 1), true) + ascii_case(s.substr(1), false));
      if (name == "startswith" || name == "endswith") {
        std::vector<std::string> options;
        if (a0 && a0->is_string()) options.push_back(a0->s);
        if (a0 && a0->kind == K::kArray) for (const Value& v : *a0->array) if (v.is_string()) options.push_back(v.s);
        for (const auto& o : options) {
          if (name == "startswith" ? s.starts_with(o) : s.ends_with(o)) return Value::boolean(true);
        }
        return Value::boolean(false);
      }
      if (name == "find") return Value::integer(a0 && a0->is_string() && s.find(a0->s) != std::string::npos ? static_cast<int64_t>(s.find(a0->s)) : -1);
      if (name == "count") {
        if (!a0 || !a0->is_string() || a0->s.empty()) return Value::integer(0);
        int64_t n = 0;
        for (size_t p = s.find(a0->s); p != std::string::npos; p = s.find(a0->s, p + a0->s.size())) ++n;
        return Value::integer(n);
      }
      if (name == "replace") {
        const Value* b = arg(args, kwargs, 1, "");
        if (!a0 || !b || !a0->is_string() || !b->is_string()) throw_error("replace needs two strings");
        return Value::string(replace_all(s, a0->s, b->s));
      }
      if (name == "join") {
        std::string out;
        if (a0 && a0->kind == K::kArray) {
          for (size_t k = 0; k < a0->array->size(); ++k) out += (k ? s : "") + to_output((*a0->array)[k]);
        }
        return Value::string(out);
      }
      if (name == "splitlines") {
        Array parts;
        size_t start = 0;
        for (size_t p = 0; p < s.size(); ++p) {
          if (s[p] == '\n') {
            parts.push_back(Value::string(s.substr(start, p - start)));
            start = p + 1;
          }
        }
        if (start < s.size()) parts.push_back(Value::string(s.substr(start)));
        return Value::list(std::move(parts));
      }
      // split(sep=None, maxsplit=-1)
      const Value* max_v = arg(args, kwargs, 1, "maxsplit");
      int64_t max_split = max_v && max_v->kind == K::kInt ? max_v->i : -1;
      Array parts;
      if (!a0 || a0->is_none()) {  // runs of whitespace, no empty parts
        size_t p = 0;
        while (p < s.size()) {
          while (p < s.size() && is_py_space(s[p])) ++p;
          if (p >= s.size()) break;
          if (max_split == 0) {
            parts.push_back(Value::string(strip(s.substr(p), nullptr, false, true)));
            break;
          }
          size_t q = p;
          while (q < s.size() && !is_py_space(s[q])) ++q;
          parts.push_back(Value::string(s.substr(p, q - p)));
          --max_split;
          p = q;
        }
        return Value::list(std::move(parts));
      }
      if (!a0->is_string() || a0->s.empty()) throw_error("split separator must be a non-empty string");
      size_t start = 0;
      for (size_t p = s.find(a0->s); p != std::string::npos && max_split != 0; p = s.find(a0->s, start), --max_split) {
        parts.push_back(Value::string(s.substr(start, p - start)));
        start = p + a0->s.size();
      }
      parts.push_back(Value::string(s.substr(start)));
      return Value::list(std::move(parts));
    });
  }

  static std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    std::string out;
    size_t start = 0;
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, start)) {
      out += s.substr(start, p - start) + to;
      start = p + from.size();
    }
    return out + s.substr(start);
  }

  Value filter(const Expr& e) {
    const Value in = eval(*e.args[0]);
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    Kwargs kwargs;
    for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
    try {
      return apply_filter(e.name, in, args, kwargs, e.line);
    } catch (const Error& err) {
      if (err.message().starts_with("template line")) throw;
      fail(e.line, fmt::format("filter '{}': {}", e.name, err.message()));
    }
  }

  Value apply_filter(const std::string& name, const Value& in, std::vector<Value>& args, Kwargs& kwargs, int line) {
    const Value* a0 = arg(args, kwargs, 0, "");
    if (name == "tojson") {  // Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=indent)
      const Value* indent = arg(args, kwargs, 0, "indent");
      const Value* sort = arg(args, kwargs, 99, "sort_keys");
      return Value::string(to_json(in, indent && indent->kind == K::kInt ? static_cast<int>(indent->i) : -1, sort && sort->truthy()));
    }
    if (name == "trim" || name == "strip") return Value::string(strip(to_output(in), a0, true, true));
    if (name == "length" || name == "count") {
      if (in.is_string()) return Value::integer(static_cast<int64_t>(utf8_chars(in.s).size()));
      if (in.kind == K::kArray) return Value::integer(static_cast<int64_t>(in.array->size()));
      if (in.kind == K::kObject) return Value::integer(static_cast<int64_t>(in.object->size()));
      if (in.undefined()) return Value::integer(0);
      fail(line, fmt::format("{} has no length", kind_name(in)));
    }
    if (name == "upper" || name == "lower") return Value::string(ascii_case(to_output(in), name == "upper"));
    if (name == "title") return Value::string(title_case(to_output(in)));
    if (name == "capitalize") {
      const std::string s = to_output(in);
      return Value::string(s.empty() ? s : ascii_case(s.substr(0, 1), true) + ascii_case(s.substr(1), false));
    }
    if (name == "default" || name == "d") {
      const Value* boolean = arg(args, kwargs, 1, "boolean");
      const bool use_default = in.undefined() || (boolean && boolean->truthy() && !in.truthy());
      return use_default ? (a0 ? *a0 : Value::string("")) : in;
    }
    if (name == "join") {
      const Value items = list_of(in, line);
      const Value* attr = arg(args, kwargs, 1, "attribute");
      std::string out;
      for (size_t k = 0; k < items.array->size(); ++k) {
        const Value& item = (*items.array)[k];
        out += (k && a0 ? to_output(*a0) : "") + to_output(attr ? attribute(item, to_output(*attr), line) : item);
      }
      return Value::string(out);
    }
    if (name == "first" || name == "last") {
      const Value items = list_of(in, line);
      if (items.array->empty()) return Value();
      return name == "first" ? items.array->front() : items.array->back();
    }
    if (name == "list") return Value::list(*list_of(in, line).array);
    if (name == "string") return Value::string(to_output(in));
    if (name == "safe" || name == "e" || name == "escape") return in;  // no HTML autoescaping in chat templates
    if (name == "int") {
      if (in.kind == K::kFloat) return Value::integer(static_cast<int64_t>(in.f));
      if (in.is_number()) return Value::integer(in.kind == K::kBool ? in.b : in.i);
      try {
        return Value::integer(std::stoll(to_output(in)));
      } catch (const std::exception&) {
        return Value::integer(0);
      }
    }
    if (name == "float") {
      if (in.is_number()) return Value::number(in.as_double());
      try {
        return Value::number(std::stod(to_output(in)));
      } catch (const std::exception&) {
        return Value::number(0);
      }
    }
    if (name == "abs") return in.kind == K::kInt ? Value::integer(std::llabs(in.i)) : Value::number(std::fabs(in.as_double()));
    if (name == "items") return in.kind == K::kObject ? (*dict_method(in, "items").function)(args, kwargs) : Value::list();
    if (name == "replace") {
      const Value* b = arg(args, kwargs, 1, "");
      if (!a0 || !b) fail(line, "replace needs two arguments");
      return Value::string(replace_all(to_output(in), to_output(*a0), to_output(*b)));
    }
    if (name == "reverse") {
      if (in.is_string()) {
        auto chars = utf8_chars(in.s);
        std::reverse(chars.begin(), chars.end());
        std::string s;
        for (auto& c : chars) s += c;
        return Value::string(s);
      }
      Array items = *list_of(in, line).array;
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (name == "unique") {
      Array out;
      const Value items = list_of(in, line);  // owns the array the loop walks
      for (const Value& v : *items.array) {
        if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return equal(o, v); })) out.push_back(v);
      }
      return Value::list(std::move(out));
    }
    if (name == "sort") {
      Array items = *list_of(in, line).array;
      const Value* attr = arg(args, kwargs, 2, "attribute");
      const Value* rev = arg(args, kwargs, 0, "reverse");
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return attr ? less(attribute(x, to_output(*attr), line), attribute(y, to_output(*attr), line)) : less(x, y);
      });
      if (rev && rev->truthy()) std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (name == "map") {
      Array out;
      const Value* attr = arg(args, kwargs, 99, "attribute");
      const Value items = list_of(in, line);  // owns the array the loop walks
      for (const Value& v : *items.array) {
        if (attr) {
          out.push_back(attribute(v, to_output(*attr), line));
        } else if (a0 && a0->is_string()) {
          std::vector<Value> rest(args.begin() + 1, args.end());
          Kwargs none;
          out.push_back(apply_filter(a0->s, v, rest, none, line));
        } else {
          fail(line, "map needs attribute= or a filter name");
        }
      }
      return Value::list(std::move(out));
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
      const bool by_attr = name.ends_with("attr");
      const bool keep_when = name.starts_with("select");
      Array out;
      const Value items = list_of(in, line);  // owns the array the loop walks
      for (const Value& v : *items.array) {
        const Value subject = by_attr ? attribute(v, a0 ? to_output(*a0) : "", line) : v;
        const size_t test_at = by_attr ? 1 : 0;
        bool result;
        if (args.size() > test_at) {
          std::vector<Value> test_args(args.begin() + static_cast<ptrdiff_t>(test_at) + 1, args.end());
          result = apply_test(to_output(args[test_at]), subject, test_args, line);
        } else {
          result = subject.truthy();
        }
        if (result == keep_when) out.push_back(v);
      }
      return Value::list(std::move(out));
    }
    if (name == "indent") {
      const Value* width_v = arg(args, kwargs, 0, "width");
      const Value* first_v = arg(args, kwargs, 1, "first");
      const std::string pad = width_v && width_v->is_string() ? width_v->s : std::string(width_v ? static_cast<size_t>(width_v->i) : 4, ' ');
      const std::string s = to_output(in);
      std::string out = first_v && first_v->truthy() ? pad : "";
      for (size_t k = 0; k < s.size(); ++k) {
        out += s[k];
        if (s[k] == '\n' && k + 1 < s.size() && s[k + 1] != '\n') out += pad;
      }
      return Value::string(out);
    }
    if (name == "round") {
      const Value* prec = arg(args, kwargs, 0, "precision");
      const double scale = std::pow(10.0, prec && prec->kind == K::kInt ? static_cast<double>(prec->i) : 0.0);
      return Value::number(std::nearbyint(in.as_double() * scale) / scale);
    }
    fail(line, fmt::format("unsupported filter '{}'", name));
  }

  bool test(const Expr& e) {
    const Value v = eval(*e.args[0]);
    std::vector<Value> args;
    for (size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    return apply_test(e.name, v, args, e.line);
  }

  bool apply_test(const std::string& name, const Value& v, std::vector<Value>& args, int line) {
    const auto need = [&]() -> const Value& {
      if (args.empty()) fail(line, fmt::format("test '{}' needs an argument", name));
      return args[0];
    };
    if (name == "defined") return !v.undefined();
    if (name == "undefined") return v.undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.kind == K::kInt || v.kind == K::kFloat;
    if (name == "integer") return v.kind == K::kInt;
    if (name == "float") return v.kind == K::kFloat;
    if (name == "boolean") return v.kind == K::kBool;
    if (name == "true") return v.kind == K::kBool && v.b;
    if (name == "false") return v.kind == K::kBool && !v.b;
    if (name == "mapping") return v.kind == K::kObject;
    if (name == "sequence" || name == "iterable") return v.kind == K::kArray || v.is_string() || v.kind == K::kObject;
    if (name == "callable") return v.kind == K::kFunction;
    if (name == "odd" || name == "even") return v.kind == K::kInt && (v.i % 2 != 0) == (name == "odd");
    if (name == "divisibleby") return v.kind == K::kInt && need().kind == K::kInt && need().i != 0 && v.i % need().i == 0;
    if (name == "equalto" || name == "eq" || name == "==") return equal(v, need());
    if (name == "ne" || name == "!=") return !equal(v, need());
    if (name == "sameas") return equal(v, need()) && v.kind == need().kind;
    if (name == "in") return contains(need(), v, line);
    if (name == "lower") return v.is_string() && ascii_case(v.s, false) == v.s;
    if (name == "upper") return v.is_string() && ascii_case(v.s, true) == v.s;
    try {
      if (name == "lt" || name == "<") return less(v, need());
      if (name == "gt" || name == ">") return less(need(), v);
      if (name == "le" || name == "<=") return !less(need(), v);
      if (name == "ge" || name == ">=") return !less(v, need());
    } catch (const Error& err) {
      fail(line, err.message());
    }
    fail(line, fmt::format("unsupported test '{}'", name));
  }

  void install_globals() {
    globals_["namespace"] = Value::callable([](std::vector<Value>& args, Kwargs& kwargs) {
      Value ns = Value::dict();
      ns.is_namespace = true;
      if (!args.empty() && args[0].kind == K::kObject) {
        for (const auto& [k, v] : *args[0].object) ns.set(k, v);
      }
      for (const auto& [k, v] : kwargs) ns.set(k, v);
      return ns;
    });
    globals_["dict"] = Value::callable([](std::vector<Value>&, Kwargs& kwargs) { return Value::dict(kwargs); });
    globals_["range"] = Value::callable([this](std::vector<Value>& args, Kwargs&) {
      int64_t start = 0, stop = 0, step = 1;
      for (const Value& a : args) {
        if (a.kind != K::kInt) throw_error("range() needs integers");
      }
      if (args.size() == 1) stop = args[0].i;
      else if (args.size() >= 2) start = args[0].i, stop = args[1].i;
      if (args.size() >= 3) step = args[2].i;
      if (step == 0 || args.empty()) throw_error("bad range()");
      Array out;
      for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
        if (out.size() >= limits_.max_loop_iterations) throw_error("range() too large");
        out.push_back(Value::integer(k));
      }
      return Value::list(std::move(out));
    });
    globals_["raise_exception"] = Value::callable([](std::vector<Value>& args, Kwargs&) -> Value {
      throw_error("the template raised an error: {}", args.empty() ? "" : to_output(args[0]));
    });
    globals_["strftime_now"] = Value::callable([](std::vector<Value>& args, Kwargs&) {
      const std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buffer[256];
      const size_t n = std::strftime(buffer, sizeof(buffer), args.empty() ? "%Y-%m-%d" : to_output(args[0]).c_str(), &tm);
      return Value::string(std::string(buffer, n));
    });
  }

  const RenderLimits& limits_;
  std::vector<std::unordered_map<std::string, Value>> scopes_;
  std::unordered_map<std::string, Value> globals_;
  size_t iterations_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string render(const Template& tmpl, const Value& context, const RenderLimits& limits) {
  if (context.kind != K::kObject) throw_error("template context must be a dict");
  Renderer renderer(context, limits);
  std::string out;
  renderer.exec(tmpl.body, &out);
  return out;
}

}  // namespace r1::jinja
