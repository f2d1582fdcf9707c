//===- ArtifactMetadata.h - what an artifact tells the runtime --*- C++ -*-===//
//
// Every artifact carries a JSON record (docs/Artifact.md is the contract):
// its entry points, each argument's name, kind (input or weight), dtype and
// shape, the results, the target it was compiled for, where its weights
// come from, and, for a function that is one moe.layer, the layer config
// and operand roles so that `moe-run --verify` can recompute it with the
// reference evaluator.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_ARTIFACTMETADATA_H
#define MOEC_COMPILER_ARTIFACTMETADATA_H

#include "dialect/MoEDialect.h"
#include "runtime/support/Json.h"

#include <map>
#include <string>

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace mlir::moe {

/// Collects the metadata of every public function of `module` (at the moe
/// level, before lowering). Emits located errors and fails on functions the
/// runtime cannot call: no results, a weight with a dynamic shape, a
/// dynamic dimension other than the leading (token) one, an element type
/// other than f32/bf16/f16, duplicate argument names.
FailureOr<::moe::json::Value> collectArtifactMetadata(ModuleOp module);

/// Records in `metadata` (from collectArtifactMetadata) the weights
/// moe-pack-weights packed in `module` (a later phase of the same module):
/// `"packed": {"panel": NB}` on each argument marked moe.packed_panel, and
/// `"int8_panels": true` on each marked moe.int8_panels.
void recordPackedWeights(ModuleOp module, ::moe::json::Value &metadata);

/// Records in `metadata` the expert weights moe-distribute-experts gave
/// each rank its slots of (moe.expert_slots, in a later phase of the same
/// module): the argument's shape [slots_per_rank, ...] and
/// `"expert_slots": {"experts": E, "slots_per_rank": S, "phys_to_log":
/// [...]}`.
void recordExpertSlots(ModuleOp module, ::moe::json::Value &metadata);

/// Public functions that differ only in their names and argument
/// attributes (e.g. the identical MoE layers of one checkpoint, whose
/// weights have other names) compile to the same code. Erases all but the
/// first of each such group from `module` and returns, for each erased
/// function, the name of the one that stays.
std::map<std::string, std::string> shareIdenticalFunctions(ModuleOp module);

/// Points each erased function's metadata record (from
/// collectArtifactMetadata) at its representative's entry point, and gives
/// its arguments the representative's packing (after recordPackedWeights).
void recordSharedEntryPoints(::moe::json::Value &metadata,
                             const std::map<std::string, std::string> &shared);

/// Records in `metadata` the routing sites moe-lower-routing-records listed
/// in `module` (module attribute moe.routing_sites): `"routing_sites":
/// [{"site", "experts", "k"}, ...]` on each function that records, an
/// erased function (`shared`) taking its representative's. Removes the
/// module attribute.
void recordRoutingSites(ModuleOp module, ::moe::json::Value &metadata,
                        const std::map<std::string, std::string> &shared);

/// Records in `metadata` the functions that moe-lower-collectives found
/// running on a group of ranks (module attribute moe.expert_parallel):
/// `"expert_parallel": {"devices": R}` on each, an erased function taking
/// its representative's. Removes the module attribute.
void recordExpertParallel(ModuleOp module, ::moe::json::Value &metadata,
                          const std::map<std::string, std::string> &shared);

/// The names of the public functions of `module`: its entry points.
std::vector<std::string> entryPointNames(ModuleOp module);

} // namespace mlir::moe

#endif // MOEC_COMPILER_ARTIFACTMETADATA_H
