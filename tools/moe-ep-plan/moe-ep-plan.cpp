//===- moe-ep-plan.cpp - expert-parallel plans of a model at scale --------===//
//
// Builds the moe.layer IR of a model's MoE layers (DeepSeek-V3's or
// Qwen3-235B-A22B's shapes, or a module given as a file), gives every layer
// a load (routing statistics files, or tokens sampled from a Zipf-skewed
// router), runs moe-plan-expert-parallelism for each expert-parallel size
// and number of redundant slots, and prints what the plans predict: the
// balance (max over mean tokens per rank) over the layers, the all-to-all
// bytes per rank, the cross-node bytes per token and the expert weight
// bytes per rank (docs/ExpertParallelism.md).
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "parallel/LoadModel.h"
#include "parallel/Placement.h"
#include "parallel/Statistics.h"
#include "passes/Passes.h"
#include "runtime/support/Json.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <fstream>
#include <sstream>

using namespace mlir;
using namespace mlir::moe;
namespace cl = llvm::cl;
namespace par = ::moe::parallel;
namespace json = ::moe::json;

namespace {

cl::OptionCategory category("moe-ep-plan options");
cl::opt<std::string> model(
    "model",
    cl::desc("deepseek-v3 (256 experts in 8 groups, top-8 of the best 4 "
             "groups, d 7168, f 2048, 58 MoE layers), qwen3-235b-a22b (128 "
             "experts, top-8, d 4096, f 1536, 94 layers), or a .mlir file "
             "of moe.layer functions"),
    cl::init("deepseek-v3"), cl::cat(category));
cl::list<std::string>
    statistics("statistics",
               cl::desc("Routing statistics files (moe-run "
                        "--record-routing), summed, instead of sampled loads"),
               cl::cat(category));
cl::opt<double> zipf("zipf",
                     cl::desc("Exponent of the Zipf law of expert popularity "
                              "for sampled loads (0: uniform)"),
                     cl::init(1.0), cl::cat(category));
cl::opt<unsigned> seed("seed", cl::desc("Seed of the sampled loads"),
                       cl::init(1), cl::cat(category));
cl::opt<int64_t> tokens("tokens",
                        cl::desc("Tokens of one batch over all ranks: the "
                                 "sample size and the traffic's batch"),
                        cl::init(4096), cl::cat(category));
cl::list<int64_t> eps("ep", cl::desc("Expert-parallel sizes (ranks)"),
                      cl::CommaSeparated, cl::cat(category));
cl::list<int64_t> redundant("redundant",
                            cl::desc("Redundant expert slots (over all ranks)"),
                            cl::CommaSeparated, cl::cat(category));
cl::opt<int64_t> ranksPerNode("ranks-per-node",
                              cl::desc("Ranks per node (at most the EP size)"),
                              cl::init(8), cl::cat(category));
cl::opt<std::string>
    strategy("strategy",
             cl::desc("auto, hierarchical, global or contiguous (the pass's "
                      "strategy option)"),
             cl::init("auto"), cl::cat(category));
cl::opt<bool> crossNode("cross-node-replicas",
                        cl::desc("hierarchical: let redundant replicas leave "
                                 "their group's node"),
                        cl::init(false), cl::cat(category));

struct Shape {
  const char *name;
  int64_t experts, groups, topkGroup, k, hidden, ffn, layers;
  const char *routing;
};
constexpr Shape kShapes[] = {
    {"deepseek-v3", 256, 8, 4, 8, 7168, 2048, 58,
     "k = 8, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 8, "
     "topk_group = 4, group_score = top2_sum"},
    {"qwen3-235b-a22b", 128, 1, 1, 8, 4096, 1536, 94,
     "k = 8, renormalize = true"},
};

int fail(const std::string &msg) {
  llvm::errs() << "moe-ep-plan: error: " << msg << "\n";
  return 1;
}

/// The IR of `s`: one function per MoE layer, bf16 weights.
std::string layersOf(const Shape &s) {
  std::ostringstream ir;
  auto t = [](std::initializer_list<int64_t> dims) {
    std::string text = "tensor<";
    for (int64_t d : dims)
      text += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
    return text + "bf16>";
  };
  std::string x = t({-1, s.hidden}), wr = t({s.experts, s.hidden}),
              wu = t({s.experts, s.ffn, s.hidden}),
              wd = t({s.experts, s.hidden, s.ffn});
  for (int64_t l = 0; l < s.layers; ++l)
    ir << "func.func @layer_" << l << "(%x: " << x << ", %wr: " << wr
       << ", %wg: " << wu << ", %wu: " << wu << ", %wd: " << wd << ") -> " << x
       << " {\n  %y = moe.layer %x router_weight(%wr : " << wr
       << ") gate(%wg : " << wu << ") up(%wu : " << wu << ") down(%wd : " << wd
       << ") routing(#moe.routing<" << s.routing
       << ">) activation(#moe.activation<swiglu>) : " << x
       << "\n  return %y : " << x << "\n}\n";
  return ir.str();
}

/// The layers the pass plans, in its order: those of top-level functions,
/// each with its position in its function (its routing site).
std::vector<std::pair<LayerOp, int64_t>> plannedLayers(ModuleOp module) {
  std::vector<std::pair<LayerOp, int64_t>> layers;
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    int64_t site = 0;
    fn.walk([&](LayerOp l) { layers.push_back({l, site++}); });
  }
  return layers;
}

