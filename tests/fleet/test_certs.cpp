#include "test_certs.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tend/child.hpp"
#include "tend/command.hpp"

namespace tend::test {

std::string TestCerts::openssl() {
  const char* path = ::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    std::string exe = d + "/openssl";
    if (!d.empty() && ::access(exe.c_str(), X_OK) == 0) return exe;
  }
  return "";
}

std::string TestCerts::missing() {
  return openssl().empty() ? "openssl is not installed (Debian: apt-get install openssl)" : "";
}

// One sh script per step: openssl's arguments stay readable, its output goes to DIR/openssl.log.
bool TestCerts::run(const std::string& what, const std::string& script) {
  Command cmd({"/bin/sh", "-ec", script});
  cmd.cwd(dir_)
      .stdin_(Stdio::null())
      .stdout_(Stdio::file(dir_ + "/openssl.log", true))
      .stderr_(Stdio::file(dir_ + "/openssl.log", true));
  auto child = spawn(cmd);
  if (!child) {
    error_ = what + ": " + child.error().message();
    return false;
  }
  auto st = child->wait();
  if (!st || !st->exited() || st->value != 0) {
    std::ifstream log(dir_ + "/openssl.log");
    std::stringstream ss;
    ss << log.rdbuf();
    error_ = what + " failed: " + ss.str();
    return false;
  }
  return true;
}

TestCerts::TestCerts(const std::string& dir) : dir_(dir) {
  if (auto why = missing(); !why.empty()) {
    error_ = why;
    return;
  }
  const std::string o = openssl();
  // A CA of its own for each run: nothing here is trusted anywhere else.
  const std::string ca_of = o +
                            " req -x509 -newkey rsa:2048 -nodes -days 2 -keyout $1.key -out $1.crt "
                            "-subj /CN=$1 -addext basicConstraints=critical,CA:TRUE "
                            "-addext keyUsage=critical,keyCertSign,cRLSign";
  if (!run("making the CAs", "set -- ca; " + ca_of + "; set -- other-ca; " + ca_of)) return;
  std::ofstream(dir_ + "/server.ext")
      << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
  std::ofstream(dir_ + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  const std::string leaf =
      o + " req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj \"$2\"; " + o +
      " x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $1.crt "
      "-extfile $1.ext";
  if (!run("making the server certificate", "set -- server /CN=127.0.0.1; " + leaf)) return;
  if (!run("making the client certificate", "set -- client /O=tend-fleet-test; " + leaf)) return;
  ca = dir_ + "/ca.crt";
  other_ca = dir_ + "/other-ca.crt";
  server_cert = dir_ + "/server.crt";
  server_key = dir_ + "/server.key";
  client_cert = dir_ + "/client.crt";
  client_key = dir_ + "/client.key";
}

}  // namespace tend::test
