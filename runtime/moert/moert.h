/*===- moert.h - the moec runtime C API ---------------------------*- C -*-===*
 *
 * Loads an artifact written by moe-compile, binds its weights, and runs its
 * entry points on caller-provided buffers. docs/Runtime.md is the contract.
 *
 * Conventions:
 *  - Every fallible call returns a moert_status_t: NULL means success;
 *    otherwise the caller owns the status and frees it with
 *    moert_status_free(). Nothing aborts the process.
 *  - out_ parameters are cleared first and written only on success.
 *  - Objects are opaque handles created by *_create / *_load and released by
 *    *_release. A session keeps its artifact alive; tensors bound by
 *    pointer (moert_session_bind_weight) must outlive the session.
 *  - Strings returned by the API live as long as the object they came from.
 *  - A session runs one call at a time; separate sessions may run
 *    concurrently.
 *  - Devices (moert_device_get) belong to the runtime and live as long as
 *    the process; they are never released.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MOEC_RUNTIME_MOERT_MOERT_H
#define MOEC_RUNTIME_MOERT_MOERT_H

#include <stdint.h>

/* Marks the C API: libmoert.so is built with hidden visibility and exports
 * these declarations only. */
#if defined(__GNUC__) || defined(__clang__)
#define MOERT_API __attribute__((visibility("default")))
#else
#define MOERT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===--- Version ----------------------------------------------------------===*/

/* The moec version this runtime was built from, e.g. "0.1.0". */
MOERT_API const char *moert_version(void);

/*===--- Status -----------------------------------------------------------===*/

typedef enum moert_status_code_e {
  MOERT_OK = 0,
  MOERT_INVALID_ARGUMENT = 1,    /* wrong shape, dtype, name, option */
  MOERT_NOT_FOUND = 2,           /* a file, function or tensor is missing */
  MOERT_IO_ERROR = 3,            /* a file cannot be read or is corrupt */
  MOERT_FAILED_PRECONDITION = 4, /* e.g. a weight is not bound yet */
  MOERT_UNSUPPORTED = 5,         /* e.g. the CPU lacks an ISA extension */
  MOERT_INTERNAL = 6,
  MOERT_RESOURCE_EXHAUSTED = 7, /* e.g. a device is out of memory */
} moert_status_code_t;

typedef struct moert_status_s *moert_status_t;

/* MOERT_OK for NULL. */
MOERT_API moert_status_code_t moert_status_code(moert_status_t status);
/* "" for NULL. */
MOERT_API const char *moert_status_message(moert_status_t status);
MOERT_API void moert_status_free(moert_status_t status);

/*===--- Tensors ----------------------------------------------------------===*/

typedef enum moert_dtype_e {
  MOERT_F32 = 0,
  MOERT_BF16 = 1,
  MOERT_F16 = 2,
  /* Block-quantized weights: ggml's (blocks of 32 elements in 34, 18,
     20, 22, 24 or 17 bytes, or of 256 in 84, 110, 136, 144, 176 or 210) and
     moec's u8z and u4z (blocks of 32 in 37 or 21 bytes), u8z128 and u4z128 (of
     128 in 133 or 69), u2z and u2z128 (of 32 in 13 bytes, of 128 in 37), u8z16,
     u4z16 and u2z16 (of 16 in 21, 13 or 9 bytes) and fp8_e4m3 (of 128 in 132
     bytes), docs/Runtime.md; only weights have these, never inputs or outputs.
   */
  MOERT_Q8_0 = 3,
  MOERT_Q4_0 = 4,
  MOERT_Q4_K = 5,
  MOERT_Q6_K = 6,
  MOERT_MXFP4 = 7,
  MOERT_U8Z = 8,
  MOERT_U4Z = 9,
  MOERT_FP8_E4M3 = 10,
  MOERT_U8Z128 = 11,
  MOERT_U4Z128 = 12,
  MOERT_U2Z = 13,
  MOERT_U2Z128 = 14,
  MOERT_U8Z16 = 15,
  MOERT_U4Z16 = 16,
  MOERT_U2Z16 = 17,
  MOERT_Q4_1 = 18,
  MOERT_Q5_0 = 19,
  MOERT_Q5_1 = 20,
  MOERT_Q5_K = 21,
  MOERT_Q2_K = 22,
  MOERT_Q3_K = 23,
  MOERT_IQ4_NL = 24,
  MOERT_IQ4_XS = 25,
  MOERT_IQ2_XXS = 26,
  MOERT_IQ2_XS = 27,
  MOERT_IQ2_S = 28,
  MOERT_IQ3_XXS = 29,
  MOERT_IQ3_S = 30,
  MOERT_IQ1_S = 31,
  MOERT_IQ1_M = 32,
} moert_dtype_t;

