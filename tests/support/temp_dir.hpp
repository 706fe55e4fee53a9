// A temporary directory for one test, removed with everything in it at destruction.
#pragma once

#include <sys/types.h>

#include <string>

namespace tend::test {

class TempDir {
 public:
  // /tmp/<prefix>-XXXXXX; throws if it cannot be made (the test cannot run without it).
  explicit TempDir(const std::string& prefix = "tend-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  // The directory (a field, not a method: the tests of every folder spell it `dir.path`).
  const std::string path;
  // path/name
  std::string file(const std::string& name) const { return path + "/" + name; }
  // Writes `content` to path/name with `mode`; returns the file's path.
  std::string write_file(const std::string& name, const std::string& content,
                         mode_t mode = 0644) const;
};

}  // namespace tend::test
