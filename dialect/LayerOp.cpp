//===- LayerOp.cpp - moe.layer --------------------------------------------===//
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Checks the operands of one moe.layer against the sizes they imply.
class LayerChecker {
public:
  LayerChecker(std::optional<Location> loc) : diag{loc, "moe.layer"} {}

  /// `value` (if present) must be a float tensor of the given shape with the
  /// symbolic form `form` ("[E, f, d]") for the message.
  LogicalResult expect(StringRef tag, Value value, StringRef name,
                       StringRef form, ArrayRef<int64_t> shape) const {
    if (!value || hasCompatibleShape(value.getType(), shape))
      return success();
    SmallVector<std::string> dims;
    for (int64_t size : shape)
      dims.push_back(dimStr(size));
    return diag(tag, name, " must be ", form, " = [", llvm::join(dims, ", "),
                "], got ", value.getType());
  }

  /// The first static size among `candidates`, else dynamic.
  static int64_t firstStatic(ArrayRef<int64_t> candidates) {
    for (int64_t size : candidates)
      if (!ShapedType::isDynamic(size))
        return size;
    return ShapedType::kDynamic;
  }

  OpDiag diag;
};
} // namespace

static int64_t dimOf(Value value, unsigned dim) {
  if (!value)
    return ShapedType::kDynamic;
  RankedTensorType tensor = getRankedTensor(value.getType());
  if (!tensor || tensor.getRank() <= static_cast<int64_t>(dim))
    return ShapedType::kDynamic;
  return tensor.getDimSize(dim);
}

static int64_t halfDim(int64_t size) {
  return ShapedType::isDynamic(size) ? size : size / 2;
}

/// The expert count as the router or the down projection states it.
static int64_t numExpertsOf(Value routerWeight, Value routerLogits,
                            Value down) {
  return LayerChecker::firstStatic(
      {dimOf(routerWeight, 0), dimOf(routerLogits, 1), dimOf(down, 0)});
}

int64_t LayerOp::getNumExperts() {
  return numExpertsOf(getRouterWeight(), getRouterLogits(), getDown());
}

SmallVector<Value> LayerOp::getExpertOperands() {
  SmallVector<Value> operands;
  for (Value v : {getGate(), getUp(), getGateUp(), getDown(), getGateBias(),
                  getUpBias(), getGateUpBias(), getDownBias()})
    if (v)
      operands.push_back(v);
  return operands;
}