/* A dense row-major tensor in caller memory. */
typedef struct moert_tensor_s {
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *shape; /* rank entries */
  void *data;
} moert_tensor_t;

/* "f32", "bf16", "f16", "q8_0", "q4_0", "q4_k", "q6_k", "mxfp4", "u8z",
   "u4z", "fp8_e4m3", "u8z128", "u4z128", "u2z", "u2z128", "u8z16",
   "u4z16", "u2z16", "q4_1", "q5_0", "q5_1", "q5_k", "q2_k", "q3_k",
   "iq4_nl", "iq4_xs", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s",
   "iq1_s", "iq1_m";
   "unknown" for any other value. */
MOERT_API const char *moert_dtype_name(moert_dtype_t dtype);

/*===--- Devices ----------------------------------------------------------===*/

/* The kinds of device a session can run on. */
typedef enum moert_device_kind_e {
  MOERT_DEVICE_CPU = 0,  /* the host CPU */
  MOERT_DEVICE_CUDA = 1, /* an NVIDIA GPU, through the CUDA driver where it
                            loads; runs artifacts of moe-compile
                            --target=cuda */
} moert_device_kind_t;

typedef struct moert_device_s moert_device_t;
typedef struct moert_artifact_s moert_artifact_t;

/* "cpu", "cuda"; "unknown" for other values. */
MOERT_API const char *moert_device_kind_name(moert_device_kind_t kind);

/* The devices this process can use: index 0, the host CPU, is the default
 * device; the CUDA devices follow, in the driver's order, where the driver
 * (libcuda.so.1, or the library $MOERT_CUDA_DRIVER names) loads and
 * reports devices. They are listed once, on the first call. */
MOERT_API int32_t moert_device_count(void);
MOERT_API moert_status_t moert_device_get(int32_t index,
                                          moert_device_t **out_device);

/* The device called `name`: a kind ("cpu", "cuda") optionally followed by
 * ":INDEX" among the devices of that kind ("cpu" is "cpu:0"). Fails with
 * MOERT_INVALID_ARGUMENT for a name that is not one, and MOERT_NOT_FOUND
 * for a device this process does not have, saying why (for CUDA: no
 * driver, a driver that does not start, or no device). */
MOERT_API moert_status_t moert_device_find(const char *name,
                                           moert_device_t **out_device);

MOERT_API moert_device_kind_t moert_device_kind(const moert_device_t *device);
/* A short name, e.g. "cpu:0". */
MOERT_API const char *moert_device_name(const moert_device_t *device);
/* One line about the device, e.g. its cores and ISA extensions. */
MOERT_API const char *moert_device_description(const moert_device_t *device);

/* NULL when `artifact` can run on `device`: the device is of the kind the
 * artifact's target needs (moert_artifact_device_kind) and has what the
 * code was compiled for (a CPU's ISA extensions); otherwise
 * MOERT_UNSUPPORTED saying what is missing. */
MOERT_API moert_status_t moert_device_supports(
    const moert_device_t *device, const moert_artifact_t *artifact);

/*===--- Buffers ----------------------------------------------------------===*/

/* Memory on a device, reference counted: created with a count of one,
 * freed by the last moert_buffer_release. */
typedef struct moert_buffer_s moert_buffer_t;

/* Allocates `bytes` (contents undefined) on `device` (NULL: the default
 * CPU device), aligned to 64 bytes. MOERT_INTERNAL without the memory. */
MOERT_API moert_status_t moert_buffer_alloc(moert_device_t *device,
                                            uint64_t bytes,
                                            moert_buffer_t **out_buffer);
