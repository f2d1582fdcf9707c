//===- Statistics.cpp - routing statistics files for the planner ----------===//
#include "parallel/Statistics.h"

#include "runtime/support/FileIO.h"
#include "runtime/support/Json.h"

#include <map>
#include <optional>
#include <utility>

namespace json = moe::json;
using namespace moe::parallel;

namespace {

constexpr const char *kFormat = "moec-routing-statistics";
constexpr int64_t kVersion = 1;
constexpr int64_t kMaxExperts = int64_t(1) << 20;

/// What a value that should have been an integer is, for messages: the
/// number itself ("1.5") or its kind ("a string").
std::string describe(const json::Value &v) {
  if (v.isNumber())
    return json::write(v);
  return json::kindName(v.kind());
}

/// Reads the integer member `key` of `object` into `out`, or says why not.
std::string getInteger(const json::Value &object, const char *key,
                       int64_t &out) {
  const json::Value *v = object.get(key);
  if (!v)
    return std::string("'") + key + "' is missing";
  std::optional<int64_t> i = v->asInt64();
  if (!i)
    return std::string("'") + key + "' is not an integer (" + describe(*v) +
           ")";
  out = *i;
  return "";
}

/// As getInteger(), and the value must be >= 0.
std::string getCount(const json::Value &object, const char *key, int64_t &out) {
  if (std::string err = getInteger(object, key, out); !err.empty())
    return err;
  if (out < 0)
    return std::string("'") + key + "' is " + std::to_string(out) +
           ", expected >= 0";
  return "";
}

/// `v` as a non-negative integer into `out`, or why not; `what` names it
/// ("'counts'[3]").
std::string getEntry(const json::Value &v, const std::string &what,
                     int64_t &out) {
  std::optional<int64_t> i = v.asInt64();
  if (!i)
    return what + " is not an integer (" + describe(v) + ")";
  if (*i < 0)
    return what + " is " + std::to_string(*i) + ", expected >= 0";
  out = *i;
  return "";
}

std::string entryName(const char *key, size_t i) {
  return std::string("'") + key + "'[" + std::to_string(i) + "]";
}

/// "'coselection'[a][b]".
std::string pairName(int64_t a, int64_t b) {
  return "'coselection'[" + std::to_string(a) + "][" + std::to_string(b) + "]";
}

/// Parses one layer object; `where` is set to the layer's description
/// ("layer 3 ('layer_3' site 0)") as far as it is known.
std::string parseLayer(const json::Value &v, size_t index, std::string &where,
                       LayerStatistics &layer) {
  where = "layer " + std::to_string(index);
  if (!v.isObject())
    return "not an object (" + std::string(json::kindName(v.kind())) + ")";
  const std::string *function = v.getString("function");
  if (!function)
    return v.get("function") ? "'function' is not a string"
                             : "'function' is missing";
  layer.function = *function;
  where += " ('" + layer.function + "'";
  if (std::string err = getCount(v, "site", layer.site); !err.empty()) {
    where += ")";
    return err;
  }
  where += " site " + std::to_string(layer.site) + ")";

  if (std::string err = getInteger(v, "experts", layer.experts); !err.empty())
    return err;
  if (layer.experts < 1 || layer.experts > kMaxExperts)
    return "'experts' is " + std::to_string(layer.experts) +
           ", expected 1 to " + std::to_string(kMaxExperts);
  if (std::string err = getInteger(v, "k", layer.k); !err.empty())
    return err;
  if (layer.k < 1 || layer.k > layer.experts)
    return "'k' is " + std::to_string(layer.k) +
           ", expected 1 to 'experts' = " + std::to_string(layer.experts);
  if (std::string err = getCount(v, "calls", layer.calls); !err.empty())
    return err;
  if (std::string err = getCount(v, "tokens", layer.tokens); !err.empty())
    return err;
  layer.invalid = 0;
  if (v.get("invalid"))
    if (std::string err = getCount(v, "invalid", layer.invalid); !err.empty())
      return err;

  const size_t experts = static_cast<size_t>(layer.experts);
  const json::Value *counts = v.get("counts");
  if (!counts)
    return "'counts' is missing";
  if (!counts->isArray())
    return "'counts' is not an array (" +
           std::string(json::kindName(counts->kind())) + ")";
  if (counts->elements().size() != experts)
    return "'counts' has " + std::to_string(counts->elements().size()) +
           " entries, expected 'experts' = " + std::to_string(layer.experts);
  // Sized by the text, which holds that many entries.
  layer.counts.assign(experts, 0.0);
  int64_t sum = 0;
  for (size_t e = 0; e < experts; ++e) {
    int64_t c = 0;
    if (std::string err =
            getEntry(counts->elements()[e], entryName("counts", e), c);
        !err.empty())
      return err;
    if (__builtin_add_overflow(sum, c, &sum))
      return "'counts' sum overflows a 64-bit integer";
    layer.counts[e] = static_cast<double>(c);
  }
  // Every token makes k selections: each is counted once, or is invalid.
  int64_t selections = 0, expected = 0;
  if (__builtin_add_overflow(sum, layer.invalid, &selections))
    return "'counts' sum plus 'invalid' overflows a 64-bit integer";
  if (__builtin_mul_overflow(layer.tokens, layer.k, &expected))
    return "'tokens' * 'k' overflows a 64-bit integer";
  if (selections != expected)
    return "'counts' sum to " + std::to_string(sum) + " plus 'invalid' " +
           std::to_string(layer.invalid) + " = " + std::to_string(selections) +
           " selections, expected 'tokens' * 'k' = " +
           std::to_string(layer.tokens) + " * " + std::to_string(layer.k) +
           " = " + std::to_string(expected);

  layer.coselection.clear();
  const json::Value *pairs = v.get("coselection");
  if (!pairs)
    return "";
  if (!pairs->isArray())
    return "'coselection' is not an array (" +
           std::string(json::kindName(pairs->kind())) + ")";
  if (pairs->elements().size() != experts)
    return "'coselection' has " + std::to_string(pairs->elements().size()) +
           " rows, expected 'experts' = " + std::to_string(layer.experts);
  // Check every row's shape before allocating E * E: then the text holds
  // that many entries.
  for (size_t a = 0; a < experts; ++a) {
    const json::Value &row = pairs->elements()[a];
    if (!row.isArray())
      return entryName("coselection", a) + " is not an array (" +
             json::kindName(row.kind()) + ")";
    if (row.elements().size() != experts)
      return entryName("coselection", a) + " has " +
             std::to_string(row.elements().size()) +
             " entries, expected 'experts' = " + std::to_string(layer.experts);
  }
  std::vector<int64_t> matrix(experts * experts);
  for (size_t a = 0; a < experts; ++a) {
    const json::Value &row = pairs->elements()[a];
    for (size_t b = 0; b < experts; ++b)
      if (std::string err =
              getEntry(row.elements()[b], pairName(int64_t(a), int64_t(b)),
                       matrix[a * experts + b]);
          !err.empty())
        return err;
  }
  for (size_t a = 0; a < experts; ++a) {
    if (int64_t d = matrix[a * experts + a])
      return pairName(int64_t(a), int64_t(a)) + " is " + std::to_string(d) +
             ", expected 0 on the diagonal";
    for (size_t b = a + 1; b < experts; ++b)
      if (matrix[a * experts + b] != matrix[b * experts + a])
        return "'coselection' is not symmetric: " +
               pairName(int64_t(a), int64_t(b)) + " = " +
               std::to_string(matrix[a * experts + b]) + " but " +
               pairName(int64_t(b), int64_t(a)) + " = " +
               std::to_string(matrix[b * experts + a]);
  }
  layer.coselection.assign(matrix.begin(), matrix.end());
  return "";
}

/// `layer`'s sizes agree with its experts (a hand-built one may not).
std::string checkShape(const LayerStatistics &layer) {
  size_t e = layer.experts > 0 ? static_cast<size_t>(layer.experts) : 0;
  if (layer.experts < 1 || layer.experts > kMaxExperts ||
      layer.counts.size() != e ||
      (!layer.coselection.empty() && layer.coselection.size() != e * e))
    return "'experts' = " + std::to_string(layer.experts) + " but " +
           std::to_string(layer.counts.size()) + " counts and " +
           std::to_string(layer.coselection.size()) + " co-selection entries";
  return "";
}

std::string describeLayer(const LayerStatistics &layer) {
  return "'" + layer.function + "' site " + std::to_string(layer.site);
}

} // namespace

