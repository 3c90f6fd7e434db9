// Errors as values. A Status is either ok or carries a human-readable reason;
// Result<T> is a value or a Status. Neither throws. Model: LevelDB's Status.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace rf {

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string reason) { return Status(std::move(reason)); }
  // "what: strerror(err)"
  static Status Errno(const std::string& what, int err = errno) {
    return Status(what + ": " + std::strerror(err));
  }

  bool ok() const { return !failed_; }
  const std::string& reason() const { return reason_; }
  // Prefixes the reason with context ("loading policy: " + reason).
  Status With(const std::string& context) const {
    return ok() ? *this : Status(context + ": " + reason_);
  }

 private:
  explicit Status(std::string reason) : failed_(true), reason_(std::move(reason)) {}
  bool failed_ = false;
  std::string reason_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace rf
