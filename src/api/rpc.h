// The agent's API: one JSON request and one JSON response per connection on a
// root-only unix socket. The client writes {"method": ..., "params": {...}}
// and shuts down its write side; the server answers {"ok": true, "result": ...}
// or {"ok": false, "error": {"code": <errno>, "message": ...}} and closes.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace kubedp::api {

using Json = nlohmann::json;
using Handler = std::function<Result<Json>(const std::string& method, const Json& params)>;

// Default socket of a node's agent.
std::string SocketPath(const std::string& run_dir);

class RpcServer {
 public:
  // Binds the socket (replacing a stale one), owner-only permissions.
  static Result<RpcServer> Listen(const std::string& path);
  int fd() const { return listener_.get(); }
  // Accepts one pending connection and answers it; call when fd() is readable.
  void ServeOne(const Handler& handler);
  const std::string& path() const { return path_; }

 private:
  RpcServer(UniqueFd listener, std::string path)
      : listener_(std::move(listener)), path_(std::move(path)) {}
  UniqueFd listener_;
  std::string path_;
};

// Calls a method; transport failures come back with ECONNREFUSED/ENOENT/ETIMEDOUT,
// API errors with the code the agent sent.
Result<Json> Call(const std::string& socket_path, const std::string& method,
                  const Json& params = Json::object(), int timeout_ms = 10000);

}  // namespace kubedp::api
