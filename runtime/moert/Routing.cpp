//===- Routing.cpp - routing statistics of a session ----------------------===//
#include "runtime/moert/Routing.h"
#include "runtime/moert/Internal.h"
#include "runtime/support/Json.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace json = moe::json;
using namespace moert;
using moert::makeStatus;

namespace {
struct Context {
  RoutingRecorder *recorder = nullptr;
  const Function *fn = nullptr;
};
Context &current() {
  thread_local Context context;
  return context;
}
} // namespace

std::string RoutingRecorder::start(const moert_artifact_s &artifact,
                                   bool coselection) {
  std::map<std::string, std::vector<SiteCounts>> functions;
  for (const Function &fn : artifact.functions) {
    std::vector<SiteCounts> &sites = functions[fn.name];
    for (const RoutingSite &site : fn.routingSites) {
      if (coselection && site.experts > kMaxCoselectionExperts)
        return "function '" + fn.name + "' routes over " +
               std::to_string(site.experts) +
               " experts; co-selection is recorded for at most " +
               std::to_string(kMaxCoselectionExperts);
      SiteCounts counts;
      counts.experts.assign(static_cast<size_t>(site.experts), 0);
      if (coselection)
        counts.coselection.assign(
            static_cast<size_t>(site.experts * site.experts), 0);
      sites.push_back(std::move(counts));
    }
  }
  bool any = false;
  for (const auto &entry : functions)
    any = any || !entry.second.empty();
  if (!any)
    return "the artifact reports no routing: it was compiled with "
           "--record-routing=false, for a GPU, or has no moe.route";
  functions_ = std::move(functions);
  coselection_ = coselection;
  active_ = started_ = true;
  return "";
}

void RoutingRecorder::record(const Function &fn, int64_t site,
                             const int32_t *indices, int64_t tokens, int64_t k,
                             int64_t rowStride, int64_t columnStride) noexcept {
  auto it = functions_.find(fn.name);
  if (!active_ || it == functions_.end() || !indices || tokens < 0)
    return;
  for (size_t i = 0; i < fn.routingSites.size(); ++i) {
    const RoutingSite &s = fn.routingSites[i];
    if (s.site != site || i >= it->second.size())
      continue;
    if (k != s.k)
      return; // not the layer the metadata describes
    SiteCounts &c = it->second[i];
    int64_t experts = s.experts;
    ++c.calls;
    c.tokens += tokens;
    for (int64_t t = 0; t < tokens; ++t) {
      const int32_t *row = indices + t * rowStride;
      for (int64_t j = 0; j < k; ++j) {
        int64_t e = row[j * columnStride];
        if (e < 0 || e >= experts) {
          ++c.invalid;
          continue;
        }
        ++c.experts[static_cast<size_t>(e)];
        if (c.coselection.empty())
          continue;
        for (int64_t l = 0; l < k; ++l) {
          int64_t f = row[l * columnStride];
          if (l != j && f >= 0 && f < experts && f != e)
            ++c.coselection[static_cast<size_t>(e * experts + f)];
        }
      }
    }
    return;
  }
}

const SiteCounts *RoutingRecorder::find(const std::string &name,
                                        size_t index) const {
  auto it = functions_.find(name);
  if (it == functions_.end() || index >= it->second.size())
    return nullptr;
  return &it->second[index];
}

std::string RoutingRecorder::toJson(const moert_artifact_s &artifact) const {
  auto integers = [](const int64_t *begin, size_t n) {
    json::Value list = json::Value::array();
    for (size_t i = 0; i < n; ++i)
      list.push(json::Value::integer(begin[i]));
    return list;
  };
  // One layer per line: the counts stay readable as rows.
  std::string layers;
  for (const Function &fn : artifact.functions) {
    for (size_t i = 0; i < fn.routingSites.size(); ++i) {
      const SiteCounts *c = find(fn.name, i);
      if (!c || c->calls == 0)
        continue; // a layer that did not run says nothing of its load
      const RoutingSite &s = fn.routingSites[i];
      json::Value layer = json::Value::object();
      layer.set("function", json::Value::string(fn.name));
      layer.set("site", json::Value::integer(s.site));
      layer.set("experts", json::Value::integer(s.experts));
      layer.set("k", json::Value::integer(s.k));
      layer.set("calls", json::Value::integer(c->calls));
      layer.set("tokens", json::Value::integer(c->tokens));
      layer.set("counts", integers(c->experts.data(), c->experts.size()));
      if (c->invalid)
        layer.set("invalid", json::Value::integer(c->invalid));
      if (!c->coselection.empty()) {
        json::Value rows = json::Value::array();
        size_t e = c->experts.size();
        for (size_t a = 0; a < e; ++a)
          rows.push(integers(c->coselection.data() + a * e, e));
        layer.set("coselection", std::move(rows));
      }
      layers += (layers.empty() ? "\n  " : ",\n  ") + json::write(layer);
    }
  }
  return "{\"format\": \"moec-routing-statistics\", \"version\": 1,\n"
         " \"artifact\": " +
         json::write(json::Value::string(artifact.path)) + ",\n \"layers\": [" +
         layers + "\n]}\n";
}

