#include "ipam/store.h"

#include <sqlite3.h>

#include <utility>

#include "common/ip.h"

namespace kubedp::ipam {
namespace {

// Bump when the schema changes, and teach InitSchema to migrate from the old one.
constexpr int kSchemaVersion = 1;

// How long a writer waits for another process's write transaction to finish.
constexpr int kBusyTimeoutMs = 5000;

// endpoint_id is the rowid; AUTOINCREMENT keeps SQLite from reusing the id of
// a deleted row, and the CHECK keeps it within uint32 instead of wrapping.
constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS allocations (
  endpoint_id INTEGER PRIMARY KEY AUTOINCREMENT CHECK (endpoint_id BETWEEN 1 AND 4294967295),
  container_id TEXT NOT NULL,
  ifname TEXT NOT NULL,
  ip INTEGER NOT NULL UNIQUE CHECK (ip BETWEEN 0 AND 4294967295),
  pod_namespace TEXT NOT NULL,
  pod_name TEXT NOT NULL,
  netns TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  host_ifname TEXT NOT NULL DEFAULT '',
  ifindex INTEGER NOT NULL DEFAULT 0,
  pod_mac TEXT NOT NULL DEFAULT '',
  host_mac TEXT NOT NULL DEFAULT '',
  UNIQUE (container_id, ifname)
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";

constexpr const char* kColumns =
    "endpoint_id, container_id, ifname, ip, pod_namespace, pod_name, netns, created_at, "
    "host_ifname, ifindex, pod_mac, host_mac";

// meta key of the round-robin cursor.
constexpr const char* kLastAllocatedKey = "last_allocated_ip";

int ErrnoFor(sqlite3* db, int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return EBUSY;
    case SQLITE_CONSTRAINT:
      return EEXIST;
    case SQLITE_FULL:
      return ENOSPC;
    case SQLITE_READONLY:
      return EROFS;
    case SQLITE_NOMEM:
      return ENOMEM;
    case SQLITE_PERM:
      return EACCES;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: {
      // The OS said why (ENOENT for a missing directory, EACCES, ...).
      const int err = db ? sqlite3_system_errno(db) : 0;
      return err != 0 ? err : EIO;
    }
    default:
      return EIO;
  }
}

Status SqlError(sqlite3* db, int rc, const std::string& what) {
  const char* detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status::Error(ErrnoFor(db, rc), what + ": " + detail);
}

Status Exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqlError(db, rc, sql);
}

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, std::string sql) : db_(db), sql_(std::move(sql)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Prepares the statement and binds args to ?1, ?2, ... in order.
  template <typename... Args>
  Status Prepare(const Args&... args) {
    const int rc = sqlite3_prepare_v2(db_, sql_.c_str(), -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqlError(db_, rc, "preparing " + sql_);
    Status status;
    int index = 0;
    ((status = status.ok() ? Bind(++index, args) : status), ...);
    return status;
  }

  // True if a row is ready to read, false when done.
  Result<bool> Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // The SQL text would only bury the reason; callers say what they were doing.
    return Status::Error(ErrnoFor(db_, rc), sqlite3_errmsg(db_));
  }

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? reinterpret_cast<const char*>(text) : "";
  }

 private:
  Status Bind(int index, int64_t value) { return Check(sqlite3_bind_int64(stmt_, index, value)); }
  Status Bind(int index, std::string_view value) {
    return Check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT));
  }
  Status Check(int rc) { return rc == SQLITE_OK ? Status::Ok() : SqlError(db_, rc, sql_); }

  sqlite3* db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that
// reads and then writes can fail with SQLITE_BUSY mid-way without waiting,
// while IMMEDIATE waits (busy_timeout) and then holds the lock to the end.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) {}
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction() {
    // Nothing useful to do if the rollback fails: the connection is closing or
    // SQLite already rolled back on its own.
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  Status Begin() {
    KUBEDP_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    KUBEDP_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

Allocation ReadAllocation(const Statement& row) {
  Allocation a;
  a.endpoint_id = static_cast<uint32_t>(row.Int(0));
  a.container_id = row.Text(1);
  a.ifname = row.Text(2);
  a.ip = static_cast<uint32_t>(row.Int(3));
  a.pod_namespace = row.Text(4);
  a.pod_name = row.Text(5);
  a.netns = row.Text(6);
  a.created_at = row.Int(7);
  a.host_ifname = row.Text(8);
  a.ifindex = static_cast<int32_t>(row.Int(9));
  a.pod_mac = row.Text(10);
  a.host_mac = row.Text(11);
  return a;
}

Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  Statement stmt(db, sql);
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare());
  Result<bool> row = stmt.Step();
  if (!row.ok()) return row.status().Context(sql);
  if (!*row) return Status::Error(EIO, std::string(sql) + ": returned no row");
  return stmt.Int(0);
}

