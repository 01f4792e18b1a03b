// Structured logging in logfmt: `time=... level=info component=agent msg="..." key=value`.
// One line per event, to stderr, so journald, kubectl logs and the lab capture it alike.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kubedp::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string_view, std::string>;
using Fields = std::initializer_list<Field>;

// Sets the component name printed on every line and the minimum level
// ("debug", "info", "warn", "error"; anything else means info).
void Init(std::string_view component, std::string_view level);

void Write(Level level, std::string_view msg, Fields fields);
inline void Debug(std::string_view msg, Fields fields = {}) {
  Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, Fields fields = {}) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, Fields fields = {}) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, Fields fields = {}) {
  Write(Level::kError, msg, fields);
}

// Formats one logfmt line without the time stamp (exposed for tests).
std::string Format(Level level, std::string_view component, std::string_view msg, Fields fields);

}  // namespace kubedp::log