struct LayerLoad {
  std::string function;
  int64_t site = 0;
  std::vector<double> counts;
  std::vector<int64_t> selections; // sampled, token-major; empty otherwise
  int64_t k = 0;
};

/// Writes `loads` as a routing statistics file at `path`.
std::string writeStatistics(const std::string &path,
                            const std::vector<LayerLoad> &loads) {
  std::ofstream out(path);
  out << "{\"format\": \"moec-routing-statistics\", \"version\": 1,\n"
         " \"layers\": [";
  for (size_t i = 0; i < loads.size(); ++i) {
    json::Value layer = json::Value::object(), counts = json::Value::array();
    for (double c : loads[i].counts)
      counts.push(json::Value::integer(int64_t(c)));
    layer.set("function", json::Value::string(loads[i].function));
    layer.set("site", json::Value::integer(loads[i].site));
    layer.set("experts", json::Value::integer(int64_t(loads[i].counts.size())));
    layer.set("k", json::Value::integer(loads[i].k));
    layer.set("calls", json::Value::integer(1));
    layer.set("tokens", json::Value::integer(tokens));
    layer.set("counts", std::move(counts));
    out << (i ? ",\n  " : "\n  ") << json::write(layer);
  }
  out << "\n]}\n";
  return out.good() ? "" : "cannot write '" + path + "'";
}

