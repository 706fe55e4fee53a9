// How both faces that use etcd (`tend agent --etcd`, `tend server`) reach it: the same flags,
// checked in one place, making one ClientOptions (one TLS context, the credentials) that the
// face hands to its etcd::Client.
//   --etcd URL[,URL…]            the endpoints: all http:// or all https://
//   --etcd-cacert FILE           the CA etcd's certificate must chain to (https)
//   --etcd-cert FILE, --etcd-key FILE   the client certificate of etcd's --client-cert-auth
//   --etcd-user NAME, --etcd-password-file FILE   etcd auth (a password never on the command
//                                line: it would show in ps)
#pragma once

#include <string>
#include <vector>

#include "etcd/client.hpp"

namespace CLI {
class App;
}

namespace tend::etcd {

struct ConnectFlags {
  std::string endpoints;  // --etcd, as given
  std::string cacert, cert, key;
  std::string user, password_file;
};

struct Connection {
  std::vector<http::Url> endpoints;
  ClientOptions options;  // default timeouts; tls and credentials from the flags
  // "TLS (CA FILE, client certificate FILE), user NAME" / "plain HTTP, no user": for the
  // faces' start line.
  std::string describe;
};

// Adds the TLS and auth flags (not --etcd: each face words it its own way) to `app`.
void add_connect_flags(CLI::App& app, ConnectFlags& f);

// True when any flag but --etcd is set (they need --etcd).
bool any_connect_flag(const ConnectFlags& f);

// Checks the flags and makes the connection: the endpoints parsed, the files read (the TLS
// context made, the password read). The error is one line naming the flag (ErrorKind::invalid).
Result<Connection> connect_from_flags(const ConnectFlags& f);

}  // namespace tend::etcd
