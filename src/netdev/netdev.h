// Link, address, route and neighbour configuration over rtnetlink (libnl),
// always in the network namespace of the calling thread. NetnsGuard moves the
// thread into another namespace for a scope and back.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace kubedp::netdev {

using Mac = std::array<uint8_t, 6>;

// Enters the network namespace at `path` for the lifetime of the guard (this
// thread only) and returns to the original one on destruction.
class NetnsGuard {
 public:
  static Result<std::unique_ptr<NetnsGuard>> Enter(const std::string& path);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  explicit NetnsGuard(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;
};

Result<UniqueFd> OpenNetns(const std::string& path);

// Creates host_name here and its peer in the namespace of peer_netns_fd.
Status CreateVethPair(const std::string& host_name, const std::string& peer_name,
                      int peer_netns_fd);
// Deleting a link that is not there succeeds (idempotent teardown).
Status DeleteLink(const std::string& name);
Status RenameLink(const std::string& from, const std::string& to);
Status SetLinkUp(const std::string& name);
// Names of the links whose name starts with prefix.
Result<std::vector<std::string>> LinksWithPrefix(const std::string& prefix);
// 0 when the link does not exist.
Result<int> LinkIndex(const std::string& name);
Result<Mac> LinkMac(const std::string& name);

Status AddAddress(const std::string& link, uint32_t ip_host_order, int prefix_len);
Result<bool> HasAddress(const std::string& link, uint32_t ip_host_order, int prefix_len);
// The link's IPv4 addresses (host order) with their prefix lengths, in the
// kernel's order (the primary first); empty when the link does not exist.
Result<std::vector<std::pair<uint32_t, int>>> Ipv4Addresses(const std::string& link);
// The device of the first IPv4 default route, or "" when there is none.
Result<std::string> DefaultRouteDevice();
// A scope-link route to dst/prefix through the link.
Status AddLinkRoute(const std::string& link, uint32_t dst_host_order, int prefix_len);
Status AddDefaultRoute(const std::string& link, uint32_t gateway_host_order);
Result<bool> HasDefaultRoute(const std::string& link, uint32_t gateway_host_order);
Status DeleteLinkRoute(const std::string& link, uint32_t dst_host_order, int prefix_len);
Status AddPermanentNeighbor(const std::string& link, uint32_t ip_host_order, const Mac& mac);

}  // namespace kubedp::netdev