// Returns the journal mode now in effect ("wal", or "memory" for ":memory:").
Result<std::string> TrySetJournalModeWal(sqlite3* db) {
  Statement stmt(db, "PRAGMA journal_mode=WAL");
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare());
  Result<bool> row = stmt.Step();
  if (!row.ok()) return row.status().Context("PRAGMA journal_mode=WAL");
  return *row ? stmt.Text(0) : std::string();
}

// Switching a file to WAL needs an exclusive lock, and SQLite reports
// SQLITE_BUSY for it without consulting busy_timeout. Only the first opens of a
// new file can collide here (once in WAL the switch is a no-op), so a short
// bounded retry is enough.
Result<std::string> SetJournalModeWal(sqlite3* db) {
  constexpr int kRetryMs = 10;
  for (int waited_ms = 0;; waited_ms += kRetryMs) {
    Result<std::string> mode = TrySetJournalModeWal(db);
    if (mode.ok() || mode.status().code() != EBUSY || waited_ms >= kBusyTimeoutMs) return mode;
    sqlite3_sleep(kRetryMs);
  }
}

}  // namespace

void Store::DbCloser::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

Store::Store(Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  const std::string where = "IPAM store " + path;
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  // SQLite usually hands back a handle even when opening fails; it must be closed.
  Db db(raw);
  if (rc != SQLITE_OK) return SqlError(raw, rc, "opening").Context(where);
  std::unique_ptr<Store> store(new Store(std::move(db), path));
  KUBEDP_RETURN_IF_ERROR(store->InitSchema().Context(where));
  return store;
}

Status Store::InitSchema() {
  sqlite3* db = db_.get();
  // Set first so that schema setup and every later write wait for another
  // process's lock instead of failing at once.
  if (sqlite3_busy_timeout(db, kBusyTimeoutMs) != SQLITE_OK) {
    return SqlError(db, SQLITE_ERROR, "setting busy_timeout");
  }
  Result<std::string> mode = SetJournalModeWal(db);
  if (!mode.ok()) return mode.status();
  if (*mode != "wal" && *mode != "memory") {
    return Status::Error(EIO, "could not switch to WAL journal mode (still \"" + *mode + "\")");
  }
  KUBEDP_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous=FULL"));

  // Checked and created under the write lock so two processes creating a new
  // file at once don't both try.
  WriteTransaction txn(db);
  KUBEDP_RETURN_IF_ERROR(txn.Begin());
  Result<int64_t> version = QueryInt(db, "PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) {
    return Status::Error(ENOTSUP, "schema version " + std::to_string(*version) +
                                      " is newer than this kubedp supports (" +
                                      std::to_string(kSchemaVersion) +
                                      "); was the file written by a newer kubedp?");
  }
  if (*version == 0) {
    KUBEDP_RETURN_IF_ERROR(Exec(db, kSchemaSql));
    KUBEDP_RETURN_IF_ERROR(
        Exec(db, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str()));
  }
  return txn.Commit();
}

Result<std::optional<Allocation>> Store::Find(std::string_view container_id,
                                              std::string_view ifname) {
  std::lock_guard lock(mutex_);
  Result<std::optional<Allocation>> found = FindLocked(container_id, ifname);
  if (!found.ok()) {
    return found.status().Context("IPAM store " + path_ + ": finding container " +
                                  std::string(container_id) + " interface " + std::string(ifname));
  }
  return found;
}

Result<std::vector<Allocation>> Store::List() {
  std::lock_guard lock(mutex_);
  Result<std::vector<Allocation>> all = ListLocked();
  if (!all.ok()) return all.status().Context("IPAM store " + path_ + ": listing allocations");
  return all;
}

Result<Allocation> Store::Insert(const NewAllocation& request, const AddressPicker& pick) {
  const std::string where = "IPAM store " + path_;
  std::lock_guard lock(mutex_);
  WriteTransaction txn(db_.get());
  KUBEDP_RETURN_IF_ERROR(txn.Begin().Context(where));

  Result<std::optional<Allocation>> existing = FindLocked(request.container_id, request.ifname);
  if (!existing.ok()) return existing.status().Context(where);
  if (existing->has_value()) return std::move(**existing);  // read only: rollback is fine

  Result<std::vector<Allocation>> current = ListLocked();
  if (!current.ok()) return current.status().Context(where);
  Result<std::optional<uint32_t>> last = LastAllocatedLocked();
  if (!last.ok()) return last.status().Context(where);
  // The picker's errors (e.g. exhaustion) are about the range, not the file.
  Result<uint32_t> ip = pick(*current, *last);
  if (!ip.ok()) return ip.status();

  Result<Allocation> inserted = InsertLocked(request, *ip);
  if (!inserted.ok()) return inserted.status().Context(where);
  KUBEDP_RETURN_IF_ERROR(txn.Commit().Context(where));
  return inserted;
}

