#include "http/router.hpp"

namespace tend::http {

void Router::add_route(Route r, const std::string& pattern) {
  for (size_t pos = 1; pos <= pattern.size();) {
    size_t slash = pattern.find('/', pos);
    if (slash == std::string::npos) slash = pattern.size();
    r.pattern.push_back(pattern.substr(pos, slash - pos));
    pos = slash + 1;
  }
  routes_.push_back(std::move(r));
}

void Router::add(Verb verb, std::string pattern, Handler h) {
  add_route(Route{verb, {}, false, std::move(h), {}}, pattern);
}
void Router::add_open(Verb verb, std::string pattern, Handler h) {
  add_route(Route{verb, {}, true, std::move(h), {}}, pattern);
}
void Router::add_stream(Verb verb, std::string pattern, StreamHandler h) {
  add_route(Route{verb, {}, false, {}, std::move(h)}, pattern);
}
void Router::add_open_stream(Verb verb, std::string pattern, StreamHandler h) {
  add_route(Route{verb, {}, true, {}, std::move(h)}, pattern);
}

bool Router::matches(const Route& r, const std::vector<std::string>& segs,
                     std::vector<std::string>& params) {
  params.clear();
  for (size_t i = 0; i < r.pattern.size(); ++i) {
    const std::string& p = r.pattern[i];
    if (p == "*" && i + 1 == r.pattern.size()) return i < segs.size();
    if (i >= segs.size()) return false;
    if (p == "{}") {
      if (segs[i].empty()) return false;
      params.push_back(segs[i]);
    } else if (p != segs[i]) {
      return false;
    }
  }
  return segs.size() == r.pattern.size();
}

Router::Match Router::match(Request& req) const {
  Verb verb = req.verb() == Verb::head ? Verb::get : req.verb();
  std::vector<std::string> params;
  std::string allowed;
  for (const auto& r : routes_) {
    if (!matches(r, req.segments(), params)) continue;
    if (r.verb != verb) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(beast_http::to_string(r.verb));
      continue;
    }
    req.set_params(std::move(params));
    Match m;
    if (!r.open && guard_) {
      if (auto refusal = guard_(req)) {
        m.refusal = std::move(refusal);
        return m;
      }
    }
    if (r.handler)
      m.handler = &r.handler;
    else
      m.stream = &r.stream;
    return m;
  }
  Match m;
  if (!allowed.empty()) {
    m.refusal = error_response(Status::method_not_allowed, "",
                               std::string(req.method()) + " is not allowed here; use " + allowed);
    m.refusal->set(beast_http::field::allow, allowed);
  } else {
    m.refusal = error_response(Status::not_found, "", "no such endpoint");
  }
  return m;
}

}  // namespace tend::http
