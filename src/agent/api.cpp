#include "api.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "clock.hpp"
#include "files.hpp"
#include "job_request.hpp"
#include "output_stream.hpp"
#include "token.hpp"

#if defined(TEND_AGENT_WEB) && __has_include("web/web_assets.hpp")
#include "web/web_assets.hpp"
#define TEND_HAVE_WEB 1
#endif

namespace tend::agent {

using json = nlohmann::json;

namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;

void send_error(httplib::Response& res, int status, const std::string& field,
                const std::string& message) {
  res.status = status;
  json err = {{"message", message}};
  err["field"] = field.empty() ? json(nullptr) : json(field);
  res.set_content(json{{"error", err}}.dump() + "\n", "application/json");
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

json opt(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt_time(const std::optional<int64_t>& ms) {
  return ms ? json(rfc3339(*ms)) : json(nullptr);
}

bool needs_no_token(const std::string& path) {
  return path == "/healthz" || path == "/" || path == "/index.html" ||
         path.rfind("/assets/", 0) == 0;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Makes the job's directory and the files the job reads (its stdin, its script), before the job
// is recorded. The spec itself reaches the shim on its stdin when the job starts.
Expected<void> prepare_job_dir(const std::string& dir, const JobRequest& req) {
  // 0711: a job running as another user must reach its script, nothing else.
  if (::mkdir(dir.c_str(), 0711) != 0) return Error::from_errno("mkdir", dir);
  if (req.stdin_text) {
    if (auto r = write_file(dir + "/stdin", *req.stdin_text, 0600); !r) return r;
  }
  if (req.script) {
    if (auto r = write_file(dir + "/script", *req.script, 0600); !r) return r;
    if (req.user) {
      struct passwd pw {};
      struct passwd* found = nullptr;
      std::vector<char> buf(16384);
      if (::getpwnam_r(req.user->c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found &&
          ::chown((dir + "/script").c_str(), pw.pw_uid, pw.pw_gid) != 0)
        return Error::from_errno("chown", dir + "/script");
    }
  }
  return {};
}

}  // namespace

json job_json(const JobRecord& rec) {
  json j = {{"id", rec.id}, {"state", to_string(rec.state)}};
  j["exit_code"] = opt(rec.exit_code);
  j["signal"] = opt(rec.signal);
  j["exit_status"] = opt(rec.exit_status);
  j["error"] = rec.error ? json(*rec.error) : json(nullptr);
  j["created_at"] = rfc3339(rec.created_ms);
  j["started_at"] = opt_time(rec.started_ms);
  j["finished_at"] = opt_time(rec.finished_ms);
  j["duration_ms"] = opt(rec.duration_ms);
  j["cpu_user_ms"] = opt(rec.cpu_user_ms);
  j["cpu_system_ms"] = opt(rec.cpu_system_ms);
  j["peak_memory_bytes"] = opt(rec.peak_memory_bytes);
  j["output_bytes"] = rec.output_bytes;
  j["output_dropped_bytes"] = rec.output_dropped_bytes;
  j["leftovers_killed"] = rec.leftovers_killed;
  j["cancel_requested"] = rec.cancel_requested;
  if (rec.request.is_object())
    for (const auto& [k, v] : rec.request.items()) j[k] = v;
  return j;
}

Api::Api(Store& store, Supervisor& supervisor, Metrics& metrics, ApiOptions opts)
    : store_(store),
      supervisor_(supervisor),
      metrics_(metrics),
      opts_(std::move(opts)),
      server_(std::make_unique<httplib::Server>()) {
  // Each keep-alive connection and each follower holds a thread: enough for many clients.
  server_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_->set_payload_max_length(opts_.body_limit);
  // Small JSON answers must not wait for the client's delayed ACK (Nagle): 40 ms per request.
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1000);
  server_->set_read_timeout(30, 0);
  server_->set_write_timeout(30, 0);
  routes();
}

Api::~Api() = default;

Expected<int> Api::bind(const std::string& host, int port) {
  if (port == 0) {
    int p = server_->bind_to_any_port(host);
    if (p <= 0) return Error::from_errno("bind", host + ":0");
    return p;
  }
  if (!server_->bind_to_port(host, port))
    return Error::from_errno("bind", host + ":" + std::to_string(port));
  return port;
}

void Api::serve() {
  server_->listen_after_bind();
}
void Api::stop() {
  server_->stop();
}

void Api::routes() {
  auto& s = *server_;

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has an empty
    // body. cpp-httplib 0.11 instead reads a POST's body until the client closes, so
    // `curl -X POST URL` (no -d) hung for the read timeout and got a 400. This handler runs
    // before the body is read; the Request is httplib's own mutable object, handed over const.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
      const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
    if (needs_no_token(req.path)) return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "", "missing token: send the header \"Authorization: Bearer TOKEN\"");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!constant_time_equal(std::string_view(auth).substr(kBearer.size()), opts_.token)) {
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      send_error(res, 401, "", "wrong token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Statuses httplib produces itself (404 no route, 413 body too large, 400 bad HTTP) get the
  // same JSON error shape as ours.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 413)
          send_error(res, 413, "body",
                     "request body is larger than " + std::to_string(opts_.body_limit) + " bytes");
        else if (res.status == 404)
          send_error(res, 404, "", "no such endpoint");
        else
          send_error(res, res.status, "", "bad request");
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_error(res, 500, "", what);
      });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"ok", true}});
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(store_.count_by_state()), "text/plain; version=0.0.4");
  });

  s.Post("/v1/jobs", [this](const httplib::Request& req, httplib::Response& res) {
    auto parsed = parse_job_request(req.body);
    if (!parsed) return send_error(res, 400, parsed.error().stage, parsed.error().detail);
    if (auto host = check_on_host(*parsed); !host)
      return send_error(res, 400, host.error().stage, host.error().detail);
    if (store_.count(JobState::queued) >= opts_.max_queued)
      return send_error(
          res, 429, "",
          "the queue is full (" + std::to_string(opts_.max_queued) + " jobs waiting); retry later");
    JobRecord rec;
    rec.id = random_hex(8);
    rec.request = to_json(*parsed);
    rec.created_ms = now_ms();
    std::string dir = opts_.jobs_dir + "/" + rec.id;
    if (auto r = prepare_job_dir(dir, *parsed); !r)
      return send_error(res, 500, "", "could not prepare the job: " + r.error().message());
    if (auto r = store_.insert(rec); !r)
      return send_error(res, 500, "", "could not record the job: " + r.error().message());
    supervisor_.kick();
    res.set_header("Location", "/v1/jobs/" + rec.id);
    send_json(res, 201, {{"id", rec.id}, {"state", to_string(rec.state)}});
  });

  s.Get("/v1/jobs", [this](const httplib::Request& req, httplib::Response& res) {
    ListQuery q;
    q.limit = kDefaultLimit;
    if (req.has_param("state")) {
      auto st = job_state_from_string(req.get_param_value("state"));
      if (!st)
        return send_error(res, 400, "state",
                          "unknown state \"" + req.get_param_value("state") + "\"");
      q.state = st;
    }
    if (req.has_param("label")) {
      std::string l = req.get_param_value("label");
      auto colon = l.find(':');
      if (colon == std::string::npos || colon == 0)
        return send_error(res, 400, "label", "expected label=KEY:VALUE");
      q.label = std::make_pair(l.substr(0, colon), l.substr(colon + 1));
    }
    if (req.has_param("limit")) {
      auto n = parse_u64(req.get_param_value("limit"));
      if (!n || *n < 1 || *n > kMaxLimit)
        return send_error(res, 400, "limit",
                          "must be a number from 1 to " + std::to_string(kMaxLimit));
      q.limit = static_cast<int>(*n);
    }
    if (req.has_param("cursor") && !req.get_param_value("cursor").empty()) {
      auto c = parse_u64(req.get_param_value("cursor"));
      if (!c) return send_error(res, 400, "cursor", "not a cursor this agent gave out");
      q.before_seq = static_cast<int64_t>(*c);
    }
    auto rows = store_.list(q);
    json jobs = json::array();
    for (const auto& r : rows) jobs.push_back(job_json(r));
    json next = rows.size() == static_cast<size_t>(q.limit) ? json(std::to_string(rows.back().seq))
                                                            : json(nullptr);
    send_json(res, 200, {{"jobs", jobs}, {"next_cursor", next}});
  });

  s.Get(R"(/v1/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto rec = store_.get(req.matches[1]);
    if (!rec) return send_error(res, 404, "id", "no job " + std::string(req.matches[1]));
    send_json(res, 200, job_json(*rec));
  });

  s.Post(R"(/v1/jobs/([^/]+)/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    switch (supervisor_.cancel(id)) {
      case Supervisor::CancelOutcome::unknown:
        return send_error(res, 404, "id", "no job " + id);
      case Supervisor::CancelOutcome::already_finished:
        return send_error(res, 409, "id", "job " + id + " has already finished");
      case Supervisor::CancelOutcome::accepted:
        break;
    }
    auto rec = store_.get(id);
    send_json(res, 202, rec ? job_json(*rec) : json{{"id", id}});
  });

  s.Get(R"(/v1/jobs/([^/]+)/output)", [this](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    auto rec = store_.get(id);
    if (!rec) return send_error(res, 404, "id", "no job " + id);
    uint64_t offset = 0;
    if (req.has_param("offset")) {
      auto o = parse_u64(req.get_param_value("offset"));
      if (!o)
        return send_error(res, 400, "offset", "must be a byte offset (a non-negative integer)");
      offset = *o;
    }
    bool sse = req.get_param_value("sse") == "1" ||
               req.get_header_value("Accept").find("text/event-stream") != std::string::npos;
    bool follow =
        sse || req.get_param_value("follow") == "1" || req.get_param_value("follow") == "true";
    if (sse && req.has_header("Last-Event-ID")) {
      if (auto o = parse_u64(req.get_header_value("Last-Event-ID"))) offset = *o;
    }
    std::string dir = opts_.jobs_dir + "/" + id;
    std::string path = dir + "/output";
    if (!follow) {
      struct stat st {};
      uint64_t size = ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
      uint64_t len = offset < size ? size - offset : 0;
      res.status = 200;
      res.set_header("X-Tend-Output-Size", std::to_string(size));
      if (len == 0) return res.set_content("", "text/plain; charset=utf-8");
      // Streamed from the file: memory stays small whatever the output's size.
      res.set_content_provider(len, "text/plain; charset=utf-8",
                               [path, offset](size_t off, size_t length, httplib::DataSink& sink) {
                                 UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
                                 if (!fd) return false;
                                 std::string buf(std::min<size_t>(length, 256 * 1024), '\0');
                                 ssize_t n = ::pread(fd.get(), buf.data(), buf.size(),
                                                     static_cast<off_t>(offset + off));
                                 if (n <= 0) return false;
                                 return sink.write(buf.data(), static_cast<size_t>(n));
                               });
      return;
    }
    // cpp-httplib compresses chunked text/* answers for clients that accept gzip or br, and
    // its compressor holds bytes back until it has enough: a followed output would arrive only
    // at the end. It decides from the request's Accept-Encoding and offers no switch, so a
    // follow request loses that header here (the Request is httplib's own mutable object,
    // handed to handlers as const). SSE is never compressed by it.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    auto follower = std::make_shared<OutputFollower>(dir, id, offset, sse,
                                                     [this, id] { return store_.get(id); });
    res.status = 200;
    if (sse) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Accel-Buffering", "no");
    }
    res.set_chunked_content_provider(
        sse ? "text/event-stream" : "text/plain; charset=utf-8",
        [follower](size_t, httplib::DataSink& sink) {
          std::string piece;
          bool more = follower->next(piece);
          if (!piece.empty() && !sink.write(piece.data(), piece.size())) return false;
          if (!more || (piece.empty() && !more)) sink.done();
          return true;
        });
  });

  auto serve_asset = [](const std::string& path, httplib::Response& res) {
#ifdef TEND_HAVE_WEB
    if (auto asset = tend::agent_face::find_web_asset(path)) {
      res.set_content(std::string(asset->body), std::string(asset->content_type));
      return;
    }
    send_error(res, 404, "", "no such asset");
#else
    (void)path;
    send_error(res, 404, "", "this build has no web page");
#endif
  };
  s.Get("/", [serve_asset](const httplib::Request&, httplib::Response& res) {
    serve_asset("/index.html", res);
  });
  s.Get("/index.html", [serve_asset](const httplib::Request&, httplib::Response& res) {
    serve_asset("/index.html", res);
  });
  s.Get(R"(/assets/.*)", [serve_asset](const httplib::Request& req, httplib::Response& res) {
    serve_asset(req.path, res);
  });
}

}  // namespace tend::agent
