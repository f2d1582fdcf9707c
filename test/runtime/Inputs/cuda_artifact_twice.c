/* One CUDA artifact loaded twice (two moert artifacts over one loaded
 * shared object, whose cubins are shared): a session of each runs, the
 * second artifact is released, and the first still runs and is released
 * after it. Built against libmoert-asan by cuda-artifact-twice.test: a
 * module unloaded while the other artifact uses it, or twice, is a report.
 *
 *   cuda_artifact_twice ARTIFACT.so   (MOERT_CUDA_DRIVER: the stand-in) */
#include "moert.h"

#include <stdio.h>
#include <string.h>

/* Prints "WHAT: ok" (unless quiet) or "WHAT: the failure". */
static int say(const char *what, moert_status_t st, int quiet) {
  if (!st) {
    if (!quiet)
      printf("%s: ok\n", what);
    return 0;
  }
  printf("%s: %s\n", what, moert_status_message(st));
  moert_status_free(st);
  return 1;
}
static int report(const char *what, moert_status_t st) {
  return say(what, st, 0);
}

/* One call of tiny_mixtral on 5 tokens in buffers of the session's device. */
static int run(const char *what, moert_session_t *session) {
  static float x[5 * 64];
  int64_t shape[2] = {5, 64};
  moert_device_t *device = moert_session_device(session);
  moert_buffer_t *in = NULL, *out = NULL;
  int failed = say("alloc", moert_buffer_alloc(device, sizeof x, &in), 1) ||
               say("alloc", moert_buffer_alloc(device, sizeof x, &out), 1) ||
               say("write", moert_buffer_write(in, 0, x, sizeof x), 1);
  if (!failed) {
    moert_buffer_tensor_t bin = {MOERT_F32, 2, shape, in, 0};
    moert_buffer_tensor_t bout = {MOERT_F32, 2, shape, out, 0};
    moert_status_t st =
        moert_session_enqueue(session, "tiny_mixtral", &bin, 1, &bout, 1);
    if (!st)
      st = moert_session_synchronize(session);
    failed = report(what, st);
  }
  moert_buffer_release(in);
  moert_buffer_release(out);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cuda_artifact_twice ARTIFACT.so\n");
    return 2;
  }
  moert_device_t *gpu = NULL;
  moert_artifact_t *a = NULL, *b = NULL;
  moert_session_t *sa = NULL, *sb = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  if (report("find cuda", moert_device_find("cuda", &gpu)) ||
      report("load a", moert_artifact_load(argv[1], &a)) ||
      report("load b", moert_artifact_load(argv[1], &b)))
    return 1;
  config.device = gpu;
  if (report("session a", moert_session_create_with_config(a, &config, &sa)) ||
      report("session b", moert_session_create_with_config(b, &config, &sb)) ||
      report("weights a", moert_session_bind_recorded_weights(sa)) ||
      report("weights b", moert_session_bind_recorded_weights(sb)) ||
      run("run a", sa) || run("run b", sb))
    return 1;
  moert_session_release(sb);
  moert_artifact_release(b);
  if (run("run a after b is released", sa))
    return 1;
  moert_session_release(sa);
  moert_artifact_release(a);
  printf("released both\n");
  return 0;
}
