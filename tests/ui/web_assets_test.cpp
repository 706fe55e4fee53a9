// The page's files reach the binary byte for byte, under the paths the agent serves.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "web_assets.hpp"

namespace {

const tend::http::PageAsset* find_web_asset(std::string_view path) {
  return tend::http::find_page_asset(tend::agent::web_assets(), path);
}

std::string read_source(const std::string& name) {
  std::ifstream in(std::string(TEND_WEB_SOURCE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_asset(const char* path, const std::string& file, std::string_view type) {
  auto asset = find_web_asset(path);
  ASSERT_NE(asset, nullptr) << path;
  const std::string expected = read_source(file);
  ASSERT_FALSE(expected.empty()) << file;
  EXPECT_EQ(asset->body->size(), expected.size()) << path;
  EXPECT_TRUE(*asset->body == expected) << path << " differs from " << file;
  EXPECT_EQ(asset->content_type, type) << path;
}

TEST(WebAssets, EmbedsEachFileByteForByte) {
  expect_asset("/index.html", "index.html", "text/html; charset=utf-8");
  expect_asset("/assets/app.js", "app.js", "text/javascript; charset=utf-8");
  expect_asset("/assets/style.css", "style.css", "text/css; charset=utf-8");
}

TEST(WebAssets, UnknownPathsAreNotFound) {
  for (const char* path : {"/", "", "/assets/", "/assets/../index.html", "/assets/app.js/",
                           "/APP.JS", "/index.html?x=1", "/assets/app.jsx"}) {
    EXPECT_EQ(find_web_asset(path), nullptr) << path;
  }
}

TEST(WebAssets, PageLoadsOnlyItsOwnFiles) {
  // No CDN, no external URL: the page must work with nothing but the agent reachable.
  for (const char* path : {"/index.html", "/assets/app.js", "/assets/style.css"}) {
    const std::string_view body = *find_web_asset(path)->body;
    EXPECT_EQ(body.find("http://"), std::string_view::npos) << path;
    EXPECT_EQ(body.find("https://"), std::string_view::npos) << path;
    EXPECT_EQ(body.find("//cdn"), std::string_view::npos) << path;
  }
}

}  // namespace
