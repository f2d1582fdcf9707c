//===- Placement.cpp - expert placement for expert parallelism ------------===//

#include "parallel/Placement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <utility>

namespace moe::parallel {

const char *strategyName(Strategy strategy) {
  switch (strategy) {
  case Strategy::Hierarchical:
    return "hierarchical";
  case Strategy::Global:
    return "global";
  case Strategy::Contiguous:
    return "contiguous";
  }
  return "unknown";
}

namespace {

std::string str(int64_t v) { return std::to_string(v); }

/// No pin: an item that may go to any bin.
constexpr int64_t kAnyBlock = -1;

/// Splits `extraSlots` redundant slots over experts with loads `loads`, one
/// at a time to the highest per-replica load (ties: lower index). Returns
/// the replica count of each (>= 1).
std::vector<int64_t> replicateGreedy(const std::vector<double> &loads,
                                     int64_t extraSlots) {
  std::vector<int64_t> replicas(loads.size(), 1);
  using Entry = std::pair<double, int64_t>; // (per-replica load, index)
  auto lower = [](const Entry &a, const Entry &b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower)> heap(lower);
  for (size_t i = 0; i < loads.size(); ++i)
    heap.push({loads[i], int64_t(i)});
  for (int64_t s = 0; s < extraSlots && !heap.empty(); ++s) {
    int64_t i = heap.top().second;
    heap.pop();
    ++replicas[size_t(i)];
    heap.push({loads[size_t(i)] / double(replicas[size_t(i)]), i});
  }
  return replicas;
}

/// What to pack: the load of each item, the block it is pinned to (kAnyBlock
/// if none) and the expert it is a replica of. With softPins, a pin only
/// says where the item starts: the expert must keep at least one item in
/// that block (its home), but any of its items may be the one.
struct PackInput {
  std::vector<double> load;
  std::vector<int64_t> pin;
  std::vector<int64_t> expert;
  bool softPins = false;
};

/// Balanced packing of weighted items into `bins` bins of exactly `perBin`
/// items each. The bins form `blocks` contiguous blocks (bins / blocks
/// each). Requires load.size() == bins * perBin and that the pinned items
/// of every block fit in it.
class Packer {
public:
  Packer(const PackInput &in, int64_t bins, int64_t perBin, int64_t blocks);

  /// Greedy: items in descending load (ties: lower index), each to the
  /// least-loaded bin (ties: lower index) that may take it.
  void greedy();
  /// Local search: swaps between the most loaded bin and another while that
  /// lowers the peak; stops at a local optimum.
  void refine();
  const std::vector<int64_t> &assignment() const { return binOf; }

private:
  int64_t blockOf(int64_t bin) const { return bin / binsPerBlock; }
  /// Whether `item` may move from its bin to `bin` in refine().
  bool mayMove(int64_t item, int64_t bin) const;
  void move(int64_t item, int64_t bin);
  /// Finds the swap between bin `peak` and another that minimizes the new
  /// peak of the pair, if it is below binLoad[peak]; applies it.
  bool improvePeak(int64_t peak);

