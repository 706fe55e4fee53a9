#include "server/recovery.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <set>

namespace tend::agent {

namespace {

constexpr const char* kLostRequest =
    "recovered from its job directory: the request was lost with the damaged database";

Expected<void> move_aside(const std::string& path, const std::string& suffix) {
  for (const char* part : {"", "-wal", "-shm", "-journal"}) {
    std::string from = path + part, to = path + suffix + part;
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
      return Error::from_errno("rename", from);
  }
  return {};
}

// Puts a salvaged record back whole: insert (id, state, request, labels), then every other field.
Expected<void> restore(Store& store, JobRecord rec) {
  if (auto r = store.insert(rec); !r) return r;
  return store.update(rec);
}

}  // namespace

Expected<std::unique_ptr<Store>> open_for_recovery(const std::string& path) {
  auto store = Store::open(path);
  if (store || store.error().code != EUCLEAN) return store;
  std::fprintf(stderr, "tend agent: --recover: %s\n", store.error().message().c_str());
  std::vector<JobRecord> salvaged = Store::salvage(path);
  std::string suffix = ".damaged-" + std::to_string(std::time(nullptr));
  if (auto r = move_aside(path, suffix); !r) return r.error();
  std::fprintf(stderr, "tend agent: --recover: moved the damaged database to %s%s\n", path.c_str(),
               suffix.c_str());
  auto fresh = Store::open(path);
  if (!fresh) return fresh;
  for (auto& rec : salvaged)
    if (auto r = restore(**fresh, std::move(rec)); !r) return r.error();
  std::fprintf(stderr, "tend agent: --recover: %zu records read back from the damaged database\n",
               salvaged.size());
  return fresh;
}

Expected<int> rebuild_records(Store& store, const std::string& jobs_dir) {
  auto ids = store.all_ids();
  if (!ids) return ids.error();
  std::set<std::string> known(ids->begin(), ids->end());
  DIR* d = ::opendir(jobs_dir.c_str());
  if (!d) return Error::from_errno("opendir", jobs_dir);
  std::vector<JobRecord> missing;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || known.count(name)) continue;
    struct stat st {};
    if (::stat((jobs_dir + "/" + name).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    JobRecord rec;
    rec.id = name;
    rec.state = JobState::running;
    rec.request = nlohmann::json::object();
    rec.created_ms = int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
    rec.error = kLostRequest;
    missing.push_back(std::move(rec));
  }
  ::closedir(d);
  // Oldest first, so the list keeps its order (by the directory's last change: the best left).
  std::sort(missing.begin(), missing.end(),
            [](const JobRecord& a, const JobRecord& b) { return a.created_ms < b.created_ms; });
  for (auto& rec : missing)
    if (auto r = restore(store, rec); !r) return r.error();
  return static_cast<int>(missing.size());
}

}  // namespace tend::agent
