//===- GpuPointerArguments.cpp - the moe-gpu-pointer-arguments pass -------===//
//
// MLIR passes a buffer to a kernel as its memref descriptor, 3 + 2 * rank
// scalars. Triton passes one pointer per buffer and its sizes as scalars,
// which is also what a kernel of dense buffers needs. This pass gives every
// kernel that interface: a buffer argument becomes its aligned pointer
// followed by one index per dynamic dimension, and the kernel rebuilds the
// descriptor (offset 0, row-major strides) from them; each launch passes
// the pointer and the sizes of its buffer. A kernel whose body asks for a
// number of blocks per SM (moe.min_blocks_per_sm) gets it as nvvm.minctasm.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUPOINTERARGUMENTS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether `type` is a buffer the pass passes as a pointer: ranked, dense
/// and row-major (what the kernels' buffers are).
bool isDense(MemRefType type) { return type.getLayout().isIdentity(); }

/// The LLVM struct a memref of `type` is described by.
LLVM::LLVMStructType descriptorType(MLIRContext *ctx, MemRefType type) {
  auto ptr = LLVM::LLVMPointerType::get(ctx, type.getMemorySpaceAsInt());
  Type i64 = IntegerType::get(ctx, 64);
  SmallVector<Type> fields = {ptr, ptr, i64};
  if (type.getRank() > 0) {
    auto sizes = LLVM::LLVMArrayType::get(i64, type.getRank());
    fields.push_back(sizes);
    fields.push_back(sizes);
  }
  return LLVM::LLVMStructType::getLiteral(ctx, fields);
}

/// The memref of `type` over `pointer` with `dynamicSizes` (index values,
/// one per dynamic dimension): its descriptor, cast to the memref.
Value rebuildMemRef(OpBuilder &b, Location loc, MemRefType type, Value pointer,
                    ValueRange dynamicSizes) {
  MLIRContext *ctx = b.getContext();
  Type i64 = IntegerType::get(ctx, 64);
  LLVM::LLVMStructType desc = descriptorType(ctx, type);
  Value d = LLVM::PoisonOp::create(b, loc, desc);
  d = LLVM::InsertValueOp::create(b, loc, d, pointer, ArrayRef<int64_t>{0});
  d = LLVM::InsertValueOp::create(b, loc, d, pointer, ArrayRef<int64_t>{1});
  auto constant = [&](int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };
  d = LLVM::InsertValueOp::create(b, loc, d, constant(0), ArrayRef<int64_t>{2});
  int64_t rank = type.getRank();
  SmallVector<Value> sizes(rank);
  unsigned next = 0;
  for (int64_t i = 0; i < rank; ++i)
    sizes[i] = type.isDynamicDim(i) ? Value(arith::IndexCastOp::create(
                                          b, loc, i64, dynamicSizes[next++]))
                                    : constant(type.getDimSize(i));
  Value stride = constant(1);
  for (int64_t i = rank - 1; i >= 0; --i) {
    d = LLVM::InsertValueOp::create(b, loc, d, sizes[i],
                                    ArrayRef<int64_t>{3, i});
    d = LLVM::InsertValueOp::create(b, loc, d, stride, ArrayRef<int64_t>{4, i});
    if (i > 0)
      stride = LLVM::MulOp::create(b, loc, stride, sizes[i]);
  }
  return UnrealizedConversionCastOp::create(b, loc, type, d).getResult(0);
}

/// Triton's name of scalar type `type` ("fp32", "i64", ...); "" for one
/// its launcher does not pass.
std::string tritonScalar(Type type) {
  if (type.isIndex())
    return "i64"; // index is 64-bit in the NVVM lowering
  if (auto i = dyn_cast<IntegerType>(type))
    return llvm::is_contained({1u, 8u, 16u, 32u, 64u}, i.getWidth())
               ? "i" + std::to_string(i.getWidth())
               : "";
  if (type.isF16())
    return "fp16";
  if (type.isBF16())
    return "bf16";
  if (type.isF32())
    return "fp32";
  if (type.isF64())
    return "fp64";
  return "";
}

