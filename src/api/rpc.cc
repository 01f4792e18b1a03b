#include "api/rpc.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>

namespace kubedp::api {
namespace {

constexpr size_t kMaxMessageBytes = 16 * 1024 * 1024;
constexpr int kServerIoTimeoutMs = 5000;

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::Invalid("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  return poll(&p, 1, timeout_ms) > 0;
}

Status WriteAll(int fd, const std::string& data, int timeout_ms) {
  size_t done = 0;
  while (done < data.size()) {
    if (!WaitFor(fd, POLLOUT, timeout_ms)) return Status::Error(ETIMEDOUT, "writing to agent");
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "writing to agent socket");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> ReadAll(int fd, int timeout_ms) {
  std::string data;
  char buffer[65536];
  while (true) {
    if (!WaitFor(fd, POLLIN, timeout_ms)) return Status::Error(ETIMEDOUT, "waiting for a reply");
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading from socket");
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > kMaxMessageBytes) return Status::Invalid("message larger than 16 MiB");
  }
}

Json ErrorReply(const Status& status) {
  return Json{{"ok", false}, {"error", {{"code", status.code()}, {"message", status.message()}}}};
}

}  // namespace

std::string SocketPath(const std::string& run_dir) {
  return run_dir + "/agent.sock";
}

Result<RpcServer> RpcServer::Listen(const std::string& path) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "creating API socket");
  ::unlink(path.c_str());
  // Only root may talk to the agent: the socket is created owner-only.
  mode_t old_mask = umask(0177);
  int bound = bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(sockaddr_un));
  umask(old_mask);
  if (bound != 0) return Status::FromErrno(errno, "binding API socket " + path);
  if (listen(fd.get(), 64) != 0) return Status::FromErrno(errno, "listening on " + path);
  return RpcServer(std::move(fd), path);
}

void RpcServer::ServeOne(const Handler& handler) {
  UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn.valid()) return;
  auto request_text = ReadAll(conn.get(), kServerIoTimeoutMs);
  Json reply;
  if (!request_text.ok()) {
    reply = ErrorReply(request_text.status());
  } else {
    Json request = Json::parse(*request_text, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object() || !request.contains("method") ||
        !request["method"].is_string()) {
      reply = ErrorReply(Status::Invalid("request is not {\"method\": ..., \"params\": ...}"));
    } else {
      Json params = request.value("params", Json::object());
      auto result = handler(request["method"].get<std::string>(), params);
      reply = result.ok() ? Json{{"ok", true}, {"result", *result}} : ErrorReply(result.status());
    }
  }
  // A client that went away is its own problem; nothing to recover here.
  (void)WriteAll(conn.get(), reply.dump(), kServerIoTimeoutMs);
}

Result<Json> Call(const std::string& socket_path, const std::string& method, const Json& params,
                  int timeout_ms) {
  auto addr = Address(socket_path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "creating socket");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    return Status::FromErrno(errno, "connecting to the agent at " + socket_path);
  }
  Json request{{"method", method}, {"params", params}};
  KUBEDP_RETURN_IF_ERROR(WriteAll(fd.get(), request.dump(), timeout_ms));
  shutdown(fd.get(), SHUT_WR);
  auto text = ReadAll(fd.get(), timeout_ms);
  if (!text.ok()) return text.status().Context("calling " + method);
  Json reply = Json::parse(*text, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    return Status::Error(EPROTO, "agent sent a malformed reply to " + method);
  }
  if (!reply.value("ok", false)) {
    const Json& error = reply["error"];
    return Status::Error(error.value("code", EIO), error.value("message", "unknown error"));
  }
  return reply["result"];
}

}  // namespace kubedp::api
