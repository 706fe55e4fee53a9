// Text rules of HTTP requests: percent-decoding, UTF-8 validity, query strings, strict numbers.
// Every function refuses what it cannot read exactly (nullopt) rather than guessing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tend::http {

// "%41b%20c" -> "Ab c". nullopt for a '%' not followed by two hex digits, or a result that is not
// valid UTF-8. `plus_is_space`: form encoding ('+' -> ' '), used in query strings.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// Percent-encodes everything but unreserved characters (RFC 3986 2.3).
std::string percent_encode(std::string_view text);

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s);

// The largest prefix of `s` that does not end inside a UTF-8 sequence.
size_t utf8_complete_prefix(std::string_view s);

// "a=1&b=x%20y" -> {a: "1", b: "x y"}. A repeated name keeps its first value. nullopt (and the
// offending name in `bad_name`) when a name or value is not valid percent-encoded UTF-8.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query,
                                                              std::string* bad_name = nullptr);

// Decimal digits only, no sign, no spaces, at most `max`. nullopt otherwise (including overflow).
std::optional<uint64_t> parse_uint(std::string_view s, uint64_t max = UINT64_MAX);

// ASCII case-insensitive equality (header values such as auth schemes and tokens).
bool iequals(std::string_view a, std::string_view b);

}  // namespace tend::http
