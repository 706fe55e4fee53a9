// Which machines a fleet job runs on: the "target" of POST /v1/jobs on `tend server` (issue 9).
//   {"machines": ["a", "b"]}        these machines, each of which must be known
//   {"match": {"role": "web"}}      every online machine with all these labels
//   {"all": true}                   every online machine
// A pure function of the request and the machines known now, so the server's answer (201 with
// the list, or 400 naming the field) is decided before anything is written to etcd.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tend/error.hpp"

namespace tend::fleet {

struct Machine {
  std::string name;
  std::map<std::string, std::string> labels;
  bool online = false;  // its lease is alive
};

// The names the target selects, sorted, without duplicates. An Error's stage is the field
// ("target"), its detail the message for the user: not an object, not exactly one of the three
// forms, an empty or malformed list, an unknown machine, a selector that matches no online
// machine.
Expected<std::vector<std::string>> select_machines(const nlohmann::json& target,
                                                   const std::vector<Machine>& known);

}  // namespace tend::fleet
