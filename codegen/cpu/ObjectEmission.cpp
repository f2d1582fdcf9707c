//===- ObjectEmission.cpp - LLVM dialect to a loadable shared object ------===//
#include "codegen/cpu/ObjectEmission.h"
#include "codegen/cpu/CpuTarget.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using namespace mlir::moe;

#ifndef MOEC_DEFAULT_LINKER
#define MOEC_DEFAULT_LINKER "ld.lld"
#endif
#ifndef MOEC_LIBC_DIR
#define MOEC_LIBC_DIR "/usr/lib/x86_64-linux-gnu"
#endif

std::string mlir::moe::defaultLinker() { return MOEC_DEFAULT_LINKER; }

std::string mlir::moe::createCpuTarget(const std::string &cpu, CpuTarget &out) {
  // Validated and described first: LLVM warns about an unknown CPU name
  // every time a subtarget is made for it.
  CpuTargetDescription description;
  if (std::string msg = describeCpu(cpu, description); !msg.empty())
    return msg;
  llvm::InitializeNativeTargetAsmPrinter();
  // The kernels' inline assembly (int8 dot products) is parsed on emission.
  llvm::InitializeNativeTargetAsmParser();
  out.triple = description.triple;
  out.cpu = description.cpu;
  out.required = description.features;
  if (cpu == "native") {
    std::string features;
    for (const auto &f : llvm::sys::getHostCPUFeatures()) {
      if (!features.empty())
        features += ",";
      features += (f.second ? "+" : "-") + f.first().str();
    }
    out.features = features;
  }
  llvm::Triple triple(out.triple);
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return "no LLVM target for " + out.triple + ": " + error;
  llvm::TargetOptions options;
  out.machine.reset(target->createTargetMachine(
      triple, out.cpu, out.features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!out.machine)
    return "cannot create a target machine for CPU '" + out.cpu + "'";
  return "";
}

namespace {

/// void moec_entry_NAME(void **args) { _mlir_ciface_NAME(args[0], ...); }
bool addPackedEntryPoint(llvm::Module &m, const std::string &name) {
  llvm::Function *callee = m.getFunction("_mlir_ciface_" + name);
  if (!callee)
    return false;
  llvm::LLVMContext &ctx = m.getContext();
  auto *ptrTy = llvm::PointerType::get(ctx, 0);
  auto *fnTy =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrTy}, false);
  auto *fn = llvm::Function::Create(fnTy, llvm::GlobalValue::ExternalLinkage,
                                    ::moe::abi::entrySymbol(name), m);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", fn));
  llvm::SmallVector<llvm::Value *> args;
  for (unsigned i = 0; i < callee->arg_size(); ++i) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, fn->getArg(0), i);
    args.push_back(b.CreateLoad(ptrTy, slot));
  }
  b.CreateCall(callee, args);
  b.CreateRetVoid();
  return true;
}

} // namespace

std::unique_ptr<llvm::Module>
mlir::moe::translateForArtifact(ModuleOp module, llvm::LLVMContext &context,
                                const std::vector<std::string> &entryPoints,
                                const std::string &metadataJson,
                                CpuTarget &target) {
  // The moe argument attributes (the packing marks the metadata recorded)
  // mean nothing to LLVM.
  module.walk([](LLVM::LLVMFuncOp fn) {
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      for (NamedAttribute attr : llvm::to_vector(
               cast<FunctionOpInterface>(fn.getOperation()).getArgAttrs(i)))
        if (attr.getName().getValue().starts_with("moe."))
          fn.removeArgAttr(i, attr.getName());
  });
  std::unique_ptr<llvm::Module> m =
      translateModuleToLLVMIR(module, context, "moec_artifact");
  if (!m) {
    emitError(module.getLoc()) << "cannot translate the module to LLVM IR";
    return nullptr;
  }
  m->setTargetTriple(llvm::Triple(target.triple));
  m->setDataLayout(target.machine->createDataLayout());
  for (const std::string &name : entryPoints)
    if (!addPackedEntryPoint(*m, name)) {
      emitError(module.getLoc())
          << "no C interface for '" << name << "' after lowering";
      return nullptr;
    }
  llvm::Constant *text =
      llvm::ConstantDataArray::getString(context, metadataJson, true);
  auto *global = new llvm::GlobalVariable(
      *m, text->getType(), /*isConstant=*/true,
      llvm::GlobalValue::ExternalLinkage, text, ::moe::abi::kMetadataSymbol);
  global->setAlignment(llvm::Align(1));
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*m, &os)) {
    emitError(module.getLoc()) << "invalid LLVM IR: " << err;
    return nullptr;
  }
  return m;
}

void mlir::moe::optimizeModule(llvm::Module &module, CpuTarget &target) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder pb(target.machine.get(), tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(module, mam);
}

std::string mlir::moe::emitMachineCode(llvm::Module &module, CpuTarget &target,
                                       bool assembly, std::string &out) {
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (target.machine->addPassesToEmitFile(
          pm, os, nullptr,
          assembly ? llvm::CodeGenFileType::AssemblyFile
                   : llvm::CodeGenFileType::ObjectFile))
    return "the target cannot emit " +
           std::string(assembly ? "assembly" : "object files");
  pm.run(module);
  out.assign(buffer.begin(), buffer.end());
  return "";
}

std::string mlir::moe::linkSharedObject(const std::string &linker,
                                        const std::string &objectPath,
                                        const std::string &outputPath) {
  llvm::ErrorOr<std::string> program = llvm::sys::findProgramByName(linker);
  if (!program)
    return "linker '" + linker +
           "' not found (install lld-22 or pass --linker=PATH)";
  llvm::SmallString<128> log;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("moec-link", "log", log))
    return "cannot create a temporary file: " + ec.message();
  std::vector<std::string> argv = {*program, "-shared", "--as-needed", "-o",
                                   outputPath, objectPath, "-L" MOEC_LIBC_DIR,
                                   "-lm", "-lc",
                                   // f16 conversions without F16C.
                                   "-l:libgcc_s.so.1"};
  llvm::SmallVector<llvm::StringRef> args(argv.begin(), argv.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.str(),
                                                log.str()};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, redirects, 0,
                                     0, &error);
  std::string message;
  if (rc != 0) {
    auto text = llvm::MemoryBuffer::getFile(log);
    message = "linking with " + *program + " failed";
    if (!error.empty())
      message += ": " + error;
    if (text)
      message += ":\n" + (*text)->getBuffer().trim().str();
  }
  llvm::sys::fs::remove(log);
  return message;
}
