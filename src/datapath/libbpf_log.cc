#include "datapath/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/log.h"

namespace kubedp::datapath {
namespace {

int Print(libbpf_print_level level, const char* format, va_list args) {
  char buffer[1024];
  int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  std::string message(buffer);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  bool extended_ack = std::string_view(message).starts_with("libbpf: Kernel error message");
  if (level == LIBBPF_DEBUG || extended_ack) {
    log::Debug("libbpf", {{"message", message}});
  } else {
    log::Warn("libbpf", {{"message", message}});
  }
  return n;
}

}  // namespace

void RouteLibbpfLogs() {
  libbpf_set_print(Print);
}

}  // namespace kubedp::datapath
