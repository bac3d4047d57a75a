#include "lsp/logger.h"

#include <cstdio>

namespace oomlint::lsp {

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "off") return LogLevel::Off;
  if (name == "error") return LogLevel::Error;
  if (name == "warning" || name == "warn") return LogLevel::Warning;
  if (name == "info") return LogLevel::Info;
  if (name == "debug" || name == "trace" || name == "log") return LogLevel::Debug;
  return std::nullopt;
}

std::optional<LogLevel> level_from_trace(std::string_view trace) {
  if (trace == "off") return LogLevel::Warning;
  if (trace == "messages") return LogLevel::Info;
  if (trace == "verbose") return LogLevel::Debug;
  return std::nullopt;
}

void Logger::log(LogLevel level, const std::string& message) const {
  static constexpr const char* kNames[] = {"off", "error", "warning", "info", "debug"};
  if (level == LogLevel::Off) return;
  if (level <= stderr_level_.load()) {
    std::fprintf(stderr, "oomlint server [%s] %s\n", kNames[static_cast<int>(level)],
                 message.c_str());
  }
  if (client_ && level <= client_level_.load()) client_(level, message);
}

} // namespace oomlint::lsp
