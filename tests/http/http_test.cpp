#include <zlib.h>

#include <gtest/gtest.h>

#include "http/address.hpp"
#include "http/auth.hpp"
#include "http/gzip.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "http/text.hpp"

using namespace tend::http;

TEST(HttpText, PercentDecodingIsStrict) {
  EXPECT_EQ(percent_decode("a%20b%2Fc"), "a b/c");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("%C3%A9"), "\xC3\xA9");
  for (const char* bad : {"%", "%f", "%zz", "%ff", "%C3", "%ED%A0%80", "%C0%AF", "%F4%90%80%80"})
    EXPECT_FALSE(percent_decode(bad).has_value()) << bad;
}

TEST(HttpText, Utf8) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xF0\x9F\x98"));
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xC3\xA9"), 4u);
}

TEST(HttpText, QueryStrings) {
  auto q = parse_query("a=1&b=x%20y&c&a=2&&d=");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["a"], "1");
  EXPECT_EQ((*q)["b"], "x y");
  EXPECT_EQ((*q)["c"], "");
  EXPECT_EQ((*q)["d"], "");
  std::string bad;
  EXPECT_FALSE(parse_query("ok=1&state=%ff", &bad));
  EXPECT_EQ(bad, "state");
}

TEST(HttpText, NumbersRefuseOverflowAndJunk) {
  EXPECT_EQ(parse_uint("0"), 0u);
  EXPECT_EQ(parse_uint("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_uint("18446744073709551616"));
  EXPECT_EQ(parse_uint("9223372036854775807", INT64_MAX), uint64_t{INT64_MAX});
  EXPECT_FALSE(parse_uint("9223372036854775808", INT64_MAX));
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x1", "1e3"})
    EXPECT_FALSE(parse_uint(bad)) << bad;
}

TEST(HttpAuth, BearerSchemeInAnyCase) {
  EXPECT_EQ(bearer_credentials("Bearer abc"), "abc");
  EXPECT_EQ(bearer_credentials("bearer abc"), "abc");
  EXPECT_EQ(bearer_credentials("BEARER   abc  "), "abc");
  for (const char* bad : {"", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "Token abc"})
    EXPECT_FALSE(bearer_credentials(bad)) << bad;
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("", ""));
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
}

TEST(HttpGzip, OnlyWhenAskedAndItRoundTrips) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("br, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("br"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
  EXPECT_FALSE(accepts_gzip(""));
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{\"id\":\"" + std::to_string(i) + "\"},";
  auto z = gzip(text);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), text.size() / 4);
  std::string back(text.size(), '\0');
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(z->data());
  zs.avail_in = static_cast<uInt>(z->size());
  zs.next_out = reinterpret_cast<Bytef*>(back.data());
  zs.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  inflateEnd(&zs);
  EXPECT_EQ(back, text);
}

TEST(HttpAddress, HostPortAndUrls) {
  auto a = parse_host_port("127.0.0.1:8600");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8600);
  auto v6 = parse_host_port("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:0");
  for (const char* bad : {"8600", ":80", "host:", "host:65536", "host:-1", "::1:80", "h:8a"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  auto u = parse_url("http://example.test:9000/base/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->where.port, 9000);
  EXPECT_EQ(u->path_prefix, "/base");
  EXPECT_EQ(parse_url("example.test")->where.port, 80);
  EXPECT_TRUE(parse_url("https://x")->tls);
  EXPECT_FALSE(parse_url("ftp://x"));
}

TEST(HttpAddress, LoopbackIsDecidedOnResolvedAddresses) {
  EXPECT_TRUE(all_loopback(*resolve({"127.0.0.1", 1})));
  EXPECT_TRUE(all_loopback(*resolve({"127.8.9.10", 1})));
  EXPECT_TRUE(all_loopback(*resolve({"::1", 1})));
  EXPECT_TRUE(all_loopback(*resolve({"::ffff:127.0.0.1", 1})));
  EXPECT_FALSE(all_loopback(*resolve({"0.0.0.0", 1})));
  EXPECT_FALSE(all_loopback(*resolve({"::", 1})));
  // A name that merely starts like a loopback address is a name: unresolvable here, so no.
  auto evil = resolve({"127.evil.example", 1});
  EXPECT_TRUE(!evil || !all_loopback(*evil));
}

namespace {
Request make(Verb v, std::string target) {
  Request::Raw raw{v, target, 11};
  return Request(std::move(raw));
}
}  // namespace

TEST(HttpRouter, ParamsMethodsAndTheGuard) {
  Router r;
  r.add(Verb::get, "/v1/jobs/{}",
        [](const Request& q) { return text_response(Status::ok, q.param(0), "text/plain"); });
  r.add(Verb::post, "/v1/jobs/{}/cancel",
        [](const Request&) { return text_response(Status::accepted, "", "text/plain"); });
  r.add_open(Verb::get, "/assets/*",
             [](const Request& q) { return text_response(Status::ok, q.path(), "text/plain"); });
  r.set_guard([](const Request& q) -> std::optional<Response> {
    if (q.header("Authorization").empty()) return error_response(Status::unauthorized, "", "no");
    return std::nullopt;
  });
  auto q = make(Verb::get, "/v1/jobs/a%2Fb");
  ASSERT_TRUE(q.ok());
  auto m = r.match(q);
  ASSERT_TRUE(m.refusal);
  EXPECT_EQ(m.refusal->result(), Status::unauthorized);

  auto open = make(Verb::get, "/assets/app.js");
  auto mo = r.match(open);
  ASSERT_TRUE(mo.handler);
  EXPECT_EQ((*mo.handler)(open).body(), "/assets/app.js");

  auto wrong = make(Verb::delete_, "/v1/jobs/x/cancel");
  auto mw = r.match(wrong);
  ASSERT_TRUE(mw.refusal);
  EXPECT_EQ(mw.refusal->result(), Status::method_not_allowed);
  auto none = make(Verb::get, "/nope");
  EXPECT_EQ(r.match(none).refusal->result(), Status::not_found);

  auto bad = make(Verb::get, "/v1/jobs/%ff");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.refusal().result(), Status::bad_request);
  // An encoded slash stays inside its segment.
  Request::Raw raw{Verb::get, "/v1/jobs/a%2Fb", 11};
  raw.set("Authorization", "x");
  Request authed(std::move(raw));
  auto ma = r.match(authed);
  ASSERT_TRUE(ma.handler);
  EXPECT_EQ((*ma.handler)(authed).body(), "a/b");
}
