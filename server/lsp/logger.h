// Server logging: to stderr, and as window/logMessage up to the level the client asked for
// (initializationOptions.logLevel or $/setTrace).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace oomlint::lsp {

// Values match LSP MessageType (Error 1, Warning 2, Info 3, Log 4).
enum class LogLevel { Off = 0, Error = 1, Warning = 2, Info = 3, Debug = 4 };
std::optional<LogLevel> parse_log_level(std::string_view name);
// $/setTrace values: "off", "messages", "verbose".
std::optional<LogLevel> level_from_trace(std::string_view trace);

class Logger {
public:
  using Sink = std::function<void(LogLevel, const std::string&)>;
  void set_client_sink(Sink sink) { client_ = std::move(sink); }
  void set_client_level(LogLevel l) { client_level_ = l; }
  void set_stderr_level(LogLevel l) { stderr_level_ = l; }
  LogLevel client_level() const { return client_level_; }
  void log(LogLevel level, const std::string& message) const;
  void error(const std::string& m) const { log(LogLevel::Error, m); }
  void warn(const std::string& m) const { log(LogLevel::Warning, m); }
  void info(const std::string& m) const { log(LogLevel::Info, m); }
  void debug(const std::string& m) const { log(LogLevel::Debug, m); }

private:
  Sink client_;
  std::atomic<LogLevel> client_level_{LogLevel::Warning};
  std::atomic<LogLevel> stderr_level_{LogLevel::Info};
};

} // namespace oomlint::lsp
