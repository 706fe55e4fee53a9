// Each web page's files reach the binary byte for byte, under the paths its face serves: the
// agent's (src/agent/server/web) and the fleet's (src/server/web, served by `tend server`), each
// with the files both share (src/web).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "server/web_routes.hpp"
#include "web_assets.hpp"

namespace {

using tend::http::PageAsset;

struct Page {
  const char* name;
  std::span<const PageAsset> assets;
  std::string source_dir;
};

// ctest shows the page's name, not its bytes.
void PrintTo(const Page& page, std::ostream* os) {
  *os << page.name;
}

class WebAssets : public ::testing::TestWithParam<Page> {};

// The page's own file, else the shared one of that name.
std::string read_source(const Page& page, const std::string& name) {
  std::ifstream in(page.source_dir + "/" + name, std::ios::binary);
  if (!in) in.open(std::string(TEND_SHARED_WEB_SOURCE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << name << " in " << page.source_dir << " or "
                  << TEND_SHARED_WEB_SOURCE_DIR;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_asset(const Page& page, const char* path, const std::string& file,
                  std::string_view type) {
  auto asset = tend::http::find_page_asset(page.assets, path);
  ASSERT_NE(asset, nullptr) << path;
  const std::string expected = read_source(page, file);
  ASSERT_FALSE(expected.empty()) << file;
  EXPECT_EQ(asset->body->size(), expected.size()) << path;
  EXPECT_TRUE(*asset->body == expected) << path << " differs from " << file;
  EXPECT_EQ(asset->content_type, type) << path;
}

TEST_P(WebAssets, EmbedsEachFileByteForByte) {
  expect_asset(GetParam(), "/index.html", "index.html", "text/html; charset=utf-8");
  expect_asset(GetParam(), "/assets/app.js", "app.js", "text/javascript; charset=utf-8");
  expect_asset(GetParam(), "/assets/style.css", "style.css", "text/css; charset=utf-8");
  // The shared files, and any other, under /assets/ with their own names.
  for (const char* shared : {"/assets/page.js", "/assets/output.js", "/assets/output.css"})
    EXPECT_NE(tend::http::find_page_asset(GetParam().assets, shared), nullptr) << shared;
  for (const PageAsset& a : GetParam().assets) {
    std::string path(a.path);
    std::string file = path.substr(path.rfind('/') + 1);
    if (!path.starts_with("/assets/")) continue;
    expect_asset(
        GetParam(), path.c_str(), file,
        file.ends_with(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
  }
}

TEST_P(WebAssets, UnknownPathsAreNotFound) {
  for (const char* path : {"/", "", "/assets/", "/assets/../index.html", "/assets/app.js/",
                           "/APP.JS", "/index.html?x=1", "/assets/app.jsx"}) {
    EXPECT_EQ(tend::http::find_page_asset(GetParam().assets, path), nullptr) << path;
  }
}

TEST_P(WebAssets, PageLoadsOnlyItsOwnFiles) {
  // No CDN, no external URL: the page must work with nothing but its server reachable.
  for (const PageAsset& a : GetParam().assets) {
    EXPECT_EQ(a.body->find("http://"), std::string_view::npos) << a.path;
    EXPECT_EQ(a.body->find("https://"), std::string_view::npos) << a.path;
    EXPECT_EQ(a.body->find("//cdn"), std::string_view::npos) << a.path;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pages, WebAssets,
    ::testing::Values(Page{"agent", tend::agent::web_assets(), TEND_AGENT_WEB_SOURCE_DIR},
                      Page{"fleet", tend::server::web_assets(), TEND_FLEET_WEB_SOURCE_DIR}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