const LayerStatistics *RoutingStatistics::find(const std::string &function,
                                               int64_t site) const {
  for (const LayerStatistics &layer : layers)
    if (layer.site == site && layer.function == function)
      return &layer;
  return nullptr;
}

std::string moe::parallel::parseRoutingStatistics(std::string_view text,
                                                  const std::string &source,
                                                  RoutingStatistics &out) {
  out = RoutingStatistics();
  auto fail = [&](const std::string &message) {
    return source + ": " + message;
  };
  json::Value doc;
  if (std::string err = json::parse(text, doc); !err.empty())
    return fail("not JSON: " + err);
  if (!doc.isObject())
    return fail("not a routing statistics file: the document is " +
                std::string(json::kindName(doc.kind())) + ", not an object");
  const json::Value *format = doc.get("format");
  if (!format)
    return fail("not a routing statistics file: 'format' is missing");
  if (!format->isString() || format->asString() != kFormat)
    return fail("not a routing statistics file: 'format' is " +
                json::write(*format) + ", expected \"" + kFormat + "\"");
  int64_t version = 0;
  if (std::string err = getInteger(doc, "version", version); !err.empty())
    return fail(err);
  if (version != kVersion)
    return fail("'version' is " + std::to_string(version) + "; only version " +
                std::to_string(kVersion) + " is read");
  if (const json::Value *artifact = doc.get("artifact")) {
    if (!artifact->isString())
      return fail("'artifact' is not a string (" +
                  std::string(json::kindName(artifact->kind())) + ")");
    out.artifact = artifact->asString();
  }
  const json::Value *layers = doc.get("layers");
  if (!layers)
    return fail("'layers' is missing");
  if (!layers->isArray())
    return fail("'layers' is not an array (" +
                std::string(json::kindName(layers->kind())) + ")");

  std::map<std::pair<std::string, int64_t>, size_t> seen;
  out.layers.reserve(layers->elements().size());
  for (size_t i = 0; i < layers->elements().size(); ++i) {
    LayerStatistics layer;
    std::string where;
    if (std::string err = parseLayer(layers->elements()[i], i, where, layer);
        !err.empty())
      return fail(where + ": " + err);
    auto [it, inserted] =
        seen.emplace(std::make_pair(layer.function, layer.site), i);
    if (!inserted)
      return fail(where + ": the same function and site as layer " +
                  std::to_string(it->second));
    out.layers.push_back(std::move(layer));
  }
  return "";
}

