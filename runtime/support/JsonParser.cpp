//===- JsonParser.cpp - the strict JSON parser ----------------------------===//
//
// Recursive descent over the bytes; every error records the offset of the
// offending byte. Depth is bounded by ParseOptions::maxDepth because the
// recursion would otherwise let a hostile document exhaust the stack.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Json.h"

#include <algorithm>
#include <charconv>

namespace moe::json {

class Parser {
public:
  Parser(std::string_view text, const ParseOptions &options)
      : text_(text), options_(options) {}

  std::string run(Value &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return error_;
    skipSpace();
    if (pos_ != text_.size()) {
      fail("unexpected data after the document");
      return error_;
    }
    return "";
  }

private:
  std::string_view text_;
  const ParseOptions &options_;
  size_t pos_ = 0;
  std::string error_;

  // Always returns false so that callers can `return fail(...)`.
  bool fail(const std::string &message) { return failAt(pos_, message); }
  bool failAt(size_t offset, const std::string &message) {
    error_ = "at offset " + std::to_string(offset) + ": " + message;
    return false;
  }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos_;
  }

  bool expect(char c) {
    if (atEnd())
      return fail(std::string("expected '") + c + "', got end of input");
    if (peek() != c)
      return fail(std::string("expected '") + c + "'");
    ++pos_;
    return true;
  }

  bool parseValue(Value &out, unsigned depth) {
    if (atEnd())
      return fail("expected a value, got end of input");
    switch (peek()) {
    case '{':
      return parseObject(out, depth + 1);
    case '[':
      return parseArray(out, depth + 1);
    case '"':
      out = Value::string("");
      return parseString(out.string_);
    case 't':
      return parseWord("true", Value::boolean(true), out);
    case 'f':
      return parseWord("false", Value::boolean(false), out);
    case 'n':
      return parseWord("null", Value::null(), out);
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      return fail("expected a value");
    }
  }

  bool parseWord(std::string_view word, Value v, Value &out) {
    if (text_.substr(pos_, word.size()) != word)
      return fail("invalid literal");
    pos_ += word.size();
    out = std::move(v);
    return true;
  }

  bool checkDepth(unsigned depth) {
    if (depth > options_.maxDepth)
      return fail("nesting deeper than " + std::to_string(options_.maxDepth));
    return true;
  }

  bool parseArray(Value &out, unsigned depth) {
    if (!checkDepth(depth))
      return false;
    out = Value::array();
    ++pos_;
    skipSpace();
    if (!atEnd() && peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      Value element;
      if (!parseValue(element, depth))
        return false;
      out.elements_.push_back(std::move(element));
      skipSpace();
      if (!atEnd() && peek() == ',') {
        ++pos_;
        continue;
      }
      if (!atEnd() && peek() == ']') {
        ++pos_;
        return true;
      }
      return fail(atEnd() ? "expected ',' or ']', got end of input"
                          : "expected ',' or ']'");
    }
  }

  bool parseObject(Value &out, unsigned depth) {
    if (!checkDepth(depth))
      return false;
    out = Value::object();
    ++pos_;
    skipSpace();
    if (!atEnd() && peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      if (atEnd() || peek() != '"')
        return fail(atEnd() ? "expected a string key, got end of input"
                            : "expected a string key");
      size_t keyOffset = pos_;
      std::string key;
      if (!parseString(key))
        return false;
      if (out.get(key))
        return failAt(keyOffset, "duplicate key '" + key + "'");
      skipSpace();
      if (!expect(':'))
        return false;
      skipSpace();
      Value value;
      if (!parseValue(value, depth))
        return false;
      out.members_.push_back(Member{std::move(key), std::move(value)});
      skipSpace();
      if (!atEnd() && peek() == ',') {
        ++pos_;
        continue;
      }
      if (!atEnd() && peek() == '}') {
        ++pos_;
        return true;
      }
      return fail(atEnd() ? "expected ',' or '}', got end of input"
                          : "expected ',' or '}'");
    }
  }

