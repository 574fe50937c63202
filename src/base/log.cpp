#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace regulars {

void SetUpLogging(std::string_view level, LogFormat format) {
  // Called again when a verb's config chooses another level or format: replace the logger.
  spdlog::drop("regulars");
  auto logger = spdlog::stderr_color_mt("regulars");
  if (format == LogFormat::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace regulars
