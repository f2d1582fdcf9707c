/* Checks moert's devices, buffers and session queue through the C API, as
 * a C99 program: the device list, a session on a device given in its
 * config, a run queued on device buffers (equal, bit for bit, to
 * moert_session_run on the same values in caller memory) and the checks of
 * buffer tensors. Prints one line per check; exits 1 on a mismatch. */
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

int main(int argc, char **argv) {
  enum { TOKENS = 4, D = 64 };
  moert_artifact_t *artifact = NULL;
  moert_device_t *device = NULL;
  moert_session_t *session = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  moert_buffer_t *x = NULL, *y = NULL;
  moert_buffer_tensor_t in, out;
  moert_tensor_t hostIn, hostOut;
  int64_t shape[2] = {TOKENS, D};
  static float host[TOKENS * D], expected[TOKENS * D];
  const char *function;
  float *xs;
  int i;

  if (argc != 2)
    return 2;
  printf("devices: %d\n", (int)moert_device_count());
  if (report("device 0", moert_device_get(0, &device)))
    return 1;
  printf("device: %s, %s\n", moert_device_name(device),
         moert_device_kind_name(moert_device_kind(device)));
  report("device 1", moert_device_get(1, &device));
  report("find cuda", moert_device_find("cuda", &device));
  report("find cpu:1", moert_device_find("cpu:1", &device));
  report("find cpu:x", moert_device_find("cpu:x", &device));
  report("find cpu", moert_device_find("cpu", &device));
  printf("found: %s\n", moert_device_name(device));
  report("device 0 again", moert_device_get(0, &device));
  if (report("load", moert_artifact_load(argv[1], &artifact)))
    return 1;
  printf("artifact device kind: %s\n",
         moert_device_kind_name(moert_artifact_device_kind(artifact)));
  report("supports", moert_device_supports(device, artifact));

  config.num_threads = 2;
  config.device = device;
  if (report("session",
             moert_session_create_with_config(artifact, &config, &session)))
    return 1;
  failures += moert_session_device(session) != device;
  printf("session device: %s\n",
         moert_device_name(moert_session_device(session)));
  function = moert_artifact_function_name(artifact, 0);
  if (report("weights", moert_session_bind_recorded_weights(session)))
    return 1;

  /* A buffer one row larger than the input, the input at an offset of one
   * row; the output a buffer of its own. */
  report("alloc x",
         moert_buffer_alloc(device, (TOKENS + 1) * D * sizeof(float), &x));
  report("alloc y", moert_buffer_alloc(NULL, TOKENS * D * sizeof(float), &y));
  failures += moert_buffer_device(y) != device;
  xs = moert_buffer_data(x);
  for (i = 0; i < (TOKENS + 1) * D; ++i)
    xs[i] = (float)(i * 37 % 101) / 50.0f - 1.0f;
  memcpy(host, xs + D, sizeof(host));
  in.dtype = MOERT_F32;
  in.rank = 2;
  in.shape = shape;
  in.buffer = x;
  in.offset = D * sizeof(float);
  out = in;
  out.buffer = y;
  out.offset = 0;
  report("enqueue", moert_session_enqueue(session, function, &in, 1, &out, 1));
  report("synchronize", moert_session_synchronize(session));

  hostIn.dtype = MOERT_F32;
  hostIn.rank = 2;
  hostIn.shape = shape;
  hostIn.data = host;
  hostOut = hostIn;
  hostOut.data = expected;
  report("run", moert_session_run(session, function, &hostIn, 1, &hostOut, 1));
  i = memcmp(moert_buffer_data(y), expected, sizeof(expected)) == 0;
  printf("queued run equals moert_session_run: %s\n", i ? "yes" : "no");
  failures += !i;

  /* Copies to and from a buffer: a run on an input written with
   * moert_buffer_write, its output read back with moert_buffer_read. */
  memset(moert_buffer_data(y), 0, TOKENS * D * sizeof(float));
  report("write", moert_buffer_write(x, D * sizeof(float), host, sizeof(host)));
  report("enqueue again",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  report("synchronize again", moert_session_synchronize(session));
  memset(host, 0, sizeof(host));
  report("read", moert_buffer_read(y, 0, host, sizeof(host)));
  i = memcmp(host, expected, sizeof(expected)) == 0;
  printf("read equals moert_session_run: %s\n", i ? "yes" : "no");
  failures += !i;
  report("write past the end",
         moert_buffer_write(x, 64, host, sizeof(xs[0]) * (TOKENS + 1) * D));
  report("read null", moert_buffer_read(y, 0, NULL, 4));

  /* Buffer tensors that do not fit are refused before anything runs. */
  out.offset = 4;
  report("past the end",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  out.offset = 2;
  report("misaligned",
         moert_session_enqueue(session, function, &in, 1, &out, 1));
  out.offset = 0;
  out.buffer = NULL;
  report("no buffer",
         moert_session_enqueue(session, function, &in, 1, &out, 1));

  moert_buffer_release(x);
  moert_buffer_release(y);
  moert_session_release(session);
  moert_artifact_release(artifact);
  return failures ? 1 : 0;
}
