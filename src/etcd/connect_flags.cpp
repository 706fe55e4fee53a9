#include "etcd/connect_flags.hpp"

#include <CLI/CLI.hpp>

#include "http/auth.hpp"

namespace tend::etcd {

void add_connect_flags(CLI::App& app, ConnectFlags& f) {
  app.add_option("--etcd-cacert", f.cacert,
                 "etcd over https: the CA its certificate must chain to (default: the system's)");
  app.add_option("--etcd-cert", f.cert,
                 "etcd over https: this client's certificate (etcd's --client-cert-auth; "
                 "no CommonName: etcd's gateway refuses one), with --etcd-key");
  app.add_option("--etcd-key", f.key, "the private key of --etcd-cert");
  app.add_option("--etcd-user", f.user, "etcd auth: the user, with --etcd-password-file");
  app.add_option("--etcd-password-file", f.password_file,
                 "etcd auth: read the password of --etcd-user from this file");
}

bool any_connect_flag(const ConnectFlags& f) {
  return !f.cacert.empty() || !f.cert.empty() || !f.key.empty() || !f.user.empty() ||
         !f.password_file.empty();
}

namespace {

Error bad(std::string sentence) {
  return Error{ErrorKind::invalid, std::move(sentence)};
}

}  // namespace

Result<Connection> connect_from_flags(const ConnectFlags& f) {
  auto urls = parse_endpoints(f.endpoints);
  if (!urls) return bad("--etcd: " + urls.error().message);
  Connection c;
  c.endpoints = *urls;
  const bool tls = c.endpoints.front().tls;
  if (!tls && (!f.cacert.empty() || !f.cert.empty() || !f.key.empty()))
    return bad("--etcd-cacert, --etcd-cert and --etcd-key need https:// endpoints in --etcd");
  if (f.cert.empty() != f.key.empty())
    return bad(f.cert.empty() ? "--etcd-key needs --etcd-cert (the certificate of that key)"
                              : "--etcd-cert needs --etcd-key (its private key)");
  if (tls) {
    auto ctx = http::make_client_tls({f.cacert, f.cert, f.key});
    if (!ctx) {
      const auto& e = ctx.error();
      const char* flag = e.path == f.cacert ? "--etcd-cacert"
                         : e.path == f.cert ? "--etcd-cert"
                         : e.path == f.key  ? "--etcd-key"
                                            : "--etcd";
      return bad(std::string(flag) + ": " + e.message());
    }
    c.options.tls = *ctx;
    c.describe = "TLS (CA " + (f.cacert.empty() ? std::string("of the system") : f.cacert) +
                 (f.cert.empty() ? ", no client certificate" : ", client certificate " + f.cert) +
                 ")";
  } else {
    c.describe = "plain HTTP";
  }
  if (f.user.empty() != f.password_file.empty())
    return bad(f.user.empty() ? "--etcd-password-file needs --etcd-user (whose password it is)"
                              : "--etcd-user needs --etcd-password-file (never a password on "
                                "the command line)");
  if (!f.user.empty()) {
    auto pw = http::read_secret(f.password_file);
    if (!pw) return bad("--etcd-password-file: " + pw.error().message());
    c.options.credentials = Credentials{f.user, *pw};
    c.describe += ", user " + f.user;
  } else {
    c.describe += ", no user";
  }
  return c;
}

}  // namespace tend::etcd
