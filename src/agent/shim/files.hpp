// Small file helpers for the job directory: whole-file reads and crash-safe writes.
#pragma once

#include <string>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

// Writes `data` to `path` so that a reader sees the old file or the whole new one, and the new
// one survives a crash: write a temporary, fsync it, rename it over `path`, fsync the directory.
Expected<void> write_file_atomic(const std::string& path, const std::string& data, int mode = 0600);
// Same, without the fsyncs: readers never see a partial file, but a power loss may lose it.
Expected<void> replace_file(const std::string& path, const std::string& data, int mode = 0600);
// Creates or truncates `path`, writes `data` and fsyncs it (no rename: for a file whose reader
// waits until the writer is gone, and treats a file cut short by a crash as missing).
Expected<void> write_file_synced(const std::string& path, const std::string& data, int mode = 0600);
// Creates or truncates `path` with `mode` and writes `data` (no fsync).
Expected<void> write_file(const std::string& path, const std::string& data, int mode = 0600);
Expected<std::string> read_file(const std::string& path);
// Reads `fd` to its end; `name` is for the error.
Expected<std::string> read_fd(int fd, const std::string& name);
// An in-memory file holding `data`, positioned at its start and sealed against change: how the
// agent hands a job's spec to its shim (as stdin) without a file on disk.
Expected<UniqueFd> sealed_memory_file(const char* name, const std::string& data);
bool file_exists(const std::string& path);

}  // namespace tend::agent
