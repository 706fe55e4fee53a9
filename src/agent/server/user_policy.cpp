#include "server/user_policy.hpp"

namespace tend::agent {

std::set<std::string> parse_user_list(const std::string& text) {
  std::set<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string name = text.substr(pos, comma - pos);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty()) out.insert(name);
    pos = comma + 1;
  }
  return out;
}

}  // namespace tend::agent
