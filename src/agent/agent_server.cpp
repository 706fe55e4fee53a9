#include "agent_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "api.hpp"
#include "files.hpp"
#include "size_parse.hpp"
#include "store.hpp"
#include "supervisor.hpp"
#include "tend/reaper.hpp"
#include "token.hpp"

namespace tend::agent {

namespace {

struct Options {
  std::string listen = "127.0.0.1:8600";
  std::string data = "./tend-data";
  std::string token_file;
  int max_running = 0;
  int64_t max_queued = 1000;
  std::string output_limit = "64MiB";
  std::string body_limit = "1MiB";
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "tend agent: %s\n", msg.c_str());
  return 125;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Expected<void> mkdir_p(const std::string& path, mode_t mode) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return Error::from_errno("mkdir", cur);
  }
  return {};
}

// The `tend` program beside this one: it runs each job's supervisor (`tend agent-shim`).
std::string shim_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  auto slash = self.rfind('/');
  return slash == std::string::npos ? std::string("tend") : self.substr(0, slash) + "/tend";
}

}  // namespace

int agent_main(int argc, char** argv) {
  Options o;
  CLI::App app{"tend agent: the job service (HTTP API, durable records, web page)", "tend agent"};
  app.add_option("--listen", o.listen, "ADDR:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--data", o.data, "directory for the database, job directories and token")
      ->capture_default_str();
  app.add_option("--token-file", o.token_file,
                 "read the API token from this file instead of DATA/token");
  app.add_option("--max-running", o.max_running, "jobs running at once (default: 2 x cores)");
  app.add_option("--max-queued", o.max_queued, "jobs waiting at most; more are refused with 429")
      ->capture_default_str();
  app.add_option("--output-limit", o.output_limit, "output kept per job (head + tail), e.g. 64MiB")
      ->capture_default_str();
  app.add_option("--body-limit", o.body_limit, "largest request body accepted")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  auto colon = o.listen.rfind(':');
  if (colon == std::string::npos)
    return usage_error("--listen: expected ADDR:PORT, got \"" + o.listen + "\"");
  std::string host = o.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(o.listen.substr(colon + 1), &used);
    if (used != o.listen.size() - colon - 1) port = -1;
  } catch (...) {
  }
  if (host.empty() || port < 0 || port > 65535)
    return usage_error("--listen: expected ADDR:PORT with a port from 0 to 65535, got \"" +
                       o.listen + "\"");
  if (o.max_running <= 0) {
    if (app.count("--max-running")) return usage_error("--max-running must be at least 1");
    o.max_running = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (o.max_queued < 0) return usage_error("--max-queued must not be negative");
  auto output_limit = parse_size(o.output_limit);
  if (!output_limit || *output_limit < 2)
    return usage_error("--output-limit: expected a size like 64MiB, got \"" + o.output_limit +
                       "\"");
  auto body_limit = parse_size(o.body_limit);
  if (!body_limit || *body_limit == 0)
    return usage_error("--body-limit: expected a size like 1MiB, got \"" + o.body_limit + "\"");

  if (auto r = mkdir_p(o.data + "/jobs", 0700); !r) return usage_error(r.error().message());
  // Absolute from here on: shims are found again after a restart by the job directory in their
  // command line, whatever directory the agent is restarted from.
  if (char* abs = ::realpath(o.data.c_str(), nullptr)) {
    o.data = abs;
    std::free(abs);
  } else {
    return usage_error("--data " + o.data + ": " + tend::errno_text(errno));
  }

  // The token: given, kept from an earlier start, or made now (only for a loopback address: a
  // fresh secret is not something to expose to a network before anyone has seen it).
  std::string token;
  std::string token_path = o.token_file.empty() ? o.data + "/token" : o.token_file;
  bool fresh = false;
  if (!o.token_file.empty() || file_exists(token_path)) {
    auto t = read_token(token_path);
    if (!t) return usage_error("token: " + t.error().message());
    token = *t;
  } else if (!is_loopback(host)) {
    return usage_error(
        "refusing to listen on " + o.listen +
        " without a token: start once on 127.0.0.1 to make DATA/token, or pass --token-file");
  } else {
    auto t = create_token(token_path);
    if (!t) return usage_error(t.error().message());
    token = *t;
    fresh = true;
  }

  // Signals are blocked before any thread exists, so every thread inherits the mask and they
  // arrive only through these signalfds (no handlers). SIGPIPE: a client that hangs up is an
  // error value on the write, not a death.
  auto stop_fd = make_signalfd({SIGTERM, SIGINT, SIGHUP, SIGPIPE});
  if (!stop_fd) return usage_error(stop_fd.error().message());
  auto sigchld_fd = make_signalfd({SIGCHLD});
  if (!sigchld_fd) return usage_error(sigchld_fd.error().message());

  auto store = Store::open(o.data + "/agent.db");
  if (!store) return usage_error(store.error().message());
  Metrics metrics;
  SupervisorOptions sopts;
  sopts.jobs_dir = o.data + "/jobs";
  sopts.self_exe = shim_exe();
  sopts.max_running = o.max_running;
  sopts.output_limit = *output_limit;
  sopts.sigchld_fd = std::move(*sigchld_fd);
  auto supervisor = Supervisor::create(**store, metrics, std::move(sopts));
  if (!supervisor) return usage_error(supervisor.error().message());

  ApiOptions aopts;
  aopts.token = token;
  aopts.jobs_dir = o.data + "/jobs";
  aopts.max_queued = o.max_queued;
  aopts.body_limit = *body_limit;
  Api api(**store, **supervisor, metrics, aopts);
  auto bound = api.bind(host, port);
  if (!bound) return usage_error("cannot listen on " + o.listen + ": " + bound.error().message());

  if (auto r = (*supervisor)->start(); !r) return usage_error(r.error().message());

  std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string addr = url_host + ":" + std::to_string(*bound);
  (void)write_file_atomic(o.data + "/address", addr + "\n");
  std::printf("tend agent: listening on http://%s/ (data in %s, up to %d jobs at once%s)\n",
              addr.c_str(), o.data.c_str(), o.max_running,
              Reaper::is_pid1() ? ", PID 1: reaping orphans" : "");
  if (fresh)
    std::printf("tend agent: API token (saved in %s): %s\n", token_path.c_str(), token.c_str());
  else
    std::printf("tend agent: API token in %s\n", token_path.c_str());
  std::fflush(stdout);

  std::thread server([&] { api.serve(); });
  for (;;) {
    struct pollfd p {
      stop_fd->get(), POLLIN, 0
    };
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) break;
    struct signalfd_siginfo si {};
    if (::read(stop_fd->get(), &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
    if (si.ssi_signo != SIGPIPE) break;
  }
  std::fputs("tend agent: stopping (running jobs continue under their supervisors)\n", stderr);
  api.stop();
  server.join();
  return 0;
}

}  // namespace tend::agent
