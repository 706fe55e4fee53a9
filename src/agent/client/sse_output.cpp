#include "client/sse_output.hpp"

#include <charconv>

namespace tend::agent {

void SseOutput::feed(std::string_view bytes) {
  pending_.append(bytes);
  // An event ends at a blank line. A data line always starts with "data:", so the text of an
  // output (which may hold "\n\n") never makes one.
  size_t start = 0;
  for (size_t end; (end = pending_.find("\n\n", start)) != std::string::npos; start = end + 2)
    dispatch(std::string_view(pending_).substr(start, end - start + 1));
  pending_.erase(0, start);
}

// One event's lines, each ending in "\n". Only "\n" ends a line: the agent splits the text on
// "\n" alone, so a "\r" in it is text.
void SseOutput::dispatch(std::string_view block) {
  std::string event, data;
  std::optional<uint64_t> id;
  bool has_data = false;
  for (size_t nl; (nl = block.find('\n')) != std::string_view::npos; block.remove_prefix(nl + 1)) {
    std::string_view line = block.substr(0, nl);
    if (line.empty() || line.front() == ':') continue;  // a comment: the heartbeat
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon), value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "event") {
      event = value;
    } else if (field == "data") {
      if (has_data) data += '\n';
      data.append(value);
      has_data = true;
    } else if (field == "id") {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc() && p == value.data() + value.size()) id = v;
    }
  }
  if (event == "output" && has_data) on_output_(data, id);
  if (event == "end") ended_ = true;
}

}  // namespace tend::agent
