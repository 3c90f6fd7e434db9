// JSON (RFC 8259) read from untrusted bodies: MCP and JSON-RPC envelopes,
// GraphQL requests. Strict on purpose, because the proxy decides on what it
// reads and the server acts on what it reads: any input two parsers could
// read differently is refused rather than guessed at.
//
//  - UTF-8 validated everywhere (no overlong forms, no surrogates encoded as
//    UTF-8, nothing above U+10FFFF); no byte order mark.
//  - String escapes per the RFC; `\uXXXX` surrogates must form a pair (a
//    lone surrogate is refused: it has no UTF-8 form, and servers disagree
//    on what it becomes). Unescaped control characters are refused.
//  - Numbers in the RFC's grammar only (no leading zeros, `+`, `.5`, NaN or
//    Infinity); kept as their literal text, so an id is echoed back exactly.
//  - Nesting deeper than `max_depth` is refused (the parser recurses, so
//    the depth bounds its stack; the caller bounds the size).
//  - Duplicate keys in one object are refused by default: one server takes
//    the first, another the last, so `{"method":"tools/list",
//    "method":"tools/call"}` would let the proxy check one method while the
//    server runs the other.
//  - Only JSON whitespace (space, tab, LF, CR); nothing after the value.
//
// Errors are values naming the byte offset where the input went wrong.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rf::l7 {

class JsonValue {
 public:
  enum class Type : unsigned char { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool boolean() const { return boolean_; }
  // A string's decoded UTF-8 (may hold NUL from `\u0000`), or a number's
  // literal text as written.
  const std::string& text() const { return text_; }
  const std::vector<JsonValue>& items() const { return items_; }
  // Members in document order.
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // The member named `key` of an object; nullptr when absent or not an
  // object.
  const JsonValue* Find(std::string_view key) const;

  static JsonValue Null() { return JsonValue(Type::kNull); }
  static JsonValue Bool(bool b);
  static JsonValue Number(std::string literal);
  static JsonValue String(std::string s);
  static JsonValue Array(std::vector<JsonValue> items);
  static JsonValue Object(std::vector<std::pair<std::string, JsonValue>> members);

 private:
  explicit JsonValue(Type t) : type_(t) {}
  Type type_ = Type::kNull;
  bool boolean_ = false;
  std::string text_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

struct JsonOptions {
  size_t max_depth = 64;  // arrays and objects nested deeper are refused
  bool allow_duplicate_keys = false;
};

// The one JSON value `text` holds, or an Invalid status "JSON: at byte N:
// what".
Result<JsonValue> ParseJson(std::string_view text, const JsonOptions& options = {});

// Compact JSON for `v` (members in order); strings are valid UTF-8 after
// parsing, and any invalid byte in a value built by hand becomes U+FFFD.
std::string ToJson(const JsonValue& v);
// `s` as a JSON string literal, quotes included (invalid UTF-8 → U+FFFD).
std::string JsonQuote(std::string_view s);

// True when `s` is valid UTF-8 in the strict sense above.
bool ValidUtf8(std::string_view s);

}  // namespace rf::l7
