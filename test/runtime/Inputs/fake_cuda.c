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
 *   FAKE_CUDA_GRAPH_ERROR   a CUresult for cuGraphInstantiateWithFlags
 *                           (default 0)
 *   FAKE_CUDA_LOG           a file each module load, kernel launch, copy,
 *                           stream wait and graph call is appended to
 * Allocations are host memory at the addresses they report (so that a
 * stand-in NCCL can read them); cuPointerGetAttribute knows them.
 * Kernels are not run: a launch is checked (a module loaded from an ELF
 * image, a function of it, a stream) and logged. A stream that captures
 * (cuStreamBeginCapture_v2) records its launches and copies into a graph
 * instead, which cuGraphLaunch replays (logging and copying as the
 * launches and copies would); as the driver does, a wait on a capturing
 * stream fails and invalidates the capture, and so does an allocation on
 * any thread while a stream captures in the global mode.
 * Built with -DFAKE_CUDA_OMIT_MEMALLOC it lacks cuMemAlloc_v2, as a driver
 * too old for moert would lack an entry point; with -DFAKE_CUDA_OMIT_GRAPHS
 * it lacks the graph calls. */
#include <pthread.h>
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
  ILLEGAL_STATE = 401,
  LAUNCH_FAILED = 719,
  STREAM_CAPTURE_UNSUPPORTED = 900,
  STREAM_CAPTURE_INVALIDATED = 901,
};

/* A graph: the launches and copies a capture recorded. */
struct node {
  int copy;
  char name[256];
  unsigned grid[3], block[3], shared;
  CUdeviceptr dst, src;
  size_t bytes;
};
typedef struct CUgraph_st {
  struct node *nodes;
  int count, capacity;
} * CUgraph;
typedef struct CUgraphExec_st {
  struct CUgraph_st copy;
} * CUgraphExec;
/* Streams capturing in the global mode (allocations then fail). */
static int globalCaptures;

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
static void logLine(const char *format, ...);
/* The live allocations, for cuPointerGetAttribute. */
struct allocation {
  CUdeviceptr start;
  size_t bytes;
  int device;
  struct allocation *next;
};
static struct allocation *allocations;
static pthread_mutex_t allocationsLock = PTHREAD_MUTEX_INITIALIZER;
static void remember(CUdeviceptr start, size_t bytes, int device) {
  struct allocation *a = malloc(sizeof *a);
  if (!a)
    abort();
  a->start = start;
  a->bytes = bytes;
  a->device = device;
  pthread_mutex_lock(&allocationsLock);
  a->next = allocations;
  allocations = a;
  pthread_mutex_unlock(&allocationsLock);
}
static void forget(CUdeviceptr start) {
  pthread_mutex_lock(&allocationsLock);
  for (struct allocation **a = &allocations; *a; a = &(*a)->next)
    if ((*a)->start == start) {
      struct allocation *gone = *a;
      *a = gone->next;
      free(gone);
      break;
    }
  pthread_mutex_unlock(&allocationsLock);
}
#ifndef FAKE_CUDA_OMIT_MEMALLOC
/* Each allocation is a host block with its size in front. */
CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  if (globalCaptures)
    return STREAM_CAPTURE_UNSUPPORTED;
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
  remember(*ptr, bytes, current->device);
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
  forget(ptr);
  free(block);
  return SUCCESS;
}
/* CU_POINTER_ATTRIBUTE_MEMORY_TYPE (2): CU_MEMORYTYPE_DEVICE (2) inside
 * an allocation; other memory is unknown to the driver (CUDA_ERROR_INVALID_
 * VALUE), as ordinary host memory is. */
CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr ptr) {
  if (attribute != 2)
    return INVALID_VALUE;
  int found = 0;
  pthread_mutex_lock(&allocationsLock);
  for (struct allocation *a = allocations; a; a = a->next)
    if (ptr >= a->start && ptr < a->start + a->bytes)
      found = 1;
  pthread_mutex_unlock(&allocationsLock);
  if (!found)
    return INVALID_VALUE;
  *(unsigned *)data = 2;
  return SUCCESS;
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memset((void *)(uintptr_t)dst, value, bytes);
  logLine("set on device %zu bytes", bytes);
  return SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!current)
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  logLine("copy to device %zu bytes", bytes);
  return SUCCESS;
}
/* Work on a stream (0 too, the default one) runs when it is enqueued. */
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes,
                              CUstream stream) {
  (void)stream;
  if (!current)
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  logLine("copy to device %zu bytes (async)", bytes);
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

static struct node *record(CUstream stream);
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       CUstream stream) {
  if (!current || !stream)
    return INVALID_CONTEXT;
  struct node *n = record(stream);
  if (n) {
    n->copy = 1;
    n->dst = dst;
    n->src = src;
    n->bytes = bytes;
    return SUCCESS;
  }
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
  struct node *n = record(stream);
  if (n) {
    snprintf(n->name, sizeof(n->name), "%s", f->name);
    n->grid[0] = gx, n->grid[1] = gy, n->grid[2] = gz;
    n->block[0] = bx, n->block[1] = by, n->block[2] = bz;
    n->shared = shared;
    return SUCCESS;
  }
  logLine("launch %s grid %u,%u,%u block %u,%u,%u shared %u", f->name, gx, gy,
          gz, bx, by, bz, shared);
  return SUCCESS;
}
struct CUstream_st {
  int device;
  /* While capturing: the graph being recorded, its mode, and whether a
   * call invalidated the capture. */
  CUgraph capture;
  int mode, invalidated;
};
/* A new node of the graph `stream` records, or NULL when it does not
 * capture (or out of memory, which invalidates the capture). */
