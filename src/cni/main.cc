// kubedp-cni: wiring only. Environment + stdin -> plugin -> stdout, exit code.
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <map>
#include <string>

#include "cni/plugin.h"
#include "common/log.h"

extern char** environ;

int main() {
  kubedp::log::Init("cni", "info");
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    std::string text(*entry);
    auto eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  std::string input;
  // Every verb gets the network config on stdin (VERSION too); a terminal means none.
  if (!isatty(STDIN_FILENO)) {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto outcome = kubedp::cni::Run(env, input);
  std::cout << outcome.stdout_text << std::flush;
  return outcome.exit_code;
}
