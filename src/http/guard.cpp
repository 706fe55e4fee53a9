#include "http/guard.hpp"

#include "http/auth.hpp"

namespace tend::http {

std::optional<Response> require_bearer(const Request& req, std::string_view token) {
  auto creds = bearer_credentials(req.header("Authorization"));
  if (!creds) {
    auto res = error_response(Status::unauthorized, "",
                              "missing token: send the header \"Authorization: Bearer TOKEN\"");
    res.set("WWW-Authenticate", "Bearer");
    return res;
  }
  if (!constant_time_equal(*creds, token)) {
    auto res = error_response(Status::unauthorized, "", "wrong token");
    res.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return res;
  }
  return std::nullopt;
}

std::string render_http_metrics(const ServerStats& s) {
  std::string out;
  auto one = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  one("tend_http_connections_open", "gauge", "Client connections open now.", s.connections_open);
  one("tend_http_streams_open", "gauge", "Output streams (follow, SSE) open now.", s.streams_open);
  one("tend_http_connections_total", "counter", "Client connections accepted.",
      s.connections_total);
  one("tend_http_connections_refused_total", "counter",
      "Connections answered 503 because too many were open.", s.connections_refused);
  one("tend_http_slow_clients_closed_total", "counter",
      "Connections closed because a read or write deadline passed.", s.slow_clients_closed);
  one("tend_http_requests_total", "counter", "Requests read.", s.requests_total);
  one("tend_http_requests_refused_total", "counter",
      "Requests refused for their form (limits, encoding, framing).", s.requests_refused);
  return out;
}

}  // namespace tend::http
