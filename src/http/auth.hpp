// Bearer tokens: making, reading and checking them. Shared by every service and client.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tend/error.hpp"

namespace tend::http {

// `bytes` random bytes (getrandom) as lower-case hex.
std::string random_hex(size_t bytes);
// Reads a token file (surrounding whitespace ignored); an empty file is an error.
Expected<std::string> read_token(const std::string& path);
// Reads a password file the same way, but only its line end is dropped (a password may begin
// or end with a space); an empty password is an error.
Expected<std::string> read_secret(const std::string& path);
// Creates `path` with a fresh 32-byte token (O_EXCL, 0600, fsync'ed) and returns it.
Expected<std::string> create_token(const std::string& path);
// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);
// The credentials of an "Authorization: Bearer TOKEN" header value. The scheme is
// case-insensitive (RFC 9110 11.1) and may be followed by more than one space; nullopt for any
// other scheme or an empty token.
std::optional<std::string_view> bearer_credentials(std::string_view authorization);

}  // namespace tend::http