static struct node *record(CUstream stream) {
  CUgraph g = stream->capture;
  if (!g)
    return NULL;
  if (g->count == g->capacity) {
    int capacity = g->capacity ? 2 * g->capacity : 16;
    struct node *nodes = realloc(g->nodes, capacity * sizeof(struct node));
    if (!nodes) {
      stream->invalidated = 1;
      return NULL;
    }
    g->nodes = nodes;
    g->capacity = capacity;
  }
  struct node *n = &g->nodes[g->count++];
  memset(n, 0, sizeof(*n));
  return n;
}
CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  (void)flags;
  if (!current)
    return INVALID_CONTEXT;
  *stream = calloc(1, sizeof(struct CUstream_st));
  (*stream)->device = current->device;
  logLine("create stream");
  return SUCCESS;
}
/* Work on a stream is done when it is enqueued: idle. */
CUresult cuStreamQuery(CUstream stream) {
  if (!stream)
    return INVALID_HANDLE;
  return SUCCESS;
}
CUresult cuStreamSynchronize(CUstream stream) {
  if (!stream)
    return INVALID_HANDLE;
  if (stream->capture) {
    stream->invalidated = 1;
    logLine("wait while capturing: refused");
    return STREAM_CAPTURE_UNSUPPORTED;
  }
  logLine("wait");
  return SUCCESS;
}

#ifndef FAKE_CUDA_OMIT_GRAPHS
CUresult cuStreamBeginCapture_v2(CUstream stream, int mode) {
  if (!current || !stream)
    return INVALID_HANDLE;
  if (stream->capture)
    return ILLEGAL_STATE;
  stream->capture = calloc(1, sizeof(struct CUgraph_st));
  stream->mode = mode;
  stream->invalidated = 0;
  if (mode == 0)
    ++globalCaptures;
  logLine("begin capture (mode %d)", mode);
  return SUCCESS;
}
static void freeGraph(struct CUgraph_st *g) {
  free(g->nodes);
  g->nodes = NULL;
  g->count = g->capacity = 0;
}
CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  if (!stream || !stream->capture)
    return ILLEGAL_STATE;
  CUgraph g = stream->capture;
  stream->capture = NULL;
  if (stream->mode == 0)
    --globalCaptures;
  if (stream->invalidated) {
    freeGraph(g);
    free(g);
    *graph = NULL;
    logLine("end capture: invalidated");
    return STREAM_CAPTURE_INVALIDATED;
  }
  *graph = g;
  logLine("end capture: %d nodes", g->count);
  return SUCCESS;
}
CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                     unsigned long long flags) {
  (void)flags;
  if (!graph)
    return INVALID_VALUE;
  CUresult r = (CUresult)env("FAKE_CUDA_GRAPH_ERROR", 0);
  if (r != SUCCESS)
    return r;
  *exec = calloc(1, sizeof(struct CUgraphExec_st));
  (*exec)->copy.count = (*exec)->copy.capacity = graph->count;
  (*exec)->copy.nodes = malloc(graph->count * sizeof(struct node) + 1);
  memcpy((*exec)->copy.nodes, graph->nodes, graph->count * sizeof(struct node));
  logLine("instantiate graph of %d nodes", graph->count);
  return SUCCESS;
}
CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (!current || !exec || !stream || stream->capture)
    return INVALID_HANDLE;
  logLine("launch graph of %d nodes", exec->copy.count);
  for (int i = 0; i < exec->copy.count; ++i) {
    const struct node *n = &exec->copy.nodes[i];
    if (n->copy) {
      memmove((void *)(uintptr_t)n->dst, (const void *)(uintptr_t)n->src,
              n->bytes);
      logLine("copy on device %zu bytes", n->bytes);
    } else {
      logLine("launch %s grid %u,%u,%u block %u,%u,%u shared %u", n->name,
              n->grid[0], n->grid[1], n->grid[2], n->block[0], n->block[1],
              n->block[2], n->shared);
    }
  }
  return SUCCESS;
}
CUresult cuGraphExecDestroy(CUgraphExec exec) {
  if (!exec)
    return INVALID_VALUE;
  freeGraph(&exec->copy);
  free(exec);
  logLine("destroy graph exec");
  return SUCCESS;
}
CUresult cuGraphDestroy(CUgraph graph) {
  if (!graph)
    return INVALID_VALUE;
  freeGraph(graph);
  free(graph);
  logLine("destroy graph");
  return SUCCESS;
}
#endif
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
    {STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
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
