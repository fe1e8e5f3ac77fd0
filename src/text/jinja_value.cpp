// Python/Jinja semantics of template values: truth, comparison, str(), repr(), and JSON in and out.
#include "jinja_value.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.h"

namespace r1::jinja {

bool Value::truthy() const {
  switch (kind) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return b;
    case Kind::kInt: return i != 0;
    case Kind::kFloat: return f != 0;
    case Kind::kString: return !s.empty();
    case Kind::kArray: return !array->empty();
    case Kind::kObject: return !object->empty();
    case Kind::kFunction: return true;
  }
  return false;
}

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [k, v] : *object) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

void Value::set(const std::string& key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    object->emplace_back(key, std::move(value));
  }
}

bool equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind != K::kFloat && b.kind != K::kFloat) return (a.kind == K::kBool ? a.b : a.i) == (b.kind == K::kBool ? b.b : b.i);
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case K::kUndefined:
    case K::kNone: return true;
    case K::kString: return a.s == b.s;
    case K::kArray:
      return a.array->size() == b.array->size() &&
             std::equal(a.array->begin(), a.array->end(), b.array->begin(), [](const Value& x, const Value& y) { return equal(x, y); });
    case K::kObject: {
      if (a.object->size() != b.object->size()) return false;
      for (const auto& [k, v] : *a.object) {
        const Value* other = b.find(k);
        if (other == nullptr || !equal(v, *other)) return false;
      }
      return true;
    }
    case K::kFunction: return a.function == b.function;
    default: return false;
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
  if (a.is_string() && b.is_string()) return a.s < b.s;
  if (a.kind == Value::Kind::kArray && b.kind == Value::Kind::kArray) {
    return std::lexicographical_compare(a.array->begin(), a.array->end(), b.array->begin(), b.array->end(), less);
  }
  throw_error("cannot compare {} with {}", kind_name(a), kind_name(b));
}

std::string kind_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "undefined";
    case Value::Kind::kNone: return "none";
    case Value::Kind::kBool: return "boolean";
    case Value::Kind::kInt: return "integer";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "string";
    case Value::Kind::kArray: return "list";
    case Value::Kind::kObject: return "dict";
    case Value::Kind::kFunction: return "function";
  }
  return "?";
}

namespace {

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", f);  // shortest round-trip, like Python's repr
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string string_repr(const std::string& s) {
  const char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

void json_string(const std::string& s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void json_dump(const Value& v, int indent, bool sort_keys, int depth, std::string* out) {
  if (depth > 256) throw_error("tojson: value nested too deeply");
  const auto newline = [&](int d) {
    if (indent >= 0) {
      out->push_back('\n');
      out->append(static_cast<size_t>(indent * d), ' ');
    }
  };
  const char* item_sep = indent >= 0 ? "," : ", ";
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: *out += "null"; break;
    case Value::Kind::kBool: *out += v.b ? "true" : "false"; break;
    case Value::Kind::kInt: *out += std::to_string(v.i); break;
    case Value::Kind::kFloat:
      *out += std::isnan(v.f) ? "NaN" : std::isinf(v.f) ? (v.f > 0 ? "Infinity" : "-Infinity") : float_repr(v.f);
      break;
    case Value::Kind::kString: json_string(v.s, out); break;
    case Value::Kind::kArray: {
      if (v.array->empty()) {
        *out += "[]";
        break;
      }
      out->push_back('[');
      for (size_t k = 0; k < v.array->size(); ++k) {
        if (k) *out += item_sep;
        newline(depth + 1);
        json_dump((*v.array)[k], indent, sort_keys, depth + 1, out);
      }
      newline(depth);
      out->push_back(']');
      break;
    }
    case Value::Kind::kObject: {
      if (v.object->empty()) {
        *out += "{}";
        break;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& item : *v.object) items.push_back(&item);
      if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out->push_back('{');
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) *out += item_sep;
        newline(depth + 1);
        json_string(items[k]->first, out);
        *out += ": ";
        json_dump(items[k]->second, indent, sort_keys, depth + 1, out);
      }
      newline(depth);
      out->push_back('}');
      break;
    }
    case Value::Kind::kFunction: throw_error("tojson: a function is not JSON");
  }
}

}  // namespace

std::string to_repr(const Value& v) {
  if (v.is_string()) return string_repr(v.s);
  return to_output(v);
}

std::string to_output(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.b ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.i);
    case Value::Kind::kFloat: return float_repr(v.f);
    case Value::Kind::kString: return v.s;
    case Value::Kind::kArray: {
      std::string out = "[";
      for (size_t k = 0; k < v.array->size(); ++k) out += (k ? ", " : "") + to_repr((*v.array)[k]);
      return out + "]";
    }
    case Value::Kind::kObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, value] : *v.object) {
        out += (first ? "" : ", ") + string_repr(key) + ": " + to_repr(value);
        first = false;
      }
      return out + "}";
    }
    case Value::Kind::kFunction: return "<function>";
  }
  return "";
}

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Array items;
      for (const auto& e : j) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Object items;
      for (const auto& [k, e] : j.items()) items.emplace_back(k, from_json(e));
      return Value::dict(std::move(items));
    }
    default: return Value();
  }
}

std::string to_json(const Value& v, int indent, bool sort_keys) {
  std::string out;
  json_dump(v, indent, sort_keys, 0, &out);
  return out;
}

}  // namespace r1::jinja
