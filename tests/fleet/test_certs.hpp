// Certificates for the fleet's TLS tests, made by `openssl` in a directory of the test: a CA, a
// server certificate for 127.0.0.1 (IP SAN) signed by it, a client certificate signed by it
// (no CommonName: etcd 3.4's gateway refuses a client certificate that has one), and a second,
// unrelated CA (the "wrong CA" a client may be given).
#pragma once

#include <string>

namespace tend::test {

class TestCerts {
 public:
  // `openssl` (PATH) or "" when there is none.
  static std::string openssl();
  // "" when the certificates can be made here; else why not (the test skips loudly, or fails
  // under CI=true).
  static std::string missing();

  explicit TestCerts(const std::string& dir);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  std::string ca, server_cert, server_key, client_cert, client_key, other_ca;

 private:
  bool run(const std::string& what, const std::string& script);
  std::string dir_, error_;
};

}  // namespace tend::test
