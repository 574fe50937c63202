#pragma once

// One error vocabulary for the whole server (after absl::Status). Expected failures are values
// carried in std::expected; exceptions are for bugs and the edges only.

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regulars {

// Return the most specific code that applies.
enum class Code {
  // The caller sent something malformed or out of range. Name the field.
  kInvalidArgument,
  // No or bad credentials.
  kUnauthenticated,
  // Credentials are fine but the role may not do this (also: CSRF failures).
  kPermissionDenied,
  // The thing does not exist — or belongs to another merchant. Never reveal which.
  kNotFound,
  // A create collided with an existing unique thing (details carry its id where useful).
  kAlreadyExists,
  // The system is not in a state that allows the operation (e.g. balance too low).
  kFailedPrecondition,
  // An Idempotency-Key was replayed with a different request.
  kIdempotencyMismatch,
  // Rate limit or quota hit; retry later.
  kResourceExhausted,
  // A transient condition (database busy, shutting down); retrying may succeed.
  kUnavailable,
  // A transaction lost a conflict (serialization failure, deadlock); the driver retries it.
  kAborted,
  // A broken invariant: a bug.
  kInternal,
};

// The wire name of a code, e.g. "invalid_argument".
std::string_view CodeName(Code code);

struct Error {
  Code code = Code::kInternal;
  std::string message;
  // The request field the error is about ("phone", "items[2].quantity"), or empty.
  std::string field;
  // Extra machine-readable facts, e.g. {"member_id", "123"} for a duplicate phone.
  std::vector<std::pair<std::string, std::string>> details;

  Error WithDetail(std::string key, std::string value) && {
    details.emplace_back(std::move(key), std::move(value));
    return std::move(*this);
  }
  std::string ToString() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(Code code, std::string message, std::string field = {}) {
  return std::unexpected(Error{code, std::move(message), std::move(field), {}});
}
inline std::unexpected<Error> Fail(Error e) { return std::unexpected(std::move(e)); }

inline Error MakeError(Code code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), std::move(field), {}};
}

// A field-scoped invalid_argument: "phone: not a valid number for region TW".
inline std::unexpected<Error> InvalidField(std::string field, std::string_view why) {
  std::string msg = field + ": " + std::string(why);
  return Fail(Code::kInvalidArgument, std::move(msg), std::move(field));
}

}  // namespace regulars

// Propagates an error from an expression returning Result<T>/Status; evaluates to nothing.
#define RG_TRY(expr)                                                     \
  do {                                                                   \
    auto rg_try_result_ = (expr);                                        \
    if (!rg_try_result_) return std::unexpected(rg_try_result_.error()); \
  } while (0)

#define RG_CONCAT_INNER(a, b) a##b
#define RG_CONCAT(a, b) RG_CONCAT_INNER(a, b)
// RG_ASSIGN_OR_RETURN(auto x, Expr()); declares x from a Result<T> or returns its error.
// __LINE__ is fixed to a number first, so an invocation spanning lines names one temporary.
#define RG_ASSIGN_OR_RETURN(lhs, expr) RG_ASSIGN_OR_RETURN_LINE(__LINE__, lhs, expr)
#define RG_ASSIGN_OR_RETURN_LINE(line, lhs, expr) \
  RG_ASSIGN_OR_RETURN_IMPL(RG_CONCAT(rg_result_, line), lhs, expr)
#define RG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)            \
  auto tmp = (expr);                                        \
  if (!tmp) return std::unexpected(std::move(tmp.error())); \
  lhs = std::move(*tmp)
