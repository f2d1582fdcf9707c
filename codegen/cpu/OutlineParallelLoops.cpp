//===- OutlineParallelLoops.cpp - the moe-outline-parallel-loops pass -----===//
//
// The generated code threads through the runtime's pool rather than through
// OpenMP: the pool is sized per session, balances uneven iterations
// (experts with different token counts) by handing them out one by one, and
// the artifact needs no OpenMP runtime. This pass does the MLIR half: each
// outermost parallel loop becomes a body function over an iteration range
// and a call that moe-lower-parallel-launches turns into a pool dispatch.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Passes.h"

#include "mlir/Analysis/AliasAnalysis.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEOUTLINEPARALLELLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// The first dimension's bounds of a loop this pass outlines.
struct Bounds {
  Value lower, upper, step;
};

std::optional<Bounds> outlinableBounds(OpBuilder &b, Operation *op) {
  if (op->getNumResults() != 0)
    return std::nullopt;
  Location loc = op->getLoc();
  if (auto par = dyn_cast<scf::ParallelOp>(op))
    return Bounds{par.getLowerBound()[0], par.getUpperBound()[0],
                  par.getStep()[0]};
  auto forall = dyn_cast<scf::ForallOp>(op);
  if (!forall || forall.getRank() != 1 || !forall.getOutputs().empty())
    return std::nullopt;
  return Bounds{
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedLowerBound()[0]),
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedUpperBound()[0]),
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedStep()[0])};
}

/// Clones `op` into the body at the builder, its first dimension running
/// over [lower, upper) with the original step.
void cloneRestricted(OpBuilder &b, Operation *op, IRMapping &map, Value lower,
                     Value upper) {
  Location loc = op->getLoc();
  if (auto par = dyn_cast<scf::ParallelOp>(op)) {
    Operation *clone = b.clone(*op, map);
    unsigned dims = par.getNumLoops();
    clone->setOperand(0, lower);
    clone->setOperand(dims, upper);
    return;
  }
  auto forall = cast<scf::ForallOp>(op);
  Value step = map.lookupOrDefault(
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedStep()[0]));
  auto loop = scf::ForOp::create(b, loc, lower, upper, step);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  map.map(forall.getInductionVars()[0], loop.getInductionVar());
  for (Operation &inner : forall.getBody()->without_terminator())
    b.clone(inner, map);
}

/// The number of LLVM arguments a body argument of type `t` becomes in the
/// conversion to LLVM: a ranked memref's descriptor is its allocated and
/// aligned pointers, offset, sizes and strides, an unranked one its rank
/// and a pointer to its descriptor; anything else one.
int64_t llvmArgumentCount(Type t) {
  if (auto m = dyn_cast<MemRefType>(t))
    return 3 + 2 * m.getRank();
  if (isa<UnrankedMemRefType>(t))
    return 2;
  return 1;
}

/// The LLVM argument positions (llvmArgumentCount) of the aligned pointers
/// of the memref captures that alias no other memref capture: fresh
/// buffers (memref.alloc and the like) and globals, never two of the
/// caller's arguments (the caller's input and output may be one buffer)
/// nor views of one buffer. The body's first two arguments are the range.
SmallVector<int64_t> noAliasPointers(ArrayRef<Value> captures,
                                     AliasAnalysis &aliases) {
  SmallVector<int64_t> positions;
  int64_t at = 2;
  for (size_t i = 0; i < captures.size(); ++i) {
    Value v = captures[i];
    bool distinct = isa<MemRefType>(v.getType());
    for (size_t j = 0; distinct && j < captures.size(); ++j)
      distinct = j == i || !isa<MemRefType>(captures[j].getType()) ||
                 aliases.alias(v, captures[j]).isNo();
    if (distinct)
      positions.push_back(at + 1);
    at += llvmArgumentCount(v.getType());
  }
  return positions;
}

/// Elements one iteration of the loop's first dimension visits: the
/// product of its other dimensions' constant trip counts, where the body
/// runs no loop of its own and works on scalars (one op per element);
/// nullopt where that is not known (a dynamic dimension, a nested loop: a
/// GEMM's work item, vectors).
std::optional<int64_t> elementsPerIteration(Operation *loop) {
  bool unknown = false;
  loop->walk([&](Operation *op) {
    if (op != loop && isa<LoopLikeOpInterface>(op))
      unknown = true;
    for (Type t : op->getResultTypes())
      unknown |= isa<VectorType>(t);
  });
  if (unknown)
    return std::nullopt;
  auto par = dyn_cast<scf::ParallelOp>(loop);
  if (!par)
    return 1;
  int64_t elements = 1;
  for (unsigned d = 1; d < par.getNumLoops(); ++d) {
    std::optional<int64_t> lo = getConstantIntValue(par.getLowerBound()[d]);
    std::optional<int64_t> hi = getConstantIntValue(par.getUpperBound()[d]);
    std::optional<int64_t> st = getConstantIntValue(par.getStep()[d]);
    if (!lo || !hi || !st || *st <= 0)
      return std::nullopt;
    elements *= std::max<int64_t>((*hi - *lo + *st - 1) / *st, 0);
  }
  return elements;
}

