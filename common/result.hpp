#pragma once
// Errors are values: a result<T> holds either a T or a failure that says what failed.

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace cssh {

/// What went wrong, in words an operator can act on. `code` is a stable
/// identifier (listed in docs/codes.md), `message` names the thing that failed.
struct failure {
  std::string code;
  std::string message;
};

inline failure fail(std::string code, std::string message) {
  return failure{std::move(code), std::move(message)};
}

template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}
  result(failure err) : state_(std::move(err)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const failure& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, failure> state_;
};

template <>
class result<void> {
 public:
  result() = default;
  result(failure err) : error_(std::move(err)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const failure& error() const { return *error_; }

 private:
  std::optional<failure> error_;
};

}  // namespace cssh
