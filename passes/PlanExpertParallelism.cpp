//===- PlanExpertParallelism.cpp - moe-plan-expert-parallelism ------------===//
//
// Places every moe.layer's experts on the ranks of a shard.grid with the
// planner of parallel/Placement.h, from routing statistics or a uniform
// load, records the plan as #moe.expert_placement and reports its
// predicted balance and traffic as a remark.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "parallel/Placement.h"
#include "parallel/Statistics.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/Support/Format.h"

#include <map>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPLANEXPERTPARALLELISM
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;
namespace par = ::moe::parallel;

namespace {

/// The ranks a plan is made for.
struct Machine {
  FlatSymbolRefAttr grid;
  int64_t nodes = 1, ranksPerNode = 1;
  int64_t ranks() const { return nodes * ranksPerNode; }
};

/// Bytes of a tensor of `type` (static shape) as stored: block-quantized
/// rows in their blocks' bytes.
double storedBytes(RankedTensorType type) {
  if (auto quant = dyn_cast<QuantizedType>(type.getElementType()))
    return double(type.getNumElements() / type.getShape().back()) *
           double(quant.getRowBytes(type.getShape().back()));
  return double(type.getNumElements()) *
         double(std::max<int64_t>(
             1, type.getElementType().getIntOrFloatBitWidth() / 8));
}

/// Weight bytes of one expert of `layer`: its slices of the expert weights
/// and biases (everything with a leading expert dimension).
double bytesPerExpert(LayerOp layer) {
  double bytes = 0;
  for (Value v : layer.getExpertOperands()) {
    auto type = cast<RankedTensorType>(v.getType());
    if (!type.hasStaticShape() || type.getRank() < 1 || type.getDimSize(0) == 0)
      continue;
    bytes += storedBytes(type) / double(type.getDimSize(0));
  }
  return bytes;
}

/// `value` printed with printf's `format`.
std::string formatted(const char *format, double value) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format(format, value);
  return s;
}

std::string mib(double bytes) {
  return formatted("%.2f MiB", bytes / (1024.0 * 1024.0));
}

