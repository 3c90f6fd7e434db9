// Errors as values. A Status is either ok or carries a kind (what a caller
// may branch on), the errno it came from (0 when none) and a human-readable
// reason (what a person reads; never parsed). Result<T> is a value or a
// Status. Model: LevelDB's Status.
//
// Contract: nothing here throws. Both types are [[nodiscard]]: an ignored
// error is a bug, or a decision stated where it is made with a cast to void
// and a comment. Reading the value of a Result that holds an error is a
// programming error: it prints the reason and aborts (it never throws and
// never returns garbage), so check ok() first.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace rf {

class [[nodiscard]] Status {
 public:
  // The kinds a caller decides on. Kept small on purpose: the reason says
  // the rest.
  enum class Code : unsigned char {
    kOk,
    kNotFound,     // the thing named does not exist
    kPermission,   // it exists, but this caller may not use it
    kInvalid,      // bad input: a policy, an option, an argument
    kUnavailable,  // this host or kernel cannot do it (missing feature, busy)
    kInternal,     // anything else
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string reason) { return Status(Code::kInternal, 0, std::move(reason)); }
  static Status NotFound(std::string reason) {
    return Status(Code::kNotFound, 0, std::move(reason));
  }
  static Status Permission(std::string reason) {
    return Status(Code::kPermission, 0, std::move(reason));
  }
  static Status Invalid(std::string reason) { return Status(Code::kInvalid, 0, std::move(reason)); }
  static Status Unavailable(std::string reason) {
    return Status(Code::kUnavailable, 0, std::move(reason));
  }

  // "what: strerror(errno)", from the errno of the call that just failed.
  // errno is read first, before anything is formatted or allocated, so pass
  // the parts of the message rather than a string built at the call site:
  // Status::Errno("open ", path).
  template <typename... Parts>
  requires(sizeof...(Parts) > 0 && (std::is_convertible_v<const Parts&, std::string_view> &&
                                    ...)) static Status Errno(const Parts&... what) {
    const int err = errno;
    std::string text;
    (text.append(std::string_view(what)), ...);
    return FromErrno(err, std::move(text));
  }
  // The same with an error number given explicitly (a -errno return value,
  // an error read from a pipe).
  static Status Errno(std::string_view what, int err) { return FromErrno(err, std::string(what)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The errno the error came from; 0 when it did not come from one.
  int err() const { return err_; }
  const std::string& reason() const { return reason_; }
  // Prefixes the reason with context ("loading policy: " + reason); the kind
  // and the errno stay.
  Status With(const std::string& context) const {
    return ok() ? *this : Status(code_, err_, context + ": " + reason_);
  }

  // The kind an errno value stands for.
  static Code CodeOf(int err) {
    switch (err) {
      case ENOENT:
      case ENOTDIR:
      case ESRCH:
        return Code::kNotFound;
      case EACCES:
      case EPERM:
        return Code::kPermission;
      case EINVAL:
      case ENAMETOOLONG:
      case ELOOP:
        return Code::kInvalid;
      case ENOSYS:
      case EOPNOTSUPP:
      case EBUSY:
      case EAGAIN:
      case ENOSPC:
      case EMFILE:
      case ENFILE:
      case ENOMEM:
        return Code::kUnavailable;
      default:
        return Code::kInternal;
    }
  }

 private:
  static Status FromErrno(int err, std::string what) {
    std::string text = std::move(what);
    text += ": ";
    text += std::strerror(err);
    return Status(CodeOf(err), err, std::move(text));
  }
  Status(Code code, int err, std::string reason)
      : code_(code), err_(err), reason_(std::move(reason)) {}
  Code code_ = Code::kOk;
  int err_ = 0;
  std::string reason_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return *Checked(); }
  const T& value() const& { return *Checked(); }
  T&& value() && { return std::move(*Checked()); }
  T* operator->() { return Checked(); }
  const T* operator->() const { return Checked(); }
  T& operator*() & { return *Checked(); }
  const T& operator*() const& { return *Checked(); }

 private:
  T* Checked() {
    if (T* v = std::get_if<T>(&v_)) return v;
    Misused();
  }
  const T* Checked() const {
    if (const T* v = std::get_if<T>(&v_)) return v;
    Misused();
  }
  [[noreturn]] void Misused() const {
    std::fprintf(stderr, "ringfence: internal error: the value of a failed result was read: %s\n",
                 std::get<Status>(v_).reason().c_str());
    std::abort();
  }
  std::variant<T, Status> v_;
};

}  // namespace rf
