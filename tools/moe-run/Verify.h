//===- Verify.h - moe-run --verify ------------------------------*- C++ -*-===//
//
// Recomputing a run's output with the float64 reference evaluator from
// the layer the artifact's metadata records, and the tolerances it is
// compared at.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TOOLS_MOE_RUN_VERIFY_H
#define MOEC_TOOLS_MOE_RUN_VERIFY_H

#include "runtime/moert/moert.h"
#include "tools/moe-run/ExpertParallel.h"
#include "tools/moe-run/Inputs.h"

#include <map>
#include <string>
#include <vector>

namespace moerun {

/// The reference value as an output of dtype `t` holds it (null for a
/// dtype that is never a result).
double (*roundingTo(moert_dtype_t t))(double);

/// --verify's tolerance for an output of dtype `t` without --tolerance.
double defaultTolerance(moert_dtype_t t);

/// Whether the artifact's metadata sets the boolean `name` of "numerics":
/// "bf16_dot", bf16 weights multiply bf16-rounded rows (moe-compile
/// --bf16-dot); "int8_dot", block-quantized weights multiply rows quantized
/// to int8 (moe-compile --int8-dot).
bool numericsFlag(moert_artifact_t *artifact, const char *name);

/// A weight as the reference evaluator reads it: its dtype, shape and
/// bytes (block-quantized rows as their blocks).
struct WholeWeight {
  moert_dtype_t dtype = MOERT_F32;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};

/// For function `fnName`, whose ranks each bind their slots of some expert
/// weights (the metadata's "expert_slots"): every rank's slots of each go
/// to rank 0, which assembles the weight of every expert (expert e from
/// its first slot) into `whole`, by name. Every rank of `group` calls it;
/// "" or why it failed.
std::string gatherExpertSlots(RankGroup &group, moert_artifact_t *artifact,
                              moert_session_t *session,
                              const std::string &fnName,
                              std::map<std::string, WholeWeight> &whole);

/// Recomputes function `fnName`'s output with the reference evaluator, from
/// the session's weights (those in `whole` from there) and `inputs` by
/// name, into `expected`; "" or why it cannot.
std::string verify(moert_artifact_t *artifact, moert_session_t *session,
                   const std::string &fnName,
                   const std::map<std::string, Buffer *> &inputs,
                   const std::map<std::string, WholeWeight> &whole,
                   std::vector<double> &expected);

} // namespace moerun

#endif // MOEC_TOOLS_MOE_RUN_VERIFY_H