std::vector<int64_t>
RoutingRecorder::flatten(std::vector<bool> *isCalls) const {
  std::vector<int64_t> values;
  auto mark = [&](bool calls) {
    if (isCalls)
      isCalls->push_back(calls);
  };
  for (const auto &[name, sites] : functions_) {
    for (const SiteCounts &c : sites) {
      values.push_back(c.calls);
      mark(true);
      for (int64_t v : {c.tokens, c.invalid}) {
        values.push_back(v);
        mark(false);
      }
      for (const std::vector<int64_t> *list : {&c.experts, &c.coselection})
        for (int64_t v : *list) {
          values.push_back(v);
          mark(false);
        }
    }
  }
  return values;
}

void RoutingRecorder::assign(const std::vector<int64_t> &values) {
  size_t at = 0;
  auto next = [&]() { return at < values.size() ? values[at++] : 0; };
  for (auto &[name, sites] : functions_) {
    for (SiteCounts &c : sites) {
      c.calls = next();
      c.tokens = next();
      c.invalid = next();
      for (std::vector<int64_t> *list : {&c.experts, &c.coselection})
        for (int64_t &v : *list)
          v = next();
    }
  }
}

RoutingScope::RoutingScope(RoutingRecorder *recorder, const Function &fn) {
  Context &c = current();
  previous_[0] = c.recorder;
  previous_[1] = const_cast<Function *>(c.fn);
  c.recorder = recorder && recorder->active() ? recorder : nullptr;
  c.fn = &fn;
}

RoutingScope::~RoutingScope() {
  Context &c = current();
  c.recorder = static_cast<RoutingRecorder *>(previous_[0]);
  c.fn = static_cast<const Function *>(previous_[1]);
}

extern "C" void moert_record_routing(int64_t site, const int32_t *indices,
                                     int64_t tokens, int64_t k,
                                     int64_t rowStride, int64_t columnStride) {
  Context &c = current();
  if (c.recorder && c.fn)
    c.recorder->record(*c.fn, site, indices, tokens, k, rowStride,
                       columnStride);
}

namespace {
/// Sums `values` over the ranks of `table`, the calls (`isCalls`) taking
/// the largest of the ranks' instead; "" or the collectives' message.
/// Exchanged in blocks of at most 1 MiB per rank, so that neither the
/// buffers nor an engine's count limit grow with E x E co-selection.
std::string sumOverRanks(const moert_collectives_t &table,
                         std::vector<int64_t> &values,
                         const std::vector<bool> &isCalls) {
  char error[512] = "";
  // Ranks recording other sites or flags would add unrelated counts.
  uint64_t layout = 1469598103934665603ull;
  for (bool calls : isCalls)
    layout = (layout ^ (calls ? 2 : 1)) * 1099511628211ull;
  if (table.agree(table.context, layout, "the layout of the routing counts",
                  error, sizeof error))
    return error;
  const size_t ranks = static_cast<size_t>(table.size);
  const size_t block = (size_t(1) << 20) / sizeof(int64_t);
  std::vector<int64_t> send, recv, sums(values.size());
  for (size_t begin = 0; begin < values.size(); begin += block) {
    size_t n = std::min(block, values.size() - begin);
    send.resize(ranks * n);
    recv.assign(ranks * n, 0);
    for (size_t r = 0; r < ranks; ++r)
      std::copy_n(values.begin() + begin, n, send.begin() + r * n);
    if (table.all_to_all(table.context, send.data(), recv.data(),
                         static_cast<int64_t>(n * sizeof(int64_t)), error,
                         sizeof error))
      return error;
    for (size_t i = 0; i < n; ++i) {
      int64_t total = 0;
      for (size_t r = 0; r < ranks; ++r) {
        int64_t v = recv[r * n + i];
        total = isCalls[begin + i] ? std::max(total, v) : total + v;
      }
      sums[begin + i] = total;
    }
  }
  values = std::move(sums);
  return "";
}
} // namespace

namespace {
/// The site `index` of `function`, or a status saying why there is none.
moert_status_t findSite(const moert_artifact_s *artifact, const char *function,
                        int32_t index, const RoutingSite *&out) {
  if (!artifact || !function)
    return makeStatus(MOERT_INVALID_ARGUMENT, "artifact or function is null");
  const Function *fn = artifact->find(function);
  if (!fn)
    return makeStatus(MOERT_NOT_FOUND,
                      std::string("no function '") + function + "'");
  if (index < 0 || static_cast<size_t>(index) >= fn->routingSites.size())
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      "function '" + fn->name + "' has " +
                          std::to_string(fn->routingSites.size()) +
                          " routing site(s); index " + std::to_string(index) +
                          " is out of range");
  out = &fn->routingSites[static_cast<size_t>(index)];
  return nullptr;
}
} // namespace

