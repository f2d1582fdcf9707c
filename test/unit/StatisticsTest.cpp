//===- StatisticsTest.cpp - the routing-statistics reader -----------------===//
//
// A file like moert_session_write_routing() writes reads back; find() and
// merging; every validation error with its message; reading from disk.
//
//===----------------------------------------------------------------------===//

#include "parallel/Statistics.h"
#include "test/unit/Check.h"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace moe::parallel;

namespace {

// Two layers as the writer lays them out (one per line). layer_1: tokens
// (0, 1), (0, 2) and (2, 9): 9 is outside [0, 4), so it is invalid and makes
// no pair.
const char *kValid =
    R"({"format": "moec-routing-statistics", "version": 1,
 "artifact": "/abs/path/model.so",
 "layers": [
  {"function": "layer_0", "site": 0, "experts": 8, "k": 2, "calls": 1, "tokens": 7, "counts": [1, 4, 1, 1, 3, 1, 3, 0]},
  {"function": "layer_1", "site": 0, "experts": 4, "k": 2, "calls": 2, "tokens": 3, "counts": [2, 1, 2, 0], "invalid": 1, "coselection": [[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]}
]}
)";

/// A file of one layer: `members` follows "function" and "site".
std::string oneLayer(const std::string &members) {
  return R"({"format": "moec-routing-statistics", "version": 1, "layers": [)"
         R"({"function": "f", "site": 1, )" +
         members + "}]}";
}

/// A layer with E = 2, k = 1, one token, and then `extra`.
std::string small(const std::string &extra) {
  return oneLayer(
      R"("experts": 2, "k": 1, "calls": 1, "tokens": 1, "counts": [1, 0])" +
      extra);
}

/// A layer with E = 3, k = 2, one token choosing 0 and 1, and
/// "coselection": `pairs`.
std::string withPairs(const std::string &pairs) {
  return oneLayer(R"("experts": 3, "k": 2, "calls": 1, "tokens": 1, )"
                  R"("counts": [1, 1, 0], "coselection": )" +
                  pairs);
}

/// The error parsing `text` gives ("" if it parses).
std::string errorOf(const std::string &text) {
  RoutingStatistics stats;
  return parseRoutingStatistics(text, "r.json", stats);
}

std::string tempPath(const char *name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/moe-statstest-" +
         std::to_string(::getpid()) + "-" + name;
}

} // namespace

TEST(statisticsReadsTheWritersFormat) {
  RoutingStatistics stats;
  CHECK_EQ(parseRoutingStatistics(kValid, "r.json", stats), std::string());
  CHECK_EQ(stats.artifact, std::string("/abs/path/model.so"));
  CHECK_EQ(stats.layers.size(), size_t(2));
  if (stats.layers.size() != 2)
    return;
  const LayerStatistics &l0 = stats.layers[0];
  CHECK_EQ(l0.function, std::string("layer_0"));
  CHECK_EQ(l0.site, int64_t(0));
  CHECK_EQ(l0.experts, int64_t(8));
  CHECK_EQ(l0.k, int64_t(2));
  CHECK_EQ(l0.calls, int64_t(1));
  CHECK_EQ(l0.tokens, int64_t(7));
  CHECK(l0.counts == (std::vector<double>{1, 4, 1, 1, 3, 1, 3, 0}));
  CHECK(l0.coselection.empty());
  CHECK_EQ(l0.invalid, int64_t(0));
  const LayerStatistics &l1 = stats.layers[1];
  CHECK_EQ(l1.experts, int64_t(4));
  CHECK_EQ(l1.invalid, int64_t(1));
  CHECK(l1.counts == (std::vector<double>{2, 1, 2, 0}));
  CHECK(l1.coselection ==
        (std::vector<double>{0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}));

  // find() by function and site.
  CHECK(stats.find("layer_0", 0) == &stats.layers[0]);
  CHECK(stats.find("layer_1", 0) == &stats.layers[1]);
  CHECK(stats.find("layer_1", 1) == nullptr);
  CHECK(stats.find("layer_2", 0) == nullptr);

  // Optional parts: no artifact, no layers, unknown members ignored; an
  // integral number written as 2.0 is an integer; k = E.
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [], "comment": "x"})"),
           std::string());
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 2.0, "calls": 0, )"
                            R"("tokens": 1, "counts": [1, 1], "note": 1)")),
           std::string());
  // The same function at two sites, and two functions at one site.
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [)"
                   R"({"function": "f", "site": 0, "experts": 1, "k": 1,)"
                   R"( "calls": 1, "tokens": 1, "counts": [1]},)"
                   R"({"function": "f", "site": 1, "experts": 1, "k": 1,)"
                   R"( "calls": 1, "tokens": 1, "counts": [1]},)"
                   R"({"function": "g", "site": 0, "experts": 1, "k": 1,)"
                   R"( "calls": 1, "tokens": 1, "counts": [1]}]})"),
           std::string());
}

