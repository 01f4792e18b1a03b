#include "datapath/nat_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "datapath/conntrack_map.h"
#include "datapath/map_sync.h"

namespace kubedp::datapath {
namespace {

bool CtLive(int ct_fd, const kdp_nat_key& egress, uint64_t now_ns) {
  kdp_ct_key key = control::CtKeyOfNatEgress(egress);
  kdp_ct_entry entry{};
  return bpf_map_lookup_elem(ct_fd, &key, &entry) == 0 && entry.expires_ns >= now_ns;
}

}  // namespace

Result<std::vector<control::NatRow>> NatMap::List() const {
  auto table = DumpMap<kdp_nat_key, kdp_nat_entry>(fd_, "the NAT map");
  if (!table.ok()) return table.status();
  uint64_t now = MonotonicNowNs();
  std::vector<control::NatRow> rows;
  for (const auto& [key, entry] : *table) {
    if (key.direction == KDP_NAT_EGRESS) rows.push_back(control::ToNatRow(key, entry, now));
  }
  return rows;
}

Result<NatMap::SweepResult> NatMap::Sweep(int ct_fd, uint64_t now_ns, uint64_t orphan_grace_ns) {
  auto table = DumpMap<kdp_nat_key, kdp_nat_entry>(fd_, "the NAT map");
  if (!table.ok()) return table.status();
  uint64_t deleted = 0;
  auto remove = [&](const kdp_nat_key& key) {
    if (bpf_map_delete_elem(fd_, &key) == 0) ++deleted;
  };
  for (const auto& [key, entry] : *table) {
    kdp_nat_key partner = control::PartnerOf(key, entry);
    if (key.direction == KDP_NAT_EGRESS) {
      if (CtLive(ct_fd, key, now_ns)) continue;
      remove(key);
      // The ingress half only if it still belongs to this flow.
      kdp_nat_entry held{};
      if (bpf_map_lookup_elem(fd_, &partner, &held) == 0 && held.addr == key.local_addr &&
          held.port == key.local_port) {
        remove(partner);
      }
    } else if (!table->contains(partner) && now_ns - entry.created_ns > orphan_grace_ns) {
      remove(key);
    }
  }
  return SweepResult{.removed = deleted, .remaining = table->size() - deleted};
}

Result<uint64_t> NatMap::Count() const {
  auto table = DumpMap<kdp_nat_key, kdp_nat_entry>(fd_, "the NAT map");
  if (!table.ok()) return table.status();
  return table->size();
}

Result<size_t> ReconcileNoMasqMap(int fd, const std::vector<Ipv4Cidr>& prefixes) {
  KernelTable<kdp_no_masq_key, uint8_t> desired;
  for (const auto& cidr : prefixes) {
    desired[kdp_no_masq_key{.prefixlen = cidr.prefix_len, .addr = htonl(cidr.network)}] = 1;
  }
  auto synced = SyncMap(fd, desired, "the non-masquerade map");
  if (!synced.ok()) return synced.status();
  return desired.size();
}

}  // namespace kubedp::datapath
