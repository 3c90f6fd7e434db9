// JSON text that never throws: strings from outside (executable paths from
// /proc, host names, log lines) can hold bytes that are not UTF-8, which
// nlohmann::json::dump() throws on; they are replaced (U+FFFD) instead. A
// throw in the supervisor would end the sandbox.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace rf {

// `indent` as for nlohmann::json::dump (-1: one line).
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace rf
