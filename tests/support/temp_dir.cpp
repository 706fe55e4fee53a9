#include "temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace tend::test {

namespace {

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + " failed");
  return buf.data();
}

}  // namespace

TempDir::TempDir(const std::string& prefix) : path(make_temp_dir(prefix)) {}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) std::fprintf(stderr, "could not remove %s: %s\n", path.c_str(), ec.message().c_str());
}

std::string TempDir::write_file(const std::string& name, const std::string& content,
                                mode_t mode) const {
  const std::string p = file(name);
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(p.c_str(), mode);
  return p;
}

}  // namespace tend::test