extern "C" {

int32_t moert_artifact_routing_site_count(const moert_artifact_t *artifact,
                                          const char *function) {
  if (!artifact || !function)
    return -1;
  const Function *fn = artifact->find(function);
  return fn ? static_cast<int32_t>(fn->routingSites.size()) : -1;
}

moert_status_t moert_artifact_routing_site(const moert_artifact_t *artifact,
                                           const char *function, int32_t index,
                                           int64_t *out_experts,
                                           int64_t *out_k) {
  return guardEntry("moert_artifact_routing_site", [&]() -> moert_status_t {
    const RoutingSite *site = nullptr;
    if (moert_status_t st = findSite(artifact, function, index, site))
      return st;
    if (out_experts)
      *out_experts = site->experts;
    if (out_k)
      *out_k = site->k;
    return nullptr;
  });
}

moert_status_t moert_session_record_routing(moert_session_t *session,
                                            uint32_t flags) {
  return guardEntry("moert_session_record_routing", [&]() -> moert_status_t {
    if (!session)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_record_routing"))
      return st;
    if (flags & ~uint32_t(MOERT_ROUTING_COUNTS | MOERT_ROUTING_COSELECTION))
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        "unknown routing flags " + std::to_string(flags));
    if (flags == MOERT_ROUTING_OFF) {
      session->routing.stop();
      return nullptr;
    }
    if (std::string err = session->routing.start(
            *session->artifact, flags & MOERT_ROUTING_COSELECTION);
        !err.empty())
      return makeStatus(MOERT_FAILED_PRECONDITION, err);
    return nullptr;
  });
}

moert_status_t moert_session_routing_counts(
    const moert_session_t *session, const char *function, int32_t index,
    int64_t *out_calls, int64_t *out_tokens, int64_t *counts,
    int64_t num_experts, int64_t *coselection) {
  return guardEntry("moert_session_routing_counts", [&]() -> moert_status_t {
    if (!session)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
    const RoutingSite *site = nullptr;
    if (moert_status_t st = findSite(session->artifact, function, index, site))
      return st;
    if ((counts || coselection) && num_experts != site->experts)
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        std::string("routing site ") + std::to_string(index) +
                            " of '" + function + "' has " +
                            std::to_string(site->experts) +
                            " experts; the buffers have room for " +
                            std::to_string(num_experts));
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_routing_counts"))
      return st;
    if (!session->routing.started())
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "the session has not recorded routing "
                        "(moert_session_record_routing)");
    const SiteCounts *c =
        session->routing.find(function, static_cast<size_t>(index));
    // Checked before anything is written.
    if (coselection && c->coselection.empty())
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "co-selection was not recorded "
                        "(MOERT_ROUTING_COSELECTION)");
    if (out_calls)
      *out_calls = c->calls;
    if (out_tokens)
      *out_tokens = c->tokens;
    if (counts)
      std::copy(c->experts.begin(), c->experts.end(), counts);
    if (coselection)
      std::copy(c->coselection.begin(), c->coselection.end(), coselection);
    return nullptr;
  });
}

moert_status_t moert_session_write_routing(const moert_session_t *session,
                                           const char *path) {
  return guardEntry("moert_session_write_routing", [&]() -> moert_status_t {
    if (!session || !path)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session or path is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_write_routing"))
      return st;
    if (!session->routing.started())
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "the session has not recorded routing "
                        "(moert_session_record_routing)");
    std::string text = session->routing.toJson(*session->artifact);
    // Written to a fresh file next to it and renamed over it: never a
    // partial file, and no two writers share a temporary.
    std::string tmp = std::string(path) + ".tmp-XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0)
      return makeStatus(MOERT_IO_ERROR,
                        std::string("cannot write routing statistics to '") +
                            path + "'");
    FILE *f = ::fdopen(fd, "wb");
    if (!f)
      ::close(fd);
    bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = f && std::fclose(f) == 0 && ok;
    if (ok && std::rename(tmp.c_str(), path) == 0)
      return nullptr;
    std::remove(tmp.c_str());
    return makeStatus(MOERT_IO_ERROR,
                      std::string("cannot write routing statistics to '") +
                          path + "'");
  });
}

moert_status_t moert_session_reduce_routing(moert_session_t *session) {
  return guardEntry("moert_session_reduce_routing", [&]() -> moert_status_t {
    if (!session)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_reduce_routing"))
      return st;
    if (!session->routing.started())
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "the session has not recorded routing "
                        "(moert_session_record_routing)");
    if (!session->group.set)
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "the session has no expert-parallel group to sum "
                        "the routing over (moert_session_set_collectives)");
    std::vector<bool> isCalls;
    std::vector<int64_t> values = session->routing.flatten(&isCalls);
    if (std::string err = sumOverRanks(session->group.table, values, isCalls);
        !err.empty())
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        "summing the routing statistics over the ranks: " +
                            err);
    session->routing.assign(values);
    return nullptr;
  });
}

} // extern "C"