TEST(statisticsDocumentErrors) {
  CHECK_CONTAINS(errorOf(""), "r.json: not JSON: at offset 0");
  CHECK_CONTAINS(errorOf(R"({"format": "moec-routing-statistics",})"),
                 "r.json: not JSON: at offset");
  CHECK_EQ(errorOf("[]"), std::string("r.json: not a routing statistics "
                                      "file: the document is an array, not "
                                      "an object"));
  CHECK_EQ(errorOf(R"({"version": 1, "layers": []})"),
           std::string("r.json: not a routing statistics file: 'format' is "
                       "missing"));
  CHECK_EQ(errorOf(R"({"format": "moec-config", "version": 1, "layers": []})"),
           std::string("r.json: not a routing statistics file: 'format' is "
                       "\"moec-config\", expected "
                       "\"moec-routing-statistics\""));
  CHECK_CONTAINS(errorOf(R"({"format": 1, "version": 1, "layers": []})"),
                 "'format' is 1, expected \"moec-routing-statistics\"");
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "layers": []})"),
           std::string("r.json: 'version' is missing"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 2,)"
                   R"( "layers": []})"),
           std::string("r.json: 'version' is 2; only version 1 is read"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": "1",)"
                   R"( "layers": []})"),
           std::string("r.json: 'version' is not an integer (a string)"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1.5,)"
                   R"( "layers": []})"),
           std::string("r.json: 'version' is not an integer (1.5)"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "artifact": 3, "layers": []})"),
           std::string("r.json: 'artifact' is not a string (a number)"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1})"),
           std::string("r.json: 'layers' is missing"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": {}})"),
           std::string("r.json: 'layers' is not an array (an object)"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [3]})"),
           std::string("r.json: layer 0: not an object (a number)"));
  // The source names the file.
  RoutingStatistics stats;
  CHECK_CONTAINS(parseRoutingStatistics("[", "/some/file.json", stats),
                 "/some/file.json: not JSON");
}