  const PackInput &in;
  int64_t perBin, binsPerBlock;
  std::vector<double> binLoad;
  std::vector<std::vector<int64_t>> binItems;
  std::vector<int64_t> binOf;
  /// softPins: each expert's home block and its items there.
  std::vector<int64_t> home, atHome;
};

Packer::Packer(const PackInput &in, int64_t bins, int64_t perBin,
               int64_t blocks)
    : in(in), perBin(perBin), binsPerBlock(bins / blocks),
      binLoad(size_t(bins), 0.0), binItems(size_t(bins)),
      binOf(in.load.size(), -1) {
  if (!in.softPins)
    return;
  int64_t experts = 0;
  for (int64_t e : in.expert)
    experts = std::max(experts, e + 1);
  home.assign(size_t(experts), kAnyBlock);
  atHome.assign(size_t(experts), 0);
  for (size_t i = 0; i < in.pin.size(); ++i)
    if (in.pin[i] != kAnyBlock)
      home[size_t(in.expert[i])] = in.pin[i];
}

bool Packer::mayMove(int64_t item, int64_t bin) const {
  int64_t from = blockOf(binOf[size_t(item)]), to = blockOf(bin);
  if (from == to)
    return true;
  if (!in.softPins)
    return in.pin[size_t(item)] == kAnyBlock;
  size_t e = size_t(in.expert[size_t(item)]);
  return from != home[e] || atHome[e] >= 2;
}

void Packer::move(int64_t item, int64_t bin) {
  int64_t from = binOf[size_t(item)];
  double load = in.load[size_t(item)];
  if (from >= 0) {
    std::vector<int64_t> &items = binItems[size_t(from)];
    items.erase(std::find(items.begin(), items.end(), item));
    binLoad[size_t(from)] -= load;
  }
  binOf[size_t(item)] = bin;
  binItems[size_t(bin)].push_back(item);
  binLoad[size_t(bin)] += load;
  if (in.softPins) {
    size_t e = size_t(in.expert[size_t(item)]);
    atHome[e] +=
        (blockOf(bin) == home[e]) - (from >= 0 && blockOf(from) == home[e]);
  }
}

void Packer::greedy() {
  size_t blocks = binLoad.size() / size_t(binsPerBlock);
  // Free slots of each block, and how many of them its pinned items still
  // need: an unpinned item never takes a slot a pinned one needs.
  std::vector<int64_t> blockFree(blocks, binsPerBlock * perBin),
      blockPinned(blocks, 0);
  for (int64_t p : in.pin)
    if (p != kAnyBlock)
      ++blockPinned[size_t(p)];

  std::vector<int64_t> order(in.load.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    double la = in.load[size_t(a)], lb = in.load[size_t(b)];
    return la != lb ? la > lb : a < b;
  });
  for (int64_t item : order) {
    int64_t pin = in.pin[size_t(item)];
    int64_t best = -1;
    for (int64_t bin = 0; bin < int64_t(binLoad.size()); ++bin) {
      size_t block = size_t(blockOf(bin));
      bool allowed = pin == kAnyBlock ? blockFree[block] > blockPinned[block]
                                      : pin == int64_t(block);
      if (!allowed || int64_t(binItems[size_t(bin)].size()) == perBin)
        continue;
      if (best < 0 || binLoad[size_t(bin)] < binLoad[size_t(best)])
        best = bin;
    }
    move(item, best);
    --blockFree[size_t(blockOf(best))];
    if (pin != kAnyBlock)
      --blockPinned[size_t(pin)];
  }
}

bool Packer::improvePeak(int64_t peak) {
  double peakLoad = binLoad[size_t(peak)];
  double bestPeak = peakLoad * (1 - 1e-12);
  int64_t bestA = -1, bestB = -1;
  for (int64_t bin = 0; bin < int64_t(binLoad.size()); ++bin) {
    if (bin == peak)
      continue;
    for (int64_t a : binItems[size_t(peak)]) {
      if (!mayMove(a, bin))
        continue;
      for (int64_t b : binItems[size_t(bin)]) {
        double delta = in.load[size_t(a)] - in.load[size_t(b)];
        if (delta <= 0 || !mayMove(b, peak))
          continue;
        double newPeak =
            std::max(peakLoad - delta, binLoad[size_t(bin)] + delta);
        if (newPeak < bestPeak) {
          bestPeak = newPeak;
          bestA = a;
          bestB = b;
        }
      }
    }
  }
  if (bestA < 0)
    return false;
  int64_t other = binOf[size_t(bestB)];
  // a and b hold different experts (delta > 0), so each move keeps the
  // other's home count valid.
  move(bestA, other);
  move(bestB, peak);
  return true;
}

void Packer::refine() {
  // Each swap lowers the peak bin below its old load without raising another
  // to it, so the sorted load vector decreases; the cap is a safety net.
  int64_t maxSwaps = 16 * int64_t(in.load.size()) + 64;
  for (int64_t s = 0; s < maxSwaps; ++s) {
    int64_t peak = int64_t(std::max_element(binLoad.begin(), binLoad.end()) -
                           binLoad.begin());
    if (!improvePeak(peak))
      return;
  }
}

/// Packs and returns the bin of each item.
std::vector<int64_t> pack(const PackInput &in, int64_t bins, int64_t perBin,
                          int64_t blocks, bool refine) {
  Packer packer(in, bins, perBin, blocks);
  packer.greedy();
  if (refine)
    packer.refine();
  return packer.assignment();
}

/// Adds `count` replicas of expert `e` (of total load `w`) to `phys`: the
/// first pinned to block `homePin`, the others to `extraPin`.
void addReplicas(PackInput &phys, int64_t e, int64_t count, double w,
                 int64_t homePin, int64_t extraPin) {
  for (int64_t i = 0; i < count; ++i) {
    phys.expert.push_back(e);
    phys.load.push_back(w / double(count));
    phys.pin.push_back(i == 0 ? homePin : extraPin);
  }
}

/// Packs the physical experts `phys` onto the ranks (blocks = nodes) and
/// fills out.physToLog; a rank's slots hold its experts in ascending order.
void assignSlots(const PlacementProblem &problem, const PackInput &phys,
                 Placement &out) {
  std::vector<int64_t> rankOf =
      pack(phys, problem.ranks(), problem.slotsPerRank, problem.nodes,
           problem.refine);
  std::vector<std::vector<int64_t>> rankExperts(size_t(problem.ranks()));
  for (size_t i = 0; i < rankOf.size(); ++i)
    rankExperts[size_t(rankOf[i])].push_back(phys.expert[i]);
  out.physToLog.clear();
  for (std::vector<int64_t> &experts : rankExperts) {
    std::sort(experts.begin(), experts.end());
    out.physToLog.insert(out.physToLog.end(), experts.begin(), experts.end());
  }
}

/// The node of slot p.
int64_t nodeOfSlot(const PlacementProblem &problem, int64_t p) {
  return p / problem.slotsPerRank / problem.ranksPerNode;
}

/// Completes `out` from its physToLog (and groupNode): replicas,
/// logToPhys, crossNodeReplicas, rankLoad and balance.
void finish(const PlacementProblem &problem, const std::vector<double> &load,
            Placement &out) {
  out.replicas.assign(size_t(problem.experts), 0);
  out.logToPhys.assign(size_t(problem.experts), {});
  out.crossNodeReplicas = 0;
  for (int64_t p = 0; p < int64_t(out.physToLog.size()); ++p) {
    int64_t e = out.physToLog[size_t(p)];
    ++out.replicas[size_t(e)];
    out.logToPhys[size_t(e)].push_back(p);
    if (!out.groupNode.empty() &&
        nodeOfSlot(problem, p) !=
            out.groupNode[size_t(e / problem.expertsPerGroup())])
      ++out.crossNodeReplicas;
  }
  out.rankLoad = rankLoads(problem, out, load);
  out.balance = balanceOfLoads(out.rankLoad);
}

/// Hierarchical with allowCrossNodeReplicas, for given filler counts per
/// node. A node whose groups carry more than its share cannot shed load by
/// hosting replicas (those only add load); what sheds it is replicas of its
/// hot experts on other nodes. Since every node has exactly as many
/// redundant slots as the others, a hot node fills fillers[node] of its own
/// with second copies of its coldest experts, which leave its load as it is.
/// The other redundant slots are replicated greedily over all experts. Home
/// copies and fillers start on their group's node; the packer may then move
/// any replica as long as one copy of each expert stays home.
void planSpillWith(const PlacementProblem &problem,
                   const std::vector<double> &load,
                   const std::vector<int64_t> &nodeFillers, Placement &out) {
  int64_t perGroup = problem.expertsPerGroup();
  // Experts in ascending load (ties: lower index) to pick fillers from.
  std::vector<int64_t> coldFirst(size_t(problem.experts));
  std::iota(coldFirst.begin(), coldFirst.end(), int64_t(0));
  std::sort(coldFirst.begin(), coldFirst.end(), [&](int64_t a, int64_t b) {
    double la = load[size_t(a)], lb = load[size_t(b)];
    return la != lb ? la < lb : a < b;
  });
  std::vector<int64_t> fillers(size_t(problem.experts), 0);
  std::vector<int64_t> left = nodeFillers;
  int64_t numFillers = 0;
  for (int64_t e : coldFirst) {
    int64_t node = out.groupNode[size_t(e / perGroup)];
    if (left[size_t(node)] > 0) {
      --left[size_t(node)];
      ++fillers[size_t(e)];
      ++numFillers;
    }
  }

  std::vector<int64_t> replicas =
      replicateGreedy(load, problem.slots() - problem.experts - numFillers);
  PackInput phys;
  phys.softPins = true;
  for (int64_t e = 0; e < problem.experts; ++e) {
    int64_t home = out.groupNode[size_t(e / perGroup)];
    int64_t count = replicas[size_t(e)] + fillers[size_t(e)];
    for (int64_t i = 0; i < count; ++i) {
      phys.expert.push_back(e);
      phys.load.push_back(load[size_t(e)] / double(count));
      phys.pin.push_back(i <= fillers[size_t(e)] ? home : kAnyBlock);
    }
  }
  assignSlots(problem, phys, out);
  finish(problem, load, out);
}

/// Hierarchical with allowCrossNodeReplicas: starts without fillers, then
/// gives one more filler at a time to the node of the most loaded rank (up
/// to its redundant slots), keeping the best plan seen (at most nodes x
/// redundant-slots-per-node plans: the filler count is not monotone in
/// quality, so the search does not stop at the first plan that is worse).
void planSpill(const PlacementProblem &problem, const std::vector<double> &load,
               Placement &out) {
  int64_t spare = problem.ranksPerNode * problem.slotsPerRank -
                  problem.expertsPerGroup() * (problem.groups / problem.nodes);
  std::vector<int64_t> fillers(size_t(problem.nodes), 0);
  planSpillWith(problem, load, fillers, out);
  Placement trial = out;
  for (int64_t step = 0; step < problem.nodes * spare; ++step) {
    int64_t peakRank =
        int64_t(std::max_element(trial.rankLoad.begin(), trial.rankLoad.end()) -
                trial.rankLoad.begin());
    int64_t peakNode = peakRank / problem.ranksPerNode;
    if (fillers[size_t(peakNode)] == spare)
      break;
    ++fillers[size_t(peakNode)];
    planSpillWith(problem, load, fillers, trial);
    if (trial.balance < out.balance * (1 - 1e-12))
      out = trial;
  }
}

/// Hierarchical: groups to nodes, then replicas and packing within each
/// node (or planSpill()).
void planHierarchical(const PlacementProblem &problem,
                      const std::vector<double> &load, Placement &out) {
  int64_t perGroup = problem.expertsPerGroup();
  PackInput groups;
  groups.load.assign(size_t(problem.groups), 0.0);
  groups.pin.assign(size_t(problem.groups), kAnyBlock);
  for (int64_t e = 0; e < problem.experts; ++e)
    groups.load[size_t(e / perGroup)] += load[size_t(e)];
  out.groupNode = pack(groups, problem.nodes, problem.groups / problem.nodes, 1,
                       problem.refine);
  if (problem.allowCrossNodeReplicas)
    return planSpill(problem, load, out);

  PackInput phys;
  int64_t nodeSlots = problem.ranksPerNode * problem.slotsPerRank;
  for (int64_t node = 0; node < problem.nodes; ++node) {
    std::vector<int64_t> experts;
    std::vector<double> loads;
    for (int64_t e = 0; e < problem.experts; ++e) {
      if (out.groupNode[size_t(e / perGroup)] != node)
        continue;
      experts.push_back(e);
      loads.push_back(load[size_t(e)]);
    }
    std::vector<int64_t> replicas =
        replicateGreedy(loads, nodeSlots - int64_t(experts.size()));
    for (size_t i = 0; i < experts.size(); ++i)
      addReplicas(phys, experts[i], replicas[i], loads[i], node, node);
  }
  assignSlots(problem, phys, out);
  finish(problem, load, out);
}

void planGlobal(const PlacementProblem &problem,
                const std::vector<double> &load, Placement &out) {
  std::vector<int64_t> replicas =
      replicateGreedy(load, problem.slots() - problem.experts);
  PackInput phys;
  for (int64_t e = 0; e < problem.experts; ++e)
    addReplicas(phys, e, replicas[size_t(e)], load[size_t(e)], kAnyBlock,
                kAnyBlock);
  // One block: no pins.
  PlacementProblem flat = problem;
  flat.nodes = 1;
  flat.ranksPerNode = problem.ranks();
  assignSlots(flat, phys, out);
  finish(problem, load, out);
}

} // namespace