Status Store::Release(std::string_view container_id, std::string_view ifname) {
  const std::string where = "IPAM store " + path_ + ": releasing container " +
                            std::string(container_id) + " interface " + std::string(ifname);
  std::lock_guard lock(mutex_);
  Statement stmt(db_.get(), "DELETE FROM allocations WHERE container_id = ?1 AND ifname = ?2");
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare(container_id, ifname).Context(where));
  Result<bool> done = stmt.Step();
  return done.status().Context(where);
}

Status Store::UpdateEndpoint(std::string_view container_id, std::string_view ifname,
                             std::string_view host_ifname, int32_t ifindex,
                             std::string_view pod_mac, std::string_view host_mac) {
  const std::string where = "IPAM store " + path_ + ": updating endpoint of container " +
                            std::string(container_id) + " interface " + std::string(ifname);
  std::lock_guard lock(mutex_);
  Statement stmt(db_.get(),
                 "UPDATE allocations SET host_ifname = ?1, ifindex = ?2, pod_mac = ?3, "
                 "host_mac = ?4 WHERE container_id = ?5 AND ifname = ?6");
  KUBEDP_RETURN_IF_ERROR(
      stmt.Prepare(host_ifname, int64_t{ifindex}, pod_mac, host_mac, container_id, ifname)
          .Context(where));
  Result<bool> done = stmt.Step();
  KUBEDP_RETURN_IF_ERROR(done.status().Context(where));
  if (sqlite3_changes(db_.get()) == 0) {
    return Status::NotFound(where + ": no such allocation");
  }
  return Status::Ok();
}

Result<std::optional<Allocation>> Store::FindLocked(std::string_view container_id,
                                                    std::string_view ifname) {
  Statement stmt(db_.get(), std::string("SELECT ") + kColumns +
                                " FROM allocations WHERE container_id = ?1 AND ifname = ?2");
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare(container_id, ifname));
  Result<bool> row = stmt.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Allocation>();
  return std::optional<Allocation>(ReadAllocation(stmt));
}

Result<std::vector<Allocation>> Store::ListLocked() {
  Statement stmt(db_.get(),
                 std::string("SELECT ") + kColumns + " FROM allocations ORDER BY created_at, ip");
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare());
  std::vector<Allocation> all;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) return all;
    all.push_back(ReadAllocation(stmt));
  }
}

Result<std::optional<uint32_t>> Store::LastAllocatedLocked() {
  Statement stmt(db_.get(), "SELECT value FROM meta WHERE key = ?1");
  KUBEDP_RETURN_IF_ERROR(stmt.Prepare(std::string_view(kLastAllocatedKey)));
  Result<bool> row = stmt.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<uint32_t>();
  return std::optional<uint32_t>(static_cast<uint32_t>(stmt.Int(0)));
}

Result<Allocation> Store::InsertLocked(const NewAllocation& request, uint32_t ip) {
  sqlite3* db = db_.get();
  Statement insert(db,
                   "INSERT INTO allocations (container_id, ifname, ip, pod_namespace, pod_name, "
                   "netns, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  KUBEDP_RETURN_IF_ERROR(insert.Prepare(request.container_id, request.ifname, int64_t{ip},
                                        request.pod_namespace, request.pod_name, request.netns,
                                        request.created_at));
  Result<bool> inserted = insert.Step();
  if (!inserted.ok()) {
    return inserted.status().Context("allocating " + FormatIpv4(ip) + " to container " +
                                     request.container_id + " interface " + request.ifname);
  }
  const int64_t endpoint_id = sqlite3_last_insert_rowid(db);

  Statement cursor(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  KUBEDP_RETURN_IF_ERROR(cursor.Prepare(std::string_view(kLastAllocatedKey), int64_t{ip}));
  Result<bool> saved = cursor.Step();
  if (!saved.ok()) return saved.status().Context("saving the allocation cursor");

  Allocation a;
  a.container_id = request.container_id;
  a.ifname = request.ifname;
  a.ip = ip;
  a.pod_namespace = request.pod_namespace;
  a.pod_name = request.pod_name;
  a.netns = request.netns;
  a.created_at = request.created_at;
  a.endpoint_id = static_cast<uint32_t>(endpoint_id);
  return a;
}

}  // namespace kubedp::ipam
