#include "http/list_query.hpp"

#include "http/text.hpp"

namespace tend::http {

std::optional<Response> read_page_size(const Request& req, int& limit) {
  if (auto l = req.query("limit")) {
    auto n = parse_uint(*l, kMaxPageSize);
    if (!n || *n < 1)
      return error_response(Status::bad_request, "limit",
                            "must be a number from 1 to " + std::to_string(kMaxPageSize));
    limit = static_cast<int>(*n);
  }
  return std::nullopt;
}

std::optional<Response> read_label_filter(
    const Request& req, std::optional<std::pair<std::string, std::string>>& label) {
  if (auto l = req.query("label")) {
    auto colon = l->find(':');
    if (colon == std::string::npos || colon == 0)
      return error_response(Status::bad_request, "label", "expected label=KEY:VALUE");
    label = std::make_pair(l->substr(0, colon), l->substr(colon + 1));
  }
  return std::nullopt;
}

}  // namespace tend::http
