// Crash-safe record of which pod interface holds which address, shared by the
// CNI plugin (one short-lived process per ADD/DEL) and the agent. SQLite in WAL
// mode with synchronous=FULL: a committed allocation survives power loss, and
// several processes may open the same file at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct sqlite3;

namespace kubedp::ipam {

struct Allocation {
  std::string container_id;
  std::string ifname;
  uint32_t ip = 0;  // host byte order
  std::string pod_namespace;
  std::string pod_name;
  std::string netns;
  int64_t created_at = 0;  // unix seconds
  // Stable id for the datapath's endpoint maps: assigned on insert, never 0 and
  // never reused, so a stale map entry can't be mistaken for a new pod.
  uint32_t endpoint_id = 0;
  // Filled in by the agent once the veth exists (UpdateEndpoint); empty/0 until then.
  std::string host_ifname;
  int32_t ifindex = 0;
  std::string pod_mac;
  std::string host_mac;
};

// What the caller knows when asking for a new allocation.
struct NewAllocation {
  std::string container_id;
  std::string ifname;
  std::string pod_namespace;
  std::string pod_name;
  std::string netns;
  int64_t created_at = 0;
};

// Chooses the address of a new allocation. Called inside the store's write
// transaction with every current allocation (ordered by created_at, then ip)
// and the address handed out last (nullopt before the first one).
using AddressPicker = std::function<Result<uint32_t>(const std::vector<Allocation>& current,
                                                     std::optional<uint32_t> last_allocated)>;

class Store {
 public:
  // Opens or creates the database at path (":memory:" for a private one) and
  // creates or checks the schema.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<std::optional<Allocation>> Find(std::string_view container_id, std::string_view ifname);
  // Ordered by created_at, then ip.
  Result<std::vector<Allocation>> List();

  // In one BEGIN IMMEDIATE transaction: returns the existing allocation of
  // (container_id, ifname) if there is one, otherwise asks pick for an address,
  // inserts it and remembers it as the last allocated address. Holding the
  // write lock from read to insert is what keeps two processes from picking
  // the same address.
  Result<Allocation> Insert(const NewAllocation& request, const AddressPicker& pick);

  // Idempotent: releasing an allocation that does not exist is OK (CNI DEL may
  // be retried, or arrive for an ADD that never completed).
  Status Release(std::string_view container_id, std::string_view ifname);

  // ENOENT if (container_id, ifname) holds no allocation.
  Status UpdateEndpoint(std::string_view container_id, std::string_view ifname,
                        std::string_view host_ifname, int32_t ifindex, std::string_view pod_mac,
                        std::string_view host_mac);

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  using Db = std::unique_ptr<sqlite3, DbCloser>;

  Store(Db db, std::string path);
  Status InitSchema();
  Result<std::optional<Allocation>> FindLocked(std::string_view container_id,
                                               std::string_view ifname);
  Result<std::vector<Allocation>> ListLocked();
  Result<std::optional<uint32_t>> LastAllocatedLocked();
  Result<Allocation> InsertLocked(const NewAllocation& request, uint32_t ip);

  // One connection is not safe for interleaved transactions, so every public
  // call holds this; separate Store objects may be used from separate threads.
  std::mutex mutex_;
  Db db_;
  std::string path_;
};

}  // namespace kubedp::ipam
