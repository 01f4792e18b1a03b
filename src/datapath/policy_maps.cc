#include "datapath/policy_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstring>
#include <map>

namespace kubedp::datapath {
namespace {

// Kernel keys ordered byte-wise, so they can sit in a std::map for the diff.
template <typename Key>
struct BytewiseLess {
  bool operator()(const Key& a, const Key& b) const { return std::memcmp(&a, &b, sizeof(Key)) < 0; }
};

template <typename Key>
using KernelTable = std::map<Key, uint64_t, BytewiseLess<Key>>;

kdp_policy_peer_key PeerKey(const control::PeerPrefix& p) {
  kdp_policy_peer_key key{};
  key.prefixlen = KDP_POLICY_PEER_FIXED_BITS + p.prefix_len;
  key.endpoint_id = htonl(p.endpoint_id);
  key.direction = p.direction;
  key.remote = htonl(p.network);
  return key;
}

kdp_policy_port_key PortKey(const control::PortPrefix& p) {
  kdp_policy_port_key key{};
  key.endpoint_id = htonl(p.endpoint_id);
  key.direction = p.direction;
  if (p.any_protocol) {
    key.prefixlen = KDP_POLICY_PORT_FIXED_BITS;
  } else {
    key.prefixlen = KDP_POLICY_PORT_FIXED_BITS + 8 + p.prefix_len;
    key.protocol = p.protocol;
    key.port = htons(p.port);
  }
  return key;
}

template <typename Key>
Result<KernelTable<Key>> Dump(int fd) {
  KernelTable<Key> table;
  Key key{}, next{};
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    kdp_policy_rules rules{};
    if (bpf_map_lookup_elem(fd, &next, &rules) == 0) table[next] = rules.bits;
    key = next;
    cursor = &key;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "iterating a policy map");
  return table;
}

template <typename Key>
Status Reconcile(int fd, const KernelTable<Key>& desired, PolicyMapStats& stats) {
  auto actual = Dump<Key>(fd);
  if (!actual.ok()) return actual.status();
  // Writes before deletes: a rule that moves between prefixes is never absent.
  for (const auto& [key, bits] : desired) {
    auto it = actual->find(key);
    if (it != actual->end() && it->second == bits) continue;
    kdp_policy_rules rules{bits};
    if (bpf_map_update_elem(fd, &key, &rules, BPF_ANY) != 0) {
      return Status::FromErrno(errno, "writing a policy map (full? raise KDP_POLICY_MAX)");
    }
    ++stats.written;
  }
  for (const auto& [key, bits] : *actual) {
    if (desired.contains(key)) continue;
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "deleting from a policy map");
    }
    ++stats.deleted;
  }
  return Status::Ok();
}

}  // namespace

Result<PolicyMapStats> ReconcilePolicyMaps(int peers_fd, int ports_fd,
                                           const control::PolicyTables& tables) {
  KernelTable<kdp_policy_peer_key> peers;
  for (const auto& [prefix, bits] : tables.peers) peers[PeerKey(prefix)] = bits;
  KernelTable<kdp_policy_port_key> ports;
  for (const auto& [prefix, bits] : tables.ports) ports[PortKey(prefix)] = bits;
  PolicyMapStats stats{.peer_entries = peers.size(), .port_entries = ports.size()};
  KUBEDP_RETURN_IF_ERROR(Reconcile(peers_fd, peers, stats));
  KUBEDP_RETURN_IF_ERROR(Reconcile(ports_fd, ports, stats));
  return stats;
}

}  // namespace kubedp::datapath
