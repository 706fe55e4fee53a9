// TLS for the service layer's HTTP client: the one place a client TLS context is made from
// files (a CA to verify servers against, a certificate and key to present). The context is
// shared by every connection that uses it; the server's name or IP address is checked per
// connection (Client::connect), never switched off.
#pragma once

#include <memory>
#include <string>

#include "tend/error.hpp"

namespace boost::asio::ssl {
class context;
}

namespace tend::http {

struct TlsFiles {
  std::string ca_file;    // PEM: the CAs servers' certificates must chain to; "": the system's
  std::string cert_file;  // PEM: this client's certificate (chain), presented when asked; optional
  std::string key_file;   // PEM: its private key; given exactly when cert_file is
};

using TlsContext = std::shared_ptr<boost::asio::ssl::context>;

// A client context (TLS 1.2 at least, peers verified) from `files`. The error names the file
// and what is wrong with it (missing, unreadable, not PEM, key not matching the certificate).
Expected<TlsContext> make_client_tls(const TlsFiles& files);

}  // namespace tend::http
