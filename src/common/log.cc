#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace kubedp::log {
namespace {

std::mutex g_mutex;
std::string g_component = "kubedp";
Level g_min_level = Level::kInfo;

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || c < 0x20) return true;
  }
  return false;
}

void AppendValue(std::string& out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

spdlog::logger& Logger() {
  static auto logger = [] {
    auto l = std::make_shared<spdlog::logger>("kubedp",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("time=%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

void Init(std::string_view component, std::string_view level) {
  std::lock_guard lock(g_mutex);
  g_component = component;
  if (level == "debug") {
    g_min_level = Level::kDebug;
  } else if (level == "warn") {
    g_min_level = Level::kWarn;
  } else if (level == "error") {
    g_min_level = Level::kError;
  } else {
    g_min_level = Level::kInfo;
  }
}

std::string Format(Level level, std::string_view component, std::string_view msg, Fields fields) {
  std::string line = "level=";
  line += LevelName(level);
  line += " component=";
  AppendValue(line, component);
  line += " msg=";
  AppendValue(line, msg);
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    AppendValue(line, value);
  }
  return line;
}

void Write(Level level, std::string_view msg, Fields fields) {
  std::string line;
  {
    std::lock_guard lock(g_mutex);
    if (level < g_min_level) return;
    line = Format(level, g_component, msg, fields);
  }
  Logger().info(line);
}

}  // namespace kubedp::log
