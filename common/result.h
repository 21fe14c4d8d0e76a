// Expected failures are values: an error code a program can branch on and a
// message a person can act on.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace vytal {

struct Error {
  std::string code;     // stable, snake_case, e.g. "token_expired"
  std::string message;  // one sentence for the user
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

}  // namespace vytal
