// The API token: 32 random bytes (getrandom), hex, in DATA/token (mode 0600).
#pragma once

#include <string>
#include <string_view>

#include "tend/error.hpp"

namespace tend::agent {

std::string random_hex(size_t bytes);
// Reads a token file (surrounding whitespace ignored); an empty file is an error.
Expected<std::string> read_token(const std::string& path);
// Creates `path` with a fresh token (O_EXCL, 0600) and returns it.
Expected<std::string> create_token(const std::string& path);
// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tend::agent
