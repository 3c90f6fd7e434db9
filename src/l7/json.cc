#include "l7/json.h"

#include <algorithm>
#include <cstdint>

namespace rf::l7 {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the
// bytes there are not one (RFC 3629 table: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  const auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;  // overlong below U+0800
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // U+D800..DFFF are surrogates
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;  // overlong below U+10000
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Parser {
 public:
  Parser(std::string_view in, const JsonOptions& options) : in_(in), options_(options) {}

  Result<JsonValue> Document() {
    if (in_.size() >= 3 && in_.substr(0, 3) == "\xEF\xBB\xBF")
      return Fail("a byte order mark is not allowed");
    SkipSpace();
    Result<JsonValue> v = Value(0);
    if (!v.ok()) return v;
    SkipSpace();
    if (pos_ != in_.size()) return Fail("unexpected data after the value");
    return v;
  }

 private:
  Status Fail(std::string_view what) const {
    return Status::Invalid("JSON: at byte " + std::to_string(pos_) + ": " + std::string(what));
  }

  void SkipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  bool Literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<JsonValue> Value(size_t depth) {
    if (pos_ >= in_.size()) return Fail("unexpected end of input");
    const char c = in_[pos_];
    switch (c) {
      case '{':
        return ObjectValue(depth + 1);
      case '[':
        return ArrayValue(depth + 1);
      case '"': {
        Result<std::string> s = StringValue();
        if (!s.ok()) return s.status();
        return JsonValue::String(std::move(*s));
      }
      case 't':
        if (Literal("true")) return JsonValue::Bool(true);
        break;
      case 'f':
        if (Literal("false")) return JsonValue::Bool(false);
        break;
      case 'n':
        if (Literal("null")) return JsonValue::Null();
        break;
      default:
        if (c == '-' || IsDigit(c)) return NumberValue();
        break;
    }
    return Fail("expected a value");
  }

  Result<JsonValue> NumberValue() {
    const size_t start = pos_;
    if (in_[pos_] == '-') ++pos_;
    if (pos_ >= in_.size() || !IsDigit(in_[pos_])) return Fail("a number needs digits");
    if (in_[pos_] == '0') {
      ++pos_;
      if (pos_ < in_.size() && IsDigit(in_[pos_])) return Fail("a number has a leading zero");
    } else {
      while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
    }
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      if (pos_ >= in_.size() || !IsDigit(in_[pos_])) return Fail("a fraction needs digits");
      while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (pos_ >= in_.size() || !IsDigit(in_[pos_])) return Fail("an exponent needs digits");
      while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
    }
    return JsonValue::Number(std::string(in_.substr(start, pos_ - start)));
  }