std::string checkProblem(const PlacementProblem &problem) {
  if (problem.experts < 1)
    return "experts must be >= 1, got " + str(problem.experts);
  if (problem.nodes < 1 || problem.ranksPerNode < 1)
    return "no ranks: " + str(problem.nodes) + " nodes x " +
           str(problem.ranksPerNode) + " ranks per node";
  if (problem.slotsPerRank < 1)
    return "slots per rank must be >= 1, got " + str(problem.slotsPerRank);
  // Each factor is at most kMaxSlots, so the products cannot overflow.
  for (int64_t v : {problem.experts, problem.nodes, problem.ranksPerNode,
                    problem.slotsPerRank})
    if (v > kMaxSlots)
      return "a plan has at most " + str(kMaxSlots) + " slots; got a factor " +
             "of " + str(v);
  if (problem.ranks() > kMaxSlots || problem.slots() > kMaxSlots)
    return str(problem.nodes) + " nodes x " + str(problem.ranksPerNode) +
           " ranks x " + str(problem.slotsPerRank) +
           " slots is more than the " + str(kMaxSlots) +
           " slots a plan may have";
  if (problem.slots() < problem.experts)
    return "slots per rank " + str(problem.slotsPerRank) + " x " +
           str(problem.ranks()) + " ranks = " + str(problem.slots()) + " < " +
           str(problem.experts) + " experts";
  if (problem.strategy == Strategy::Contiguous &&
      problem.slots() != problem.experts)
    return "contiguous placement has no replicas: slots per rank " +
           str(problem.slotsPerRank) + " x " + str(problem.ranks()) +
           " ranks = " + str(problem.slots()) + " != " + str(problem.experts) +
           " experts";
  if (problem.strategy != Strategy::Hierarchical)
    return "";
  if (problem.groups < 1 || problem.experts % problem.groups != 0)
    return str(problem.experts) + " experts do not split into " +
           str(problem.groups) + " equal groups";
  if (problem.groups % problem.nodes != 0)
    return str(problem.groups) + " groups do not split evenly over " +
           str(problem.nodes) +
           " nodes (hierarchical placement keeps each "
           "group on one node; use global placement)";
  int64_t nodeExperts =
      problem.experts / problem.groups * (problem.groups / problem.nodes);
  int64_t nodeSlots = problem.ranksPerNode * problem.slotsPerRank;
  if (nodeExperts > nodeSlots)
    return "a node's " + str(nodeExperts) + " experts do not fit in its " +
           str(nodeSlots) + " slots";
  return "";
}

