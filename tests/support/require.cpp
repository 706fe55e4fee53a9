#include "require.hpp"

#include <cstdlib>
#include <string>

namespace tend::test {

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

bool command_succeeds(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

bool unshare_works() {
  static const bool works = command_succeeds("unshare -fp --mount-proc true");
  return works;
}

}  // namespace tend::test
