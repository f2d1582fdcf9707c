//===- Json.cpp - JSON values and the writer ------------------------------===//

#include "runtime/support/Json.h"

#include <charconv>
#include <cmath>

namespace moe::json {

const char *kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "a boolean";
  case Kind::Number:
    return "a number";
  case Kind::String:
    return "a string";
  case Kind::Array:
    return "an array";
  case Kind::Object:
    return "an object";
  }
  return "?";
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Number;
  v.number_ = d;
  return v;
}

Value Value::integer(int64_t i) {
  Value v = number(static_cast<double>(i));
  v.exactInt_ = i;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}

Value Value::array() {
  Value v;
  v.kind_ = Kind::Array;
  return v;
}

Value Value::object() {
  Value v;
  v.kind_ = Kind::Object;
  return v;
}

std::optional<int64_t> Value::asInt64() const {
  if (kind_ != Kind::Number)
    return std::nullopt;
  if (exactInt_)
    return exactInt_;
  // 2^63 is exactly representable; anything >= it does not fit.
  if (!std::isfinite(number_) || number_ != std::trunc(number_) ||
      number_ < -9223372036854775808.0 || number_ >= 9223372036854775808.0)
    return std::nullopt;
  return static_cast<int64_t>(number_);
}

Value *Value::get(std::string_view key) {
  if (kind_ != Kind::Object)
    return nullptr;
  for (Member &m : members_)
    if (m.key == key)
      return &m.value;
  return nullptr;
}

const Value *Value::get(std::string_view key) const {
  if (kind_ != Kind::Object)
    return nullptr;
  for (const Member &m : members_)
    if (m.key == key)
      return &m.value;
  return nullptr;
}

const Value *Value::getObject(std::string_view key) const {
  const Value *v = get(key);
  return v && v->isObject() ? v : nullptr;
}

const Value *Value::getArray(std::string_view key) const {
  const Value *v = get(key);
  return v && v->isArray() ? v : nullptr;
}

const std::string *Value::getString(std::string_view key) const {
  const Value *v = get(key);
  return v && v->isString() ? &v->string_ : nullptr;
}

const double *Value::getNumber(std::string_view key) const {
  const Value *v = get(key);
  return v && v->isNumber() ? &v->number_ : nullptr;
}

const bool *Value::getBool(std::string_view key) const {
  const Value *v = get(key);
  return v && v->isBool() ? &v->bool_ : nullptr;
}

Value &Value::push(Value v) {
  elements_.push_back(std::move(v));
  return elements_.back();
}

Value &Value::set(std::string key, Value v) {
  for (Member &m : members_)
    if (m.key == key) {
      m.value = std::move(v);
      return m.value;
    }
  members_.push_back(Member{std::move(key), std::move(v)});
  return members_.back().value;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

static void writeString(std::string &o, const std::string &s) {
  o += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      o += "\\\"";
      break;
    case '\\':
      o += "\\\\";
      break;
    case '\n':
      o += "\\n";
      break;
    case '\r':
      o += "\\r";
      break;
    case '\t':
      o += "\\t";
      break;
    default:
      if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        o += "\\u00";
        o += hex[c >> 4];
        o += hex[c & 15];
      } else {
        o += ch;
      }
    }
  }
  o += '"';
}

static void writeNumber(std::string &o, const Value &v) {
  if (std::optional<int64_t> i = v.asInt64();
      i && std::fabs(v.asNumber()) < 9007199254740992.0) {
    o += std::to_string(*i);
    return;
  }
  double d = v.asNumber();
  if (!std::isfinite(d)) {
    o += "null";
    return;
  }
  // Shortest representation that reads back to the same double.
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  (void)ec;
  o.append(buf, ptr);
}

static void writeValue(std::string &o, const Value &v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0)
      return;
    o += '\n';
    o.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (v.kind()) {
  case Kind::Null:
    o += "null";
    return;
  case Kind::Bool:
    o += v.asBool() ? "true" : "false";
    return;
  case Kind::Number:
    writeNumber(o, v);
    return;
  case Kind::String:
    writeString(o, v.asString());
    return;
  case Kind::Array: {
    o += '[';
    const auto &es = v.elements();
    for (size_t i = 0; i < es.size(); ++i) {
      if (i)
        o += indent < 0 ? ", " : ",";
      newline(level + 1);
      writeValue(o, es[i], indent, level + 1);
    }
    if (!es.empty())
      newline(level);
    o += ']';
    return;
  }
  case Kind::Object: {
    o += '{';
    const auto &ms = v.members();
    for (size_t i = 0; i < ms.size(); ++i) {
      if (i)
        o += indent < 0 ? ", " : ",";
      newline(level + 1);
      writeString(o, ms[i].key);
      o += ": ";
      writeValue(o, ms[i].value, indent, level + 1);
    }
    if (!ms.empty())
      newline(level);
    o += '}';
    return;
  }
  }
}

std::string write(const Value &v, int indent) {
  std::string o;
  writeValue(o, v, indent, 0);
  return o;
}

} // namespace moe::json