/// Removes the sampled loads' file however main returns.
struct RemoveFile {
  std::string path;
  ~RemoveFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

struct Row {
  double meanBalance = 0, worstBalance = 0, maxRankMiB = 0, crossNodeKiB = 0,
         expertGiB = 0;
};

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "moe-ep-plan: expert-parallel plans of a model's MoE layers at scale\n\n"
      "Runs moe-plan-expert-parallelism for every EP size (--ep, default "
      "8,16,32,64,128,256) and number of redundant slots (--redundant, "
      "default 0,16,32,64; combinations whose slots do not split evenly "
      "over the ranks are left out) and prints, over the layers, the mean "
      "and worst predicted balance (max/mean tokens per rank), the "
      "all-to-all MiB of the busiest rank per layer (mean over layers), the "
      "cross-node KiB per token with each token sent once per node it "
      "reaches (sampled loads only), and the expert weight GiB per rank "
      "(all layers, bf16).\n");
  std::vector<int64_t> epList(eps.begin(), eps.end());
  if (epList.empty())
    epList = {8, 16, 32, 64, 128, 256};
  std::vector<int64_t> redundantList(redundant.begin(), redundant.end());
  if (redundantList.empty())
    redundantList = {0, 16, 32, 64};
  if (tokens < 1)
    return fail("--tokens must be positive");
  std::optional<EpStrategy> strategyValue =
      llvm::StringSwitch<std::optional<EpStrategy>>(strategy)
          .Case("auto", EpStrategy::Auto)
          .Case("hierarchical", EpStrategy::Hierarchical)
          .Case("global", EpStrategy::Global)
          .Case("contiguous", EpStrategy::Contiguous)
          .Default(std::nullopt);
  if (!strategyValue)
    return fail("--strategy must be auto, hierarchical, global or "
                "contiguous, not '" +
                strategy + "'");

  DialectRegistry registry;
  registry.insert<MoEDialect, func::FuncDialect, shard::ShardDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  const Shape *shape = nullptr;
  for (const Shape &s : kShapes)
    if (model == s.name)
      shape = &s;
  OwningOpRef<ModuleOp> module;
  if (shape) {
    module = parseSourceString<ModuleOp>(layersOf(*shape), &context);
  } else {
    module = parseSourceFile<ModuleOp>(model, &context);
  }
  if (!module)
    return fail("cannot read the layers of '" + model + "'");

  // Every layer's load: from statistics, or sampled.
  std::vector<LayerLoad> loads;
  std::vector<std::pair<LayerOp, int64_t>> planned = plannedLayers(*module);
  std::vector<LayerOp> layers;
  for (auto &[layer, site] : planned) {
    if (ShapedType::isDynamic(layer.getNumExperts()))
      return fail("a layer of '" + model + "' has a dynamic expert count");
    layers.push_back(layer);
  }
  if (layers.empty())
    return fail("'" + model + "' has no moe.layer");
  std::string statsPath;
  RemoveFile removeAtExit;
  std::vector<std::string> statsFiles(statistics.begin(), statistics.end());
  if (statsFiles.empty()) {
    std::vector<std::vector<int64_t>> rankings = par::layerRankings(
        layers.front().getNumExperts(), int64_t(layers.size()), seed);
    par::Rng rng(seed);
    for (auto [i, layer] : llvm::enumerate(layers)) {
      if (layer.getNumExperts() != int64_t(rankings[i].size()))
        return fail("sampled loads need layers of one expert count");
      RoutingAttr r = layer.getRouting();
      std::vector<double> p = par::zipfProbabilities(rankings[i], zipf);
      par::SampledRouting sample =
          par::sampleRouting(p, tokens, r.getK(), r.getNGroup(),
                             r.isGroupLimited() ? r.getTopkGroup() : 0, rng);
      auto fn = layer->getParentOfType<func::FuncOp>();
      loads.push_back({fn.getName().str(), planned[i].second, sample.counts,
                       std::move(sample.selections), r.getK()});
    }
    llvm::SmallString<128> tmp;
    if (llvm::sys::fs::createTemporaryFile("moe-ep-plan", "json", tmp))
      return fail("cannot create a temporary file");
    statsPath = tmp.str().str();
    removeAtExit.path = statsPath;
    if (std::string err = writeStatistics(statsPath, loads); !err.empty())
      return fail(err);
    statsFiles = {statsPath};
  } else {
    par::RoutingStatistics stats;
    for (const std::string &f : statsFiles) {
      par::RoutingStatistics one;
      if (std::string err = par::readRoutingStatistics(f, one); !err.empty())
        return fail(err);
      if (std::string err = par::mergeRoutingStatistics(one, stats);
          !err.empty())
        return fail(err);
    }
    for (auto &[layer, site] : planned) {
      auto fn = layer->getParentOfType<func::FuncOp>();
      const par::LayerStatistics *l = stats.find(fn.getName().str(), site);
      if (l && l->experts != layer.getNumExperts())
        return fail("the routing statistics of '" + fn.getName().str() +
                    "' site " + std::to_string(site) + " count " +
                    std::to_string(l->experts) + " experts, the layer has " +
                    std::to_string(layer.getNumExperts()));
      loads.push_back(
          {fn.getName().str(),
           site,
           l ? l->counts
             : std::vector<double>(size_t(layer.getNumExperts()), 1.0),
           {},
           layer.getRouting().getK()});
    }
  }

  llvm::outs() << "moe-ep-plan: " << model << ", " << layers.size()
               << " MoE layers, "
               << (statistics.empty()
                       ? "loads sampled from Zipf " +
                             std::to_string(zipf.getValue()).substr(0, 4) +
                             " over " + std::to_string(tokens) + " tokens"
                       : std::string("loads from routing statistics"))
               << ", " << ranksPerNode << " ranks per node\n";
  llvm::outs() << llvm::format(
      "%5s %9s %5s %-13s %8s %8s %12s %10s %10s\n", "EP", "redundant", "slots",
      "strategy", "balance", "worst", "a2a MiB max", "xnode KiB", "expert GiB");
  int status = 0;
  for (int64_t ep : epList) {
    for (int64_t extra : redundantList) {
      int64_t experts = layers.front().getNumExperts();
      if (ep < 1 || extra < 0 || (experts + extra) % ep)
        continue;
      int64_t perNode = std::min<int64_t>(ranksPerNode, ep);
      if (ep % perNode)
        continue;
      OwningOpRef<ModuleOp> copy(module->clone());
      MoEPlanExpertParallelismOptions options;
      options.ranks = ep;
      options.ranksPerNode = perNode;
      options.slotsPerRank = (experts + extra) / ep;
      options.strategy = *strategyValue;
      options.crossNodeReplicas = crossNode;
      options.statistics.assign(statsFiles.begin(), statsFiles.end());
      options.tokens = tokens;
      PassManager pm(&context);
      pm.addPass(createMoEPlanExpertParallelism(options));
      std::string firstError;
      int64_t errorCount = 0;
      // The pass reports every layer; the table is the report here.
      ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
        if (d.getSeverity() == DiagnosticSeverity::Error && !errorCount++)
          firstError = d.str();
        return success();
      });
      if (failed(pm.run(*copy))) {
        llvm::outs() << llvm::format("%5lld %9lld  ", (long long)ep,
                                     (long long)extra)
                     << "error: " << firstError
                     << (errorCount > 1
                             ? " (and " + std::to_string(errorCount - 1) +
                                   " more)"
                             : std::string())
                     << "\n";
        status = 1;
        continue;
      }
      Row row;
      row.worstBalance = 0;
      size_t i = 0;
      double sumBalance = 0;
      for (auto &[layer, site] : plannedLayers(*copy)) {
        auto plan = layer->getAttrOfType<ExpertPlacementAttr>(
            MoEDialect::kExpertPlacementAttrName);
        par::PlacementProblem problem;
        problem.experts = plan.getNumExperts();
        problem.nodes = plan.getNumRanks() / plan.getRanksPerNode();
        problem.ranksPerNode = plan.getRanksPerNode();
        problem.slotsPerRank = plan.getSlotsPerRank();
        par::Placement p;
        p.physToLog.assign(plan.getPhysToLog().begin(),
                           plan.getPhysToLog().end());
        p.replicas.assign(plan.getReplicas().begin(), plan.getReplicas().end());
        ArrayRef<int64_t> flat = plan.getLogToPhys();
        for (int64_t e = 0, at = 0; e < problem.experts;
             at += p.replicas[size_t(e)], ++e)
          p.logToPhys.emplace_back(flat.begin() + at,
                                   flat.begin() + at + p.replicas[size_t(e)]);
        const LayerLoad &load = loads[i++];
        double balance = par::balanceOf(problem, p, load.counts);
        sumBalance += balance;
        row.worstBalance = std::max(row.worstBalance, balance);
        par::TrafficModel traffic;
        traffic.tokens = double(tokens);
        traffic.topK = load.k;
        traffic.hidden =
            cast<RankedTensorType>(layer.getHidden().getType()).getDimSize(1);
        traffic.bytesPerElement = 2;
        traffic.bytesPerExpert =
            3.0 * double(traffic.hidden) *
            double(cast<RankedTensorType>(layer.getDown().getType())
                       .getDimSize(2)) *
            2;
        par::TrafficEstimate t =
            par::estimateTraffic(problem, p, load.counts, traffic);
        row.maxRankMiB += t.maxRankBytes / (1024.0 * 1024.0);
        row.expertGiB += t.expertBytesPerRank / (1024.0 * 1024.0 * 1024.0);
        if (!load.selections.empty())
          row.crossNodeKiB +=
              par::nodeDedupCrossNodeBytesPerToken(problem, p, load.selections,
                                                   load.k, traffic) /
              1024.0;
      }
      double n = double(loads.size());
      row.meanBalance = sumBalance / n;
      row.maxRankMiB /= n;
      row.crossNodeKiB /= n;
      std::string strategyName = strategy, crossNodeText = "-";
      if (statistics.empty()) {
        llvm::raw_string_ostream os(crossNodeText);
        crossNodeText.clear();
        os << llvm::format("%.1f", row.crossNodeKiB);
      }
      llvm::outs() << llvm::format(
          "%5lld %9lld %5lld %-13s %8.3f %8.3f %12.2f %10s %10.2f\n",
          (long long)ep, (long long)extra, (long long)((experts + extra) / ep),
          strategyName.c_str(), row.meanBalance, row.worstBalance,
          row.maxRankMiB, crossNodeText.c_str(), row.expertGiB);
    }
  }
  return status;
}
