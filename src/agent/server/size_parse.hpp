// Byte sizes on the command line: "65536", "64K", "64KiB", "64M", "64MiB", "1G" (binary units).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tend::agent {

std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace tend::agent
