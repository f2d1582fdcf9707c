//===- Placement.h - expert placement for expert parallelism ----*- C++ -*-===//
//
// Plans where the experts of one MoE layer live when expert parallelism runs
// it on R = nodes * ranksPerNode ranks, each rank holding slotsPerRank expert
// slots ("physical experts"). With P = R * slotsPerRank >= E slots for E
// logical experts, the P - E redundant slots hold replicas of hot experts.
// Given the layer's per-expert load w[e] (tokens routed to e), the planner
// chooses how many replicas each expert gets and which slot holds each one,
// so that the predicted per-rank load is balanced.
//
// Token split between replicas: expert e's tokens are dealt round-robin over
// its replicas in slot order: the j-th (token, e) assignment of a batch (j
// counted from 0 in token order) goes to slot logToPhys[e][j % replicas[e]]
// (replicaSlot()). So each replica's predicted load is w[e] / replicas[e],
// and a rank's predicted load is the sum of that over its slots. Balance is
// max over ranks / mean over ranks (1.0 = perfect; 1.0 when the load is 0).
//
// Strategies:
//  - Hierarchical: the experts form `groups` contiguous groups (DeepSeek-V3:
//    256 experts in 8 groups; group-limited routing sends a token to at most
//    topk_group groups). Each group is placed whole on one node, replicas
//    included, so a token's cross-node traffic is bounded by its groups.
//    Groups go to nodes by balanced packing (groups / nodes each), each node
//    replicates its own experts into its ranksPerNode * slotsPerRank slots,
//    and its physical experts are packed onto its ranks. A node's load is
//    then fixed by which groups it holds, which bounds the balance.
//    Node loads cannot be balanced better than the best split of the
//    groups allows (with 8 groups on 4 nodes, a hot group's node is hot).
//    With allowCrossNodeReplicas, every expert keeps one replica (its home
//    copy) on its group's node, but redundant replicas may live on any node:
//    a hot node sheds load through replicas of its hot experts on other
//    nodes and fills its own redundant slots with second copies of its
//    coldest experts ("fillers", which leave its load unchanged); the
//    number of fillers per node is searched (one more on the node of the
//    most loaded rank at a time, the best plan kept). The other redundant
//    slots are replicated greedily over all experts, and the packing may
//    move any replica across nodes as long as one copy stays home.
//    Placement::crossNodeReplicas counts the replicas off their home node;
//    they cost cross-node traffic (nodeDedupCrossNodeBytesPerToken()).
//  - Global: groups and nodes are ignored: replicas are chosen over all P
//    slots, then the physical experts are packed onto all ranks.
//  - Contiguous: the baseline without replicas: P must equal E, and expert e
//    lives on rank e / slotsPerRank.
//
// Replicas: each redundant slot goes, one at a time, to the expert with the
// highest current per-replica load w[e] / replicas[e] (a max-heap). Packing:
// physical experts in descending load go to the least-loaded rank with a free
// slot (every rank ends with exactly slotsPerRank); then, with `refine`, a
// local search swaps pairs of slots between the most loaded rank and any
// other while that lowers the most loaded rank without making the other one
// as loaded. refine = false is the plain greedy of DeepSeek's EPLB algorithm,
// the baseline this is measured against (with allowCrossNodeReplicas the
// filler search still runs).
//
// Everything is deterministic: ties go to the lower index.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PARALLEL_PLACEMENT_H
#define MOEC_PARALLEL_PLACEMENT_H

#include <cstdint>
#include <string>
#include <vector>

namespace moe::parallel {

enum class Strategy { Hierarchical, Global, Contiguous };

/// "hierarchical", "global" or "contiguous".
const char *strategyName(Strategy strategy);

/// The most slots (and experts, ranks) a plan may have: 2^22, far beyond
/// any machine, so that sizes from users cannot overflow or exhaust memory.
inline constexpr int64_t kMaxSlots = int64_t(1) << 22;

/// The shape of the machine and of the layer.
///
/// Preconditions (planPlacement() reports each as an error):
///  - experts, nodes, ranksPerNode, slotsPerRank >= 1;
///  - P = nodes * ranksPerNode * slotsPerRank >= experts, P <= kMaxSlots;
///  - Hierarchical: groups >= 1, experts % groups == 0, groups % nodes == 0
///    (each node holds groups / nodes whole groups, so there must be at
///    least as many groups as nodes; use Global otherwise), and a node's
///    experts fit in its ranksPerNode * slotsPerRank slots;
///  - Contiguous: P == experts.
/// `groups` only matters to Hierarchical.
struct PlacementProblem {
  int64_t experts = 0;
  int64_t groups = 1;
  int64_t nodes = 1;
  int64_t ranksPerNode = 1;
  int64_t slotsPerRank = 1;
  Strategy strategy = Strategy::Global;
  /// Hierarchical only: redundant replicas may live off their group's node.
  bool allowCrossNodeReplicas = false;
  /// Improve the greedy packing by pairwise swaps (false: plain greedy).
  bool refine = true;

