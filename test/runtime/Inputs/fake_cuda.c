/* A stand-in for the CUDA driver (libcuda.so.1) for moert's tests on
 * machines without a GPU: the entry points moert calls, by their driver
 * names, over host memory. Loaded through MOERT_CUDA_DRIVER. Set up by the
 * environment:
 *   FAKE_CUDA_DEVICES       devices to report (default 1)
 *   FAKE_CUDA_INIT_ERROR    a CUresult for cuInit to return (default 0)
 *   FAKE_CUDA_MEMORY        bytes of memory per device (default 64 MiB)
 * Built with -DFAKE_CUDA_OMIT_MEMALLOC it lacks cuMemAlloc_v2, as a driver
 * too old for moert would lack an entry point. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  NOT_INITIALIZED = 3,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_CONTEXT = 201,
};

static int initialized;
static long long used[16];
static struct CUctx_st { int device; } contexts[16];
static CUcontext current;

static long env(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? atol(v) : fallback;
}
static int devices(void) { return (int)env("FAKE_CUDA_DEVICES", 1); }

CUresult cuInit(unsigned flags) {
  (void)flags;
  CUresult r = (CUresult)env("FAKE_CUDA_INIT_ERROR", 0);
  initialized = r == SUCCESS;
  return r;
}
CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return SUCCESS;
}
CUresult cuDeviceGetCount(int *count) {
  if (!initialized)
    return NOT_INITIALIZED;
  *count = devices();
  return SUCCESS;
}
CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal < 0 || ordinal >= devices())
    return INVALID_DEVICE;
  *device = ordinal;
  return SUCCESS;
}
CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
  snprintf(name, (size_t)length, "Fake GPU %d", device);
  return SUCCESS;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice device) {
  (void)device;
  *value = attribute == 75 ? 9 : 0; /* compute capability 9.0 */
  return SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) {
  (void)device;
  *bytes = (size_t)env("FAKE_CUDA_MEMORY", 64l << 20);
  return SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  if (device < 0 || device >= devices() || device >= 16)
    return INVALID_DEVICE;
  contexts[device].device = device;
  *context = &contexts[device];
  return SUCCESS;
}
CUresult cuCtxPushCurrent_v2(CUcontext context) {
  current = context;
  return SUCCESS;
}
CUresult cuCtxPopCurrent_v2(CUcontext *context) {
  *context = current;
  current = NULL;
  return SUCCESS;
}
#ifndef FAKE_CUDA_OMIT_MEMALLOC
/* Each allocation is a host block with its size in front. */
CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  if (bytes == 0)
    return INVALID_VALUE;
  if (used[current->device] + (long long)bytes >
      env("FAKE_CUDA_MEMORY", 64l << 20))
    return OUT_OF_MEMORY;
  char *block = malloc(bytes + 64);
  if (!block)
    return OUT_OF_MEMORY;
  memcpy(block, &bytes, sizeof(bytes));
  used[current->device] += (long long)bytes;
  *ptr = (CUdeviceptr)(uintptr_t)(block + 64);
  return SUCCESS;
}
#endif
CUresult cuMemFree_v2(CUdeviceptr ptr) {
  if (!current)
    return INVALID_CONTEXT;
  char *block = (char *)(uintptr_t)ptr - 64;
  size_t bytes;
  memcpy(&bytes, block, sizeof(bytes));
  used[current->device] -= (long long)bytes;
  free(block);
  return SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return SUCCESS;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return SUCCESS;
}
static const struct {
  CUresult code;
  const char *name, *text;
} errors[] = {
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
};
CUresult cuGetErrorName(CUresult error, const char **name) {
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); ++i)
    if (errors[i].code == error) {
      *name = errors[i].name;
      return SUCCESS;
    }
  return INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult error, const char **text) {
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); ++i)
    if (errors[i].code == error) {
      *text = errors[i].text;
      return SUCCESS;
    }
  return INVALID_VALUE;
}
