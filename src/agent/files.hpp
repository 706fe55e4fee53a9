// Small file helpers for the job directory: whole-file reads and crash-safe writes.
#pragma once

#include <string>

#include "tend/error.hpp"

namespace tend::agent {

// Writes `data` to `path` so that a reader sees the old file or the whole new one, and the new
// one survives a crash: write a temporary, fsync it, rename it over `path`, fsync the directory.
Expected<void> write_file_atomic(const std::string& path, const std::string& data, int mode = 0644);
// Same, without the fsyncs: readers never see a partial file, but a power loss may lose it.
Expected<void> replace_file(const std::string& path, const std::string& data, int mode = 0644);
// Creates or truncates `path` with `mode` and writes `data` (no fsync).
Expected<void> write_file(const std::string& path, const std::string& data, int mode = 0644);
Expected<std::string> read_file(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace tend::agent
