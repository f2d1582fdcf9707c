/* A weights file cut short by another process after it was bound: the next
 * run fails with a status naming the file, instead of faulting on the
 * mapping. Usage: cut_weights ARTIFACT WEIGHTS (WEIGHTS is truncated). */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  enum { TOKENS = 4, D = 64 };
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  static float x[TOKENS * D], y[TOKENS * D];
  int64_t shape[2] = {TOKENS, D};
  moert_tensor_t in, out;
  const char *function;

  if (argc != 3)
    return 2;
  if (report("load", moert_artifact_load(argv[1], &artifact)) ||
      report("session", moert_session_create(artifact, NULL, &session)) ||
      report("bind", moert_session_bind_weights_file(session, argv[2], NULL)))
    return 1;
  function = moert_artifact_function_name(artifact, 0);
  in.dtype = MOERT_F32;
  in.rank = 2;
  in.shape = shape;
  in.data = x;
  out = in;
  out.data = y;
  report("run", moert_session_run(session, function, &in, 1, &out, 1));
  if (truncate(argv[2], 100) != 0) {
    perror("truncate");
    return 1;
  }
  report("run after the cut",
         moert_session_run(session, function, &in, 1, &out, 1));
  moert_session_release(session);
  moert_artifact_release(artifact);
  return 0;
}
