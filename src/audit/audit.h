// Audit events as JSON Lines: one object a line with at least
// time (RFC 3339, UTC, ms), layer, action, subject, reason. See docs/audit.md.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/fd.h"
#include "common/status.h"

namespace rf {

struct AuditEvent {
  std::string layer;    // process | landlock | seccomp | proxy | network | ...
  std::string action;   // start | exit | allow | deny | degraded | ...
  std::string subject;  // what the event is about (command, host:port, path)
  std::string reason;   // why
  nlohmann::json extra = nlohmann::json::object();  // layer-specific fields
};

// Thread-safe sink. A sink without a file accepts events and drops them, so
// callers never need to check whether auditing is on.
class AuditSink {
 public:
  AuditSink() = default;
  static Result<std::unique_ptr<AuditSink>> Open(const std::string& path);

  void Emit(const AuditEvent& e);
  bool enabled() const { return fd_.valid(); }
  // Number of events that could not be written (e.g. disk full).
  uint64_t write_failures() const;
  static std::string Format(const AuditEvent& e);

 private:
  mutable std::mutex mu_;
  UniqueFd fd_;
  uint64_t failures_ = 0;
  bool warned_ = false;
};

}  // namespace rf