  bool parseHex4(unsigned &out) {
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (atEnd())
        return fail("truncated \\u escape");
      char c = peek();
      unsigned digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return fail("invalid hex digit in \\u escape");
      out = out * 16 + digit;
    }
    return true;
  }

  static void appendUtf8(std::string &s, unsigned cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseEscape(std::string &s) {
    size_t start = pos_; // at the backslash
    ++pos_;
    if (atEnd())
      return fail("truncated escape");
    char c = peek();
    ++pos_;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      s += c;
      return true;
    case 'b':
      s += '\b';
      return true;
    case 'f':
      s += '\f';
      return true;
    case 'n':
      s += '\n';
      return true;
    case 'r':
      s += '\r';
      return true;
    case 't':
      s += '\t';
      return true;
    case 'u':
      break;
    default:
      return failAt(start, "invalid escape '\\" + std::string(1, c) + "'");
    }
    unsigned cp;
    if (!parseHex4(cp))
      return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return failAt(start, "unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u")
        return failAt(start, "unpaired high surrogate in \\u escape");
      pos_ += 2;
      unsigned low;
      if (!parseHex4(low))
        return false;
      if (low < 0xDC00 || low > 0xDFFF)
        return failAt(start, "unpaired high surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(s, cp);
    return true;
  }

  // Copies one UTF-8 sequence, rejecting overlong forms, surrogates and
  // code points above U+10FFFF.
  bool copyUtf8(std::string &s) {
    auto byte = [&](size_t i) {
      return static_cast<unsigned char>(text_[pos_ + i]);
    };
    unsigned char b0 = byte(0);
    size_t len;
    unsigned cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return fail("invalid UTF-8 in string");
    }
    if (pos_ + len > text_.size())
      return fail("invalid UTF-8 in string");
    for (size_t i = 1; i < len; ++i) {
      if ((byte(i) & 0xC0) != 0x80)
        return fail("invalid UTF-8 in string");
      cp = (cp << 6) | (byte(i) & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return fail("invalid UTF-8 in string");
    s.append(text_.substr(pos_, len));
    pos_ += len;
    return true;
  }

  bool parseString(std::string &s) {
    size_t start = pos_;
    ++pos_; // opening quote
    while (true) {
      if (atEnd())
        return failAt(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (!parseEscape(s))
          return false;
      } else if (c < 0x20) {
        return fail("control character in string");
      } else if (c < 0x80) {
        s += static_cast<char>(c);
        ++pos_;
      } else if (!copyUtf8(s)) {
        return false;
      }
    }
  }

  bool isDigit() const { return !atEnd() && peek() >= '0' && peek() <= '9'; }

  bool parseNumber(Value &out) {
    size_t start = pos_;
    bool integral = true;
    if (peek() == '-')
      ++pos_;
    if (!isDigit())
      return fail("expected a digit");
    if (peek() == '0') {
      ++pos_;
      if (isDigit())
        return failAt(start, "leading zero in number");
    } else {
      while (isDigit())
        ++pos_;
    }
    if (!atEnd() && peek() == '.') {
      integral = false;
      ++pos_;
      if (!isDigit())
        return fail("expected a digit after '.'");
      while (isDigit())
        ++pos_;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!atEnd() && (peek() == '+' || peek() == '-'))
        ++pos_;
      if (!isDigit())
        return fail("expected a digit in the exponent");
      while (isDigit())
        ++pos_;
    }
    const char *first = text_.data() + start;
    const char *last = text_.data() + pos_;
    out = Value::number(0.0);
    if (integral) {
      int64_t i;
      auto [ptr, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && ptr == last) {
        out.number_ = static_cast<double>(i);
        out.exactInt_ = i;
        return true;
      }
    }
    double d;
    auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // from_chars does not say whether it overflowed or underflowed; an
      // underflow is harmless (the value rounds to zero), an overflow is not.
      if (overflows(std::string_view(first, last - first)))
        return failAt(start, "number out of range");
      d = *first == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc() || ptr != last) {
      return failAt(start, "invalid number");
    }
    out.number_ = d;
    return true;
  }

  // Decimal exponent of the leading significant digit of a JSON number.
  static bool overflows(std::string_view num) {
    size_t i = num[0] == '-' ? 1 : 0;
    long intDigits = 0, leadingFracZeros = 0;
    bool seenNonZero = false;
    for (; i < num.size() && num[i] >= '0' && num[i] <= '9'; ++i)
      if (seenNonZero || num[i] != '0') {
        seenNonZero = true;
        ++intDigits;
      }
    if (i < num.size() && num[i] == '.')
      for (++i; i < num.size() && num[i] >= '0' && num[i] <= '9'; ++i) {
        if (!seenNonZero && num[i] == '0')
          ++leadingFracZeros;
        else
          seenNonZero = true;
      }
    long exp = 0;
    if (i < num.size() && (num[i] == 'e' || num[i] == 'E')) {
      ++i;
      bool neg = num[i] == '-';
      if (num[i] == '+' || num[i] == '-')
        ++i;
      for (; i < num.size(); ++i)
        exp = std::min(exp * 10 + (num[i] - '0'), 100000L);
      if (neg)
        exp = -exp;
    }
    long magnitude =
        intDigits > 0 ? intDigits - 1 + exp : -(leadingFracZeros + 1) + exp;
    return magnitude > 0;
  }
};

std::string parse(std::string_view text, Value &out,
                  const ParseOptions &options) {
  Value result;
  std::string err = Parser(text, options).run(result);
  out = err.empty() ? std::move(result) : Value();
  return err;
}

} // namespace moe::json
