#include "tend/output.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "require.hpp"

using tend::FileOutput;
using tend::OutputCapture;
using tend::OutputLimits;
using tend::Stream;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh directory under /tmp, removed with its files at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tend-output-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace

TEST(OutputCapture, KeepsEverythingUnderTheLimit) {
  OutputCapture c({.head_bytes = 10, .tail_bytes = 10});
  c.write(Stream::out, "hello ");
  c.write(Stream::err, "oops ");
  c.write(Stream::out, "world");
  EXPECT_EQ(c.text(), "hello oops world");
  EXPECT_EQ(c.dropped_bytes(), 0u);
  EXPECT_EQ(c.total_bytes(Stream::out), 11u);
  EXPECT_EQ(c.total_bytes(Stream::err), 5u);
  EXPECT_EQ(c.text(Stream::out), "hello world");
  EXPECT_EQ(c.text(Stream::err), "oops ");
}

TEST(OutputCapture, ExactlyHeadPlusTailDropsNothing) {
  OutputCapture c({.head_bytes = 4, .tail_bytes = 4});
  c.write(Stream::out, "abcdefgh");
  EXPECT_EQ(c.dropped_bytes(), 0u);
  EXPECT_EQ(c.text(), "abcdefgh");
  c.write(Stream::out, "i");
  EXPECT_EQ(c.dropped_bytes(), 1u);
  EXPECT_EQ(c.text(false), "abcdfghi");
  EXPECT_EQ(c.text(), "abcd\n[tend: 1 bytes dropped]\nfghi");
}

TEST(OutputCapture, KeepsChunkOrderAcrossStreams) {
  OutputCapture c({.head_bytes = 3, .tail_bytes = 5});
  c.write(Stream::out, "o1");
  c.write(Stream::err, "e1");  // 1 byte into head, 1 into tail
  c.write(Stream::out, "o2");
  c.write(Stream::err, "e2");  // tail "1o2e2" is full
  ASSERT_EQ(c.head().size(), 2u);
  EXPECT_EQ(c.head()[0].stream, Stream::out);
  EXPECT_EQ(c.head()[1].data, "e");
  EXPECT_EQ(c.text(false), "o1e1o2e2");
  c.write(Stream::out, "o3");  // drops "1o"
  EXPECT_EQ(c.dropped_bytes(), 2u);
  EXPECT_EQ(c.text(false), "o1e2e2o3");
  ASSERT_FALSE(c.tail().empty());
  EXPECT_EQ(c.tail().front().stream, Stream::out);
  EXPECT_EQ(c.tail().front().data, "2");
  EXPECT_EQ(c.text(Stream::err), "ee2");
}

TEST(OutputCapture, OneHugeChunkKeepsItsEnd) {
  OutputCapture c({.head_bytes = 2, .tail_bytes = 3});
  c.write(Stream::out, "0123456789");
  EXPECT_EQ(c.text(false), "01789");
  EXPECT_EQ(c.dropped_bytes(), 5u);
}

TEST(OutputCapture, ZeroLimitsCountEverything) {
  OutputCapture c({.head_bytes = 0, .tail_bytes = 0});
  c.write(Stream::out, "abc");
  c.write(Stream::err, "de");
  EXPECT_EQ(c.dropped_bytes(), 5u);
  EXPECT_EQ(c.text(false), "");
  EXPECT_EQ(c.total_bytes(Stream::out), 3u);
}

TEST(OutputCapture, MemoryStaysBoundedUnderManyWrites) {
  OutputCapture c({.head_bytes = 1024, .tail_bytes = 1024});
  std::string line = "line of output 0123456789\n";  // 26 bytes
  uint64_t total = 0;
  while (total < (4u << 20)) {
    c.write(total % 3 ? Stream::out : Stream::err, line);
    total += line.size();
  }
  size_t kept = 0, chunks = c.head().size() + c.tail().size();
  for (const auto& ch : c.head()) kept += ch.data.size();
  for (const auto& ch : c.tail()) kept += ch.data.size();
  EXPECT_EQ(kept, 2048u);
  EXPECT_LE(chunks, 2048u / 26 * 2 + 4);
  EXPECT_EQ(c.dropped_bytes(), total - 2048);
  EXPECT_EQ(c.total_bytes(Stream::out) + c.total_bytes(Stream::err), total);
  // The tail ends with the last bytes written.
  std::string t = c.text(false);
  EXPECT_EQ(t.substr(t.size() - line.size()), line);
}

TEST(FileOutput, SmallOutputGoesStraightToTheFile) {
  TempDir dir;
  std::string path = dir.path + "/out.log";
  auto f = FileOutput::open(path, {.head_bytes = 100, .tail_bytes = 100});
  ASSERT_TRUE(f.ok()) << f.error().message();
  (*f)->write(Stream::out, "hello\n");
  EXPECT_EQ(read_file(path), "hello\n");  // written as it arrives
  (*f)->write(Stream::err, "err\n");
  (*f)->finish();
  EXPECT_EQ(read_file(path), "hello\nerr\n");
  EXPECT_EQ((*f)->dropped_bytes(), 0u);
  EXPECT_FALSE((*f)->error().has_value());
  EXPECT_NE(::access((path + ".tail").c_str(), F_OK), 0);
}

