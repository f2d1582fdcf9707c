//===- MoEAttrs.cpp - #moe.routing, #moe.activation, #moe.expert_placement ===//
#include "dialect/MoEDialect.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

//===----------------------------------------------------------------------===//
// RoutingAttr
//===----------------------------------------------------------------------===//

LogicalResult
RoutingAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t k,
                    ScoringFunc scoring, RoutingOrder order, bool renormalize,
                    llvm::APFloat scaleValue, int64_t nGroup, int64_t topkGroup,
                    GroupScoreFunc groupScore, llvm::APFloat renormEpsilonValue,
                    llvm::APFloat sparsemixerEpsValue, bool scaleInputs) {
  double scale = scaleValue.convertToDouble();
  double renormEpsilon = renormEpsilonValue.convertToDouble();
  if (k < 1)
    return emitError() << "(R1) routing needs k >= 1, got k = " << k;
  if (!std::isfinite(scale) || scale <= 0.0)
    return emitError() << "(R2) routing scale must be finite and positive, got "
                       << scale;
  if (nGroup < 1 || topkGroup < 1 || topkGroup > nGroup)
    return emitError() << "(R3) routing needs 1 <= topk_group <= n_group, got "
                          "n_group = "
                       << nGroup << ", topk_group = " << topkGroup;
  if (nGroup > 1 && order != RoutingOrder::score_then_topk)
    return emitError() << "(R4) group-limited routing (n_group = " << nGroup
                       << ") needs order = score_then_topk";
  if (!std::isfinite(renormEpsilon) || renormEpsilon < 0.0 ||
      (renormEpsilon > 0.0 && !renormalize))
    return emitError() << "(R5) renorm_epsilon must be finite, >= 0, and "
                          "above 0 only with renormalize = true, got "
                       << renormEpsilon;
  if (order == RoutingOrder::sparsemixer && scoring != ScoringFunc::softmax)
    return emitError() << "(R6) order = sparsemixer needs scoring = softmax";
  double eps = sparsemixerEpsValue.convertToDouble();
  if (!std::isfinite(eps) || eps < 0.0 ||
      (eps != 0.01 && order != RoutingOrder::sparsemixer))
    return emitError() << "(R7) sparsemixer_eps must be finite, >= 0, and "
                          "set only with order = sparsemixer, got "
                       << eps;
  return success();
}

//===----------------------------------------------------------------------===//
// ActivationAttr
//===----------------------------------------------------------------------===//

bool ActivationAttr::isGated() const {
  return getKind() == ActivationKind::swiglu ||
         getKind() == ActivationKind::geglu;
}

LogicalResult
ActivationAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       ActivationKind kind, llvm::APFloat alphaValue,
                       llvm::APFloat betaValue,
                       std::optional<llvm::APFloat> limitValue) {
  double alpha = alphaValue.convertToDouble();
  double beta = betaValue.convertToDouble();
  std::optional<double> limit;
  if (limitValue)
    limit = limitValue->convertToDouble();
  bool gated = kind == ActivationKind::swiglu || kind == ActivationKind::geglu;
  if (alpha != 1.0 && kind != ActivationKind::swiglu)
    return emitError() << "(A1) 'alpha' applies to swiglu only, not to "
                       << stringifyActivationKind(kind);
  if (!gated && (beta != 0.0 || limit))
    return emitError() << "(A2) 'beta' and 'limit' apply to gated "
                          "activations only, not to "
                       << stringifyActivationKind(kind);
  if (limit && !(*limit > 0.0))
    return emitError() << "(A3) 'limit' must be positive, got " << *limit;
  return success();
}

// #moe.activation<kind (, alpha = x)? (, beta = x)? (, limit = x)?>, the
// keyword parameters in any order.
Attribute ActivationAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<ActivationKind> kind = symbolizeActivationKind(kindName);
  if (!kind) {
    parser.emitError(loc) << "unknown activation '" << kindName
                          << "', expected one of swiglu, geglu, relu, relu2, "
                             "gelu, gelu_tanh, silu, identity";
    return {};
  }
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
  bool seenAlpha = false, seenBeta = false, seenLimit = false;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    double value;
    if (parser.parseKeyword(&key) || parser.parseEqual() ||
        parser.parseFloat(value))
      return {};
    bool *seen = key == "alpha"   ? &seenAlpha
                 : key == "beta"  ? &seenBeta
                 : key == "limit" ? &seenLimit
                                  : nullptr;
    if (!seen) {
      parser.emitError(keyLoc) << "unknown activation parameter '" << key
                               << "', expected alpha, beta or limit";
      return {};
    }
    if (*seen) {
      parser.emitError(keyLoc)
          << "duplicate activation parameter '" << key << "'";
      return {};
    }
    *seen = true;
    if (key == "alpha")
      alpha = value;
    else if (key == "beta")
      beta = value;
    else
      limit = value;
  }
  if (parser.parseGreater())
    return {};
  std::optional<llvm::APFloat> limitValue;
  if (limit)
    limitValue = llvm::APFloat(*limit);
  return getChecked([&] { return parser.emitError(loc); }, ctx, *kind,
                    llvm::APFloat(alpha), llvm::APFloat(beta), limitValue);
}

void ActivationAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyActivationKind(getKind());
  if (getAlphaValue() != 1.0) {
    printer << ", alpha = ";
    params::printF64(printer, getAlpha());
  }
  if (getBetaValue() != 0.0) {
    printer << ", beta = ";
    params::printF64(printer, getBeta());
  }
  if (getLimit()) {
    printer << ", limit = ";
    params::printF64(printer, *getLimit());
  }
  printer << '>';
}

//===----------------------------------------------------------------------===//
// ExpertPlacementAttr
//===----------------------------------------------------------------------===//

LogicalResult ExpertPlacementAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, FlatSymbolRefAttr grid,
    int64_t ranksPerNode, int64_t slotsPerRank, ArrayRef<int64_t> physToLog,
    ArrayRef<int64_t> replicas, ArrayRef<int64_t> logToPhys) {
  if (!grid)
    return emitError() << "expert placement needs a grid";
  if (slotsPerRank < 1 || ranksPerNode < 1)
    return emitError() << "(P1) expert placement needs slots_per_rank >= 1 "
                          "and ranks_per_node >= 1, got "
                       << slotsPerRank << " and " << ranksPerNode;
  int64_t slots = physToLog.size();
  if (slots == 0 || slots % slotsPerRank)
    return emitError() << "(P2) phys_to_log has " << slots
                       << " slots, not a positive multiple of slots_per_rank "
                          "= "
                       << slotsPerRank;
  int64_t ranks = slots / slotsPerRank;
  if (ranks % ranksPerNode)
    return emitError() << "(P2) " << ranks << " ranks are not a multiple of "
                       << "ranks_per_node = " << ranksPerNode;
  int64_t experts = replicas.size(), total = 0;
  for (int64_t e = 0; e < experts; ++e) {
    if (replicas[e] < 1)
      return emitError() << "(P3) expert " << e << " is on no rank ("
                         << replicas[e] << " replicas)";
    if (replicas[e] > slots)
      return emitError() << "(P3) expert " << e << " has " << replicas[e]
                         << " replicas, more than the " << slots << " slots";
    total += replicas[e];
  }
  if (total != slots)
    return emitError() << "(P3) the replica counts sum to " << total
                       << ", but there are " << slots << " slots";
  SmallVector<int64_t> held(experts, 0);
  for (int64_t p = 0; p < slots; ++p) {
    if (physToLog[p] < 0 || physToLog[p] >= experts)
      return emitError() << "(P4) slot " << p << " holds expert "
                         << physToLog[p] << ", not one of the " << experts;
    ++held[physToLog[p]];
  }
  for (int64_t e = 0; e < experts; ++e)
    if (held[e] != replicas[e])
      return emitError() << "(P5) expert " << e << " has " << replicas[e]
                         << " replicas, but phys_to_log puts it in " << held[e]
                         << " slots";
  if (static_cast<int64_t>(logToPhys.size()) != slots)
    return emitError() << "(P5) log_to_phys has " << logToPhys.size()
                       << " entries, not one per slot (" << slots << ")";
  SmallVector<bool> listed(slots, false);
  for (int64_t e = 0, at = 0; e < experts; at += replicas[e], ++e)
    for (int64_t r = 0; r < replicas[e]; ++r) {
      int64_t p = logToPhys[at + r];
      if (p < 0 || p >= slots || listed[p] || physToLog[p] != e)
        return emitError() << "(P5) log_to_phys lists slot " << p
                           << " for expert " << e << ", which "
                           << (p < 0 || p >= slots ? "does not exist"
                               : listed[p]         ? "is listed twice"
                                                   : "holds another expert");
      if (r > 0 && p < logToPhys[at + r - 1])
        return emitError() << "(P5) log_to_phys lists the slots of expert " << e
                           << " out of order";
      listed[p] = true;
    }
  return success();
}