LogicalResult LayerOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &types) {
  LayerChecker check(loc);
  const OpDiag &diag = check.diag;

  // (C1) element types.
  RankedTensorType hidden = getRankedTensor(a.getHidden().getType(), 2);
  if (!hidden || !isStorageFloat(hidden.getElementType()))
    return diag("C1",
                "hidden must be a rank-2 tensor of f32, bf16 or f16, "
                "got ",
                a.getHidden().getType());
  std::pair<StringRef, Value> weights[] = {
      {"router_weight", a.getRouterWeight()},
      {"router_bias", a.getRouterBias()},
      {"router_logits", a.getRouterLogits()},
      {"correction_bias", a.getCorrectionBias()},
      {"gate", a.getGate()},
      {"up", a.getUp()},
      {"gate_up", a.getGateUp()},
      {"down", a.getDown()},
      {"gate_bias", a.getGateBias()},
      {"up_bias", a.getUpBias()},
      {"gate_up_bias", a.getGateUpBias()},
      {"down_bias", a.getDownBias()},
      {"shared_gate", a.getSharedGate()},
      {"shared_up", a.getSharedUp()},
      {"shared_gate_up", a.getSharedGateUp()},
      {"shared_down", a.getSharedDown()},
      {"shared_expert_gate", a.getSharedExpertGate()}};
  for (auto [name, value] : weights) {
    if (!value)
      continue;
    RankedTensorType tensor = getRankedTensor(value.getType());
    if (tensor && isStorageFloat(tensor.getElementType()))
      continue;
    if (QuantizedType q = getQuantizedElementType(value.getType())) {
      // Only the experts' and shared experts' projections (C9).
      if (!isQuantizableLayerOperand(name))
        return diag("C9", name, " cannot be quantized (", value.getType(),
                    "): only the experts' and shared experts' projections "
                    "may be");
      int64_t row = tensor.getRank() ? tensor.getShape().back() : 1;
      if (!ShapedType::isDynamic(row) && row % q.getBlockElements() != 0)
        return diag("C9", name, " ", value.getType(), " has rows of ", row,
                    " elements, not whole blocks of ", q.getBlockElements());
      if (ShapedType::isDynamic(row))
        return diag("C9", name, " ", value.getType(),
                    " needs a static row length to be quantized");
      continue;
    }
    return diag("C1", name,
                " must be a tensor of f32, bf16 or f16 (or !moe.quant for "
                "a projection), got ",
                value.getType());
  }
  RoutingAttr routing = a.getRouting();
  ActivationAttr activation = a.getActivation();
  if (!routing || !activation)
    return emitOptionalError(loc, "'moe.layer' op requires 'routing' and "
                                  "'activation' attributes");
  int64_t tokens = hidden.getDimSize(0), d = hidden.getDimSize(1);

  // (C2) router.
  if (static_cast<bool>(a.getRouterWeight()) ==
      static_cast<bool>(a.getRouterLogits()))
    return diag("C2", "needs exactly one of router_weight and router_logits");
  if (a.getRouterBias() && !a.getRouterWeight())
    return diag("C2", "router_bias needs router_weight");
  int64_t experts =
      numExpertsOf(a.getRouterWeight(), a.getRouterLogits(), a.getDown());
  if (failed(check.expect("C2", a.getRouterWeight(), "router_weight", "[E, d]",
                          {experts, d})) ||
      failed(check.expect("C2", a.getRouterLogits(), "router_logits", "[T, E]",
                          {tokens, experts})) ||
      failed(check.expect("C2", a.getRouterBias(), "router_bias", "[E]",
                          {experts})))
    return failure();

  // (C3) routing against the expert count.
  if (failed(verifyRoutingForExperts(diag, routing, experts,
                                     a.getCorrectionBias(),
                                     {"C3", "C3", "C3", "C3"})))
    return failure();

  // (C4) which projections the activation takes.
  StringRef kind = stringifyActivationKind(activation.getKind());
  bool separate = a.getGate() || a.getUp();
  if (activation.isGated()) {
    if (a.getGateUp() ? separate : !(a.getGate() && a.getUp()))
      return diag("C4", "gated activation ", kind,
                  " needs gate and up, or gate_up, but not both");
  } else if (a.getGate() || a.getGateUp() || !a.getUp()) {
    return diag("C4", "elementwise activation ", kind,
                " needs up and no gate or gate_up");
  }

  // (C5) projection shapes.
  int64_t f = check.firstStatic({dimOf(a.getGate(), 1), dimOf(a.getUp(), 1),
                                 halfDim(dimOf(a.getGateUp(), 1)),
                                 dimOf(a.getDown(), 2)});
  int64_t twoF = mulDims(f, 2);
  if (failed(check.expect("C5", a.getGate(), "gate", "[E, f, d]",
                          {experts, f, d})) ||
      failed(
          check.expect("C5", a.getUp(), "up", "[E, f, d]", {experts, f, d})) ||
      failed(check.expect("C5", a.getGateUp(), "gate_up", "[E, 2f, d]",
                          {experts, twoF, d})) ||
      failed(check.expect("C5", a.getDown(), "down", "[E, d, f]",
                          {experts, d, f})))
    return failure();

  // (C6) fused layout, of the experts' gate_up and the shared one.
  if (static_cast<bool>(a.getGateUpLayoutAttr()) !=
      (a.getGateUp() || a.getSharedGateUp()))
    return diag("C6", "gate_up_layout must be given exactly when gate_up or "
                      "shared_gate_up is");

  // (C7) biases.
  std::pair<Value, Value> biasOwners[] = {{a.getGateBias(), a.getGate()},
                                          {a.getUpBias(), a.getUp()},
                                          {a.getGateUpBias(), a.getGateUp()}};
  for (auto [bias, owner] : biasOwners)
    if (bias && !owner)
      return diag("C7", "a bias is given for a projection that is absent");
  if (failed(check.expect("C7", a.getGateBias(), "gate_bias", "[E, f]",
                          {experts, f})) ||
      failed(check.expect("C7", a.getUpBias(), "up_bias", "[E, f]",
                          {experts, f})) ||
      failed(check.expect("C7", a.getGateUpBias(), "gate_up_bias", "[E, 2f]",
                          {experts, twoF})) ||
      failed(check.expect("C7", a.getDownBias(), "down_bias", "[E, d]",
                          {experts, d})))
    return failure();

  // (C8) shared experts.
  bool shared = a.getSharedUp() || a.getSharedDown() || a.getSharedGate() ||
                a.getSharedGateUp();
  if (shared) {
    bool needGate = activation.isGated();
    if (a.getSharedGateUp()) {
      if (!needGate || a.getSharedGate() || a.getSharedUp() ||
          !a.getSharedDown())
        return diag("C8",
                    "shared_gate_up needs a gated activation and "
                    "shared_down, and no shared_gate or shared_up; got "
                    "activation ",
                    kind);
    } else if (!a.getSharedUp() || !a.getSharedDown() ||
               needGate != static_cast<bool>(a.getSharedGate())) {
      return diag("C8", "shared experts need shared_up and shared_down",
                  needGate ? " and shared_gate (or shared_gate_up)"
                           : " and no shared_gate",
                  " for activation ", kind);
    }
    int64_t fs = check.firstStatic({dimOf(a.getSharedUp(), 0),
                                    dimOf(a.getSharedDown(), 1),
                                    halfDim(dimOf(a.getSharedGateUp(), 0))});
    if (failed(check.expect("C8", a.getSharedGateUp(), "shared_gate_up",
                            "[2fs, d]", {mulDims(fs, 2), d})) ||
        failed(check.expect("C8", a.getSharedGate(), "shared_gate", "[fs, d]",
                            {fs, d})) ||
        failed(check.expect("C8", a.getSharedUp(), "shared_up", "[fs, d]",
                            {fs, d})) ||
        failed(check.expect("C8", a.getSharedDown(), "shared_down", "[d, fs]",
                            {d, fs})))
      return failure();
  }
  if (a.getSharedExpertGate() && !shared)
    return diag("C8", "shared_expert_gate needs shared experts");
  if (failed(check.expect("C8", a.getSharedExpertGate(), "shared_expert_gate",
                          "[1, d]", {1, d})))
    return failure();

  types.push_back(hidden);
  return success();
}
