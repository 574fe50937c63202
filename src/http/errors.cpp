#include "http/errors.h"

namespace regulars::http {

int HttpStatus(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kFailedPrecondition:
      return 409;
    case Code::kIdempotencyMismatch:
      return 422;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kAborted:
      return 503;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

nlohmann::json ErrorBody(const Error& e) {
  nlohmann::json details = nlohmann::json::object();
  for (const auto& [k, v] : e.details) {
    if (!details.contains(k)) {
      details[k] = v;
    } else {  // repeated keys become a list
      if (!details[k].is_array()) details[k] = nlohmann::json::array({details[k]});
      details[k].push_back(v);
    }
  }
  nlohmann::json err = {{"code", CodeName(e.code == Code::kAborted ? Code::kUnavailable : e.code)},
                        {"message", e.code == Code::kInternal ? "internal error" : e.message},
                        {"details", details}};
  if (!e.field.empty()) err["field"] = e.field;
  return {{"error", err}};
}

}  // namespace regulars::http