MOERT_API void moert_buffer_retain(moert_buffer_t *buffer);
MOERT_API void moert_buffer_release(moert_buffer_t *buffer);
/* The buffer's memory as the host sees it; NULL when the host cannot
 * address it (a device's own memory). Every CPU buffer is host-visible. */
MOERT_API void *moert_buffer_data(moert_buffer_t *buffer);
MOERT_API uint64_t moert_buffer_size(const moert_buffer_t *buffer);
MOERT_API moert_device_t *moert_buffer_device(const moert_buffer_t *buffer);

/* Copies `bytes` from host memory `src` into the buffer at `offset`, or
 * from the buffer at `offset` into host memory `dst`; the copy is complete
 * when the call returns. A copy that does not fit in the buffer is refused
 * (MOERT_INVALID_ARGUMENT). These do not wait for queued runs: read a run's
 * outputs after moert_session_synchronize(). */
MOERT_API moert_status_t moert_buffer_write(moert_buffer_t *buffer,
                                            uint64_t offset, const void *src,
                                            uint64_t bytes);
MOERT_API moert_status_t moert_buffer_read(const moert_buffer_t *buffer,
                                           uint64_t offset, void *dst,
                                           uint64_t bytes);

/* A dense row-major tensor in a buffer, `offset` bytes from its start (a
 * multiple of the element size; on a CUDA device, of 16 bytes). */
typedef struct moert_buffer_tensor_s {
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *shape; /* rank entries */
  moert_buffer_t *buffer;
  uint64_t offset;
} moert_buffer_tensor_t;

/*===--- Artifacts --------------------------------------------------------===*/

/* Loads a shared object written by moe-compile. Fails if it is not one, if
 * its format version is unknown, if its target needs a kind of device this
 * runtime lacks, or (a CPU artifact) if this CPU lacks an ISA extension the
 * code was compiled for. */
MOERT_API moert_status_t moert_artifact_load(const char *path,
                                             moert_artifact_t **out_artifact);
MOERT_API void moert_artifact_release(moert_artifact_t *artifact);

/* The kind of device the artifact's code runs on, from its metadata's
 * target (an nvptx triple: MOERT_DEVICE_CUDA; otherwise the CPU). */
MOERT_API moert_device_kind_t
moert_artifact_device_kind(const moert_artifact_t *artifact);

/* The artifact's metadata record (JSON, docs/Artifact.md). */
MOERT_API const char *moert_artifact_metadata(const moert_artifact_t *artifact);

MOERT_API int32_t
moert_artifact_function_count(const moert_artifact_t *artifact);
MOERT_API const char *
moert_artifact_function_name(const moert_artifact_t *artifact, int32_t index);

/* The weight files recorded at compile time (absolute paths). */
MOERT_API int32_t
moert_artifact_weight_file_count(const moert_artifact_t *artifact);
MOERT_API const char *
moert_artifact_weight_file(const moert_artifact_t *artifact, int32_t index);

/* One argument or result of an entry point. shape has rank entries; -1
 * marks the token dimension, whose size every call chooses. */
typedef struct moert_param_s {
  const char *name;
  int32_t is_weight; /* 1: bound once per session; 0: passed per call */
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *shape;
} moert_param_t;

/* The signature of function `name`: its arguments in order (inputs and
 * weights interleaved as declared) and its results. */
MOERT_API moert_status_t moert_artifact_function_signature(
    const moert_artifact_t *artifact, const char *name, int32_t *out_num_args,
    const moert_param_t **out_args, int32_t *out_num_results,
    const moert_param_t **out_results);

/*===--- Sessions ---------------------------------------------------------===*/

typedef struct moert_session_s moert_session_t;

/* The first session options, kept as they are for the programs written
 * against them; moert_session_config_t below is the one that grows. */
typedef struct moert_session_options_s {
  /* Worker threads for the entry points' parallel loops; 0 means one per
   * core this process may run on. */
  int32_t num_threads;
} moert_session_options_t;

/* options may be NULL (defaults). Same as moert_session_create_with_config()
 * with the config's num_threads taken from options. */
