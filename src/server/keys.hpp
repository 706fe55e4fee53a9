// TEMPORARY: the etcd key layout of docs/fleet.md, until src/fleet/protocol.hpp (branch
// fleet-agent) lands; then this file goes and the server uses that module.
#pragma once

#include <string>

namespace tend::server {

struct Keys {
  std::string prefix = "/tend/";
  std::string machines() const { return prefix + "machines/"; }
  std::string machine(const std::string& name) const { return machines() + name; }
  std::string seen() const { return prefix + "seen/"; }
  std::string jobs() const { return prefix + "jobs/"; }
  std::string job(const std::string& id) const { return jobs() + id; }
  std::string assigns() const { return prefix + "assign/"; }
  std::string assign(const std::string& name, const std::string& id) const {
    return assigns() + name + "/" + id;
  }
  std::string claims_of(const std::string& id) const { return prefix + "claims/" + id + "/"; }
  std::string runs_of(const std::string& id) const { return prefix + "runs/" + id + "/"; }
};

}  // namespace tend::server