/// Gives kernel `fn` pointer arguments; false after an error at the
/// argument that cannot be one.
LogicalResult rewriteKernel(gpu::GPUFuncOp fn) {
  MLIRContext *ctx = fn.getContext();
  unsigned n = fn.getNumArguments();
  SmallVector<unsigned> positions;
  SmallVector<Type> types;
  SmallVector<Attribute> signature;
  auto sig = [&](const std::string &t) {
    signature.push_back(StringAttr::get(ctx, t));
  };
  for (unsigned i = 0; i < n; ++i) {
    Type argType = fn.getArgument(i).getType();
    auto type = dyn_cast<MemRefType>(argType);
    if (!type) {
      if (isa<UnrankedMemRefType>(argType))
        return fn.emitOpError("argument ")
               << i << " is an unranked memref; a kernel takes a pointer "
               << "and the sizes of a ranked buffer";
      std::string scalar = tritonScalar(argType);
      if (scalar.empty())
        return fn.emitOpError("argument ")
               << i << " has type " << argType
               << ", which a Triton launcher does not pass";
      sig(scalar);
      continue;
    }
    std::string element = tritonScalar(type.getElementType());
    if (element.empty() || element == "i1")
      return fn.emitOpError("argument ")
             << i << " is a buffer of " << type.getElementType()
             << ", which has no Triton pointer type";
    sig("*" + element);
    if (!isDense(type))
      return fn.emitOpError("argument ")
             << i << " has type " << type
             << ", not a dense row-major buffer a pointer and its sizes "
                "describe";
    positions.push_back(i + 1);
    types.push_back(
        LLVM::LLVMPointerType::get(ctx, type.getMemorySpaceAsInt()));
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d)) {
        positions.push_back(i + 1);
        types.push_back(IndexType::get(ctx));
        sig("i64");
      }
  }
  // Triton's launcher passes two more pointers after the arguments: its
  // global and profile scratch, null when a kernel asks for none.
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  for (int i = 0; i < 2; ++i) {
    positions.push_back(n);
    types.push_back(ptr);
  }
  SmallVector<DictionaryAttr> attrs(types.size(), DictionaryAttr());
  SmallVector<Location> locs(types.size(), fn.getLoc());
  // A gpu.func takes any arguments.
  LogicalResult inserted = fn.insertArguments(positions, types, attrs, locs);
  assert(succeeded(inserted) && "gpu.func refused arguments");
  (void)inserted;

  Block &entry = fn.getBody().front();
  OpBuilder b = OpBuilder::atBlockBegin(&entry);
  llvm::BitVector erase(fn.getNumArguments());
  for (unsigned p = 0; p < fn.getNumArguments(); ++p) {
    auto type = dyn_cast<MemRefType>(fn.getArgument(p).getType());
    if (!type)
      continue;
    Value pointer = fn.getArgument(p + 1);
    SmallVector<Value> sizes;
    for (unsigned d = 0, e = type.getNumDynamicDims(); d < e; ++d)
      sizes.push_back(fn.getArgument(p + 2 + d));
    Value rebuilt = rebuildMemRef(b, fn.getLoc(), type, pointer, sizes);
    fn.getArgument(p).replaceAllUsesWith(rebuilt);
    erase.set(p);
    p += 1 + sizes.size();
  }
  LogicalResult erased = fn.eraseArguments(erase);
  assert(succeeded(erased) && "gpu.func kept arguments without uses");
  (void)erased;
  // Triton's name for each parameter's type (the scratch pointers aside),
  // for launchers.
  fn->setAttr(kTritonSignatureAttr, ArrayAttr::get(ctx, signature));
  WalkResult hints = fn.walk([&](Operation *op) {
    Attribute hint = op->getAttr(gpu_kernels::kMinBlocksPerSmAttr);
    if (!hint)
      return WalkResult::advance();
    auto blocks = dyn_cast<IntegerAttr>(hint);
    if (!blocks || !blocks.getType().isInteger(32) ||
        blocks.getValue().getSExtValue() <= 0) {
      op->emitOpError("has a malformed ")
          << gpu_kernels::kMinBlocksPerSmAttr
          << " attribute: expected a positive i32, not " << hint;
      return WalkResult::interrupt();
    }
    fn->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(), blocks);
    op->removeAttr(gpu_kernels::kMinBlocksPerSmAttr);
    return WalkResult::advance();
  });
  return failure(hints.wasInterrupted());
}

/// The operands `launch` passes to a kernel rewritten by rewriteKernel.
void rewriteLaunch(gpu::LaunchFuncOp launch) {
  OpBuilder b(launch);
  Location loc = launch.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> operands;
  for (Value v : launch.getKernelOperands()) {
    auto type = dyn_cast<MemRefType>(v.getType());
    if (!type) {
      operands.push_back(v);
      continue;
    }
    Value address =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, v).getResult();
    Value asInt =
        arith::IndexCastOp::create(b, loc, IntegerType::get(ctx, 64), address);
    operands.push_back(LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, type.getMemorySpaceAsInt()),
        asInt));
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        operands.push_back(memref::DimOp::create(b, loc, v, d));
  }
  // No scratch for Triton's launcher to provide.
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  for (int i = 0; i < 2; ++i)
    operands.push_back(LLVM::ZeroOp::create(b, loc, ptr));
  launch.getKernelOperandsMutable().assign(operands);
}

struct MoEGpuPointerArgumentsPass
    : mlir::moe::impl::MoEGpuPointerArgumentsBase<MoEGpuPointerArgumentsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    for (auto kernels : module.getOps<gpu::GPUModuleOp>())
      for (auto fn : kernels.getOps<gpu::GPUFuncOp>())
        if (fn.isKernel() && failed(rewriteKernel(fn)))
          return signalPassFailure();
    WalkResult result = module.walk([&](gpu::LaunchFuncOp launch) {
      auto fn = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          launch, launch.getKernel());
      if (!fn) {
        launch.emitOpError("launches ")
            << launch.getKernel() << ", which is not a gpu.func of the module";
        return WalkResult::interrupt();
      }
      // The launch matched the kernel's memref arguments (the verifier
      // checks that), so it matches its new ones.
      rewriteLaunch(launch);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
