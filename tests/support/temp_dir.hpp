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

  const std::string& path() const { return path_; }
  // path()/name
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to path()/name with `mode`; returns the file's path.
  std::string write_file(const std::string& name, const std::string& content,
                         mode_t mode = 0644) const;

 private:
  std::string path_;
};

}  // namespace tend::test
