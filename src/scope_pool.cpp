#include "scope_pool.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "sys/files.hpp"

namespace tend::detail {

namespace {

constexpr size_t kPoolSize = 4;

class Pool {
 public:
  ~Pool() {
    // At exit the pooled cgroups go; one left by a crash is empty and is swept as stale later.
    for (auto& c : items_) ::rmdir(c.path.c_str());
  }
  std::mutex mutex;
  std::vector<PooledCgroup> items_;
};

Pool& pool() {
  static Pool p;
  return p;
}

// Read each time (a getenv is nanoseconds): the benchmark compares both ways in one run.
bool enabled() {
  const char* env = std::getenv("TEND_CGROUP_POOL");
  return !(env && std::strcmp(env, "0") == 0);
}

}  // namespace

bool pool_put(PooledCgroup&& c) {
  if (!enabled()) return false;
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  if (p.items_.size() >= kPoolSize) return false;
  p.items_.push_back(std::move(c));
  return true;
}

std::optional<PooledCgroup> pool_take(const std::string& parent) {
  if (!enabled()) return std::nullopt;
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  for (size_t i = p.items_.size(); i-- > 0;) {
    if (p.items_[i].parent != parent) continue;
    PooledCgroup c = std::move(p.items_[i]);
    p.items_.erase(p.items_.begin() + static_cast<long>(i));
    // Still there and still empty (a read of a removed cgroup fails with ENODEV).
    auto events = sys::read_fd(c.events.get());
    if (events && events->find("populated 0") != std::string::npos) return c;
    ::rmdir(c.path.c_str());
  }
  return std::nullopt;
}

}  // namespace tend::detail
