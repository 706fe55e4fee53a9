#include "client.hpp"

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "token.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

constexpr int kToolFailed = 125;

struct Conn {
  std::string addr;
  std::string token;
};

void add_conn_options(CLI::App& app, Conn& c) {
  app.add_option("--addr", c.addr,
                 "agent address HOST:PORT (default $TEND_ADDR or 127.0.0.1:8600)");
  app.add_option("--token", c.token, "API token (default $TEND_TOKEN or ./tend-data/token)");
}

// Fills the defaults; an error line and false if there is no token to use.
bool resolve(Conn& c, const char* cmd) {
  if (c.addr.empty())
    c.addr = std::getenv("TEND_ADDR") ? std::getenv("TEND_ADDR") : "127.0.0.1:8600";
  if (c.token.empty() && std::getenv("TEND_TOKEN")) c.token = std::getenv("TEND_TOKEN");
  if (c.token.empty()) {
    auto t = read_token("./tend-data/token");
    if (!t) {
      std::fprintf(stderr,
                   "tend %s: no token: pass --token, set TEND_TOKEN, or run where "
                   "./tend-data/token is (%s)\n",
                   cmd, t.error().message().c_str());
      return false;
    }
    c.token = *t;
  }
  return true;
}

std::unique_ptr<httplib::Client> client_for(const Conn& c) {
  std::string url = c.addr.find("://") == std::string::npos ? "http://" + c.addr : c.addr;
  auto cli = std::make_unique<httplib::Client>(url);
  cli->set_bearer_token_auth(c.token);
  cli->set_tcp_nodelay(true);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(60, 0);
  return cli;
}

// The agent's error message, or the HTTP failure, as one line.
std::string describe(const httplib::Result& r) {
  if (!r) return "cannot reach the agent: " + httplib::to_string(r.error());
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    std::string field = j["error"].value("field", json(nullptr)).is_string()
                            ? j["error"]["field"].get<std::string>()
                            : "";
    std::string msg = j["error"].value("message", std::string("error"));
    return (field.empty() ? "" : field + ": ") + msg + " (HTTP " + std::to_string(r->status) + ")";
  }
  return "HTTP " + std::to_string(r->status);
}

int parse_cli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
    return kToolFailed;
  }
  return -1;
}

bool split_kv(const std::string& s, char sep, std::string& k, std::string& v) {
  auto pos = s.find(sep);
  if (pos == std::string::npos || pos == 0) return false;
  k = s.substr(0, pos);
  v = s.substr(pos + 1);
  return true;
}

// Waits for the job to end (the output stream ends with it), then returns its record.
std::optional<json> wait_for(httplib::Client& cli, const std::string& id, bool print_output) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto r = cli.Get("/v1/jobs/" + id);
    if (!r || r->status != 200) return std::nullopt;
    json job = json::parse(r->body, nullptr, false);
    std::string state = job.value("state", "");
    if (state != "queued" && state != "running") return job;
    uint64_t offset = 0;
    cli.set_read_timeout(3600, 0);
    cli.Get("/v1/jobs/" + id + "/output?follow=1&offset=" + std::to_string(offset),
            [&](const char* data, size_t n) {
              if (print_output) std::fwrite(data, 1, n, stdout);
              offset += n;
              return true;
            });
  }
  return std::nullopt;
}

}  // namespace

int submit_main(int argc, char** argv) {
  CLI::App app{"tend submit: run a command on the agent", "tend submit"};
  Conn conn;
  add_conn_options(app, conn);
  std::string timeout, kill_after, cwd, user, script, interpreter;
  std::vector<std::string> labels, env, command;
  bool wait = false;
  app.add_option("--timeout", timeout, "stop the job after this long (30s, 5m, ...)");
  app.add_option("--kill-after", kill_after, "grace between the stop signal and SIGKILL");
  app.add_option("--label", labels, "label K=V (repeatable)");
  app.add_option("--cwd", cwd, "working directory");
  app.add_option("--env", env, "environment variable K=V (repeatable)");
  app.add_option("--user", user, "run as this user");
  app.add_flag("--wait", wait, "wait for the job and exit with its status (like tend run)");
  app.add_option("command", command, "the command and its arguments (after --)")->required();
  if (int rc = parse_cli(app, argc, argv); rc >= 0) return rc;
  if (!resolve(conn, "submit")) return kToolFailed;

  json body = {{"command", command}};
  if (!timeout.empty()) body["timeout"] = timeout;
  if (!kill_after.empty()) body["kill_after"] = kill_after;
  if (!cwd.empty()) body["cwd"] = cwd;
  if (!user.empty()) body["user"] = user;
  for (const auto& l : labels) {
    std::string k, v;
    if (!split_kv(l, '=', k, v)) {
      std::fprintf(stderr, "tend submit: --label: expected KEY=VALUE, got \"%s\"\n", l.c_str());
      return kToolFailed;
    }
    body["labels"][k] = v;
  }
  for (const auto& e : env) {
    std::string k, v;
    if (!split_kv(e, '=', k, v)) {
      std::fprintf(stderr, "tend submit: --env: expected KEY=VALUE, got \"%s\"\n", e.c_str());
      return kToolFailed;
    }
    body["env"][k] = v;
  }
  auto cli = client_for(conn);
  auto r = cli->Post("/v1/jobs", body.dump(), "application/json");
  if (!r || r->status != 201) {
    std::fprintf(stderr, "tend submit: %s\n", describe(r).c_str());
    return kToolFailed;
  }
  std::string id = json::parse(r->body, nullptr, false).value("id", "");
  std::printf("%s\n", id.c_str());
  std::fflush(stdout);
  if (!wait) return 0;
  auto job = wait_for(*cli, id, false);
  if (!job) {
    std::fprintf(stderr, "tend submit: lost contact with the agent while waiting for %s\n",
                 id.c_str());
    return kToolFailed;
  }
  std::string state = job->value("state", "");
  if ((*job)["error"].is_string())
    std::fprintf(stderr, "tend submit: job %s: %s\n", id.c_str(),
                 (*job)["error"].get<std::string>().c_str());
  if ((*job)["exit_status"].is_number_integer()) return (*job)["exit_status"].get<int>();
  return kToolFailed;  // lost: no status to report
}