MOERT_API moert_status_t moert_session_create(
    moert_artifact_t *artifact, const moert_session_options_t *options,
    moert_session_t **out_session);

/* Session settings that can grow without breaking callers: start from
 * MOERT_SESSION_CONFIG_INIT, which sets struct_size to the size this header
 * declares and every field to its default, then set fields. A runtime reads
 * the fields that fit in struct_size and takes the defaults for later ones
 * (a program built against an older moert.h); fields it does not know (a
 * newer moert.h) must be left at their default, zero, or the call fails with
 * MOERT_UNSUPPORTED. New fields are only ever appended. */
typedef struct moert_session_config_s {
  /* sizeof(moert_session_config_t) as the caller compiled it. */
  uint32_t struct_size;
  /* Worker threads for the entry points' parallel loops; 0 (the default)
   * means one per core this process may run on. */
  int32_t num_threads;
  /* The device the session runs on; NULL (the default) is the default CPU
   * device, moert_device_get(0). A caller whose struct_size ends before
   * this field (an older moert.h) gets the default. */
  moert_device_t *device;
  /* Non-zero: on a CUDA device, each call's launches are captured as a CUDA
   * graph the first time a function is called with its arguments (the same
   * buffers, so the same shapes), and later calls with those arguments
   * replay the graph: one launch for the whole call instead of one per
   * kernel. At most 16 graphs are kept per session (the least recently used
   * goes). A call the driver does not capture runs kernel by kernel, and the
   * session stops capturing. MOERT_UNSUPPORTED at creation where the driver
   * has no graphs, MOERT_INVALID_ARGUMENT on a device that is not CUDA.
   * 0 (the default): kernel by kernel. */
  int32_t cuda_graphs;
} moert_session_config_t;

#define MOERT_SESSION_CONFIG_INIT                                              \
  { sizeof(moert_session_config_t), 0, 0, 0 }

/* config may be NULL (defaults). */
MOERT_API moert_status_t moert_session_create_with_config(
    moert_artifact_t *artifact, const moert_session_config_t *config,
    moert_session_t **out_session);
MOERT_API void moert_session_release(moert_session_t *session);

MOERT_API int32_t moert_session_num_threads(const moert_session_t *session);
/* The device the session runs on. */
MOERT_API moert_device_t *moert_session_device(const moert_session_t *session);

/* Memory-maps a .safetensors file and makes its tensors available to the
 * weight arguments that read them (by name, or as parts of a stacked
 * weight), after checking each such tensor's dtype and shape against the
 * artifact. Tensors no weight reads are ignored. A later file rebinds names
 * bound by an earlier one. Weights of several files (a sharded checkpoint)
 * are bound by binding each file. out_bound (may be NULL) receives the
 * number of this file's tensors that weights read. */
MOERT_API moert_status_t moert_session_bind_weights_file(
    moert_session_t *session, const char *path, int32_t *out_bound);

/* Binds the files the artifact records, in order. Each is looked for first
 * next to the artifact (its file name in the artifact's directory, so an
 * artifact copied with its weights finds them), then at the recorded path;
 * when neither exists the call fails with MOERT_NOT_FOUND naming both. */
MOERT_API moert_status_t
moert_session_bind_recorded_weights(moert_session_t *session);

/* Binds one weight from caller memory (dtype and shape checked). */
MOERT_API moert_status_t moert_session_bind_weight(
    moert_session_t *session, const char *name, const moert_tensor_t *tensor);

/* The tensor bound to `name`, in the shape the artifact declares (data
 * points into the mapping or caller memory, or, for a stacked or transposed
 * weight, into a buffer the session assembles on first request; valid while
 * the session lives and the name is not rebound). */
MOERT_API moert_status_t moert_session_weight(const moert_session_t *session,
                                              const char *name,
                                              moert_tensor_t *out_tensor);

/* Binds every weight of `function` from the tensors of the bound files
 * (a stacked or transposed weight from its parts, docs/Artifact.md) and
 * succeeds when none is missing; otherwise the message lists the missing
 * names and the files searched. moert_session_run() does this first. */
MOERT_API moert_status_t moert_session_check_weights(moert_session_t *session,
                                                     const char *function);