TEST(statisticsLayerFieldErrors) {
  const std::string prefix = "r.json: layer 0 ('f' site 1): ";
  // function and site: the layer is named as far as it is known.
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [{"site": 0}]})"),
           std::string("r.json: layer 0: 'function' is missing"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [{"function": 7}]})"),
           std::string("r.json: layer 0: 'function' is not a string"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [{"function": "g"}]})"),
           std::string("r.json: layer 0 ('g'): 'site' is missing"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [{"function": "g", "site": -1}]})"),
           std::string("r.json: layer 0 ('g'): 'site' is -1, expected >= 0"));
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [{"function": "g", "site": true}]})"),
           std::string("r.json: layer 0 ('g'): 'site' is not an integer (a "
                       "boolean)"));

  // experts.
  CHECK_EQ(errorOf(oneLayer(R"("k": 1)")), prefix + "'experts' is missing");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2.5)")),
           prefix + "'experts' is not an integer (2.5)");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 0)")),
           prefix + "'experts' is 0, expected 1 to 1048576");
  CHECK_EQ(errorOf(oneLayer(R"("experts": -3)")),
           prefix + "'experts' is -3, expected 1 to 1048576");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 1048577)")),
           prefix + "'experts' is 1048577, expected 1 to 1048576");
  // 2^20 experts is allowed: the error is the short counts, and nothing of
  // 2^20 entries was needed to say so.
  CHECK_EQ(errorOf(oneLayer(R"("experts": 1048576, "k": 1, "calls": 1, )"
                            R"("tokens": 1, "counts": [1])")),
           prefix + "'counts' has 1 entries, expected 'experts' = 1048576");

  // k.
  CHECK_EQ(errorOf(oneLayer(R"("experts": 8)")), prefix + "'k' is missing");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 8, "k": null)")),
           prefix + "'k' is not an integer (null)");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 8, "k": 0)")),
           prefix + "'k' is 0, expected 1 to 'experts' = 8");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 8, "k": 9)")),
           prefix + "'k' is 9, expected 1 to 'experts' = 8");

  // calls, tokens, invalid.
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1)")),
           prefix + "'calls' is missing");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": -1)")),
           prefix + "'calls' is -1, expected >= 0");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": "1")")),
           prefix + "'calls' is not an integer (a string)");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": 1)")),
           prefix + "'tokens' is missing");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": 1, )"
                            R"("tokens": -7)")),
           prefix + "'tokens' is -7, expected >= 0");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": 1, )"
                            R"("tokens": 0.5)")),
           prefix + "'tokens' is not an integer (0.5)");
  CHECK_EQ(errorOf(small(R"(, "invalid": -1)")),
           prefix + "'invalid' is -1, expected >= 0");
  CHECK_EQ(errorOf(small(R"(, "invalid": [])")),
           prefix + "'invalid' is not an integer (an array)");
}

TEST(statisticsCountErrors) {
  const std::string prefix = "r.json: layer 0 ('f' site 1): ";
  const std::string head = R"("experts": 4, "k": 2, "calls": 1, "tokens": 2)";
  CHECK_EQ(errorOf(oneLayer(head)), prefix + "'counts' is missing");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": {})")),
           prefix + "'counts' is not an array (an object)");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 2])")),
           prefix + "'counts' has 3 entries, expected 'experts' = 4");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 2, 0, 0])")),
           prefix + "'counts' has 5 entries, expected 'experts' = 4");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, -1, 2, 2])")),
           prefix + "'counts'[1] is -1, expected >= 0");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 1.5, 0])")),
           prefix + "'counts'[2] is not an integer (1.5)");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 2, "0"])")),
           prefix + "'counts'[3] is not an integer (a string)");

  // The counts plus the invalid selections are exactly tokens * k.
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 2, 1])")),
           prefix + "'counts' sum to 5 plus 'invalid' 0 = 5 selections, "
                    "expected 'tokens' * 'k' = 2 * 2 = 4");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 1, 0])")),
           prefix + "'counts' sum to 3 plus 'invalid' 0 = 3 selections, "
                    "expected 'tokens' * 'k' = 2 * 2 = 4");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 1, 0], )"
                                   R"("invalid": 2)")),
           prefix + "'counts' sum to 3 plus 'invalid' 2 = 5 selections, "
                    "expected 'tokens' * 'k' = 2 * 2 = 4");
  CHECK_EQ(errorOf(oneLayer(head + R"(, "counts": [1, 1, 1, 0], )"
                                   R"("invalid": 1)")),
           std::string());
  // Sums that do not fit in 64 bits are errors, not wrap-arounds.
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 2, "calls": 1, )"
                            R"("tokens": 9223372036854775807, )"
                            R"("counts": [1, 1])")),
           prefix + "'tokens' * 'k' overflows a 64-bit integer");
  CHECK_EQ(errorOf(oneLayer(R"("experts": 2, "k": 1, "calls": 1, "tokens": 1, )"
                            R"("counts": [9223372036854775807, 1])")),
           prefix + "'counts' sum overflows a 64-bit integer");
  CHECK_EQ(errorOf(small(R"(, "invalid": 9223372036854775807)")),
           prefix + "'counts' sum plus 'invalid' overflows a 64-bit integer");
}

