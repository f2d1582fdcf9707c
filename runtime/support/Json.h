//===- Json.h - a small strict JSON parser and writer -----------*- C++ -*-===//
//
// Reads layer configs and safetensors headers. Strict RFC 8259: no comments,
// no trailing commas, no NaN/Infinity, no leading zeros, valid UTF-8 in
// strings, duplicate object keys rejected. No exceptions: parse() returns an
// error message carrying the byte offset of the problem.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_JSON_H
#define MOEC_RUNTIME_SUPPORT_JSON_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::json {

enum class Kind { Null, Bool, Number, String, Array, Object };

/// Name of a kind for messages: "null", "a boolean", "a number", ...
const char *kindName(Kind kind);

struct Member;

class Value {
public:
  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double d);
  /// An integer; exact for the whole int64 range, unlike number().
  static Value integer(int64_t i);
  static Value string(std::string s);
  static Value array();
  static Value object();

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  /// Payload accessors; only meaningful for the matching kind.
  bool asBool() const { return bool_; }
  double asNumber() const { return number_; }
  const std::string &asString() const { return string_; }
  const std::vector<Value> &elements() const { return elements_; }
  const std::vector<Member> &members() const { return members_; }

  /// The number as an int64 when it is integral and representable. Integer
  /// literals are kept exactly (a double would round above 2^53).
  std::optional<int64_t> asInt64() const;

  /// Object member by key, or nullptr when this is not an object or the key
  /// is missing. The typed variants also return nullptr on a type mismatch.
  const Value *get(std::string_view key) const;
  const Value *getObject(std::string_view key) const;
  const Value *getArray(std::string_view key) const;
  const std::string *getString(std::string_view key) const;
  const double *getNumber(std::string_view key) const;
  const bool *getBool(std::string_view key) const;
  /// Mutable access, for amending a record built earlier.
  Value *get(std::string_view key);
  std::vector<Value> &elements() { return elements_; }

  /// Builders. push() requires an array; set() an object and replaces an
  /// existing member of the same key.
  Value &push(Value v);
  Value &set(std::string key, Value v);

private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0.0;
  // Set for integer literals that fit, so asInt64() stays exact.
  std::optional<int64_t> exactInt_;
  std::string string_;
  std::vector<Value> elements_;
  std::vector<Member> members_;

  friend class Parser;
};

struct Member {
  std::string key;
  Value value;
};

struct ParseOptions {
  /// Arrays and objects nested deeper than this are an error, so hostile
  /// input cannot exhaust the stack.
  unsigned maxDepth = 128;
};

/// Parses `text` as one JSON document into `out`. Returns "" on success,
/// otherwise "at offset N: <problem>" (N is the 0-based byte offset), and
/// `out` is left null.
std::string parse(std::string_view text, Value &out,
                  const ParseOptions &options = {});

/// Writes `v` as JSON. indent < 0 gives one line; otherwise members and
/// elements go on their own lines indented by `indent` spaces per level.
/// Numbers round-trip exactly; non-finite numbers become null.
std::string write(const Value &v, int indent = -1);

} // namespace moe::json

#endif // MOEC_RUNTIME_SUPPORT_JSON_H
