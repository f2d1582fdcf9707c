//===- ObjectEmission.h - LLVM dialect to a loadable shared object -*- C++
//-*-===//
//
// The last steps of `moe-compile --target=cpu`: translate the LLVM-dialect
// module to LLVM IR, add the packed entry points and the metadata record
// (docs/Artifact.md), optimize at O3 for the chosen CPU, emit an object file
// and link it into a shared object with lld.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CPU_OBJECTEMISSION_H
#define MOEC_CODEGEN_CPU_OBJECTEMISSION_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::moe {

/// The machine code target: "native" is the host CPU with all its features;
/// "x86-64" (or "generic") a baseline any x86-64 runs; any other name is an
/// LLVM CPU ("x86-64-v3", "skylake-avx512", ...).
struct CpuTarget {
  std::string triple;
  std::string cpu;
  std::string features; // "+avx2,+fma,..." (explicit features, native only)
  /// The ISA extensions the code may use, as the runtime checks them
  /// ("avx2", "avx512f", ...).
  std::vector<std::string> required;
  std::unique_ptr<llvm::TargetMachine> machine;
};

/// Creates the target machine. Returns a message on failure.
std::string createCpuTarget(const std::string &cpu, CpuTarget &out);

/// Translates `module` (LLVM dialect only) to LLVM IR and adds, for every
/// function name in `entryPoints`, `void moec_entry_NAME(void **args)` that
/// calls `_mlir_ciface_NAME` with args[i] as its i-th descriptor pointer,
/// and the metadata record as the NUL-terminated string
/// `moec_artifact_metadata`. Returns null after emitting an error.
std::unique_ptr<llvm::Module>
translateForArtifact(ModuleOp module, llvm::LLVMContext &context,
                     const std::vector<std::string> &entryPoints,
                     const std::string &metadataJson, CpuTarget &target);

/// Runs the O3 pipeline on `module` for `target`.
void optimizeModule(llvm::Module &module, CpuTarget &target);

/// Emits an object file (or assembly) into `out`. Returns a message.
std::string emitMachineCode(llvm::Module &module, CpuTarget &target,
                            bool assembly, std::string &out);

/// Links `objectPath` into the shared object `outputPath` with `linker`
/// (ld.lld). Returns a message naming the linker's complaint on failure.
std::string linkSharedObject(const std::string &linker,
                             const std::string &objectPath,
                             const std::string &outputPath);

/// The linker moe-compile uses unless told otherwise.
std::string defaultLinker();

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CPU_OBJECTEMISSION_H
