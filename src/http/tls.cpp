#include "http/tls.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>

#include "tend/fd.hpp"

namespace tend::http {

namespace ssl = boost::asio::ssl;

namespace {

// Missing or unreadable: said with the errno, before OpenSSL's vaguer words.
Expected<void> readable(const char* what, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(what, path);
  char c;
  if (::read(fd.get(), &c, 1) < 0) return Error::from_errno(what, path);
  return {};
}

Error bad_file(const char* what, const std::string& path, const boost::system::error_code& ec) {
  return Error{what, 0, path, ec.message(), ErrorKind::usage};
}

}  // namespace

Expected<TlsContext> make_client_tls(const TlsFiles& f) {
  if (f.cert_file.empty() != f.key_file.empty())
    return Error::usage("a client certificate and its key go together: give both or neither");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ::SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (f.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return bad_file("CA certificates", "(the system's)", ec);
  } else {
    if (auto r = readable("CA file", f.ca_file); !r) return r.error();
    ctx->load_verify_file(f.ca_file, ec);
    if (ec) return bad_file("CA file", f.ca_file, ec);
  }
  if (!f.cert_file.empty()) {
    if (auto r = readable("certificate file", f.cert_file); !r) return r.error();
    if (auto r = readable("key file", f.key_file); !r) return r.error();
    ctx->use_certificate_chain_file(f.cert_file, ec);
    if (ec) return bad_file("certificate file", f.cert_file, ec);
    ctx->use_private_key_file(f.key_file, ssl::context::pem, ec);
    if (ec) return bad_file("key file", f.key_file, ec);
    if (::SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      return Error{"key file", 0, f.key_file, "the key does not match the certificate",
                   ErrorKind::usage};
  }
  return ctx;
}

}  // namespace tend::http
