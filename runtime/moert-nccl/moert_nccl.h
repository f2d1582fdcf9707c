/*===- moert_nccl.h - expert-parallel collectives over NCCL -------*- C -*-===*
 *
 * libmoert_nccl fills moert.h's moert_collectives_t with NCCL: the ranks of
 * an expert-parallel group are processes with one CUDA device each, joined
 * by an NCCL communicator. NCCL has no variable-count all-to-all, so the
 * row exchange is one group of ncclSend and ncclRecv calls, with the peers
 * a rank exchanges no rows with left out. docs/ExpertParallelism.md ("NCCL
 * collectives") is the contract.
 *
 * Conventions:
 *  - NCCL (libnccl.so.2) and the CUDA driver (libcuda.so.1) are opened
 *    with dlopen when a group is made, never linked: the library builds
 *    and loads where neither is installed, and says which is missing.
 *    $MOERT_NCCL_LIBRARY and $MOERT_CUDA_DRIVER name other files.
 *  - Every fallible call returns 0, or non-zero with a NUL-terminated
 *    message of at most error_size bytes in `error` (error may be NULL).
 *    Messages about a rank start with "rank R of N: ".
 *  - Buffers may be memory of the group's CUDA device (as a CUDA session's
 *    are) or host memory (as a CPU session's are): host buffers go through
 *    device memory of the group's, since NCCL moves device memory only.
 *    The collectives run on a stream of the group's own: device buffers
 *    must hold their rows when a call is made (the stream that wrote them
 *    synchronized), and every call returns when its rows have arrived.
 *  - Nothing blocks forever: the communicator is non-blocking, and every
 *    collective, the group's creation included, is polled until it
 *    completes or the time-out given to moert_nccl_collectives() passes.
 *    Then the communicator is aborted (ncclCommAbort) and the group is
 *    unusable; the other ranks time out likewise.
 *  - The header needs no NCCL or CUDA headers.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MOEC_RUNTIME_MOERT_NCCL_MOERT_NCCL_H
#define MOEC_RUNTIME_MOERT_NCCL_MOERT_NCCL_H

#include "moert.h"

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define MOERT_NCCL_API __attribute__((visibility("default")))
#else
#define MOERT_NCCL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* NCCL's unique id (ncclUniqueId): made by one rank, given to all. */
#define MOERT_NCCL_ID_BYTES 128
typedef struct moert_nccl_id_s {
  char bytes[MOERT_NCCL_ID_BYTES];
} moert_nccl_id_t;

/* The NCCL library's version (ncclGetVersion: 10000 * major + 100 * minor
 * + patch from 2.9 on) in *out_version, after opening it. Fails when NCCL
 * cannot be loaded, lacks an entry point moert calls, or is older than
 * 2.14 (the first with non-blocking communicators). */
MOERT_NCCL_API int moert_nccl_version(int32_t *out_version, char *error,
                                      uint64_t error_size);

/* Makes a new id (ncclGetUniqueId) in *out: one rank makes it and hands it
 * to every rank of the group by its own means (MPI, a file, a store), and
 * each passes it to moert_nccl_collectives(). */
MOERT_NCCL_API int moert_nccl_unique_id(moert_nccl_id_t *out, char *error,
                                        uint64_t error_size);

/* Fills `out` with the collectives of a group of `size` ranks, this
 * process being rank `rank`, over a new non-blocking NCCL communicator on
 * CUDA device `cuda_device` (an ordinal of the driver's devices, usually
 * the rank within its node). Every rank must call this with the same id
 * and size. Each collective of the table, and the communicator's creation,
 * fails when it has not completed within timeout_seconds (positive and
 * finite). The table's functions run on the calling thread, one at a
 * time; they make the device's primary context current for their
 * duration. On failure *out is zeroed. */
MOERT_NCCL_API int moert_nccl_collectives(const moert_nccl_id_t *id,
                                          int32_t rank, int32_t size,
                                          int32_t cuda_device,
                                          double timeout_seconds,
                                          moert_collectives_t *out, char *error,
                                          uint64_t error_size);

/* Frees the group of a table filled by moert_nccl_collectives() and zeroes
 * the table (NULL and zeroed tables are ignored): the communicator is
 * destroyed, or aborted after a failure or time-out. */
MOERT_NCCL_API void moert_nccl_collectives_release(moert_collectives_t *table);

#ifdef __cplusplus
}
#endif

#endif /* MOEC_RUNTIME_MOERT_NCCL_MOERT_NCCL_H */