  int64_t ranks() const { return nodes * ranksPerNode; }
  int64_t slots() const { return ranks() * slotsPerRank; }
  int64_t expertsPerGroup() const { return experts / groups; }
};

/// A plan. Slot p lives on rank p / slotsPerRank, node
/// rank / ranksPerNode.
struct Placement {
  /// P entries: the logical expert in each slot.
  std::vector<int64_t> physToLog;
  /// E entries, each >= 1, summing to P: each expert's number of replicas.
  std::vector<int64_t> replicas;
  /// E lists: the slots of each expert, ascending.
  std::vector<std::vector<int64_t>> logToPhys;
  /// Hierarchical only (empty otherwise): the node of each group.
  std::vector<int64_t> groupNode;
  /// Replicas outside their group's node (Hierarchical with
  /// allowCrossNodeReplicas; 0 otherwise).
  int64_t crossNodeReplicas = 0;
  /// The predicted load of each rank under the load the plan was made for.
  std::vector<double> rankLoad;
  /// max(rankLoad) / mean(rankLoad).
  double balance = 1.0;
};

/// Plans `problem` for the per-expert load `load` (E entries, finite, >= 0;
/// all equal when no statistics exist). Returns "" on success, else a message
/// naming what is wrong (out is then unspecified).
std::string planPlacement(const PlacementProblem &problem,
                          const std::vector<double> &load, Placement &out);

/// The first violated precondition of `problem` (see PlacementProblem), or "".
std::string checkProblem(const PlacementProblem &problem);

/// Checks that `placement` is a consistent plan for `problem`: the sizes
/// agree, every slot holds an expert in range, every expert has >= 1
/// replica, replica counts agree with both maps, no slot is listed twice,
/// and, for Hierarchical, that groupNode gives each node groups / nodes
/// groups and every expert (every replica, unless allowCrossNodeReplicas;
/// at least one otherwise) lives on its group's node. Returns "" or the
/// first inconsistency found. Does not look at rankLoad or balance.
std::string checkPlacement(const PlacementProblem &problem,
                           const Placement &placement);

/// The slot that serves the j-th (token, expert) assignment of `expert` in a
/// batch (j from 0): logToPhys[expert][j % replicas[expert]].
inline int64_t replicaSlot(const Placement &placement, int64_t expert,
                           int64_t j) {
  const std::vector<int64_t> &slots = placement.logToPhys[size_t(expert)];
  return slots[size_t(j % int64_t(slots.size()))];
}

/// The predicted per-rank load of `placement` under `load` (E entries).
std::vector<double> rankLoads(const PlacementProblem &problem,
                              const Placement &placement,
                              const std::vector<double> &load);

/// max / mean of `loads`; 1.0 when they sum to 0.
double balanceOfLoads(const std::vector<double> &loads);

/// The balance of `placement` under another load than it was planned for
/// (statistics drift).
double balanceOf(const PlacementProblem &problem, const Placement &placement,
                 const std::vector<double> &load);

/// The inputs of the communication model.
struct TrafficModel {
  /// Tokens of one layer's batch over the whole EP group; each rank is the
  /// source of tokens / R of them.
  double tokens = 0;
  int64_t topK = 1;
  /// Hidden size and bytes per element of a dispatched row.
  int64_t hidden = 0;
  double bytesPerElement = 2;
  /// Weight bytes of one expert (for expertBytesPerRank).
  double bytesPerExpert = 0;
};

/// Expected communication of one layer, with every token's source rank
/// uniform over the R ranks. The dispatch sends each (token, selected
/// expert) row from its source rank to the rank of the replica serving it,
/// unless that is the same rank; the combine sends it back. `load` is
/// rescaled to tokens * topK rows. A rank r with L_r rows to serve then
/// sends tokens*topK/R - L_r/R rows and receives L_r * (1 - 1/R) in the
/// dispatch (a row served on r originates on r with probability 1/R), and
/// the reverse in the combine.
struct TrafficEstimate {
  /// Bytes each rank sends plus receives, dispatch and combine together:
  /// the most loaded rank and the mean over ranks.
  double maxRankBytes = 0;
  double meanRankBytes = 0;
  /// Dispatch bytes per token that cross nodes, one row per (token,
  /// expert): topK * (1 - ranksPerNode / R) * hidden * bytesPerElement
  /// in expectation (a row served on node n originates there with
  /// probability ranksPerNode / R), whatever the placement. The combine
  /// moves as many back.
  double crossNodeBytesPerToken = 0;
  /// Expert weight bytes held by each rank: slotsPerRank * bytesPerExpert.
  double expertBytesPerRank = 0;
};

TrafficEstimate estimateTraffic(const PlacementProblem &problem,
                                const Placement &placement,
                                const std::vector<double> &load,
                                const TrafficModel &model);

/// Dispatch bytes per token that cross nodes when a token is sent once per
/// destination node (and forwarded to that node's ranks over the intra-node
/// links), for actual token selections: `selections` holds topK expert ids
/// per token, token-major, each token's source node uniform. A token whose
/// selected replicas (replicaSlot(), j counting each expert's assignments
/// in token order) span D nodes sends D * (nodes - 1) / nodes rows across
/// nodes in expectation. This is where keeping groups on nodes pays:
/// with group-limited routing a token reaches only its groups' nodes.
double nodeDedupCrossNodeBytesPerToken(const PlacementProblem &problem,
                                       const Placement &placement,
                                       const std::vector<int64_t> &selections,
                                       int64_t topK, const TrafficModel &model);

} // namespace moe::parallel

#endif // MOEC_PARALLEL_PLACEMENT_H
