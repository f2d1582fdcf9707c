//===- RuntimeSlots.h - exported function-pointer slots for moert --------===//
//
// Generated code reaches the runtime through exported, initially null
// globals that moert fills when it loads an artifact (the thread pool's
// dispatcher, the scratch allocator). While a slot is null the code falls
// back to a self-contained path, so an object also runs without moert.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_RUNTIMESLOTS_H
#define MOEC_CODEGEN_CPU_RUNTIMESLOTS_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::moe {

/// The exported pointer global `name` initialized to null, created at the
/// start of `module` if missing.
LLVM::GlobalOp getOrCreateRuntimeSlot(ModuleOp module, OpBuilder &b,
                                      StringRef name);

/// Defines `hookName`, an internal function of type `type` that calls the
/// function pointer in the runtime slot `slotName` when the runtime has set
/// it, and otherwise returns at once (zero, for a non-void result).
LLVM::LLVMFuncOp defineSlotHook(ModuleOp module, OpBuilder &b,
                                StringRef hookName, StringRef slotName,
                                LLVM::LLVMFunctionType type);

/// An `!llvm.ptr` to the first element of `buffer`, a memref of any layout.
Value bufferElementPointer(OpBuilder &b, Location loc, Value buffer);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_RUNTIMESLOTS_H
