#pragma once

// The one place where error codes become HTTP statuses and the error envelope
// {"error": {"code", "message", "field", "details"}}.

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace regulars::http {

int HttpStatus(Code code);
nlohmann::json ErrorBody(const Error& e);

}  // namespace regulars::http
