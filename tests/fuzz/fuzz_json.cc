// libFuzzer target: rf::l7::ParseJson, the parser of untrusted MCP,
// JSON-RPC and GraphQL bodies.
//
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - an accepted input is valid UTF-8 and within the depth limit;
//  - ToJson of what was accepted parses again to the same text (a fixed
//    point), so an id echoed into an error object is well-formed JSON;
//  - differential against nlohmann::json (an independent parser): when both
//    accept, they read the same tree (types, strings byte for byte, the
//    same member names and values); when only nlohmann accepts, the reason
//    is one ringfence refuses on purpose (a duplicate name, nesting past the
//    limit, a byte order mark), never a disagreement about the grammar.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "l7/json.h"

namespace {

using rf::fuzz::Check;
using rf::l7::JsonValue;

bool Same(const JsonValue& ours, const nlohmann::json& theirs) {
  switch (ours.type()) {
    case JsonValue::Type::kNull:
      return theirs.is_null();
    case JsonValue::Type::kBool:
      return theirs.is_boolean() && theirs.get<bool>() == ours.boolean();
    case JsonValue::Type::kNumber:
      return theirs.is_number();
    case JsonValue::Type::kString:
      return theirs.is_string() && theirs.get_ref<const std::string&>() == ours.text();
    case JsonValue::Type::kArray: {
      if (!theirs.is_array() || theirs.size() != ours.items().size()) return false;
      for (size_t i = 0; i < ours.items().size(); ++i)
        if (!Same(ours.items()[i], theirs[i])) return false;
      return true;
    }
    case JsonValue::Type::kObject: {
      if (!theirs.is_object() || theirs.size() != ours.members().size()) return false;
      for (const auto& [name, value] : ours.members()) {
        auto it = theirs.find(name);
        if (it == theirs.end() || !Same(value, *it)) return false;
      }
      return true;
    }
  }
  return false;
}

size_t Depth(const JsonValue& v) {
  size_t d = 0;
  for (const JsonValue& item : v.items()) d = std::max(d, Depth(item));
  for (const auto& m : v.members()) d = std::max(d, Depth(m.second));
  return v.is_array() || v.is_object() ? d + 1 : 0;
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  rf::l7::JsonOptions options;
  options.max_depth = 16;  // small, so the fuzzer reaches the limit
  rf::Result<JsonValue> ours = rf::l7::ParseJson(text, options);
  const nlohmann::json theirs = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (ours.ok()) {
    Check(rf::l7::ValidUtf8(text));
    Check(Depth(*ours) <= options.max_depth);
    const std::string once = rf::l7::ToJson(*ours);
    rf::Result<JsonValue> again = rf::l7::ParseJson(once, options);
    Check(again.ok());
    Check(rf::l7::ToJson(*again) == once);
    // nlohmann refuses numbers beyond a double's range; every other input
    // we accept, it accepts too.
    if (!theirs.is_discarded()) Check(Same(*ours, theirs));
  } else {
    const std::string& why = ours.status().reason();
    Check(why.rfind("JSON: at byte ", 0) == 0);
    if (!theirs.is_discarded())
      Check(Contains(why, "appears twice") || Contains(why, "nested too deeply") ||
            Contains(why, "byte order mark"));
  }
  return 0;
}