std::string moe::parallel::readRoutingStatistics(const std::string &path,
                                                 RoutingStatistics &out) {
  out = RoutingStatistics();
  std::string text;
  if (std::string err = moe::readFile(path, text); !err.empty())
    return "cannot read routing statistics '" + path + "': " + err;
  return parseRoutingStatistics(text, path, out);
}

std::string moe::parallel::mergeRoutingStatistics(const RoutingStatistics &more,
                                                  RoutingStatistics &into) {
  // Built aside and swapped in, so that an error leaves `into` unchanged.
  RoutingStatistics merged = into;
  if (merged.artifact.empty())
    merged.artifact = more.artifact;
  for (const LayerStatistics &layer : more.layers) {
    if (std::string err = checkShape(layer); !err.empty())
      return "layer " + describeLayer(layer) + " to merge: " + err;
    LayerStatistics *target = nullptr;
    for (LayerStatistics &candidate : merged.layers)
      if (candidate.site == layer.site && candidate.function == layer.function)
        target = &candidate;
    if (!target) {
      merged.layers.push_back(layer);
      continue;
    }
    std::string where = "layer " + describeLayer(layer) + ": ";
    if (std::string err = checkShape(*target); !err.empty())
      return where + err;
    if (target->experts != layer.experts || target->k != layer.k)
      return where +
             "cannot merge 'experts' = " + std::to_string(layer.experts) +
             ", 'k' = " + std::to_string(layer.k) +
             " into 'experts' = " + std::to_string(target->experts) +
             ", 'k' = " + std::to_string(target->k);
    if (__builtin_add_overflow(target->calls, layer.calls, &target->calls) ||
        __builtin_add_overflow(target->tokens, layer.tokens, &target->tokens) ||
        __builtin_add_overflow(target->invalid, layer.invalid,
                               &target->invalid))
      return where + "the merged 'calls', 'tokens' or 'invalid' overflow a "
                     "64-bit integer";
    for (size_t e = 0; e < layer.counts.size(); ++e)
      target->counts[e] += layer.counts[e];
    if (target->coselection.empty() || layer.coselection.empty()) {
      target->coselection.clear();
    } else {
      for (size_t p = 0; p < layer.coselection.size(); ++p)
        target->coselection[p] += layer.coselection[p];
    }
  }
  into = std::move(merged);
  return "";
}
