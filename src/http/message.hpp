// Requests as handlers see them (decoded path, query, route parameters) and the responses they
// build. Error bodies have one shape everywhere: {"error": {"field": F|null, "message": M}}.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace tend::http {

namespace beast_http = boost::beast::http;
using Status = beast_http::status;
using Verb = beast_http::verb;
using Response = beast_http::response<beast_http::string_body>;

class Request {
 public:
  using Raw = beast_http::request<beast_http::string_body>;

  // Fills the decoded parts from `raw`. Leaves ok() false (with the reason in error_response())
  // when the target's path or query is not valid percent-encoded UTF-8.
  explicit Request(Raw raw);

  bool ok() const { return !bad_; }
  Verb verb() const { return raw_.method(); }
  std::string_view method() const {
    return {raw_.method_string().data(), raw_.method_string().size()};
  }
  std::string_view target() const { return {raw_.target().data(), raw_.target().size()}; }
  const std::string& path() const { return path_; }                   // decoded
  const std::vector<std::string>& segments() const { return segs_; }  // decoded
  const std::string& body() const { return raw_.body(); }
  // A header's value ("" if absent). Names are case-insensitive.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // A query parameter's decoded value, nullopt if absent.
  std::optional<std::string> query(const std::string& name) const;
  bool has_query(const std::string& name) const { return query_.count(name) > 0; }
  // The i-th "{}" segment of the route that matched.
  const std::string& param(size_t i) const { return params_.at(i); }
  const Raw& raw() const { return raw_; }
  bool keep_alive() const { return raw_.keep_alive(); }

  // Set by the router.
  void set_params(std::vector<std::string> p) { params_ = std::move(p); }
  // Why the target could not be read (only when !ok()).
  const Response& refusal() const { return *bad_; }

 private:
  Raw raw_;
  std::string path_;
  std::vector<std::string> segs_;
  std::map<std::string, std::string> query_;
  std::vector<std::string> params_;
  std::optional<Response> bad_;
};

// A response with `body` as JSON (one line, newline-terminated).
Response json_response(Status status, const nlohmann::json& body);
// The error shape: {"error": {"field": field or null, "message": message}}.
Response error_response(Status status, std::string_view field, std::string_view message);
// A plain response with a body and a content type.
Response text_response(Status status, std::string body, std::string_view content_type);

}  // namespace tend::http
