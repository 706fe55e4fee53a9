#include "server/fleet_changes.hpp"

namespace tend::agent {

void RunChanges::changed(const std::string& id) {
  std::lock_guard lock(mu_);
  pending_.ids.insert(id);
  wake_locked();
}

void RunChanges::all_changed() {
  std::lock_guard lock(mu_);
  pending_.all = true;
  wake_locked();
}

bool RunChanges::pending() const {
  std::lock_guard lock(mu_);
  return pending_.all || !pending_.ids.empty();
}

RunChanges::Taken RunChanges::take() {
  std::lock_guard lock(mu_);
  Taken out = std::move(pending_);
  pending_ = Taken{};
  return out;
}

void RunChanges::attach(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
}

void RunChanges::detach() {
  std::lock_guard lock(mu_);
  wake_ = nullptr;
}

void RunChanges::wake_locked() {
  if (wake_) wake_();
}

}  // namespace tend::agent
