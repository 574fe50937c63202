#pragma once

// Structured logs: one line per event, "key=value" pairs after a short message, via spdlog.
// Set up once at start-up by the CLI; libraries only call Log*().

#include <spdlog/spdlog.h>

#include <string_view>

namespace regulars {

enum class LogFormat { kText, kJson };

// Configures the default logger. `level` is "debug", "info", "warn" or "error".
void SetUpLogging(std::string_view level, LogFormat format);

}  // namespace regulars
