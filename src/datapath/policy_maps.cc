#include "datapath/policy_maps.h"

#include <arpa/inet.h>

#include "datapath/map_sync.h"

namespace kubedp::datapath {
namespace {

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

}  // namespace

Result<PolicyMapStats> ReconcilePolicyMaps(int peers_fd, int ports_fd,
                                           const control::PolicyTables& tables) {
  KernelTable<kdp_policy_peer_key, kdp_policy_rules> peers;
  for (const auto& [prefix, bits] : tables.peers) peers[PeerKey(prefix)] = {bits};
  KernelTable<kdp_policy_port_key, kdp_policy_rules> ports;
  for (const auto& [prefix, bits] : tables.ports) ports[PortKey(prefix)] = {bits};
  PolicyMapStats stats{.peer_entries = peers.size(), .port_entries = ports.size()};
  auto add = [&stats](const SyncCounts& counts) {
    stats.written += counts.written;
    stats.deleted += counts.deleted;
  };
  auto synced_peers = SyncMap(peers_fd, peers, "the policy peer map");
  if (!synced_peers.ok()) return synced_peers.status();
  add(*synced_peers);
  auto synced_ports = SyncMap(ports_fd, ports, "the policy port map");
  if (!synced_ports.ok()) return synced_ports.status();
  add(*synced_ports);
  return stats;
}

}  // namespace kubedp::datapath