void outline(Operation *loop, func::FuncOp parent, unsigned index,
             SymbolTable &symbols, AliasAnalysis &aliases,
             int64_t minTaskElements) {
  OpBuilder b(loop);
  Location loc = loop->getLoc();
  Bounds bounds = *outlinableBounds(b, loop);

  // What the body needs from outside: the bounds and every value used in
  // the loop. Constants are re-created inside instead.
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(loop->getRegions(), used);
  for (Value v : loop->getOperands())
    used.insert(v);
  used.insert(bounds.lower);
  used.insert(bounds.upper);
  used.insert(bounds.step);
  SmallVector<Value> captures;
  SmallVector<Operation *> constants;
  for (Value v : used) {
    Operation *def = v.getDefiningOp();
    if (def && def->hasTrait<OpTrait::ConstantLike>() &&
        def->getNumOperands() == 0)
      constants.push_back(def);
    else
      captures.push_back(v);
  }
  SmallVector<Type> captureTypes;
  for (Value v : captures)
    captureTypes.push_back(v.getType());

  // The body: (begin, end, captures...).
  MLIRContext *ctx = b.getContext();
  Type indexTy = b.getIndexType();
  SmallVector<Type> bodyInputs = {indexTy, indexTy};
  bodyInputs.append(captureTypes);
  OpBuilder mb(ctx);
  mb.setInsertionPointAfter(parent);
  std::string name = (parent.getSymName() + "_parallel_" + Twine(index)).str();
  auto body = func::FuncOp::create(mb, loc, name,
                                   FunctionType::get(ctx, bodyInputs, {}));
  body.setPrivate();
  symbols.insert(body);
  // Which buffers moe-lower-parallel-launches may mark noalias: LLVM then
  // knows that the loop's stores leave its index loads alone and hoists
  // and vectorizes (a gather's row index, read in the column loop).
  SmallVector<int64_t> noAlias = noAliasPointers(captures, aliases);
  if (!noAlias.empty())
    body->setAttr(kNoAliasPointersAttr, mb.getDenseI64ArrayAttr(noAlias));
  // Below two tasks of minTaskElements, the pool's dispatch and the data
  // moving between cores cost more than a second thread saves (the
  // routing's per-expert tables, a decode call's few rows).
  if (std::optional<int64_t> elements = elementsPerIteration(loop);
      elements && minTaskElements > 0) {
    int64_t least =
        llvm::divideCeil(2 * minTaskElements, std::max<int64_t>(*elements, 1));
    if (least > 1)
      body->setAttr(kMinParallelIterationsAttr, mb.getI64IntegerAttr(least));
  }
  Block *entry = body.addEntryBlock();
  OpBuilder bb = OpBuilder::atBlockBegin(entry);
  IRMapping map;
  for (Operation *c : constants)
    bb.clone(*c, map);
  for (auto [v, arg] : llvm::zip(captures, entry->getArguments().drop_front(2)))
    map.map(v, arg);
  Value begin = entry->getArgument(0), end = entry->getArgument(1);
  Value lower = map.lookup(bounds.lower), upper = map.lookup(bounds.upper);
  Value step = map.lookup(bounds.step);
  // [lower + begin*step, min(lower + end*step, upper))
  Value lo = arith::AddIOp::create(bb, loc, lower,
                                   arith::MulIOp::create(bb, loc, begin, step));
  Value hi = arith::MinSIOp::create(
      bb, loc,
      arith::AddIOp::create(bb, loc, lower,
                            arith::MulIOp::create(bb, loc, end, step)),
      upper);
  cloneRestricted(bb, loop, map, lo, hi);
  func::ReturnOp::create(bb, loc);

  // The launch: declared here, defined by moe-lower-parallel-launches.
  SmallVector<Type> launchInputs = {indexTy};
  launchInputs.append(captureTypes);
  auto launch = func::FuncOp::create(
      mb, loc, ("__moec_launch_" + body.getSymName()).str(),
      FunctionType::get(ctx, launchInputs, {}));
  launch.setPrivate();
  symbols.insert(launch);

  // iterations = ceil((upper - lower) / step), at the loop's place.
  Value span = arith::SubIOp::create(b, loc, bounds.upper, bounds.lower);
  Value iterations = arith::CeilDivSIOp::create(b, loc, span, bounds.step);
  SmallVector<Value> args = {iterations};
  args.append(captures);
  func::CallOp::create(b, loc, launch, args);
  loop->erase();
}

struct OutlineParallelLoopsPass
    : mlir::moe::impl::MoEOutlineParallelLoopsBase<OutlineParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp fn : functions) {
      if (fn.isExternal())
        continue;
      SmallVector<Operation *> loops;
      fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (!isa<scf::ParallelOp, scf::ForallOp>(op))
          return WalkResult::advance();
        bool ok = op->getNumResults() == 0 &&
                  (isa<scf::ParallelOp>(op) ||
                   (cast<scf::ForallOp>(op).getRank() == 1 &&
                    cast<scf::ForallOp>(op).getOutputs().empty()));
        if (ok)
          loops.push_back(op);
        return WalkResult::skip(); // nested loops stay sequential
      });
      AliasAnalysis aliases(fn);
      for (auto [i, loop] : llvm::enumerate(loops))
        outline(loop, fn, i, symbols, aliases, minTaskElements);
    }
  }
};

} // namespace
