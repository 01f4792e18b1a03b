// IPAM housekeeping of the agent: listing holders, reclaiming addresses of pods
// that are gone (periodically and on demand), CNI GC, and readiness for CNI STATUS.
#include <linux/magic.h>
#include <sys/statfs.h>

#include <chrono>
#include <set>

#include "agent/agent.h"
#include "common/log.h"
#include "control/ipam_reclaim.h"
#include "netdev/netdev.h"

namespace kubedp::agent {
using api::Json;

namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Json AllocationJson(const ipam::Allocation& a) {
  return Json{{"container_id", a.container_id},
              {"ifname", a.ifname},
              {"ip", FormatIpv4(a.ip)},
              {"namespace", a.pod_namespace},
              {"pod", a.pod_name},
              {"netns", a.netns},
              {"created_at", a.created_at},
              {"age_seconds", UnixNow() - a.created_at},
              {"endpoint_id", a.endpoint_id},
              {"interface", a.host_ifname},
              {"ifindex", a.ifindex}};
}

// A namespace is alive while its path is an nsfs mount; a plain file left at
// the path (the mount gone) does not keep an address.
bool Agent::NetnsExists(const ipam::Allocation& allocation) const {
  struct statfs info {};
  return !allocation.netns.empty() && statfs(allocation.netns.c_str(), &info) == 0 &&
         info.f_type == NSFS_MAGIC;
}

bool Agent::PodKnown(const ipam::Allocation& allocation) const {
  if (!manifests_) return false;
  const auto& pods = manifests_->State().pods;
  auto it = pods.find(allocation.pod_namespace + "/" + allocation.pod_name);
  return it != pods.end() && it->second.node_name == config_.node_name;
}

Result<Json> Agent::GetEndpoint(const Json& params) {
  std::string container_id = params.value("container_id", "");
  std::string ifname = params.value("ifname", "");
  auto found = store_->Find(container_id, ifname);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return Status::NotFound("no address is reserved for container " + container_id + " " + ifname);
  }
  Json out = AllocationJson(**found);
  out["gateway"] = FormatIpv4(allocator_->Gateway());
  out["host_mac"] = (*found)->host_mac;
  out["pod_mac"] = (*found)->pod_mac;
  return out;
}

Result<Json> Agent::ListAllocations() {
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  Json list = Json::array();
  for (const auto& a : *allocations) {
    Json row = AllocationJson(a);
    row["netns_exists"] = NetnsExists(a);
    row["pod_known"] = PodKnown(a);
    row["live"] = NetnsExists(a) || PodKnown(a);
    list.push_back(row);
  }
  return list;
}

// Frees (or, dry, lists) the addresses of pods that are gone. Continues past a
// failed release and reports every error.
Result<Json> Agent::Reclaim(const Json& params) {
  bool dry_run = params.value("dry_run", false);
  int64_t grace = params.value("grace_seconds", config_.ipam_grace_seconds);
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  control::ReclaimObservations observed{
      [this](const ipam::Allocation& a) { return NetnsExists(a); },
      [this](const ipam::Allocation& a) { return PodKnown(a); }};
  auto candidates = control::FindReclaimable(*allocations, observed, UnixNow(), grace);
  Json released = Json::array();
  Json errors = Json::array();
  for (const auto& candidate : candidates) {
    Json row = AllocationJson(candidate.allocation);
    row["reason"] = candidate.reason;
    if (!dry_run) {
      if (Status s = ReleaseEndpoint(candidate.allocation, candidate.reason); !s.ok()) {
        errors.push_back(row["ip"].get<std::string>() + ": " + s.message());
        continue;
      }
      ++reclaimed_total_;
    }
    released.push_back(row);
  }
  return Json{{"dry_run", dry_run}, {"released", released}, {"errors", errors}};
}

Result<Json> Agent::GarbageCollect(const Json& params) {
  std::vector<control::Attachment> valid;
  for (const auto& attachment : params.value("valid", Json::array())) {
    valid.push_back({attachment.value("container_id", ""), attachment.value("ifname", "")});
  }
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  Json released = Json::array();
  Json errors = Json::array();
  for (const auto& candidate : control::FindNotValid(*allocations, valid)) {
    if (Status s = ReleaseEndpoint(candidate.allocation, candidate.reason); !s.ok()) {
      errors.push_back(FormatIpv4(candidate.allocation.ip) + ": " + s.message());
      continue;
    }
    ++reclaimed_total_;
    released.push_back(AllocationJson(candidate.allocation));
  }
  // A plugin killed between making the veth and asking for an address leaves
  // a veth no allocation names. GC never runs alongside ADD (CNI spec), so
  // every such veth is an orphan now.
  Json orphans = Json::array();
  auto held = store_->List();
  auto links = netdev::LinksWithPrefix(kPodVethPrefix);
  if (held.ok() && links.ok()) {
    std::set<std::string> owned;
    for (const auto& a : *held) owned.insert(a.host_ifname);
    for (const auto& link : *links) {
      if (link == kRouterDevice || link == kRouterPeer || owned.count(link)) continue;
      if (Status s = netdev::DeleteLink(link); !s.ok()) {
        errors.push_back(link + ": " + s.message());
        continue;
      }
      log::Info("orphan veth removed", {{"interface", link}, {"reason", "CNI GC"}});
      orphans.push_back(link);
    }
  }
  return Json{{"released", released}, {"orphan_links", orphans}, {"errors", errors}};
}

Result<Json> Agent::Readiness() {
  auto allocations = store_->List();
  if (!allocations.ok()) return Json{{"ready", false}, {"reason", allocations.status().message()}};
  if (allocations->size() >= allocator_->UsableCount()) {
    return Json{{"ready", false},
                {"reason", "pod range " + pod_cidr_.ToString() + " is exhausted (" +
                               std::to_string(allocations->size()) + " of " +
                               std::to_string(allocator_->UsableCount()) +
                               " allocated); run 'kubedp ipam gc'"}};
  }
  return Json{{"ready", true}};
}

Json Agent::IpamSummary() {
  auto allocations = store_->List();
  size_t allocated = allocations.ok() ? allocations->size() : 0;
  size_t live = 0;
  if (allocations.ok()) {
    for (const auto& a : *allocations) live += NetnsExists(a) || PodKnown(a);
  }
  return Json{{"range", pod_cidr_.ToString()},
              {"usable", allocator_->UsableCount()},
              {"allocated", allocated},
              {"live_pods", live},
              {"exhaustion_events", exhaustion_events_},
              {"reclaimed", reclaimed_total_}};
}

void Agent::ReclaimPeriodically() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_reclaim_) return;
  next_reclaim_ = now + std::chrono::seconds(config_.ipam_reclaim_interval_seconds);
  auto result = Reclaim(Json::object());
  if (!result.ok()) {
    RecordError("ipam reclaim: " + result.status().message());
    return;
  }
  for (const auto& error : (*result)["errors"])
    RecordError("ipam reclaim: " + error.get<std::string>());
}

}  // namespace kubedp::agent