TEST(statisticsCoselectionErrors) {
  const std::string prefix = "r.json: layer 0 ('f' site 1): ";
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, 0, 0]]")),
           std::string());
  CHECK_EQ(errorOf(withPairs("7")),
           prefix + "'coselection' is not an array (a number)");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0]]")),
           prefix + "'coselection' has 2 rows, expected 'experts' = 3");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, 0, 0], []]")),
           prefix + "'coselection' has 4 rows, expected 'experts' = 3");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], 1, [0, 0, 0]]")),
           prefix + "'coselection'[1] is not an array (a number)");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, 0]]")),
           prefix + "'coselection'[2] has 2 entries, expected 'experts' = 3");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0, 0], [1, 0, 0], [0, 0, 0]]")),
           prefix + "'coselection'[0] has 4 entries, expected 'experts' = 3");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, -2], [0, -2, 0]]")),
           prefix + "'coselection'[1][2] is -2, expected >= 0");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, 0.5, 0]]")),
           prefix + "'coselection'[2][1] is not an integer (0.5)");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, false, 0]]")),
           prefix + "'coselection'[2][1] is not an integer (a boolean)");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [2, 0, 0], [0, 0, 0]]")),
           prefix + "'coselection' is not symmetric: 'coselection'[0][1] = "
                    "1 but 'coselection'[1][0] = 2");
  CHECK_EQ(errorOf(withPairs("[[0, 1, 0], [1, 0, 0], [0, 0, 3]]")),
           prefix + "'coselection'[2][2] is 3, expected 0 on the diagonal");
}

TEST(statisticsDuplicateLayer) {
  std::string layer = R"({"function": "f", "site": 1, "experts": 1, "k": 1, )"
                      R"("calls": 1, "tokens": 1, "counts": [1]})";
  std::string other = R"({"function": "g", "site": 1, "experts": 1, "k": 1, )"
                      R"("calls": 1, "tokens": 1, "counts": [1]})";
  CHECK_EQ(errorOf(R"({"format": "moec-routing-statistics", "version": 1,)"
                   R"( "layers": [)" +
                   layer + ", " + other + ", " + layer + "]}"),
           std::string("r.json: layer 2 ('f' site 1): the same function and "
                       "site as layer 0"));
}

