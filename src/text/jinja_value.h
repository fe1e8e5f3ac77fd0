// Values of the chat-template interpreter (a Python-like dynamic value: none, bool, int, float, string, list,
// dict, callable) with Jinja/Python semantics for truth, equality and printing, and conversion from/to JSON.
// Parsing is jinja_parse.h's job, evaluation jinja_eval.cpp's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace r1::jinja {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python dicts keep it
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Function = std::function<Value(std::vector<Value>& args, Kwargs& kwargs)>;

struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<Array> array;    // shared: lists and dicts have reference semantics, as in Python
  std::shared_ptr<Object> object;
  std::shared_ptr<Function> function;
  bool is_namespace = false;  // namespace(): the one object whose attributes templates may assign

  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::kInt; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::kFloat; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::kString; v.s = std::move(x); return v; }
  static Value list(Array items = {}) { Value v; v.kind = Kind::kArray; v.array = std::make_shared<Array>(std::move(items)); return v; }
  static Value dict(Object items = {}) { Value v; v.kind = Kind::kObject; v.object = std::make_shared<Object>(std::move(items)); return v; }
  static Value callable(Function fn) { Value v; v.kind = Kind::kFunction; v.function = std::make_shared<Function>(std::move(fn)); return v; }

  bool undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool; }
  double as_double() const { return kind == Kind::kFloat ? f : kind == Kind::kBool ? (b ? 1 : 0) : static_cast<double>(i); }

  bool truthy() const;
  // A dict entry or nullptr.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value value);
};

bool equal(const Value& a, const Value& b);
// Python's < for numbers, strings and lists; throws r1::Error for other pairs.
bool less(const Value& a, const Value& b);
// str(v) as Jinja prints it: None, True, 1.0, ['a', 1], {'k': 'v'}; undefined prints as "".
std::string to_output(const Value& v);
// repr(v): strings quoted as Python does.
std::string to_repr(const Value& v);
std::string kind_name(const Value& v);

Value from_json(const nlohmann::ordered_json& j);
// indent < 0: one line with ", " and ": " separators (json.dumps defaults), non-ASCII kept (ensure_ascii=False).
std::string to_json(const Value& v, int indent, bool sort_keys);

}  // namespace r1::jinja