  // Four hex digits after "\u" at pos_.
  Result<uint32_t> Hex4() {
    if (in_.size() - pos_ < 4) return Fail("a \\u escape needs four hex digits");
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int d = HexDigit(in_[pos_ + k]);
      if (d < 0) return Fail("a \\u escape needs four hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    pos_ += 4;
    return v;
  }

  Result<std::string> StringValue() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (pos_ >= in_.size()) return Fail("a string is not closed");
      const unsigned char c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) return Fail("a control character must be escaped in a string");
      if (c == '\\') {
        if (++pos_ >= in_.size()) return Fail("a string is not closed");
        const char e = in_[pos_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.push_back(e);
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            Result<uint32_t> hi = Hex4();
            if (!hi.ok()) return hi.status();
            uint32_t cp = *hi;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail("a lone low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (in_.substr(pos_, 2) != "\\u")
                return Fail("a high surrogate must be followed by a low surrogate");
              pos_ += 2;
              Result<uint32_t> lo = Hex4();
              if (!lo.ok()) return lo.status();
              if (*lo < 0xDC00 || *lo > 0xDFFF)
                return Fail("a high surrogate must be followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (*lo - 0xDC00);
            }
            AppendUtf8(out, cp);
            break;
          }
          default:
            --pos_;
            return Fail("an unknown escape in a string");
        }
        continue;
      }
      const size_t n = Utf8SequenceLength(in_, pos_);
      if (n == 0) return Fail("invalid UTF-8");
      out.append(in_.substr(pos_, n));
      pos_ += n;
    }
  }

  Result<JsonValue> ArrayValue(size_t depth) {
    if (depth > options_.max_depth) return Fail("nested too deeply");
    ++pos_;  // '['
    std::vector<JsonValue> items;
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      return JsonValue::Array(std::move(items));
    }
    while (true) {
      SkipSpace();
      Result<JsonValue> v = Value(depth);
      if (!v.ok()) return v;
      items.push_back(std::move(*v));
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("an array is not closed");
      if (in_[pos_] == ']') {
        ++pos_;
        return JsonValue::Array(std::move(items));
      }
      if (in_[pos_] != ',') return Fail("expected ',' or ']' in an array");
      ++pos_;
    }
  }

  Result<JsonValue> ObjectValue(size_t depth) {
    if (depth > options_.max_depth) return Fail("nested too deeply");
    const size_t start = pos_;
    ++pos_;  // '{'
    std::vector<std::pair<std::string, JsonValue>> members;
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      return JsonValue::Object(std::move(members));
    }
    while (true) {
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != '"') return Fail("expected a member name");
      Result<std::string> key = StringValue();
      if (!key.ok()) return key.status();
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != ':') return Fail("expected ':' after a member name");
      ++pos_;
      SkipSpace();
      Result<JsonValue> v = Value(depth);
      if (!v.ok()) return v;
      members.emplace_back(std::move(*key), std::move(*v));
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("an object is not closed");
      if (in_[pos_] == '}') {
        ++pos_;
        break;
      }
      if (in_[pos_] != ',') return Fail("expected ',' or '}' in an object");
      ++pos_;
    }
    if (!options_.allow_duplicate_keys && members.size() > 1) {
      // Sorted names: O(n log n), so a body of many members cannot make
      // this quadratic.
      std::vector<std::string_view> names;
      names.reserve(members.size());
      for (const auto& m : members) names.emplace_back(m.first);
      std::sort(names.begin(), names.end());
      auto dup = std::adjacent_find(names.begin(), names.end());
      if (dup != names.end()) {
        const size_t end = pos_;
        pos_ = start;
        Status st = Fail("the member name " + JsonQuote(*dup) + " appears twice in an object");
        pos_ = end;
        return st;
      }
    }
    return JsonValue::Object(std::move(members));
  }

  std::string_view in_;
  const JsonOptions& options_;
  size_t pos_ = 0;
};

void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out.push_back('"');
}

void AppendJson(std::string& out, const JsonValue& v) {
  switch (v.type()) {
    case JsonValue::Type::kNull:
      out += "null";
      break;
    case JsonValue::Type::kBool:
      out += v.boolean() ? "true" : "false";
      break;
    case JsonValue::Type::kNumber:
      out += v.text();
      break;
    case JsonValue::Type::kString:
      AppendQuoted(out, v.text());
      break;
    case JsonValue::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const JsonValue& item : v.items()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, item);
      }
      out.push_back(']');
      break;
    }
    case JsonValue::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [name, value] : v.members()) {
        if (!first) out.push_back(',');
        first = false;
        AppendQuoted(out, name);
        out.push_back(':');
        AppendJson(out, value);
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

JsonValue JsonValue::Bool(bool b) {
  JsonValue v(Type::kBool);
  v.boolean_ = b;
  return v;
}

JsonValue JsonValue::Number(std::string literal) {
  JsonValue v(Type::kNumber);
  v.text_ = std::move(literal);
  return v;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue v(Type::kString);
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue v(Type::kArray);
  v.items_ = std::move(items);
  return v;
}

JsonValue JsonValue::Object(std::vector<std::pair<std::string, JsonValue>> members) {
  JsonValue v(Type::kObject);
  v.members_ = std::move(members);
  return v;
}

Result<JsonValue> ParseJson(std::string_view text, const JsonOptions& options) {
  return Parser(text, options).Document();
}

std::string ToJson(const JsonValue& v) {
  std::string out;
  AppendJson(out, v);
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  AppendQuoted(out, s);
  return out;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace rf::l7
