// The etcd v3 values the client sends and returns, decoded: keys and values as raw bytes (the
// gateway's base64 is the codec's business), revisions as int64, zero values where etcd omits them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tend::etcd {

// Every answer's header. `revision` is the store's revision when the answer was made.
struct Header {
  int64_t revision = 0;
  uint64_t member_id = 0;  // the member that answered
  uint64_t raft_term = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the put that created the key (0: does not exist)
  int64_t mod_revision = 0;     // revision of its last change
  int64_t version = 0;          // puts since creation (1 after the first)
  int64_t lease = 0;            // the lease it is attached to, 0 for none
};

// "Every key starting with `prefix`": the range_end to use with that key.
std::string prefix_end(const std::string& prefix);

struct RangeRequest {
  std::string key;
  std::string range_end;      // "" = only `key`; prefix_end(key) = the prefix; "\0" = key and after
  int64_t revision = 0;       // 0 = the newest
  int64_t limit = 0;          // 0 = no limit
  bool serializable = false;  // answered by the member alone: works without quorum, maybe stale
  bool keys_only = false;
  bool count_only = false;
};
struct RangeResult {
  Header header;
  std::vector<KeyValue> kvs;
  int64_t count = 0;  // keys in the range (more than kvs.size() when limited)
  bool more = false;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;
};
struct PutResult {
  Header header;  // header.revision is the put's own revision
  std::optional<KeyValue> prev_kv;
};

struct DeleteRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};
struct DeleteResult {
  Header header;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// One condition of a transaction: the key's `target` compared with `op` to the given value.
// A key that does not exist has create_revision = mod_revision = version = 0.
struct Compare {
  enum class Target { value, version, create_revision, mod_revision };
  enum class Op { equal, not_equal, less, greater };
  std::string key;
  Target target = Target::create_revision;
  Op op = Op::equal;
  int64_t number = 0;  // version / create_revision / mod_revision
  std::string value;   // value

  static Compare value_of(std::string key, Op op, std::string value) {
    return {std::move(key), Target::value, op, 0, std::move(value)};
  }
  static Compare number_of(std::string key, Target t, Op op, int64_t n) {
    return {std::move(key), t, op, n, {}};
  }
  // "The key does not exist": the usual create-if-absent claim.
  static Compare absent(std::string key) {
    return number_of(std::move(key), Target::create_revision, Op::equal, 0);
  }
};

using TxnOp = std::variant<PutRequest, RangeRequest, DeleteRequest>;
using TxnOpResult = std::variant<PutResult, RangeResult, DeleteResult>;

struct TxnRequest {
  std::vector<Compare> compare;  // all must hold for `success` to run, else `failure` runs
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};
struct TxnResult {
  Header header;
  bool succeeded = false;
  std::vector<TxnOpResult> responses;  // one per op of the branch that ran, in order
};

// Whether a failed txn failed on its own earlier success: the client retries a txn that timed
// out on one member on the next, where the compare then fails if the first attempt was applied.
// The failure branch's range at `index` read the key the txn puts; it holds exactly `value`,
// which the caller makes unique to this write.
inline bool applied_by_earlier_attempt(const TxnResult& r, size_t index, const std::string& value) {
  if (r.succeeded || index >= r.responses.size()) return false;
  const auto* range = std::get_if<RangeResult>(&r.responses[index]);
  return range && range->kvs.size() == 1 && range->kvs.front().value == value;
}

struct LeaseGrant {
  Header header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds granted
};
struct LeaseKeepAlive {
  Header header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds from now; never 0 here (an expired lease is ErrorKind::not_found)
};

struct Status {
  Header header;
  std::string version;  // etcd's, e.g. "3.4.23"
  uint64_t leader = 0;  // member id of the leader as this member sees it; 0: none
  int64_t raft_index = 0;
  int64_t db_size = 0;
  std::vector<std::string> errors;  // e.g. "etcdserver: no leader"
};

struct Event {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;  // for del: key and mod_revision (the deletion's revision) only
  std::optional<KeyValue> prev_kv;
};

}  // namespace tend::etcd
