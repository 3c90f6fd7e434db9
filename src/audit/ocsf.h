// Audit events as OCSF records (--audit-format ocsf): the Open Cybersecurity
// Schema Framework's event classes, so that a SIEM that speaks OCSF takes
// ringfence's log without a parser of its own. See docs/audit.md "OCSF".
//
//   Network Activity (4001)     proxy and guard connection decisions
//   HTTP Activity (4002)        requests on inspected (L7) connections
//   File System Activity (1001) Landlock file denials, the metadata guard
//   Process Activity (1007)     start, exit, seccomp refusals, the rest
//
// Every record carries the base event's required fields and the class's
// own; the ringfence event itself is kept under `unmapped`, so nothing the
// JSON form says is lost.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/audit.h"

namespace rf {

// The OCSF schema version the records follow.
inline constexpr const char* kOcsfVersion = "1.3.0";

// `time_ms`: milliseconds since the epoch (the record's `time`); `hostname`
// and `supervisor_pid` describe the device and the supervisor (the actor of
// process lifecycle events).
nlohmann::json OcsfRecord(const AuditEvent& e, int64_t time_ms, const std::string& hostname,
                          int supervisor_pid);

}  // namespace rf