std::string planPlacement(const PlacementProblem &problem,
                          const std::vector<double> &load, Placement &out) {
  if (std::string err = checkProblem(problem); !err.empty())
    return err;
  if (int64_t(load.size()) != problem.experts)
    return "load has " + str(int64_t(load.size())) + " entries for " +
           str(problem.experts) + " experts";
  for (size_t e = 0; e < load.size(); ++e)
    if (!std::isfinite(load[e]) || load[e] < 0)
      return "load of expert " + str(int64_t(e)) +
             " is not a finite non-negative number";

  out = Placement();
  switch (problem.strategy) {
  case Strategy::Hierarchical:
    planHierarchical(problem, load, out);
    break;
  case Strategy::Global:
    planGlobal(problem, load, out);
    break;
  case Strategy::Contiguous:
    out.physToLog.resize(size_t(problem.experts));
    std::iota(out.physToLog.begin(), out.physToLog.end(), int64_t(0));
    finish(problem, load, out);
    break;
  }
  return "";
}

std::string checkPlacement(const PlacementProblem &problem,
                           const Placement &placement) {
  if (std::string err = checkProblem(problem); !err.empty())
    return err;
  int64_t slots = problem.slots(), experts = problem.experts;
  if (int64_t(placement.physToLog.size()) != slots)
    return "physToLog has " + str(int64_t(placement.physToLog.size())) +
           " entries for " + str(slots) + " slots";
  if (int64_t(placement.replicas.size()) != experts ||
      int64_t(placement.logToPhys.size()) != experts)
    return "replicas and logToPhys need " + str(experts) + " entries, have " +
           str(int64_t(placement.replicas.size())) + " and " +
           str(int64_t(placement.logToPhys.size()));
  std::vector<int64_t> count(size_t(experts), 0);
  for (int64_t p = 0; p < slots; ++p) {
    int64_t e = placement.physToLog[size_t(p)];
    if (e < 0 || e >= experts)
      return "slot " + str(p) + " holds expert " + str(e) + ", out of range";
    ++count[size_t(e)];
  }
  std::vector<bool> listed(size_t(slots), false);
  for (int64_t e = 0; e < experts; ++e) {
    const std::vector<int64_t> &phys = placement.logToPhys[size_t(e)];
    if (count[size_t(e)] == 0)
      return "expert " + str(e) + " has no slot";
    if (placement.replicas[size_t(e)] != count[size_t(e)] ||
        int64_t(phys.size()) != count[size_t(e)])
      return "expert " + str(e) + " is in " + str(count[size_t(e)]) +
             " slots, but replicas says " + str(placement.replicas[size_t(e)]) +
             " and logToPhys lists " + str(int64_t(phys.size()));
    for (int64_t p : phys) {
      if (p < 0 || p >= slots || placement.physToLog[size_t(p)] != e)
        return "logToPhys of expert " + str(e) + " lists slot " + str(p) +
               ", which does not hold it";
      if (listed[size_t(p)])
        return "slot " + str(p) + " is listed twice";
      listed[size_t(p)] = true;
    }
  }
  if (problem.strategy == Strategy::Contiguous) {
    for (int64_t p = 0; p < slots; ++p)
      if (placement.physToLog[size_t(p)] != p)
        return "contiguous slot " + str(p) + " holds expert " +
               str(placement.physToLog[size_t(p)]);
    return "";
  }
  if (problem.strategy != Strategy::Hierarchical)
    return "";

  if (int64_t(placement.groupNode.size()) != problem.groups)
    return "groupNode has " + str(int64_t(placement.groupNode.size())) +
           " entries for " + str(problem.groups) + " groups";
  std::vector<int64_t> groupsOnNode(size_t(problem.nodes), 0);
  for (int64_t g = 0; g < problem.groups; ++g) {
    int64_t node = placement.groupNode[size_t(g)];
    if (node < 0 || node >= problem.nodes)
      return "group " + str(g) + " is on node " + str(node) + ", out of range";
    if (++groupsOnNode[size_t(node)] > problem.groups / problem.nodes)
      return "node " + str(node) + " holds more than " +
             str(problem.groups / problem.nodes) + " groups";
  }
  for (int64_t e = 0; e < experts; ++e) {
    int64_t home = placement.groupNode[size_t(e / problem.expertsPerGroup())];
    int64_t atHome = 0;
    for (int64_t p : placement.logToPhys[size_t(e)]) {
      bool here = nodeOfSlot(problem, p) == home;
      atHome += here;
      if (!here && !problem.allowCrossNodeReplicas)
        return "expert " + str(e) + " has a replica in slot " + str(p) +
               ", off its group's node " + str(home);
    }
    if (atHome == 0)
      return "expert " + str(e) + " has no replica on its group's node " +
             str(home);
  }
  return "";
}

