//===- GpuRuntimeCalls.cpp - a CUDA artifact's calls into moert -----------===//
#include "codegen/cuda/GpuRuntimeCalls.h"
#include "runtime/abi/ArtifactAbi.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"

#include <algorithm>
#include <tuple>

using namespace mlir;

namespace {

/// Gives declaration `fn` a body that calls the function in its slot.
void callThroughSlot(llvm::Module &m, llvm::Function &fn) {
  llvm::LLVMContext &ctx = m.getContext();
  auto *ptrTy = llvm::PointerType::get(ctx, 0);
  std::string slotName = ::moe::abi::kGpuSlotPrefix + fn.getName().str();
  auto *slot = new llvm::GlobalVariable(
      m, ptrTy, /*isConstant=*/false, llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantPointerNull::get(ptrTy), slotName);
  fn.setLinkage(llvm::GlobalValue::InternalLinkage);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", &fn));
  llvm::Value *target = b.CreateLoad(ptrTy, slot, slotName);
  llvm::SmallVector<llvm::Value *> args;
  for (llvm::Argument &a : fn.args())
    args.push_back(&a);
  llvm::CallInst *call = b.CreateCall(fn.getFunctionType(), target, args);
  if (fn.getReturnType()->isVoidTy())
    b.CreateRetVoid();
  else
    b.CreateRet(call);
}

/// Moves the functions of the appending array `arrayName` (global
/// constructors or destructors) into the new exported `void name(void)`,
/// called in the array's order.
void moveIntoFunction(llvm::Module &m, llvm::StringRef arrayName,
                      llvm::StringRef name) {
  llvm::LLVMContext &ctx = m.getContext();
  auto *fn = llvm::Function::Create(
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), false),
      llvm::GlobalValue::ExternalLinkage, name, m);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", fn));
  if (llvm::GlobalVariable *array = m.getGlobalVariable(arrayName)) {
    // { i32 priority, ptr function, ptr data } entries, in priority order.
    std::vector<std::tuple<uint64_t, size_t, llvm::Function *>> calls;
    if (auto *init =
            llvm::dyn_cast<llvm::ConstantArray>(array->getInitializer()))
      for (llvm::Use &u : init->operands()) {
        auto *entry = llvm::cast<llvm::ConstantStruct>(u.get());
        auto *priority = llvm::cast<llvm::ConstantInt>(entry->getOperand(0));
        if (auto *f = llvm::dyn_cast<llvm::Function>(entry->getOperand(1)))
          calls.push_back({priority->getZExtValue(), calls.size(), f});
      }
    std::sort(calls.begin(), calls.end());
    for (auto &[priority, index, f] : calls)
      b.CreateCall(f);
    array->eraseFromParent();
  }
  b.CreateRetVoid();
}

} // namespace

std::string mlir::moe::bindGpuRuntimeCalls(llvm::Module &module) {
  for (llvm::Function &fn : llvm::make_early_inc_range(module)) {
    if (!fn.isDeclaration() || !fn.getName().starts_with("mgpu"))
      continue;
    std::string name = fn.getName().str();
    if (!::moe::abi::isGpuRuntimeCall(name.c_str()))
      return "the host code calls " + name +
             ", which moert does not provide; the GPU work a CUDA artifact "
             "may ask of the runtime is listed in docs/Artifact.md";
    callThroughSlot(module, fn);
  }
  moveIntoFunction(module, "llvm.global_ctors", ::moe::abi::kGpuLoadModules);
  moveIntoFunction(module, "llvm.global_dtors", ::moe::abi::kGpuUnloadModules);
  return "";
}
