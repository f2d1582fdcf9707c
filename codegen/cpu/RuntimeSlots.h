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

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_RUNTIMESLOTS_H
