/* Runs a CUDA artifact (moe-compile --target=cuda) of one function taking
 * hidden states [T, D] through the C API on the first CUDA device: a
 * session, its recorded weights, two calls queued on device buffers and a
 * wait, then moert_session_run with host memory, which such a session
 * refuses, and a call on a tensor that starts 4 bytes into its buffer,
 * which it refuses too. Prints one line per call (report.h). Usage:
 *   cuda_artifact ARTIFACT T D */
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_device_t *device = NULL;
  moert_session_t *session = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  moert_buffer_t *x = NULL, *y = NULL;
  moert_buffer_tensor_t in, out;
  moert_tensor_t hostIn, hostOut;
  int64_t shape[2];
  const char *function;
  float *host;
  size_t bytes;
  int64_t i;

  if (argc != 4)
    return 2;
  shape[0] = atoll(argv[2]);
  shape[1] = atoll(argv[3]);
  bytes = (size_t)(shape[0] * shape[1]) * sizeof(float);
  if (report("load", moert_artifact_load(argv[1], &artifact)))
    return 1;
  printf("artifact device kind: %s\n",
         moert_device_kind_name(moert_artifact_device_kind(artifact)));
  if (report("find cuda", moert_device_find("cuda", &device)))
    return 1;
  config.device = device;
  if (report("session",
             moert_session_create_with_config(artifact, &config, &session)))
    return 1;
  function = moert_artifact_function_name(artifact, 0);
  if (report("weights", moert_session_bind_recorded_weights(session)))
    return 1;
  host = calloc(bytes ? bytes : 1, 1);
  for (i = 0; i < shape[0] * shape[1]; ++i)
    host[i] = (float)(i % 7) / 7.0f;
  report("alloc x", moert_buffer_alloc(device, bytes ? bytes : 4, &x));
  report("alloc y", moert_buffer_alloc(device, bytes ? bytes : 4, &y));
  report("write x", moert_buffer_write(x, 0, host, bytes));
  in.dtype = MOERT_F32;
  in.rank = 2;
  in.shape = shape;
  in.buffer = x;
  in.offset = 0;
  out = in;
  out.buffer = y;
  report("enqueue 1",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  report("enqueue 2",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  report("synchronize", moert_session_synchronize(session));
  report("read y", moert_buffer_read(y, 0, host, bytes));

  hostIn.dtype = MOERT_F32;
  hostIn.rank = 2;
  hostIn.shape = shape;
  hostIn.data = host;
  hostOut = hostIn;
  report("run on host memory",
         moert_session_run(session, function, &hostIn, 1, &hostOut, 1));
  /* A tensor 4 bytes into its buffer: element-aligned, not as the GPU's
   * kernels read it. */
  shape[0] = 0;
  in.offset = 4;
  report("misaligned",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  moert_buffer_release(x);
  moert_buffer_release(y);
  moert_session_release(session);
  moert_artifact_release(artifact);
  free(host);
  return 0;
}
