#include "tend/command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>

extern char** environ;

namespace tend {

std::vector<std::string> Command::build_env() const {
  // Keep the parent's order (tools print env in order); later ops replace or remove entries.
  std::vector<std::string> env;
  std::unordered_map<std::string, size_t> index;
  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  if (!clear_env_) {
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      index[key_of(kv)] = env.size();
      env.push_back(std::move(kv));
    }
  }
  std::vector<bool> removed(env.size(), false);
  for (const auto& [key, value] : env_ops_) {
    auto it = index.find(key);
    if (value) {
      std::string kv = key + "=" + *value;
      if (it != index.end() && !removed[it->second]) {
        env[it->second] = std::move(kv);
      } else {
        index[key] = env.size();
        env.push_back(std::move(kv));
        removed.push_back(false);
      }
    } else if (it != index.end()) {
      removed[it->second] = true;
      index.erase(it);
    }
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (size_t i = 0; i < env.size(); ++i)
    if (!removed[i]) out.push_back(std::move(env[i]));
  return out;
}

std::string Command::resolve_program() const {
  if (argv_.empty()) return {};
  const std::string& name = argv_[0];
  if (name.find('/') != std::string::npos) return name;  // relative to the child's cwd: as is
  // The child's PATH, as execvp would see it.
  std::string path;
  bool found = false;
  for (const auto& kv : build_env()) {
    if (kv.rfind("PATH=", 0) == 0) {
      path = kv.substr(5);
      found = true;
    }
  }
  if (!found) path = "/usr/local/bin:/usr/bin:/bin";
  std::string not_executable;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir =
        path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0) {
      if (S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
      // A directory or a file without x: execvp goes on looking, and reports EACCES (126) if
      // nothing better comes; spawn then says "Is a directory" for a directory.
      if (not_executable.empty()) not_executable = candidate;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  // Not found: execve of the bare name fails with ENOENT (127); a non-executable match (or a
  // directory) with EACCES (126), as execvp reports.
  return not_executable.empty() ? std::string() : not_executable;
}

}  // namespace tend