/* Runs `function`. inputs are its non-weight arguments in declaration
 * order; outputs its results, in buffers the caller allocated with the
 * result shapes (the token dimension equal to the inputs'). The tensors are
 * host memory, which a session on a GPU cannot read: it refuses this call
 * (MOERT_INVALID_ARGUMENT) and takes moert_session_enqueue() instead. */
MOERT_API moert_status_t moert_session_run(moert_session_t *session,
                                           const char *function,
                                           const moert_tensor_t *inputs,
                                           int32_t num_inputs,
                                           const moert_tensor_t *outputs,
                                           int32_t num_outputs);

/* Queues a run of `function` on the session's queue, on buffers of the
 * session's device: inputs and outputs as in moert_session_run(), checked
 * the same way (and each against its buffer's size) before anything is
 * queued. Calls run in the order they are queued; the outputs are complete
 * once moert_session_synchronize() returns, and the buffers must stay
 * alive until then. On the CPU device the call runs before this returns
 * (on the caller's thread and the session's pool). */
MOERT_API moert_status_t moert_session_enqueue(
    moert_session_t *session, const char *function,
    const moert_buffer_tensor_t *inputs, int32_t num_inputs,
    const moert_buffer_tensor_t *outputs, int32_t num_outputs);

/* Waits until every call queued on the session has completed; returns the
 * first failure of those calls since the last wait, if any (NULL on the CPU
 * device, where queued calls have completed already). moert_session_run()
 * is a queued call followed by this wait. */
MOERT_API moert_status_t moert_session_synchronize(moert_session_t *session);

/* ---- Routing statistics (docs/Runtime.md, "Routing statistics") ---- */

/* Which routing statistics a session keeps. */
typedef enum moert_routing_flags_e {
  MOERT_ROUTING_OFF = 0,
  MOERT_ROUTING_COUNTS = 1,     /* calls, tokens, tokens per expert */
  MOERT_ROUTING_COSELECTION = 2 /* also tokens per pair of experts */
} moert_routing_flags_t;

/* The routing sites of `function`: the layers whose expert selection it
 * reports (one per moe.route; none when compiled with
 * --record-routing=false or for a GPU). -1 when there is no such
 * function. */
MOERT_API int32_t moert_artifact_routing_site_count(
    const moert_artifact_t *artifact, const char *function);

/* The expert count E and experts per token k of the routing site `index`
 * (0 <= index < moert_artifact_routing_site_count()) of `function`. */
MOERT_API moert_status_t moert_artifact_routing_site(
    const moert_artifact_t *artifact, const char *function, int32_t index,
    int64_t *out_experts, int64_t *out_k);

/* Starts counting, from zero, the experts the session's calls select
 * (flags: MOERT_ROUTING_COUNTS, optionally | MOERT_ROUTING_COSELECTION,
 * which needs E <= 4096), or stops counting (MOERT_ROUTING_OFF; the counts
 * stay readable). MOERT_FAILED_PRECONDITION when the artifact reports no
 * routing. Recording adds a pass over the [T, k] indices per layer call. */
MOERT_API moert_status_t moert_session_record_routing(moert_session_t *session,
                                                      uint32_t flags);

/* What routing site `index` of `function` saw since recording started:
 * the calls and tokens, into counts[num_experts] the tokens each expert
 * received, and into coselection[num_experts * num_experts] the tokens
 * that selected both experts a and b at [a * E + b] (zero on the
 * diagonal; MOERT_FAILED_PRECONDITION when not recorded). num_experts
 * must be the site's E when either buffer is given. Any out pointer may
 * be NULL; on failure nothing is written. */
MOERT_API moert_status_t moert_session_routing_counts(
    const moert_session_t *session, const char *function, int32_t index,
    int64_t *out_calls, int64_t *out_tokens, int64_t *counts,
    int64_t num_experts, int64_t *coselection);

/* Writes the routing statistics to `path` as the JSON document of
 * docs/Runtime.md (replacing the file; nothing is left on failure). */
MOERT_API moert_status_t
moert_session_write_routing(const moert_session_t *session, const char *path);

