//===- NcclApi.cpp - NCCL, loaded at run time -----------------------------===//
#include "NcclApi.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <type_traits>

using namespace moert::nccl;

namespace {

/// Opens NCCL for the life of the process (its communicators outlive any
/// one group) and resolves every entry point, or says why not.
std::string openNccl(Nccl &n) {
  const char *env = std::getenv("MOERT_NCCL_LIBRARY");
  n.path = env && *env ? env : "libnccl.so.2";
  void *handle = dlopen(n.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *text = dlerror();
    return "no NCCL: cannot load " + n.path + " (" +
           (text ? text : "unknown error") + ")";
  }
  std::string missing;
  auto resolve = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(handle, name));
    if (!fn && missing.empty())
      missing = name;
  };
  resolve(n.getVersion, "ncclGetVersion");
  resolve(n.getUniqueId, "ncclGetUniqueId");
  resolve(n.commInitRankConfig, "ncclCommInitRankConfig");
  resolve(n.commGetAsyncError, "ncclCommGetAsyncError");
  resolve(n.commAbort, "ncclCommAbort");
  resolve(n.commDestroy, "ncclCommDestroy");
  resolve(n.groupStart, "ncclGroupStart");
  resolve(n.groupEnd, "ncclGroupEnd");
  resolve(n.send, "ncclSend");
  resolve(n.recv, "ncclRecv");
  resolve(n.allGather, "ncclAllGather");
  resolve(n.getErrorString, "ncclGetErrorString");
  if (!missing.empty())
    return "NCCL " + n.path + " lacks " + missing +
           " (moert needs NCCL 2.14 or later)";
  resolve(n.getLastError, "ncclGetLastError");
  if (ncclResult_t r = n.getVersion(&n.version); r != kNcclSuccess)
    return "NCCL " + n.path + ": " + n.error("ncclGetVersion", r, nullptr);
  if (n.version < kNcclMinimumVersion)
    return "NCCL " + n.path + " is version " + std::to_string(n.version) +
           ": moert needs 2.14 (21400) or later, for non-blocking "
           "communicators";
  return "";
}

} // namespace

std::string Nccl::error(const char *call, ncclResult_t result,
                        ncclComm_t comm) const {
  std::string out = std::string(call) + ": ";
  const char *text = getErrorString ? getErrorString(result) : nullptr;
  out += text && *text ? text : "NCCL error " + std::to_string(result);
  const char *last = getLastError ? getLastError(comm) : nullptr;
  if (last && *last)
    out += std::string(" (") + last + ")";
  return out;
}

const Nccl *moert::nccl::loadNccl(std::string &why) {
  static Nccl nccl;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] { failure = openNccl(nccl); });
  why = failure;
  return failure.empty() ? &nccl : nullptr;
}
