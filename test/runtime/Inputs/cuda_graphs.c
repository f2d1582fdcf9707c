/* Runs a CUDA artifact (moe-compile --target=cuda) of one function taking
 * hidden states [T, D] on the first CUDA device in a session that captures
 * its calls as CUDA graphs: calls with T = 5, 5 again, 3, then 5 again,
 * each on its own buffers and waited for, then the session released.
 * Prints one line per call (report.h). Usage:
 *   cuda_graphs ARTIFACT D */
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <stdlib.h>

static moert_session_t *session;
static moert_device_t *device;
static const char *function;

/* One call on fresh buffers of T tokens. */
static void call(const char *what, int64_t T, int64_t D) {
  moert_buffer_t *x = NULL, *y = NULL;
  moert_buffer_tensor_t in, out;
  int64_t shape[2] = {T, D};
  size_t bytes = (size_t)(T * D) * sizeof(float);
  report("alloc x", moert_buffer_alloc(device, bytes, &x));
  report("alloc y", moert_buffer_alloc(device, bytes, &y));
  in.dtype = MOERT_F32;
  in.rank = 2;
  in.shape = shape;
  in.buffer = x;
  in.offset = 0;
  out = in;
  out.buffer = y;
  report(what, moert_session_enqueue(session, function, &in, 1, &out, 1));
  report("synchronize", moert_session_synchronize(session));
  moert_buffer_release(x);
  moert_buffer_release(y);
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  moert_buffer_t *x = NULL, *y = NULL;
  int64_t D;

  if (argc != 3)
    return 2;
  D = atoll(argv[2]);
  if (report("load", moert_artifact_load(argv[1], &artifact)))
    return 1;
  if (report("find cuda", moert_device_find("cuda", &device)))
    return 1;
  config.device = device;
  config.cuda_graphs = 1;
  if (report("session",
             moert_session_create_with_config(artifact, &config, &session))) {
    moert_artifact_release(artifact);
    return 1;
  }
  function = moert_artifact_function_name(artifact, 0);
  if (report("weights", moert_session_bind_recorded_weights(session))) {
    moert_session_release(session);
    moert_artifact_release(artifact);
    return 1;
  }
  /* The buffers of T = 5 are kept, so that the third call of that shape
   * has the first call's arguments. */
  {
    moert_buffer_tensor_t in, out;
    int64_t shape[2] = {5, D};
    size_t bytes = (size_t)(5 * D) * sizeof(float);
    report("alloc x", moert_buffer_alloc(device, bytes, &x));
    report("alloc y", moert_buffer_alloc(device, bytes, &y));
    in.dtype = MOERT_F32;
    in.rank = 2;
    in.shape = shape;
    in.buffer = x;
    in.offset = 0;
    out = in;
    out.buffer = y;
    report("T=5", moert_session_enqueue(session, function, &in, 1, &out, 1));
    report("T=5 again",
           moert_session_enqueue(session, function, &in, 1, &out, 1));
    report("synchronize", moert_session_synchronize(session));
    call("T=3", 3, D);
    report("T=5 once more",
           moert_session_enqueue(session, function, &in, 1, &out, 1));
    report("synchronize", moert_session_synchronize(session));
  }
  moert_buffer_release(x);
  moert_buffer_release(y);
  moert_session_release(session);
  moert_artifact_release(artifact);
  return 0;
}
