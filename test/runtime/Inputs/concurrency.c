/* A session called from two threads at once, and outputs that share memory
 * with inputs. One session: each call either runs, giving the same output
 * as a call alone, or is refused with MOERT_FAILED_PRECONDITION (never a
 * race); over a few hundred calls some are refused. A session per thread:
 * every call runs. An output overlapping an input or another output is
 * refused before anything runs. Usage: concurrency ARTIFACT. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <moert.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { TOKENS = 256, D = 64, CALLS = 300 };

static float x[TOKENS * D], expected[TOKENS * D];
static const char *function;

struct worker {
  moert_session_t *session;
  float y[TOKENS * D];
  int ran, refused, wrong, other;
};

static void *work(void *arg) {
  struct worker *w = arg;
  int64_t shape[2] = {TOKENS, D};
  moert_tensor_t in = {MOERT_F32, 2, shape, x}, out = in;
  int i;
  out.data = w->y;
  for (i = 0; i < CALLS; ++i) {
    moert_status_t st =
        moert_session_run(w->session, function, &in, 1, &out, 1);
    if (!st) {
      ++w->ran;
      w->wrong += memcmp(w->y, expected, sizeof(expected)) != 0;
    } else if (moert_status_code(st) == MOERT_FAILED_PRECONDITION &&
               strstr(moert_status_message(st), "on another thread")) {
      ++w->refused;
    } else {
      ++w->other;
    }
    moert_status_free(st);
  }
  return NULL;
}

/* Runs two workers on `a` and `b` at once; returns the refusals. */
static int pair(moert_session_t *a, moert_session_t *b, const char *what) {
  static struct worker w[2];
  pthread_t t[2];
  int i;
  memset(w, 0, sizeof(w));
  w[0].session = a;
  w[1].session = b;
  for (i = 0; i < 2; ++i)
    pthread_create(&t[i], NULL, work, &w[i]);
  for (i = 0; i < 2; ++i)
    pthread_join(t[i], NULL);
  printf("%s: all ran or refused: %s, runs correct: %s, some refused: %s\n",
         what,
         w[0].ran + w[0].refused == CALLS && w[1].ran + w[1].refused == CALLS
             ? "yes"
             : "no",
         w[0].wrong + w[1].wrong == 0 ? "yes" : "no",
         w[0].refused + w[1].refused > 0 ? "yes" : "no");
  return w[0].refused + w[1].refused;
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *s1 = NULL, *s2 = NULL;
  moert_session_config_t one = MOERT_SESSION_CONFIG_INIT;
  int64_t shape[2] = {TOKENS, D}, half[2] = {TOKENS / 2, D};
  moert_tensor_t in = {MOERT_F32, 2, shape, x}, out = in;
  int i;

  if (argc != 2)
    return 2;
  for (i = 0; i < TOKENS * D; ++i)
    x[i] = (float)(i * 37 % 101) / 50.0f - 1.0f;
  one.num_threads = 1;
  if (report("load", moert_artifact_load(argv[1], &artifact)) ||
      report("session 1",
             moert_session_create_with_config(artifact, &one, &s1)) ||
      report("session 2",
             moert_session_create_with_config(artifact, &one, &s2)) ||
      report("weights 1", moert_session_bind_recorded_weights(s1)) ||
      report("weights 2", moert_session_bind_recorded_weights(s2)))
    return 1;
  function = moert_artifact_function_name(artifact, 0);
  out.data = expected;
  if (report("alone", moert_session_run(s1, function, &in, 1, &out, 1)))
    return 1;

  pair(s1, s1, "one session, two threads");
  if (pair(s1, s2, "a session per thread") != 0)
    return 1;

  /* Outputs in the inputs' memory. */
  out.data = x;
  report("output is the input",
         moert_session_run(s1, function, &in, 1, &out, 1));
  in.shape = half;
  out.shape = half;
  out.data = x + TOKENS / 2 * D - D;
  report("output overlaps the input's last row",
         moert_session_run(s1, function, &in, 1, &out, 1));
  out.data = x + TOKENS / 2 * D;
  report("output right after the input",
         moert_session_run(s1, function, &in, 1, &out, 1));

  moert_session_release(s1);
  moert_session_release(s2);
  moert_artifact_release(artifact);
  return 0;
}