/* Sums the routing statistics over the ranks of the session's
 * expert-parallel group (moert_session_set_collectives), for functions
 * whose ranks each route their own tokens: every rank calls it, after
 * the same calls, and then holds the group's counts (tokens, tokens per
 * expert and co-selection summed; calls, which the ranks make together,
 * as the most any rank made). MOERT_FAILED_PRECONDITION without recorded
 * routing or collectives, or when the collectives fail or the ranks
 * recorded different sites or flags (the counts are then unchanged). */
MOERT_API moert_status_t moert_session_reduce_routing(moert_session_t *session);

/* ---- Expert-parallel collectives (docs/ExpertParallelism.md) ---- */

/* The collectives of an expert-parallel group: the processes ("ranks")
 * that run an artifact's expert-parallel functions together, one rank
 * each, every rank calling the same function on its own tokens. An
 * engine (libmoert_mpi's MPI collectives, moert_mpi.h) fills this table;
 * the runtime calls it from the thread that runs the call. Each function
 * returns 0, or non-zero with a NUL-terminated message of at most
 * error_size bytes in `error` (a time-out, a failed peer, disagreeing
 * ranks). After a failure the output buffers hold zeros. */
#define MOERT_COLLECTIVES_VERSION 1
typedef struct moert_collectives_s {
  int32_t version; /* MOERT_COLLECTIVES_VERSION */
  int32_t rank;    /* this process: 0 <= rank < size */
  int32_t size;    /* the ranks of the group */
  void *context;   /* passed to every function */
  /* Equal split: `send` holds `size` blocks of `bytes` bytes, block i for
   * rank i; block i of `recv` receives what rank i sent this rank. */
  int (*all_to_all)(void *context, const void *send, void *recv, int64_t bytes,
                    char *error, uint64_t error_size);
  /* Variable counts, in rows of row_bytes bytes: the rows for rank i are
   * the send_counts[i] rows after the sum of send_counts[0..i), and the
   * rows from rank i land likewise in `recv` by recv_counts. Zero-count
   * peers exchange nothing. */
  int (*all_to_all_v)(void *context, const void *send,
                      const int64_t *send_counts, void *recv,
                      const int64_t *recv_counts, int64_t row_bytes,
                      char *error, uint64_t error_size);
  /* 0 when every rank passed the same `value` (a fingerprint of what the
   * ranks must agree on, such as an expert placement); otherwise every
   * rank fails, naming the values. */
  int (*agree)(void *context, uint64_t value, const char *what, char *error,
               uint64_t error_size);
} moert_collectives_t;

/* Gives the session the collectives of its group (copied; the engine's
 * context must outlive the session or the next call of this), or none
 * (NULL). A function compiled for expert parallelism
 * (moert_artifact_expert_parallel_ranks() > 0) runs only on a session
 * whose group has that many ranks; its first call of each expert
 * placement checks that every rank has the same one. A failed exchange
 * fails the call with MOERT_FAILED_PRECONDITION; after a time-out the
 * group is unusable (moert_mpi.h). */
MOERT_API moert_status_t moert_session_set_collectives(
    moert_session_t *session, const moert_collectives_t *collectives);

/* What a session's expert-parallel exchanges cost this rank. */
typedef struct moert_exchange_stats_s {
  int64_t exchanges;  /* collective calls: count and row all-to-alls and
                       * placement checks */
  int64_t bytes_sent; /* bytes sent to other ranks (a rank's rows for
                       * itself are not sent) */
  double seconds;     /* wall time inside the collectives, including waiting
                       * for ranks that reach an exchange later */
} moert_exchange_stats_t;

/* The exchange counters of `session` since its collectives were set (or
 * since the last reset): copied into `out`, then zeroed if `reset` is
 * non-zero. A session without collectives reports zeros. */
MOERT_API moert_status_t moert_session_exchange_stats(
    moert_session_t *session, int32_t reset, moert_exchange_stats_t *out);

/* The ranks `function` exchanges token rows with: 0 when it runs on one
 * process, -1 when there is no such function. */
MOERT_API int64_t moert_artifact_expert_parallel_ranks(
    const moert_artifact_t *artifact, const char *function);

#ifdef __cplusplus
}
#endif

#endif /* MOEC_RUNTIME_MOERT_MOERT_H */
