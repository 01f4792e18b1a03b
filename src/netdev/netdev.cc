#include "netdev/netdev.h"

// net/if.h before linux/if.h: the kernel header then defers to glibc's.
#include <net/if.h>
//
#include <fcntl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>

#include "common/ip.h"

namespace kubedp::netdev {
namespace {

// RAII for libnl objects: each type is released by its own put/free function.
template <auto Release>
struct Deleter {
  template <typename T>
  void operator()(T* object) const {
    Release(object);
  }
};
using SockDeleter = Deleter<nl_socket_free>;
using LinkDeleter = Deleter<rtnl_link_put>;
using AddrDeleter = Deleter<nl_addr_put>;
using RtAddrDeleter = Deleter<rtnl_addr_put>;
using RouteDeleter = Deleter<rtnl_route_put>;
using NeighDeleter = Deleter<rtnl_neigh_put>;
using Sock = std::unique_ptr<nl_sock, SockDeleter>;
using Link = std::unique_ptr<rtnl_link, LinkDeleter>;
using Addr = std::unique_ptr<nl_addr, AddrDeleter>;

Status NlError(int err, const std::string& what) {
  return Status::Error(EIO, what + ": " + nl_geterror(err));
}

// A socket is bound to the namespace it was opened in: open one per call so
// the calling thread's current namespace is the one configured.
Result<Sock> Connect() {
  Sock sock(nl_socket_alloc());
  if (!sock) return Status::Error(ENOMEM, "allocating a netlink socket");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
    return NlError(err, "connecting to rtnetlink");
  }
  return sock;
}

Result<Link> GetLink(nl_sock* sock, const std::string& name) {
  rtnl_link* link = nullptr;
  if (int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &link); err < 0) {
    return NlError(err, "finding link " + name);
  }
  return Link(link);
}

Addr Ipv4Addr(uint32_t ip_host_order, int prefix_len) {
  uint32_t net = htonl(ip_host_order);
  Addr addr(nl_addr_build(AF_INET, &net, sizeof(net)));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefix_len);
  return addr;
}

std::string Cidr(uint32_t ip, int prefix_len) {
  return FormatIpv4(ip) + "/" + std::to_string(prefix_len);
}

Status ChangeLink(const std::string& name, const std::function<void(rtnl_link*)>& edit,
                  const std::string& what) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  auto link = GetLink(sock->get(), name);
  if (!link.ok()) return link.status();
  Link change(rtnl_link_alloc());
  edit(change.get());
  if (int err = rtnl_link_change(sock->get(), link->get(), change.get(), 0); err < 0) {
    return NlError(err, what + " " + name);
  }
  return Status::Ok();
}

Result<std::unique_ptr<rtnl_route, RouteDeleter>> LinkRoute(int ifindex, uint32_t dst,
                                                            int prefix_len) {
  std::unique_ptr<rtnl_route, RouteDeleter> route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_LINK);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  Addr addr = Ipv4Addr(dst, prefix_len);
  rtnl_route_set_dst(route.get(), addr.get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(hop, ifindex);
  rtnl_route_add_nexthop(route.get(), hop);
  return route;
}

}  // namespace

Result<UniqueFd> OpenNetns(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening network namespace " + path);
  return UniqueFd(fd);
}

Result<std::unique_ptr<NetnsGuard>> NetnsGuard::Enter(const std::string& path) {
  auto original = OpenNetns("/proc/thread-self/ns/net");
  if (!original.ok()) return original.status();
  auto target = OpenNetns(path);
  if (!target.ok()) return target.status();
  if (setns(target->get(), CLONE_NEWNET) != 0) {
    return Status::FromErrno(errno, "entering network namespace " + path);
  }
  return std::unique_ptr<NetnsGuard>(new NetnsGuard(std::move(original).value()));
}

NetnsGuard::~NetnsGuard() {
  // Returning can only fail if the original namespace vanished, which it cannot
  // while we hold its fd.
  setns(original_.get(), CLONE_NEWNET);
}

