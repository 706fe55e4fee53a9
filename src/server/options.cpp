#include "server/options.hpp"

#include <CLI/CLI.hpp>

#include "etcd/connect_flags.hpp"
#include "http/text.hpp"
#include "tend/parse.hpp"

namespace tend::server {

namespace {

constexpr uint64_t kMaxJobCache = 1000000;
// How usage errors name the program (tend::usage_error).
constexpr std::string_view kProgram = "tend server";

}  // namespace

std::optional<int> parse_options(int argc, char** argv, ServerOptions& o) {
  CLI::App app{"tend server: the fleet's control plane (API and page over etcd)", "tend server"};
  std::string listen = o.listen.to_string(), etcd_wait = "10s", body_limit = "1MiB",
              lost_after = "5m";
  app.add_option("--etcd", o.etcd_flags.endpoints,
                 "etcd client URLs, comma-separated: all http:// or all https://")
      ->required();
  etcd::add_connect_flags(app, o.etcd_flags);
  app.add_option("--etcd-prefix", o.prefix, "the fleet's keys in etcd start with this")
      ->capture_default_str();
  app.add_option("--listen", listen, "ADDR:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--data", o.data, "directory where the server writes its address");
  app.add_option("--token-file", o.token_file,
                 "the fleet's API token (the servers and agents of a fleet share it)")
      ->required();
  app.add_option("--etcd-wait", etcd_wait, "give up at start if etcd does not answer within this")
      ->capture_default_str();
  app.add_option("--body-limit", body_limit, "largest request body accepted")
      ->capture_default_str();
  app.add_option("--lost-after", lost_after,
                 "a run whose machine is unreachable this long becomes lost (0 or off: never); "
                 "longer than the agents' --ttl")
      ->capture_default_str();
  std::string job_cache = std::to_string(o.job_cache);
  app.add_option("--job-cache", job_cache,
                 "ended jobs the server's watch-fed view keeps (plus every job not ended, up to "
                 "10x this); 0: no view, every job read goes to etcd")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(kProgram, e.what()).status;
  }
  auto conn = etcd::connect_from_flags(o.etcd_flags);
  if (!conn) return usage_error(kProgram, conn.error().message).status;
  o.etcd = std::move(*conn);
  if (o.prefix.empty() || o.prefix.front() != '/' || o.prefix.back() != '/')
    return usage_error(kProgram,
                       "--etcd-prefix: expected a prefix that starts and ends with '/', got \"" +
                           o.prefix + "\"")
        .status;
  auto hp = http::parse_host_port(listen);
  if (!hp) return usage_error(kProgram, "--listen: " + hp.error().detail).status;
  o.listen = *hp;
  auto wait = parse_duration(etcd_wait);
  if (!wait || wait->count() <= 0)
    return usage_error(kProgram,
                       "--etcd-wait: expected a duration like 10s, got \"" + etcd_wait + "\"")
        .status;
  o.start_wait = std::chrono::duration_cast<std::chrono::milliseconds>(*wait);
  auto body = parse_size(body_limit);
  if (!body || *body == 0)
    return usage_error(kProgram,
                       "--body-limit: expected a size like 1MiB, got \"" + body_limit + "\"")
        .status;
  o.http.body_bytes = *body;
  auto la = lost_after == "off" ? Expected<std::chrono::milliseconds>(std::chrono::milliseconds(0))
                                : parse_duration(lost_after);
  if (!la || (la->count() != 0 && *la < std::chrono::seconds(1)))
    return usage_error(kProgram,
                       "--lost-after: expected a duration of at least 1s, or 0/off, got \"" +
                           lost_after + "\"")
        .status;
  o.lost_after = *la;
  auto jc = http::parse_uint(job_cache, kMaxJobCache);
  if (!jc)
    return usage_error(kProgram, "--job-cache: expected a number from 0 to " +
                                     std::to_string(kMaxJobCache) + ", got \"" + job_cache + "\"")
        .status;
  o.job_cache = static_cast<size_t>(*jc);
  return std::nullopt;
}

}  // namespace tend::server