int jobs_main(int argc, char** argv) {
  CLI::App app{"tend jobs: list the agent's jobs, newest first", "tend jobs"};
  Conn conn;
  add_conn_options(app, conn);
  std::string state, label;
  int limit = 50;
  bool as_json = false;
  app.add_option("--state", state, "only jobs in this state");
  app.add_option("--label", label, "only jobs with this label K:V");
  app.add_option("--limit", limit, "at most this many (1-500)")->capture_default_str();
  app.add_flag("--json", as_json, "print the API's JSON");
  if (int rc = parse_cli(app, argc, argv); rc >= 0) return rc;
  if (!resolve(conn, "jobs")) return kToolFailed;
  httplib::Params params{{"limit", std::to_string(limit)}};
  if (!state.empty()) params.emplace("state", state);
  if (!label.empty()) params.emplace("label", label);
  auto cli = client_for(conn);
  auto r = cli->Get(httplib::append_query_params("/v1/jobs", params));
  if (!r || r->status != 200) {
    std::fprintf(stderr, "tend jobs: %s\n", describe(r).c_str());
    return kToolFailed;
  }
  json list = json::parse(r->body, nullptr, false);
  if (as_json) {
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }
  std::printf("%-16s  %-10s  %-6s  %-24s  %s\n", "ID", "STATE", "EXIT", "CREATED", "COMMAND");
  for (const auto& j : list["jobs"]) {
    std::string what;
    if (j.contains("command") && j["command"].is_array())
      for (const auto& a : j["command"]) what += (what.empty() ? "" : " ") + a.get<std::string>();
    else if (j.contains("script") && j["script"].is_string())
      what =
          "[" + j.value("interpreter", "sh") + "] " + j["script"].get<std::string>().substr(0, 40);
    for (char& c : what)
      if (c == '\n') c = ' ';
    std::string exit =
        j["exit_status"].is_number_integer() ? std::to_string(j["exit_status"].get<int>()) : "-";
    std::printf("%-16s  %-10s  %-6s  %-24s  %s\n", j.value("id", "").c_str(),
                j.value("state", "").c_str(), exit.c_str(), j.value("created_at", "").c_str(),
                what.c_str());
  }
  return 0;
}

int logs_main(int argc, char** argv) {
  CLI::App app{"tend logs: print a job's output (stdout and stderr, merged)", "tend logs"};
  Conn conn;
  add_conn_options(app, conn);
  bool follow = false;
  uint64_t offset = 0;
  std::string id;
  app.add_flag("-f,--follow", follow, "keep printing until the job ends");
  app.add_option("--offset", offset, "start at this byte");
  app.add_option("id", id, "job id")->required();
  if (int rc = parse_cli(app, argc, argv); rc >= 0) return rc;
  if (!resolve(conn, "logs")) return kToolFailed;
  auto cli = client_for(conn);
  if (follow) cli->set_read_timeout(24 * 3600, 0);
  std::string path =
      "/v1/jobs/" + id + "/output?offset=" + std::to_string(offset) + (follow ? "&follow=1" : "");
  int status = 0;
  std::string error_body;
  auto r = cli->Get(
      path,
      [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status != 200) {
          error_body.append(data, n);
          return true;
        }
        std::fwrite(data, 1, n, stdout);
        std::fflush(stdout);
        return true;
      });
  if (!r || r->status != 200) {
    if (r) r->body = error_body;
    std::fprintf(stderr, "tend logs: %s\n", describe(r).c_str());
    return r && r->status == 404 ? 1 : kToolFailed;
  }
  return 0;
}

int cancel_main(int argc, char** argv) {
  CLI::App app{"tend cancel: stop a job and everything it started", "tend cancel"};
  Conn conn;
  add_conn_options(app, conn);
  std::string id;
  app.add_option("id", id, "job id")->required();
  if (int rc = parse_cli(app, argc, argv); rc >= 0) return rc;
  if (!resolve(conn, "cancel")) return kToolFailed;
  auto cli = client_for(conn);
  auto r = cli->Post("/v1/jobs/" + id + "/cancel");
  if (!r || r->status != 202) {
    std::fprintf(stderr, "tend cancel: %s\n", describe(r).c_str());
    return r && (r->status == 404 || r->status == 409) ? 1 : kToolFailed;
  }
  std::printf("cancelling %s\n", id.c_str());
  return 0;
}

}  // namespace tend::agent