struct MoEPlanExpertParallelismPass
    : mlir::moe::impl::MoEPlanExpertParallelismBase<
          MoEPlanExpertParallelismPass> {
  using Base::Base;

  /// The grid named by the options, created when missing.
  FailureOr<Machine> resolveGrid(ModuleOp module) {
    // The options' values (an option object prints nothing).
    std::string grid = this->grid;
    int64_t ranks = this->ranks, ranksPerNode = this->ranksPerNode;
    Machine m;
    m.grid = FlatSymbolRefAttr::get(&getContext(), grid);
    auto existing = module.lookupSymbol<shard::GridOp>(grid);
    if (!existing) {
      if (Operation *other = module.lookupSymbol(grid))
        return other->emitError("moe-plan-expert-parallelism: '")
               << grid << "' is not a shard.grid";
      if (ranks < 1)
        return module.emitError("moe-plan-expert-parallelism: the module has "
                                "no shard.grid @")
               << grid << "; give ranks=N to create one";
      if (ranks > par::kMaxSlots || ranksPerNode > par::kMaxSlots)
        return module.emitError("moe-plan-expert-parallelism: at most ")
               << par::kMaxSlots << " ranks";
      int64_t perNode = ranksPerNode > 0 ? ranksPerNode : ranks;
      if (ranks % perNode)
        return module.emitError("moe-plan-expert-parallelism: ")
               << ranks << " ranks do not split into nodes of " << perNode;
      m.ranksPerNode = perNode;
      m.nodes = ranks / perNode;
      SmallVector<int64_t> shape = m.nodes > 1
                                       ? SmallVector<int64_t>{m.nodes, perNode}
                                       : SmallVector<int64_t>{ranks};
      OpBuilder b(module.getBodyRegion());
      shard::GridOp::create(b, module.getLoc(), grid, shape);
      return m;
    }
    ArrayRef<int64_t> shape = existing.getShape();
    int64_t devices = 1;
    for (int64_t size : shape) {
      if (ShapedType::isDynamic(size))
        return existing.emitError("moe-plan-expert-parallelism: the grid's "
                                  "shape must be static");
      if (size < 1 || size > par::kMaxSlots ||
          __builtin_mul_overflow(devices, size, &devices) ||
          devices > par::kMaxSlots)
        return existing.emitError("moe-plan-expert-parallelism: the grid "
                                  "must have 1 to ")
               << par::kMaxSlots << " devices";
    }
    if (ranks > 0 && ranks != devices)
      return existing.emitError("moe-plan-expert-parallelism: ranks=")
             << ranks << ", but the grid has " << devices << " devices";
    int64_t perNode = shape.size() == 2 ? shape[1] : devices;
    if (ranksPerNode > 0) {
      if (shape.size() == 2 && ranksPerNode != shape[1])
        return existing.emitError("moe-plan-expert-parallelism: "
                                  "ranks-per-node=")
               << ranksPerNode << ", but the grid's nodes have " << shape[1]
               << " ranks";
      perNode = ranksPerNode;
    }
    if (devices < 1 || devices % perNode)
      return existing.emitError("moe-plan-expert-parallelism: ")
             << devices << " devices do not split into nodes of " << perNode;
    m.ranksPerNode = perNode;
    m.nodes = devices / perNode;
    return m;
  }

  /// Plans `layer`, the `site`-th layer of function `fn`.
  LogicalResult planLayer(LayerOp layer, StringRef fn, int64_t site,
                          const Machine &m,
                          const par::RoutingStatistics *stats) {
    int64_t experts = layer.getNumExperts();
    if (ShapedType::isDynamic(experts))
      return layer.emitError("cannot plan expert parallelism for a layer "
                             "whose expert count is dynamic");
    std::vector<double> load(size_t(experts), 1.0);
    if (stats) {
      if (const par::LayerStatistics *l = stats->find(fn.str(), site)) {
        if (l->experts != experts)
          return layer.emitError("the routing statistics of '")
                 << fn << "' site " << site << " count " << l->experts
                 << " experts, the layer has " << experts;
        load = l->counts;
      } else {
        layer.emitWarning("no routing statistics for '")
            << fn << "' site " << site << "; planned for a uniform load";
      }
    }
    RoutingAttr routing = layer.getRouting();
    par::PlacementProblem problem;
    problem.experts = experts;
    problem.groups = routing.getNGroup();
    problem.nodes = m.nodes;
    problem.ranksPerNode = m.ranksPerNode;
    problem.slotsPerRank = slotsPerRank > 0
                               ? int64_t(slotsPerRank)
                               : (experts + m.ranks() - 1) / m.ranks();
    problem.allowCrossNodeReplicas = crossNodeReplicas;
    switch (strategy) {
    case EpStrategy::Auto:
      problem.strategy = routing.isGroupLimited() && m.nodes > 1 &&
                                 problem.groups % m.nodes == 0
                             ? par::Strategy::Hierarchical
                             : par::Strategy::Global;
      break;
    case EpStrategy::Hierarchical:
      problem.strategy = par::Strategy::Hierarchical;
      break;
    case EpStrategy::Global:
      problem.strategy = par::Strategy::Global;
      break;
    case EpStrategy::Contiguous:
      problem.strategy = par::Strategy::Contiguous;
      break;
    }
    par::Placement plan;
    if (std::string err = par::planPlacement(problem, load, plan); !err.empty())
      return layer.emitError("cannot plan expert parallelism: ") << err;

    SmallVector<int64_t> logToPhys;
    for (const std::vector<int64_t> &slots : plan.logToPhys)
      logToPhys.append(slots.begin(), slots.end());
    auto attr = ExpertPlacementAttr::get(&getContext(), m.grid, m.ranksPerNode,
                                         problem.slotsPerRank, plan.physToLog,
                                         plan.replicas, logToPhys);
    layer->setAttr(MoEDialect::kExpertPlacementAttrName, attr);

    auto hidden = cast<RankedTensorType>(layer.getHidden().getType());
    par::TrafficModel model;
    model.tokens = double(tokens);
    model.topK = routing.getK();
    model.hidden = hidden.getDimSize(1);
    model.bytesPerElement = std::max<int64_t>(
        1, hidden.getElementType().getIntOrFloatBitWidth() / 8);
    model.bytesPerExpert = bytesPerExpert(layer);
    par::TrafficEstimate traffic =
        par::estimateTraffic(problem, plan, load, model);
    InFlightDiagnostic remark = layer.emitRemark("expert placement (")
                                << par::strategyName(problem.strategy)
                                << "): " << experts << " experts on "
                                << m.ranks() << " ranks";
    if (m.nodes > 1)
      remark << " (" << m.nodes << " nodes of " << m.ranksPerNode << ")";
    remark << " x " << problem.slotsPerRank << " slots, "
           << problem.slots() - experts << " replicas";
    if (plan.crossNodeReplicas)
      remark << " (" << plan.crossNodeReplicas << " off their node)";
    remark << "; predicted balance " << formatted("%.3f", plan.balance)
           << " (max/mean tokens per rank); all-to-all per rank for "
           << int64_t(tokens) << " tokens: " << mib(traffic.maxRankBytes)
           << " max, " << mib(traffic.meanRankBytes) << " mean; expert "
           << "weights " << mib(traffic.expertBytesPerRank) << " per rank";
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<func::FuncOp, SmallVector<LayerOp>>> layers;
    for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
      SmallVector<LayerOp> inFn;
      fn.walk([&](LayerOp layer) { inFn.push_back(layer); });
      if (!inFn.empty())
        layers.push_back({fn, std::move(inFn)});
    }
    if (layers.empty())
      return;
    std::optional<par::RoutingStatistics> stats;
    for (const std::string &path : statistics) {
      par::RoutingStatistics file;
      if (std::string err = par::readRoutingStatistics(path, file);
          !err.empty()) {
        module.emitError("moe-plan-expert-parallelism: ") << err;
        return signalPassFailure();
      }
      if (!stats) {
        stats = std::move(file);
      } else if (std::string err = par::mergeRoutingStatistics(file, *stats);
                 !err.empty()) {
        module.emitError("moe-plan-expert-parallelism: ") << err;
        return signalPassFailure();
      }
    }
    FailureOr<Machine> machine = resolveGrid(module);
    if (failed(machine))
      return signalPassFailure();
    bool failedAny = false;
    for (auto &[fn, inFn] : layers)
      for (auto [site, layer] : llvm::enumerate(inFn))
        failedAny |= failed(planLayer(layer, fn.getName(), int64_t(site),
                                      *machine, stats ? &*stats : nullptr));
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