Status CreateVethPair(const std::string& host_name, const std::string& peer_name,
                      int peer_netns_fd) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  Link link(rtnl_link_veth_alloc());
  if (!link) return Status::Error(ENOMEM, "allocating a veth");
  rtnl_link_set_name(link.get(), host_name.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
  rtnl_link_set_name(peer, peer_name.c_str());
  rtnl_link_set_ns_fd(peer, peer_netns_fd);
  int err = rtnl_link_add(sock->get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (err < 0) return NlError(err, "creating veth " + host_name);
  return Status::Ok();
}

Status DeleteLink(const std::string& name) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock->get(), link.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND) {
    return NlError(err, "deleting link " + name);
  }
  return Status::Ok();
}

Status RenameLink(const std::string& from, const std::string& to) {
  return ChangeLink(
      from, [&](rtnl_link* change) { rtnl_link_set_name(change, to.c_str()); }, "renaming");
}

Status SetLinkUp(const std::string& name) {
  return ChangeLink(
      name, [](rtnl_link* change) { rtnl_link_set_flags(change, IFF_UP); }, "bringing up");
}

Result<std::vector<std::string>> LinksWithPrefix(const std::string& prefix) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  nl_cache* cache = nullptr;
  if (int err = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &cache); err < 0) {
    return NlError(err, "listing links");
  }
  std::vector<std::string> names;
  for (nl_object* obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
    const char* name = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(obj));
    if (name && std::string_view(name).starts_with(prefix)) names.emplace_back(name);
  }
  nl_cache_free(cache);
  return names;
}

Result<int> LinkIndex(const std::string& name) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(sock->get(), 0, name.c_str(), &link);
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return 0;
  if (err < 0) return NlError(err, "finding link " + name);
  Link owned(link);
  return rtnl_link_get_ifindex(link);
}

Result<Mac> LinkMac(const std::string& name) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  auto link = GetLink(sock->get(), name);
  if (!link.ok()) return link.status();
  nl_addr* lladdr = rtnl_link_get_addr(link->get());
  if (!lladdr || nl_addr_get_len(lladdr) != 6) {
    return Status::Error(ENXIO, "link " + name + " has no Ethernet address");
  }
  Mac mac;
  std::memcpy(mac.data(), nl_addr_get_binary_addr(lladdr), 6);
  return mac;
}

Status AddAddress(const std::string& link_name, uint32_t ip, int prefix_len) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  std::unique_ptr<rtnl_addr, RtAddrDeleter> addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), *index);
  Addr local = Ipv4Addr(ip, prefix_len);
  rtnl_addr_set_local(addr.get(), local.get());
  int err = rtnl_addr_add(sock->get(), addr.get(), 0);
  if (err < 0 && err != -NLE_EXIST) {
    return NlError(err, "adding " + Cidr(ip, prefix_len) + " to " + link_name);
  }
  return Status::Ok();
}

Result<std::vector<std::pair<uint32_t, int>>> Ipv4Addresses(const std::string& link_name) {
  std::vector<std::pair<uint32_t, int>> found;
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  if (*index == 0) return found;
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  nl_cache* cache = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock->get(), &cache); err < 0) {
    return NlError(err, "listing addresses");
  }
  for (nl_object* obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    nl_addr* local = rtnl_addr_get_local(addr);
    if (rtnl_addr_get_ifindex(addr) != *index || !local || nl_addr_get_family(local) != AF_INET)
      continue;
    uint32_t net = 0;
    std::memcpy(&net, nl_addr_get_binary_addr(local), sizeof(net));
    found.emplace_back(ntohl(net), rtnl_addr_get_prefixlen(addr));
  }
  nl_cache_free(cache);
  return found;
}

Result<bool> HasAddress(const std::string& link_name, uint32_t ip, int prefix_len) {
  auto addresses = Ipv4Addresses(link_name);
  if (!addresses.ok()) return addresses.status();
  return std::find(addresses->begin(), addresses->end(), std::pair{ip, prefix_len}) !=
         addresses->end();
}

