// The one error model of kubedp: a Status carries an errno-style code and a
// human-readable context; Result<T> is a value or a Status. No exceptions cross
// module boundaries; broken invariants assert instead.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace kubedp {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // code is an errno value (EINVAL, ENOENT, ...); message says what and where.
  static Status Error(int code, std::string message) { return Status(code, std::move(message)); }
  static Status Invalid(std::string message) { return Status(EINVAL, std::move(message)); }
  static Status NotFound(std::string message) { return Status(ENOENT, std::move(message)); }
  static Status FromErrno(int err, const std::string& what);

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where it happened: "loading x: <old message>".
  Status Context(const std::string& where) const {
    if (ok()) return *this;
    return Status(code_, where + ": " + message_);
  }

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code_ = 0;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace kubedp

// Returns early from the enclosing function when expr yields a failed Status.
#define KUBEDP_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::kubedp::Status _kubedp_status = (expr);        \
    if (!_kubedp_status.ok()) return _kubedp_status; \
  } while (0)