std::vector<double> rankLoads(const PlacementProblem &problem,
                              const Placement &placement,
                              const std::vector<double> &load) {
  std::vector<double> loads(size_t(problem.ranks()), 0.0);
  for (size_t p = 0; p < placement.physToLog.size(); ++p) {
    size_t e = size_t(placement.physToLog[p]);
    loads[p / size_t(problem.slotsPerRank)] +=
        load[e] / double(placement.replicas[e]);
  }
  return loads;
}

double balanceOfLoads(const std::vector<double> &loads) {
  double total = 0, peak = 0;
  for (double l : loads) {
    total += l;
    peak = std::max(peak, l);
  }
  if (total <= 0)
    return 1.0;
  return peak / (total / double(loads.size()));
}

double balanceOf(const PlacementProblem &problem, const Placement &placement,
                 const std::vector<double> &load) {
  return balanceOfLoads(rankLoads(problem, placement, load));
}

TrafficEstimate estimateTraffic(const PlacementProblem &problem,
                                const Placement &placement,
                                const std::vector<double> &load,
                                const TrafficModel &model) {
  double ranks = double(problem.ranks());
  double rowBytes = double(model.hidden) * model.bytesPerElement;
  double rows = model.tokens * double(model.topK);
  std::vector<double> loads = rankLoads(problem, placement, load);
  double total = std::accumulate(loads.begin(), loads.end(), 0.0);
  TrafficEstimate estimate;
  for (double l : loads) {
    double served = total > 0 ? rows * l / total : rows / ranks;
    // Dispatch: send own rows served elsewhere, receive rows served here
    // that came from elsewhere; the combine reverses both.
    double sent = rows / ranks - served / ranks;
    double received = served * (1 - 1 / ranks);
    double bytes = 2 * (sent + received) * rowBytes;
    estimate.maxRankBytes = std::max(estimate.maxRankBytes, bytes);
    estimate.meanRankBytes += bytes / ranks;
  }
  estimate.crossNodeBytesPerToken = double(model.topK) *
                                    (1 - double(problem.ranksPerNode) / ranks) *
                                    rowBytes;
  estimate.expertBytesPerRank =
      double(problem.slotsPerRank) * model.bytesPerExpert;
  return estimate;
}

double nodeDedupCrossNodeBytesPerToken(const PlacementProblem &problem,
                                       const Placement &placement,
                                       const std::vector<int64_t> &selections,
                                       int64_t topK,
                                       const TrafficModel &model) {
  if (topK < 1 || selections.empty())
    return 0;
  std::vector<int64_t> seen(size_t(problem.experts), 0);
  std::vector<int64_t> nodeMark(size_t(problem.nodes), -1);
  int64_t tokens = int64_t(selections.size()) / topK;
  double crossRows = 0;
  double awayFraction = 1 - 1 / double(problem.nodes);
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t distinct = 0;
    for (int64_t i = 0; i < topK; ++i) {
      int64_t e = selections[size_t(t * topK + i)];
      int64_t slot = replicaSlot(placement, e, seen[size_t(e)]++);
      int64_t node = nodeOfSlot(problem, slot);
      if (nodeMark[size_t(node)] != t) {
        nodeMark[size_t(node)] = t;
        ++distinct;
      }
    }
    crossRows += double(distinct) * awayFraction;
  }
  return crossRows / double(tokens) * double(model.hidden) *
         model.bytesPerElement;
}

} // namespace moe::parallel
