/*===- moert_mpi.h - expert-parallel collectives over MPI ---------*- C -*-===*
 *
 * libmoert_mpi fills moert.h's moert_collectives_t with MPI: the ranks of an
 * expert-parallel group are the processes of MPI_COMM_WORLD, started by
 * mpirun. docs/ExpertParallelism.md ("MPI collectives") is the contract.
 *
 * Conventions:
 *  - Every fallible call returns 0, or non-zero with a NUL-terminated
 *    message of at most error_size bytes in `error` (error may be NULL).
 *    Messages about a rank start with "rank R of N: ".
 *  - Nothing blocks forever: every collective, the group's creation
 *    included, gives up after the time-out given to
 *    moert_mpi_collectives(). MPI cannot cancel a pending collective, so
 *    after a time-out the group is unusable, its buffers stay in MPI's
 *    hands, and the process should end with moert_mpi_abort().
 *  - The header needs no MPI headers: a program using it is compiled
 *    without mpicc (it runs under mpirun).
 *
 *===----------------------------------------------------------------------===*/
#ifndef MOEC_RUNTIME_MOERT_MPI_MOERT_MPI_H
#define MOEC_RUNTIME_MOERT_MPI_MOERT_MPI_H

#include "moert.h"

#include <stdint.h>

/* Marks the C API: libmoert_mpi.so is built with hidden visibility and
 * exports these declarations only. */
#if defined(__GNUC__) || defined(__clang__)
#define MOERT_MPI_API __attribute__((visibility("default")))
#define MOERT_MPI_NORETURN __attribute__((noreturn))
#else
#define MOERT_MPI_API
#define MOERT_MPI_NORETURN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Initializes MPI with MPI_THREAD_SERIALIZED (the runtime calls the
 * collectives from whichever thread runs a call, one call at a time) unless
 * the program has initialized it already, and makes MPI_COMM_WORLD return
 * error codes instead of aborting (only when this call initialized MPI:
 * a program's own settings are left alone). argc and argv may be NULL.
 * out_rank and out_size (may be NULL) receive this process's rank in
 * MPI_COMM_WORLD and the number of ranks. Fails after MPI_Finalize, when
 * MPI_Init_thread fails, or when MPI provides less than
 * MPI_THREAD_SERIALIZED. */
MOERT_MPI_API int moert_mpi_init(int *argc, char ***argv, int32_t *out_rank,
                                 int32_t *out_size, char *error,
                                 uint64_t error_size);

/* Fills `out` with the collectives of a group of all the ranks of
 * MPI_COMM_WORLD, over a duplicate of it (so that they never match the
 * program's own messages). Every rank must call this, in the same order
 * as its other collective calls on MPI_COMM_WORLD. Each collective of the
 * table, and the duplication itself, fails when it has not completed
 * within timeout_seconds (positive and finite). MPI runs one thread at a
 * time (MPI_THREAD_SERIALIZED): calls on every table, and the program's
 * own MPI calls, must not overlap. On failure *out is zeroed. MPI must be
 * initialized (moert_mpi_init, or the program's own MPI_Init). */
MOERT_MPI_API int moert_mpi_collectives(double timeout_seconds,
                                        moert_collectives_t *out, char *error,
                                        uint64_t error_size);

/* Frees the group of a table filled by moert_mpi_collectives() and zeroes
 * the table (NULL and zeroed tables are ignored). Call it on every rank
 * before moert_mpi_finalize(). A group whose collective failed or timed
 * out is left to the process's end: MPI may still hold its operation. */
MOERT_MPI_API void moert_mpi_collectives_release(moert_collectives_t *table);

/* Ends every rank of MPI_COMM_WORLD with exit status `code` (MPI_Abort),
 * after flushing this process's stdio streams; the way out after a
 * time-out or a failed peer. Without MPI, ends this process only. Does not
 * return. */
MOERT_MPI_API MOERT_MPI_NORETURN void moert_mpi_abort(int code);

/* Finalizes MPI if moert_mpi_init() initialized it (otherwise the program
 * finalizes it, and this returns 0). MPI_Finalize waits for the other
 * ranks: after a time-out it would wait forever, so then this does nothing
 * and returns non-zero (end with moert_mpi_abort()). 0 on success. */
MOERT_MPI_API int moert_mpi_finalize(void);

#ifdef __cplusplus
}
#endif

#endif /* MOEC_RUNTIME_MOERT_MPI_MOERT_MPI_H */