Status AddLinkRoute(const std::string& link_name, uint32_t dst, int prefix_len) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  auto route = LinkRoute(*index, dst, prefix_len);
  if (!route.ok()) return route.status();
  if (int err = rtnl_route_add(sock->get(), route->get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0) {
    return NlError(err, "adding route " + Cidr(dst, prefix_len) + " dev " + link_name);
  }
  return Status::Ok();
}

Status DeleteLinkRoute(const std::string& link_name, uint32_t dst, int prefix_len) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Ok();
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  auto route = LinkRoute(*index, dst, prefix_len);
  if (!route.ok()) return route.status();
  int err = rtnl_route_delete(sock->get(), route->get(), 0);
  if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) {
    return NlError(err, "deleting route " + Cidr(dst, prefix_len));
  }
  return Status::Ok();
}

Status AddDefaultRoute(const std::string& link_name, uint32_t gateway) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  std::unique_ptr<rtnl_route, RouteDeleter> route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  Addr any = Ipv4Addr(0, 0);
  rtnl_route_set_dst(route.get(), any.get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(hop, *index);
  Addr via = Ipv4Addr(gateway, 32);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_add_nexthop(route.get(), hop);
  if (int err = rtnl_route_add(sock->get(), route.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0) {
    return NlError(err, "adding default route via " + FormatIpv4(gateway));
  }
  return Status::Ok();
}

namespace {

// Visits each next hop of the main table's IPv4 default routes: (ifindex, gateway or 0).
template <typename Visit>
Status ForEachDefaultHop(Visit visit) {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  nl_cache* cache = nullptr;
  if (int err = rtnl_route_alloc_cache(sock->get(), AF_INET, 0, &cache); err < 0) {
    return NlError(err, "listing routes");
  }
  for (nl_object* obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    nl_addr* dst = rtnl_route_get_dst(route);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN || (dst && nl_addr_get_prefixlen(dst) != 0))
      continue;
    for (int i = 0; i < rtnl_route_get_nnexthops(route); ++i) {
      rtnl_nexthop* hop = rtnl_route_nexthop_n(route, i);
      nl_addr* via = rtnl_route_nh_get_gateway(hop);
      uint32_t net = 0;
      if (via && nl_addr_get_len(via) == 4) std::memcpy(&net, nl_addr_get_binary_addr(via), 4);
      visit(rtnl_route_nh_get_ifindex(hop), ntohl(net));
    }
  }
  nl_cache_free(cache);
  return Status::Ok();
}

}  // namespace

Result<bool> HasDefaultRoute(const std::string& link_name, uint32_t gateway) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  if (*index == 0) return false;
  bool found = false;
  Status status = ForEachDefaultHop(
      [&](int ifindex, uint32_t via) { found |= ifindex == *index && via == gateway; });
  if (!status.ok()) return status;
  return found;
}

Result<std::string> DefaultRouteDevice() {
  int index = 0;
  Status status = ForEachDefaultHop([&](int ifindex, uint32_t) {
    if (index == 0) index = ifindex;
  });
  if (!status.ok()) return status;
  if (index == 0) return std::string();
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(index, name))
    return Status::FromErrno(errno, "naming the default route device");
  return std::string(name);
}

Status AddPermanentNeighbor(const std::string& link_name, uint32_t ip, const Mac& mac) {
  auto index = LinkIndex(link_name);
  if (!index.ok()) return index.status();
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  std::unique_ptr<rtnl_neigh, NeighDeleter> neigh(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(neigh.get(), *index);
  Addr dst = Ipv4Addr(ip, 32);
  rtnl_neigh_set_dst(neigh.get(), dst.get());
  Addr lladdr(nl_addr_build(AF_LLC, mac.data(), mac.size()));
  rtnl_neigh_set_lladdr(neigh.get(), lladdr.get());
  rtnl_neigh_set_state(neigh.get(), NUD_PERMANENT);
  if (int err = rtnl_neigh_add(sock->get(), neigh.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0) {
    return NlError(err, "adding neighbour " + FormatIpv4(ip));
  }
  return Status::Ok();
}

}  // namespace kubedp::netdev
