//===- TritonCache.cpp - kernels as Triton's cache stores them ------------===//
#include "codegen/cuda/TritonCache.h"
#include "codegen/cuda/Passes.h"
#include "runtime/support/Json.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::moe;
namespace json = ::moe::json;

bool mlir::moe::collectTritonKernels(ModuleOp module,
                                     std::vector<TritonKernel> &out) {
  bool ok = true;
  for (auto kernels : module.getOps<gpu::GPUModuleOp>())
    for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>()) {
      if (!fn->hasAttr(gpu::GPUDialect::getKernelFuncAttrName()))
        continue;
      auto signature = fn->getAttrOfType<ArrayAttr>(kTritonSignatureAttr);
      auto block = fn->getAttrOfType<DenseI32ArrayAttr>(
          NVVM::NVVMDialect::getMaxntidAttrName());
      if (!signature || !block) {
        fn.emitError("kernel '")
            << fn.getName() << "' has no " << kTritonSignatureAttr << " or "
            << NVVM::NVVMDialect::getMaxntidAttrName()
            << "; Triton's metadata is written for the kernels of "
               "moe-cuda-pipeline";
        ok = false;
        continue;
      }
      TritonKernel k;
      k.name = fn.getName().str();
      k.module = kernels.getName().str();
      for (Attribute a : signature)
        k.signature.push_back(cast<StringAttr>(a).getValue().str());
      k.threads = 1;
      for (int32_t d : block.asArrayRef())
        k.threads *= d;
      out.push_back(std::move(k));
    }
  return ok;
}

std::map<std::string, std::string>
mlir::moe::gpuBinaryObjects(ModuleOp module) {
  std::map<std::string, std::string> out;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(a))
        out[binary.getName().str()] = object.getObject().getValue().str();
  return out;
}

namespace {

std::string writeFile(const std::string &path, const std::string &bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return "cannot write '" + path + "': " + ec.message();
  os << bytes;
  os.close();
  if (os.has_error()) {
    std::string why = os.error().message();
    os.clear_error();
    return "cannot write '" + path + "': " + why;
  }
  return "";
}

/// Triton's metadata of kernel `k`: what CompiledKernel and its launcher
/// read, and the kernel's signature for the launcher a user builds.
json::Value metadata(const TritonKernel &k,
                     const CudaTargetDescription &target) {
  json::Value tgt = json::Value::object();
  tgt.set("backend", json::Value::string("cuda"));
  tgt.set("arch", json::Value::integer(target.sm));
  tgt.set("warp_size", json::Value::integer(target.warpSize));
  json::Value m = json::Value::object();
  m.set("name", json::Value::string(k.name));
  m.set("target", std::move(tgt));
  m.set("num_warps", json::Value::integer(k.threads / target.warpSize));
  m.set("num_ctas", json::Value::integer(1));
  m.set("warp_size", json::Value::integer(target.warpSize));
  // Dynamic shared memory: the kernels so far use none.
  m.set("shared", json::Value::integer(0));
  m.set("tmem_size", json::Value::null());
  m.set("global_scratch_size", json::Value::integer(0));
  m.set("global_scratch_align", json::Value::integer(1));
  m.set("profile_scratch_size", json::Value::integer(0));
  m.set("profile_scratch_align", json::Value::integer(1));
  m.set("launch_cooperative_grid", json::Value::boolean(false));
  m.set("launch_pdl", json::Value::boolean(false));
  m.set("backend_name", json::Value::string("cuda"));
  json::Value signature = json::Value::array();
  for (const std::string &t : k.signature)
    signature.push(json::Value::string(t));
  m.set("moec_signature", std::move(signature));
  m.set("moec_chip", json::Value::string(target.chip));
  return m;
}

} // namespace

std::string
mlir::moe::writeTritonCache(const std::string &dir,
                            const CudaTargetDescription &target,
                            const std::vector<TritonKernel> &kernels,
                            const std::map<std::string, std::string> &ptx,
                            const std::map<std::string, std::string> &cubins) {
  llvm::SmallString<256> root(dir);
  if (std::error_code ec = llvm::sys::fs::make_absolute(root))
    return "cannot resolve '" + dir + "': " + ec.message();
  for (const TritonKernel &k : kernels) {
    auto p = ptx.find(k.module), c = cubins.find(k.module);
    if (p == ptx.end() || c == cubins.end())
      return "no PTX or cubin of '" + k.module + "' for kernel '" + k.name +
             "'";
    llvm::SmallString<256> entry(root);
    llvm::sys::path::append(entry, k.name);
    if (std::error_code ec = llvm::sys::fs::create_directories(entry))
      return "cannot create '" + entry.str().str() + "': " + ec.message();
    json::Value children = json::Value::object();
    auto file = [&](const std::string &suffix) {
      llvm::SmallString<256> path(entry);
      llvm::sys::path::append(path, k.name + suffix);
      children.set(k.name + suffix, json::Value::string(path.str().str()));
      return path.str().str();
    };
    if (std::string err =
            writeFile(file(".json"), json::write(metadata(k, target), 1));
        !err.empty())
      return err;
    if (std::string err = writeFile(file(".ptx"), p->second); !err.empty())
      return err;
    if (std::string err = writeFile(file(".cubin"), c->second); !err.empty())
      return err;
    json::Value group = json::Value::object();
    group.set("child_paths", std::move(children));
    llvm::SmallString<256> groupPath(entry);
    llvm::sys::path::append(groupPath, "__grp__" + k.name + ".json");
    if (std::string err =
            writeFile(groupPath.str().str(), json::write(group, 1));
        !err.empty())
      return err;
  }
  return "";
}