TEST(FileOutput, HeadMarkerAndTailInOrder) {
  TempDir dir;
  std::string path = dir.path + "/out.log";
  auto f = FileOutput::open(path, {.head_bytes = 6, .tail_bytes = 4});
  ASSERT_TRUE(f.ok());
  (*f)->write(Stream::out, "head\n");
  (*f)->write(Stream::out, "Xmiddle");  // 'X' completes the head; the ring wraps
  (*f)->write(Stream::err, "ab");
  (*f)->write(Stream::out, "cd");
  EXPECT_EQ(::access((path + ".tail").c_str(), F_OK), 0);
  (*f)->finish();
  // kept: "head\nX" + last 4 of "middleabcd" = "abcd"; dropped 6
  EXPECT_EQ(read_file(path), "head\nX\n[tend: 6 bytes dropped]\nabcd");
  EXPECT_EQ((*f)->dropped_bytes(), 6u);
  EXPECT_EQ((*f)->total_bytes(Stream::out), 14u);
  EXPECT_EQ((*f)->total_bytes(Stream::err), 2u);
  EXPECT_NE(::access((path + ".tail").c_str(), F_OK), 0) << "ring file left behind";
}

TEST(FileOutput, LargeOutputKeepsTheFileBounded) {
  TempDir dir;
  std::string path = dir.path + "/out.log";
  auto f = FileOutput::open(path, {.head_bytes = 1024, .tail_bytes = 1024});
  ASSERT_TRUE(f.ok());
  std::string block(1000, 'x');
  uint64_t total = 0;
  for (int i = 0; total < (4u << 20); ++i) {
    block.back() = static_cast<char>('a' + i % 26);
    (*f)->write(Stream::out, block);
    total += block.size();
  }
  struct stat st {};
  ASSERT_EQ(::stat((path + ".tail").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 1024);
  (*f)->finish();
  std::string content = read_file(path);
  EXPECT_EQ((*f)->dropped_bytes(), total - 2048);
  std::string marker = "[tend: " + std::to_string(total - 2048) + " bytes dropped]\n";
  EXPECT_EQ(content.size(), 2048 + marker.size() + 1);  // +1: newline ending the cut head
  EXPECT_NE(content.find(marker), std::string::npos);
  EXPECT_EQ(content.back(), block.back());
}

TEST(FileOutput, ATailLargerThanTheCopyBufferComesOutWholeAndInOrder) {
  // finish() copies the ring through a 256 KiB buffer: a wrapped 600 KiB tail takes several
  // pieces on both sides of the wrap point.
  TempDir dir;
  std::string path = dir.path + "/out.log";
  constexpr size_t kTail = 600 * 1024;
  auto f = FileOutput::open(path, {.head_bytes = 0, .tail_bytes = kTail});
  ASSERT_TRUE(f.ok());
  std::string all;
  for (int i = 0; all.size() < 2 * kTail + 12345; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    all += line;
    (*f)->write(Stream::out, line);
  }
  (*f)->finish();
  std::string expect = "[tend: " + std::to_string(all.size() - kTail) + " bytes dropped]\n" +
                       all.substr(all.size() - kTail);
  std::string got = read_file(path);
  EXPECT_EQ(got.size(), expect.size());
  EXPECT_TRUE(got == expect) << "the tail is not the last bytes in order";
}

TEST(FileOutput, OnFirstByteLeavesNoFileForASilentJob) {
  TempDir dir;
  std::string silent = dir.path + "/silent.log", talking = dir.path + "/talking.log";
  auto s = FileOutput::open(silent, {}, FileOutput::Create::on_first_byte);
  auto t = FileOutput::open(talking, {}, FileOutput::Create::on_first_byte);
  ASSERT_TRUE(s.ok() && t.ok());
  EXPECT_NE(::access(talking.c_str(), F_OK), 0) << "made before the first byte";
  (*t)->write(Stream::out, "");
  EXPECT_NE(::access(talking.c_str(), F_OK), 0) << "an empty write made the file";
  (*t)->write(Stream::err, "hi\n");
  EXPECT_EQ(read_file(talking), "hi\n");
  (*s)->finish();
  (*t)->finish();
  EXPECT_NE(::access(silent.c_str(), F_OK), 0);
  EXPECT_EQ(read_file(talking), "hi\n");
}

TEST(FileOutput, OnFirstByteReportsAnOpenErrorWithoutFailing) {
  auto f = FileOutput::open("/nonexistent-dir/out.log", {}, FileOutput::Create::on_first_byte);
  ASSERT_TRUE(f.ok());
  (*f)->write(Stream::out, "data");
  (*f)->finish();
  ASSERT_TRUE((*f)->error().has_value());
  EXPECT_EQ((*f)->error()->code, ENOENT);
  EXPECT_EQ((*f)->total_bytes(Stream::out), 4u);
}

TEST(FileOutput, ZeroTailNeedsNoRing) {
  TempDir dir;
  std::string path = dir.path + "/out.log";
  auto f = FileOutput::open(path, {.head_bytes = 3, .tail_bytes = 0});
  ASSERT_TRUE(f.ok());
  (*f)->write(Stream::out, "abc\ndef");
  EXPECT_NE(::access((path + ".tail").c_str(), F_OK), 0);
  (*f)->finish();
  EXPECT_EQ(read_file(path), "abc\n[tend: 4 bytes dropped]\n");
}

TEST(FileOutput, OpenErrorIsAValue) {
  auto f = FileOutput::open("/nonexistent-dir/out.log", {});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ENOENT);
  EXPECT_EQ(f.error().path, "/nonexistent-dir/out.log");
}

TEST(FileOutput, WriteErrorIsRecordedNotThrown) {
  TEND_REQUIRE(::access("/dev/full", W_OK) == 0, "/dev/full");
  auto f = FileOutput::open("/dev/full", {.head_bytes = 100, .tail_bytes = 0});
  ASSERT_TRUE(f.ok());
  (*f)->write(Stream::out, "data");
  (*f)->write(Stream::out, "more");
  (*f)->finish();
  ASSERT_TRUE((*f)->error().has_value());
  EXPECT_EQ((*f)->error()->code, ENOSPC);
  EXPECT_EQ((*f)->total_bytes(Stream::out), 8u);
}