TEST(statisticsMerge) {
  RoutingStatistics a, b;
  CHECK_EQ(parseRoutingStatistics(kValid, "a.json", a), std::string());
  CHECK_EQ(parseRoutingStatistics(kValid, "b.json", b), std::string());
  // b: a second run of layer_0 without layer_1, plus a new layer_2.
  b.artifact = "/other/model.so";
  b.layers.erase(b.layers.begin() + 1);
  b.layers.push_back(b.layers[0]);
  b.layers[1].function = "layer_2";
  CHECK_EQ(mergeRoutingStatistics(b, a), std::string());
  CHECK_EQ(a.artifact, std::string("/abs/path/model.so"));
  CHECK_EQ(a.layers.size(), size_t(3));
  const LayerStatistics *l0 = a.find("layer_0", 0);
  CHECK(l0 != nullptr);
  if (l0) {
    CHECK_EQ(l0->calls, int64_t(2));
    CHECK_EQ(l0->tokens, int64_t(14));
    CHECK(l0->counts == (std::vector<double>{2, 8, 2, 2, 6, 2, 6, 0}));
  }
  CHECK(a.find("layer_2", 0) != nullptr);
  CHECK(a.layers.size() == 3 && a.layers[2].function == "layer_2");

  // Merging a file with itself doubles everything, co-selection included.
  RoutingStatistics c;
  CHECK_EQ(parseRoutingStatistics(kValid, "c.json", c), std::string());
  CHECK_EQ(mergeRoutingStatistics(c, c), std::string());
  const LayerStatistics *l1 = c.find("layer_1", 0);
  CHECK(l1 != nullptr);
  if (l1) {
    CHECK_EQ(l1->calls, int64_t(4));
    CHECK_EQ(l1->tokens, int64_t(6));
    CHECK_EQ(l1->invalid, int64_t(2));
    CHECK(l1->counts == (std::vector<double>{4, 2, 4, 0}));
    CHECK(l1->coselection == (std::vector<double>{0, 2, 2, 0, 2, 0, 0, 0, 2, 0,
                                                  0, 0, 0, 0, 0, 0}));
  }
  // One side without co-selection: the merged layer has none.
  RoutingStatistics d;
  CHECK_EQ(parseRoutingStatistics(kValid, "d.json", d), std::string());
  d.layers[1].coselection.clear();
  CHECK_EQ(mergeRoutingStatistics(d, c), std::string());
  l1 = c.find("layer_1", 0);
  CHECK(l1 && l1->coselection.empty() && l1->tokens == 9);
  // Into empty statistics: a copy, artifact included.
  RoutingStatistics empty;
  CHECK_EQ(mergeRoutingStatistics(d, empty), std::string());
  CHECK_EQ(empty.artifact, std::string("/abs/path/model.so"));
  CHECK_EQ(empty.layers.size(), size_t(2));

  // Disagreements are errors and leave the target unchanged.
  RoutingStatistics e;
  CHECK_EQ(parseRoutingStatistics(kValid, "e.json", e), std::string());
  RoutingStatistics before = e;
  RoutingStatistics f = e;
  f.layers[1].k = 3;
  f.layers[0].calls = 5; // merged first: must not stick
  CHECK_EQ(mergeRoutingStatistics(f, e),
           std::string("layer 'layer_1' site 0: cannot merge 'experts' = 4, "
                       "'k' = 3 into 'experts' = 4, 'k' = 2"));
  CHECK_EQ(e.layers[0].calls, before.layers[0].calls);
  CHECK(e.layers[0].counts == before.layers[0].counts);
  f = before;
  f.layers[0].experts = 9;
  f.layers[0].counts.push_back(0);
  CHECK_EQ(mergeRoutingStatistics(f, e),
           std::string("layer 'layer_0' site 0: cannot merge 'experts' = 9, "
                       "'k' = 2 into 'experts' = 8, 'k' = 2"));
  // A hand-built layer whose sizes disagree is an error, not a crash.
  f = before;
  f.layers[0].counts.pop_back();
  CHECK_CONTAINS(mergeRoutingStatistics(f, e),
                 "layer 'layer_0' site 0 to merge: 'experts' = 8 but 7 counts");
  f = before;
  f.layers[1].coselection.pop_back();
  CHECK_CONTAINS(mergeRoutingStatistics(f, e), "15 co-selection entries");
  // Overflowing sums.
  f = before;
  f.layers[0].tokens = INT64_MAX;
  CHECK_EQ(mergeRoutingStatistics(f, e),
           std::string("layer 'layer_0' site 0: the merged 'calls', 'tokens' "
                       "or 'invalid' overflow a 64-bit integer"));
  CHECK_EQ(e.layers[0].tokens, before.layers[0].tokens);
}

TEST(statisticsReadsFiles) {
  std::string path = tempPath("routing.json");
  FILE *f = std::fopen(path.c_str(), "wb");
  CHECK(f != nullptr);
  if (!f)
    return;
  std::string text = kValid;
  CHECK_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
  CHECK_EQ(std::fclose(f), 0);
  RoutingStatistics stats;
  CHECK_EQ(readRoutingStatistics(path, stats), std::string());
  CHECK_EQ(stats.layers.size(), size_t(2));
  CHECK(stats.find("layer_1", 0) != nullptr);

  // Errors name the file.
  f = std::fopen(path.c_str(), "wb");
  CHECK(f != nullptr);
  if (f) {
    std::fputs("{\"format\": \"moec-routing-statistics\", \"version\": 3, "
               "\"layers\": []}",
               f);
    std::fclose(f);
  }
  CHECK_EQ(readRoutingStatistics(path, stats),
           path + ": 'version' is 3; only version 1 is read");
  std::remove(path.c_str());

  CHECK_EQ(readRoutingStatistics(path, stats),
           "cannot read routing statistics '" + path +
               "': No such file or directory");
  CHECK(stats.layers.empty());
}
