/* A stand-in for the CUDA driver (libcuda.so.1) for moert's tests on
 * machines without a GPU: the entry points moert calls, by their driver
 * names, over host memory. Loaded through MOERT_CUDA_DRIVER. Set up by the
 * environment:
 *   FAKE_CUDA_DEVICES       devices to report (default 1)
 *   FAKE_CUDA_INIT_ERROR    a CUresult for cuInit to return (default 0)
 *   FAKE_CUDA_MEMORY        bytes of memory per device (default 64 MiB)
 *   FAKE_CUDA_CC            compute capability as major*10+minor (default 90)
 *   FAKE_CUDA_MODULE_ERROR  a CUresult for cuModuleLoadData (default 0)
 *   FAKE_CUDA_LAUNCH_ERROR  a CUresult for cuLaunchKernel (default 0)
 *   FAKE_CUDA_LOG           a file each module load, kernel launch, copy
 *                           and stream wait is appended to
 * Kernels are not run: a launch is checked (a module loaded from an ELF
 * image, a function of it, a stream) and logged.
 * Built with -DFAKE_CUDA_OMIT_MEMALLOC it lacks cuMemAlloc_v2, as a driver
 * too old for moert would lack an entry point. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  NOT_INITIALIZED = 3,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_IMAGE = 200,
  INVALID_CONTEXT = 201,
  NO_BINARY_FOR_GPU = 209,
  INVALID_HANDLE = 400,
  LAUNCH_FAILED = 719,
};

static int initialized;
static long long used[16];
static struct CUctx_st { int device; } contexts[16];
static _Thread_local CUcontext current;

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
  long cc = env("FAKE_CUDA_CC", 90);
  *value = attribute == 75   ? (int)(cc / 10)
           : attribute == 76 ? (int)(cc % 10)
                             : 0;
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
/* Each thread's stack of current contexts, as the driver keeps it. */
static _Thread_local CUcontext stack[16];
static _Thread_local int depth;
CUresult cuCtxPushCurrent_v2(CUcontext context) {
  if (depth == 16)
    return INVALID_VALUE;
  stack[depth++] = current = context;
  return SUCCESS;
}
CUresult cuCtxPopCurrent_v2(CUcontext *context) {
  if (depth == 0)
    return INVALID_CONTEXT;
  *context = stack[--depth];
  current = depth ? stack[depth - 1] : NULL;
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
static void logLine(const char *format, ...);
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  logLine("copy to device %zu bytes", bytes);
  return SUCCESS;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  logLine("copy to host %zu bytes", bytes);
  return SUCCESS;
}
static void logLine(const char *format, ...) {
  const char *path = getenv("FAKE_CUDA_LOG");
  if (!path || !*path)
    return;
  FILE *f = fopen(path, "a");
  if (!f)
    return;
  va_list args;
  va_start(args, format);
  vfprintf(f, format, args);
  va_end(args);
  fputc('\n', f);
  fclose(f);
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       CUstream stream) {
  if (!current || !stream)
    return INVALID_CONTEXT;
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  logLine("copy on device %zu bytes", bytes);
  return SUCCESS;
}

/* A module is the image it was loaded from, which must be an ELF file (a
 * cubin); a function is its name. */
/* A module owns its functions, as the driver's do: they go with it. */
struct CUfunc_st {
  char name[256];
  struct CUfunc_st *next;
};
struct CUmod_st {
  const void *image;
  struct CUfunc_st *functions;
};
CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  if (!current)
    return INVALID_CONTEXT;
  CUresult r = (CUresult)env("FAKE_CUDA_MODULE_ERROR", 0);
  if (r != SUCCESS)
    return r;
  if (memcmp(image, "\177ELF", 4) != 0)
    return INVALID_IMAGE;
  *module = malloc(sizeof(struct CUmod_st));
  (*module)->image = image;
  (*module)->functions = NULL;
  logLine("load module on device %d", current->device);
  return SUCCESS;
}
CUresult cuModuleUnload(CUmodule module) {
  if (!current)
    return INVALID_CONTEXT;
  while (module->functions) {
    struct CUfunc_st *next = module->functions->next;
    free(module->functions);
    module->functions = next;
  }
  free(module);
  logLine("unload module");
  return SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  if (!current || !module)
    return INVALID_HANDLE;
  *function = malloc(sizeof(struct CUfunc_st));
  snprintf((*function)->name, sizeof((*function)->name), "%s", name);
  (*function)->next = module->functions;
  module->functions = *function;
  return SUCCESS;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        CUstream stream, void **params, void **extra) {
  (void)extra;
  if (!current || !f || !stream || !params)
    return INVALID_HANDLE;
  CUresult r = (CUresult)env("FAKE_CUDA_LAUNCH_ERROR", 0);
  if (r != SUCCESS)
    return r;
  logLine("launch %s grid %u,%u,%u block %u,%u,%u shared %u", f->name, gx, gy,
          gz, bx, by, bz, shared);
  return SUCCESS;
}
struct CUstream_st {
  int device;
};
CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  (void)flags;
  if (!current)
    return INVALID_CONTEXT;
  *stream = malloc(sizeof(struct CUstream_st));
  (*stream)->device = current->device;
  logLine("create stream");
  return SUCCESS;
}
CUresult cuStreamSynchronize(CUstream stream) {
  if (!stream)
    return INVALID_HANDLE;
  logLine("wait");
  return SUCCESS;
}
CUresult cuStreamDestroy_v2(CUstream stream) {
  free(stream);
  logLine("destroy stream");
  return SUCCESS;
}

static const struct {
  CUresult code;
  const char *name, *text;
} errors[] = {
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU",
     "no kernel image is available for execution on the device"},
    {LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
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
