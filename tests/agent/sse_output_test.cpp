// SseOutput, the reader of an output followed as server-sent events (`tend logs -f`): the text of
// the output events byte for byte, whatever pieces the stream comes in; heartbeats and state
// events add nothing; complete only with `end`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/sse_output.hpp"

namespace tend::agent {
namespace {

// An output event as the agent writes it (src/agent/server/output_stream.cpp).
std::string output_event(uint64_t after, std::string_view text) {
  std::string ev = "event: output\nid: " + std::to_string(after) + "\n";
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    ev += "data: ";
    ev.append(
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    ev += "\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return ev + "\n";
}

struct Read {
  std::string text;
  std::vector<uint64_t> ids;
  bool ended = false;
};

Read read_in_pieces(const std::string& stream, size_t piece) {
  Read out;
  SseOutput sse([&](std::string_view t, std::optional<uint64_t> id) {
    out.text.append(t);
    if (id) out.ids.push_back(*id);
  });
  for (size_t at = 0; at < stream.size(); at += piece)
    sse.feed(std::string_view(stream).substr(at, piece));
  out.ended = sse.ended();
  return out;
}

TEST(SseOutput, GivesTheOutputByteForByteInAnyPiecesWithoutHeartbeats) {
  const std::vector<std::string> chunks = {"start\n",
                                           "\n\nblank lines\n\n",
                                           " leading space\r\n",
                                           std::string("nul\0byte", 8),
                                           "data: looks like a field\n: looks like a comment\n",
                                           "no newline at the end"};
  std::string stream = "event: state\ndata: {\"state\":\"running\"}\n\n: keep-alive\n\n";
  std::string expected;
  for (const auto& c : chunks) {
    expected += c;
    stream += output_event(expected.size(), c) + ": keep-alive\n\n";
  }
  stream += "event: end\ndata: succeeded\n\n";
  for (size_t piece : {1u, 2u, 3u, 7u, 64u, 100000u}) {
    Read r = read_in_pieces(stream, piece);
    EXPECT_TRUE(r.text == expected) << "pieces of " << piece << ": " << r.text;
    EXPECT_TRUE(r.ended) << piece;
    ASSERT_EQ(r.ids.size(), chunks.size());
    EXPECT_EQ(r.ids.back(), expected.size());
  }
}

TEST(SseOutput, AStreamWithoutItsEndIsNotComplete) {
  std::string stream = output_event(6, "hello\n") + ": keep-alive\n\n";
  Read r = read_in_pieces(stream + "event: end\ndata: succ", 5);  // the end event cut short
  EXPECT_EQ(r.text, "hello\n");
  EXPECT_FALSE(r.ended);
  EXPECT_FALSE(read_in_pieces(stream, 1).ended);
}

}  // namespace
}  // namespace tend::agent
