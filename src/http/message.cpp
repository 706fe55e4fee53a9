#include "http/message.hpp"

#include "http/text.hpp"

namespace tend::http {

Request::Request(Raw raw) : raw_(std::move(raw)) {
  std::string_view t(raw_.target().data(), raw_.target().size());
  size_t q = t.find('?');
  std::string_view raw_path = t.substr(0, q);
  auto path = percent_decode(raw_path);
  if (!path || raw_path.empty() || raw_path.front() != '/') {
    bad_ = http::error_response(Status::bad_request, "path",
                                "the request path is not valid percent-encoded UTF-8");
    return;
  }
  path_ = std::move(*path);
  // Segments are split before decoding, so an encoded "%2F" stays inside its segment.
  for (size_t pos = 1; pos <= raw_path.size();) {
    size_t slash = raw_path.find('/', pos);
    if (slash == std::string_view::npos) slash = raw_path.size();
    segs_.push_back(*percent_decode(raw_path.substr(pos, slash - pos)));
    pos = slash + 1;
  }
  if (q != std::string_view::npos) {
    std::string bad_name;
    auto query = parse_query(t.substr(q + 1), &bad_name);
    if (!query) {
      bad_ = http::error_response(Status::bad_request, bad_name,
                                  "the query parameter is not valid percent-encoded UTF-8");
      return;
    }
    query_ = std::move(*query);
  }
}

std::string_view Request::header(std::string_view name) const {
  auto it = raw_.find(name);
  if (it == raw_.end()) return {};
  return {it->value().data(), it->value().size()};
}

bool Request::has_header(std::string_view name) const {
  return raw_.find(name) != raw_.end();
}

std::optional<std::string> Request::query(const std::string& name) const {
  auto it = query_.find(name);
  if (it == query_.end()) return std::nullopt;
  return it->second;
}

Response text_response(Status status, std::string body, std::string_view content_type) {
  Response res{status, 11};
  res.set(beast_http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(Status status, const nlohmann::json& body) {
  // Invalid UTF-8 from a job (labels, commands) is replaced, never a reason to fail a response.
  return text_response(status,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       "application/json");
}

Response error_response(Status status, std::string_view field, std::string_view message) {
  nlohmann::json err = {{"message", std::string(message)}};
  err["field"] = field.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(field));
  return json_response(status, {{"error", err}});
}

}  // namespace tend::http
