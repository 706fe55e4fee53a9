// The gateway's JSON without a cluster: base64 both ways (strict), int64 as strings, omitted
// zero values, prefix ends, and how error answers are classified.
#include <gtest/gtest.h>

#include "etcd/client.hpp"
#include "etcd/codec.hpp"

namespace tend::etcd {
namespace {

using nlohmann::json;

TEST(EtcdCodec, Base64RoundTripsEveryByteAndRefusesGarbage) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n < 8; ++n)
    EXPECT_EQ(codec::base64_decode(codec::base64_encode(all.substr(0, n))), all.substr(0, n));
  EXPECT_EQ(codec::base64_decode(codec::base64_encode(all)), all);
  EXPECT_EQ(codec::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(codec::base64_encode("fo"), "Zm8=");
  for (auto bad : {"Zm9", "Zm=v", "Z===", "Zm9v!A==", "=m9v"})
    EXPECT_THROW(codec::base64_decode(bad), codec::BadJson) << bad;
}

TEST(EtcdCodec, IntegersComeAsStringsAndZeroesAreOmitted) {
  auto kv = codec::decode_kv(json::parse(
      R"({"key":"Zm9v","create_revision":"2","mod_revision":"9223372036854775807","version":"1"})"));
  EXPECT_EQ(kv.key, "foo");
  EXPECT_EQ(kv.value, "");
  EXPECT_EQ(kv.create_revision, 2);
  EXPECT_EQ(kv.mod_revision, INT64_MAX);
  EXPECT_EQ(kv.lease, 0);
  EXPECT_THROW(codec::decode_kv(json::parse(R"({"key":"Zm9v","version":"1x"})")), codec::BadJson);
  EXPECT_THROW(codec::decode_kv(json::parse(R"({"key":5})")), codec::BadJson);
  // member ids are unsigned 64-bit and exceed int64.
  auto h = codec::decode_header(json::parse(R"({"header":{"member_id":"18446744073709551615"}})"));
  EXPECT_EQ(h.member_id, UINT64_MAX);
  EXPECT_EQ(h.revision, 0);
  auto t = codec::decode_txn(json::parse(
      R"({"header":{"revision":"3"},"responses":[{"response_range":{"header":{"revision":"3"}}}]})"));
  EXPECT_FALSE(t.succeeded);  // "succeeded": false is omitted
  ASSERT_EQ(t.responses.size(), 1u);
  EXPECT_TRUE(std::get<RangeResult>(t.responses[0]).kvs.empty());
}

TEST(EtcdCodec, RequestsOmitZeroesAndEncodeBytes) {
  EXPECT_EQ(codec::encode(RangeRequest{"a"}).dump(), R"({"key":"YQ=="})");
  EXPECT_EQ(codec::encode(PutRequest{"a", "b", 7}).dump(),
            R"({"key":"YQ==","lease":"7","value":"Yg=="})");
  auto c = codec::encode(Compare::absent("a"));
  EXPECT_EQ(c["target"], "CREATE");
  EXPECT_EQ(c["result"], "EQUAL");
  EXPECT_EQ(c["create_revision"], "0");
}

TEST(EtcdCodec, PrefixEndIsTheNextKeyAfterThePrefix) {
  EXPECT_EQ(prefix_end("a/"), "a0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(EtcdCodec, ErrorAnswersAreClassifiedByCodeNotText) {
  auto e = answer_error(
      400,
      R"({"error":"x","message":"etcdserver: mvcc: required revision has been compacted","code":11})",
      "range");
  EXPECT_EQ(e.kind, ErrorKind::compacted);
  EXPECT_EQ(answer_error(404, R"({"code":5,"message":"lease not found"})", "r").kind,
            ErrorKind::not_found);
  EXPECT_EQ(answer_error(500, R"({"code":2,"message":"context deadline exceeded"})", "r").kind,
            ErrorKind::unavailable);
  EXPECT_EQ(answer_error(503, "<html>", "r").kind, ErrorKind::unavailable);
  EXPECT_EQ(answer_error(400, R"({"code":3})", "r").kind, ErrorKind::invalid);
  EXPECT_EQ(answer_error(401, R"({"code":16})", "r").kind, ErrorKind::unauthenticated);
  EXPECT_EQ(answer_error(403, R"({"code":7})", "r").kind, ErrorKind::auth);
  EXPECT_EQ(answer_error(418, "teapot", "r").kind, ErrorKind::bad_response);
}

TEST(EtcdEndpoints, ParseAListAndRefuseMixedSchemesAndEmpties) {
  auto ok = parse_endpoints("http://127.0.0.1:2379,127.0.0.1:22379");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].where.port, 22379);
  EXPECT_FALSE(parse_endpoints("").ok());
  EXPECT_FALSE(parse_endpoints("http://a:1,").ok());
  auto tls = parse_endpoints("https://127.0.0.1:2379,https://[::1]:2380");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE((*tls)[0].tls && (*tls)[1].tls);
  for (const char* mixed :
       {"https://127.0.0.1:2379,http://127.0.0.1:2380", "https://127.0.0.1:2379,127.0.0.1:2380"}) {
    auto m = parse_endpoints(mixed);
    ASSERT_FALSE(m.ok()) << mixed;
    EXPECT_EQ(m.error().kind, ErrorKind::invalid);
    EXPECT_NE(m.error().message.find("mixed"), std::string::npos) << m.error().message;
  }
}

TEST(EtcdCodec, ANonJsonRefusalKeepsItsTextInTheMessage) {
  // etcd 3.4's gateway refuses a client certificate with a CommonName in plain text.
  auto e = answer_error(400,
                        "CommonName of client sending a request against gateway will be "
                        "ignored and not used as expected\n",
                        "etcd /v3/kv/range");
  EXPECT_EQ(e.kind, ErrorKind::bad_response);
  EXPECT_NE(e.message.find("CommonName"), std::string::npos) << e.message;
}

// A failed txn counts as applied only when its failure range reads exactly the value it puts.
TEST(EtcdTxnResult, AppliedByAnEarlierAttemptOnlyWhenTheRangeHoldsExactlyTheValue) {
  auto failed_reading = [](std::vector<std::string> values) {
    RangeResult range;
    for (auto& v : values) {
      KeyValue kv;
      kv.key = "k";
      kv.value = std::move(v);
      range.kvs.push_back(std::move(kv));
    }
    TxnResult r;
    r.responses.emplace_back(std::move(range));
    return r;
  };
  EXPECT_TRUE(applied_by_earlier_attempt(failed_reading({"mine"}), 0, "mine"));
  EXPECT_FALSE(applied_by_earlier_attempt(failed_reading({"theirs"}), 0, "mine"));
  EXPECT_FALSE(applied_by_earlier_attempt(failed_reading({}), 0, "mine"));        // deleted since
  EXPECT_FALSE(applied_by_earlier_attempt(failed_reading({"mine"}), 1, "mine"));  // no such op
  TxnResult succeeded = failed_reading({"mine"});
  succeeded.succeeded = true;  // applied now, not earlier
  EXPECT_FALSE(applied_by_earlier_attempt(succeeded, 0, "mine"));
  TxnResult put;
  put.responses.emplace_back(PutResult{});
  EXPECT_FALSE(applied_by_earlier_attempt(put, 0, "mine"));
}

}  // namespace
}  // namespace tend::etcd
