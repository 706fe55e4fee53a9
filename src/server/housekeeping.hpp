// The fleet's housekeeping (docs/fleet.md, "Lost runs"): a machine whose lease lapsed is noted
// unreachable (seen/NAME.unreachable_since, one write per departure); once it has been so for
// --lost-after, every run of it that has not ended becomes `lost`. Every write is a txn that
// holds only if nothing moved since it was read (the machine still absent, its seen record, the
// run's claim and record unchanged): an agent's report racing the housekeeper either lands first
// and is kept, or finds `lost` and reports on top of it. Correct whichever servers run it; the
// election (election.hpp) only spares the work.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "etcd/client.hpp"
#include "fleet/protocol.hpp"

namespace tend::server {

// One run to mark lost, with the revisions its marking rests on.
struct LostRun {
  std::string id, machine;
  int64_t seen_mod = 0;     // seen/MACHINE's mod_revision (its unreachable_since)
  int64_t claim_rev = 0;    // claims/ID/MACHINE's create_revision; 0: not claimed
  int64_t run_mod = 0;      // runs/ID/MACHINE's mod_revision; 0: no record yet
  int64_t assign_mod = 0;   // assign/MACHINE/ID's mod_revision
  fleet::RunRecord record;  // what runs/ID/MACHINE becomes
};

class Housekeeper {
 public:
  Housekeeper(etcd::Client& c, fleet::Keys keys, std::chrono::milliseconds lost_after);

  // One pass: notes the machines newly found unreachable, then marks what find_lost finds.
  // The number of runs marked lost.
  boost::asio::awaitable<etcd::Result<int>> round();
  // Reads only (apart from the notes): the runs to mark now.
  boost::asio::awaitable<etcd::Result<std::vector<LostRun>>> find_lost();
  // Marks one run lost: true when written, false when something moved since it was read (the
  // machine came back, the agent reported): then nothing was written.
  boost::asio::awaitable<etcd::Result<bool>> mark(const LostRun& run);

 private:
  boost::asio::awaitable<void> note_unreachable(const std::string& name, fleet::SeenRecord rec,
                                                int64_t seen_mod);
  boost::asio::awaitable<etcd::Result<void>> runs_of(const std::string& name, int64_t seen_mod,
                                                     std::vector<LostRun>& out);

  etcd::Client& etcd_;
  fleet::Keys keys_;
  std::chrono::milliseconds lost_after_;
  // Assignments found ended (assign key → its mod_revision): not read again while unchanged.
  std::map<std::string, int64_t> ended_;
};

// Why a machine's runs became lost: "machine NAME unreachable for more than 5m".
std::string lost_error(const std::string& machine, std::chrono::milliseconds lost_after);

// nullopt when --lost-after is longer than the --ttl of every agent etcd knows; else the line
// to refuse it with.
boost::asio::awaitable<etcd::Result<std::optional<std::string>>> check_lost_after(
    etcd::Client& c, const fleet::Keys& keys, std::chrono::milliseconds lost_after);

}  // namespace tend::server
