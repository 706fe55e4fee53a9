// The list endpoints' shared query parameters (the agent's and the server's GET /v1/jobs): a
// good value is read, an absent one changes nothing, a bad one is a 400 naming the parameter.
#include "http/list_query.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace tend::http;

namespace {

Request get(std::string target) {
  Request::Raw raw{Verb::get, target, 11};
  return Request(std::move(raw));
}

// The field a 400 names ({"error": {"field": ...}}).
std::string refused_field(const std::optional<Response>& r) {
  if (!r) return "(accepted)";
  EXPECT_EQ(r->result(), Status::bad_request);
  return nlohmann::json::parse(r->body())["error"]["field"].get<std::string>();
}

}  // namespace

TEST(HttpListQuery, PageSizeFromOneToTheMaximum) {
  int limit = kDefaultPageSize;
  EXPECT_FALSE(read_page_size(get("/v1/jobs"), limit));
  EXPECT_EQ(limit, kDefaultPageSize);
  EXPECT_FALSE(read_page_size(get("/v1/jobs?limit=1"), limit));
  EXPECT_EQ(limit, 1);
  EXPECT_FALSE(read_page_size(get("/v1/jobs?limit=" + std::to_string(kMaxPageSize)), limit));
  EXPECT_EQ(limit, kMaxPageSize);
  for (std::string bad : {"0", "501", "-1", "ten", "", "1.5", "99999999999999999999"}) {
    int before = 7;
    EXPECT_EQ(refused_field(read_page_size(get("/v1/jobs?limit=" + bad), before)), "limit") << bad;
    EXPECT_EQ(before, 7) << "a refused value changes nothing: " << bad;
  }
}

TEST(HttpListQuery, LabelIsKeyColonValue) {
  std::optional<std::pair<std::string, std::string>> label;
  EXPECT_FALSE(read_label_filter(get("/v1/jobs"), label));
  EXPECT_FALSE(label);
  EXPECT_FALSE(read_label_filter(get("/v1/jobs?label=suite%3Aui"), label));
  EXPECT_EQ(label, std::make_pair(std::string("suite"), std::string("ui")));
  EXPECT_FALSE(read_label_filter(get("/v1/jobs?label=url:http://x"), label));
  EXPECT_EQ(label, std::make_pair(std::string("url"), std::string("http://x")));
  EXPECT_FALSE(read_label_filter(get("/v1/jobs?label=empty:"), label));
  EXPECT_EQ(label, std::make_pair(std::string("empty"), std::string()));
  for (std::string bad : {"nocolon", ":value", ""}) {
    std::optional<std::pair<std::string, std::string>> untouched;
    EXPECT_EQ(refused_field(read_label_filter(get("/v1/jobs?label=" + bad), untouched)), "label")
        << bad;
    EXPECT_FALSE(untouched) << bad;
  }
}
