#include "sys/procfs.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "sys/files.hpp"

namespace tend::sys {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::vector<CgroupMount> cgroup_mounts() {
  std::vector<CgroupMount> out;
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, super;
    tail >> fstype >> source >> super;
    if (fstype != "cgroup2" && fstype != "cgroup") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, majmin, root, mountpoint;
    head >> id >> parent >> majmin >> root >> mountpoint;
    CgroupMount m;
    m.v2 = fstype == "cgroup2";
    m.root = unescape_octal(root);
    m.mountpoint = unescape_octal(mountpoint);
    std::istringstream opts(super);
    for (std::string o; std::getline(opts, o, ',');) m.options.push_back(o);
    out.push_back(std::move(m));
  }
  return out;
}

std::string cgroup2_mount() {
  for (const auto& m : cgroup_mounts())
    if (m.v2) return m.mountpoint;
  return {};
}

std::optional<std::string> own_cgroup_v1(const std::string& controller) {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // "4:memory:/path" or "2:cpu,cpuacct:/path"
    auto a = line.find(':');
    auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::istringstream list(line.substr(a + 1, b - a - 1));
    for (std::string c; std::getline(list, c, ',');)
      if (c == controller) return line.substr(b + 1);
  }
  return std::nullopt;
}

std::optional<std::string> own_cgroup_v2() {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return std::nullopt;
}

std::optional<ProcInfo> read_proc(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  auto text = read_file(path);
  if (!text) return std::nullopt;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  //  stime cutime cstime priority nice num_threads itrealvalue starttime ..."
  auto open = text->find('(');
  auto close = text->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open ||
      close + 2 >= text->size())
    return std::nullopt;
  const char* p = text->c_str() + close + 2;
  ProcInfo info{};
  info.pid = pid;
  text->copy(info.name, std::min(close - open - 1, sizeof info.name - 1), open + 1);
  info.state = *p;
  p += 1;
  char* end = nullptr;
  long fields[19];
  for (int i = 0; i < 19; ++i) {  // ppid .. starttime (fields 4..22)
    fields[i] = std::strtol(p, &end, 10);
    if (end == p) return std::nullopt;
    p = end;
  }
  info.ppid = static_cast<pid_t>(fields[0]);
  info.pgid = static_cast<pid_t>(fields[1]);
  info.sid = static_cast<pid_t>(fields[2]);
  info.start_time = static_cast<unsigned long long>(fields[18]);
  return info;
}

std::vector<ProcInfo> list_processes() {
  std::vector<ProcInfo> out;
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (struct dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (auto info = read_proc(static_cast<pid_t>(pid))) out.push_back(*info);
  }
  ::closedir(dir);
  return out;
}

std::optional<std::vector<std::string>> read_proc_strings(pid_t pid, const char* file) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/" + file);
  if (!text) return std::nullopt;
  // Each string ends with a NUL; a process that rewrote its argv may leave the last one open.
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text->size();) {
    size_t end = text->find('\0', pos);
    if (end == std::string::npos) end = text->size();
    out.emplace_back(*text, pos, end - pos);
    pos = end + 1;
  }
  return out;
}

}  // namespace tend::sys
