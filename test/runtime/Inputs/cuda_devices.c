/* Checks moert's CUDA devices through the C API, as a C99 program, with
 * whatever driver MOERT_CUDA_DRIVER names (none, or the test's stand-in):
 * the device list and what it says when there is no CUDA device, buffers
 * in device memory (written, read back, not host-visible, refused when
 * memory is short), and the target check that keeps CPU code off a GPU.
 * Prints one line per check; exits 1 on a mismatch. */
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

int main(int argc, char **argv) {
  moert_device_t *gpu = NULL, *device = NULL;
  moert_buffer_t *buffer = NULL, *big = NULL;
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  float in[256], out[256];
  int i, n;

  if (argc != 2)
    return 2;
  n = (int)moert_device_count();
  printf("devices: %d\n", n);
  for (i = 0; i < n; ++i) {
    moert_device_get(i, &device);
    printf("device %d: %s (%s): %s\n", i, moert_device_name(device),
           moert_device_kind_name(moert_device_kind(device)),
           moert_device_description(device));
  }
  report("past the last", moert_device_get(n, &device));
  if (report("find cuda", moert_device_find("cuda", &gpu)))
    return 0; /* no CUDA device: what was printed is the check */
  printf("found: %s\n", moert_device_name(gpu));
  report("find cuda:1", moert_device_find("cuda:1", &device));

  /* Device memory: not host-visible, written and read back. */
  if (report("alloc", moert_buffer_alloc(gpu, sizeof(in), &buffer)))
    return 1;
  printf("host-visible: %s\n", moert_buffer_data(buffer) ? "yes" : "no");
  failures += moert_buffer_data(buffer) != NULL;
  failures += moert_buffer_device(buffer) != gpu;
  for (i = 0; i < 256; ++i)
    in[i] = (float)i * 0.5f;
  report("write", moert_buffer_write(buffer, 0, in, sizeof(in)));
  report("read", moert_buffer_read(buffer, 0, out, sizeof(out)));
  i = memcmp(in, out, sizeof(in)) == 0;
  printf("read equals written: %s\n", i ? "yes" : "no");
  failures += !i;
  report("read past the end", moert_buffer_read(buffer, 4, out, sizeof(out)));
  report("alloc too much", moert_buffer_alloc(gpu, (uint64_t)1 << 40, &big));

  /* CPU code does not run on it, and its buffers not in a CPU session. */
  if (report("load", moert_artifact_load(argv[1], &artifact)))
    return 1;
  report("supports", moert_device_supports(gpu, artifact));
  config.device = gpu;
  report("session on the GPU",
         moert_session_create_with_config(artifact, &config, &session));
  if (!report("session on the CPU",
              moert_session_create(artifact, NULL, &session))) {
    int64_t shape[2] = {4, 64};
    moert_buffer_tensor_t t;
    t.dtype = MOERT_F32;
    t.rank = 2;
    t.shape = shape;
    t.buffer = buffer;
    t.offset = 0;
    report("GPU buffer in a CPU session",
           moert_session_enqueue(session,
                                 moert_artifact_function_name(artifact, 0), &t,
                                 1, &t, 1));
    moert_session_release(session);
  }
  moert_buffer_release(buffer);
  moert_artifact_release(artifact);
  return failures ? 1 : 0;
}
