/* Checks moert's routing statistics through the C API, as a C99 program,
 * on examples/tiny-mixtral.mlir (E = 8, k = 2, d = 64): the site queries,
 * recording, stopping and restarting, co-selection, and every misuse.
 * Inputs are generated here; the counts are checked for what must hold
 * whatever the routing (sums, symmetry), the exact counts being checked
 * against NumPy by test/tools/moe-run-record-routing.test. Prints one line
 * per check; exits 1 on a mismatch. */
#include <moert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 128
#define D 64
#define E 8
#define K 2

static int failures = 0;

/* Prints "what: ok" or "what: code N: message"; returns the code. */
static int report(moert_status_t st, const char *what) {
  int code = 0;
  if (st) {
    code = (int)moert_status_code(st);
    printf("%s: code %d: %s\n", what, code, moert_status_message(st));
    moert_status_free(st);
  } else {
    printf("%s: ok\n", what);
  }
  return code;
}

static void expect(int ok, const char *what) {
  if (!ok) {
    printf("MISMATCH: %s\n", what);
    ++failures;
  }
}

static int run(moert_session_t *s, float *x, float *y) {
  int64_t shape[2] = {T, D};
  moert_tensor_t in = {MOERT_F32, 2, shape, x};
  moert_tensor_t out = {MOERT_F32, 2, shape, y};
  return report(moert_session_run(s, "tiny_mixtral", &in, 1, &out, 1), "run");
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  static float x[T * D], y[T * D];
  int64_t experts = 0, k = 0, calls = -1, tokens = -1, total = 0;
  int64_t counts[E], pairs[E * E];
  int i, j;

  if (argc != 2)
    return 2;
  for (i = 0; i < T * D; ++i)
    x[i] = (float)((i * 7919) % 2003) / 1001.0f - 1.0f;
  if (report(moert_artifact_load(argv[1], &artifact), "load") ||
      report(moert_session_create(artifact, NULL, &session), "session") ||
      report(moert_session_bind_recorded_weights(session), "weights"))
    return 1;

  printf("sites: %d, unknown function: %d, null: %d\n",
         (int)moert_artifact_routing_site_count(artifact, "tiny_mixtral"),
         (int)moert_artifact_routing_site_count(artifact, "nope"),
         (int)moert_artifact_routing_site_count(NULL, "tiny_mixtral"));
  report(moert_artifact_routing_site(artifact, "tiny_mixtral", 0, &experts, &k),
         "site 0");
  printf("experts %lld, k %lld\n", (long long)experts, (long long)k);
  report(moert_artifact_routing_site(artifact, "tiny_mixtral", 1, NULL, NULL),
         "site 1");
  report(moert_artifact_routing_site(artifact, "nope", 0, NULL, NULL),
         "unknown function");

  /* Nothing recorded yet. */
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, &calls,
                                      &tokens, counts, E, NULL),
         "counts before recording");
  report(moert_session_write_routing(session, "/dev/null"),
         "write before recording");
  report(moert_session_record_routing(session, 4), "unknown flags");
  report(moert_session_record_routing(NULL, MOERT_ROUTING_COUNTS),
         "null session");

  /* Two runs counted. */
  report(moert_session_record_routing(session, MOERT_ROUTING_COUNTS), "record");
  run(session, x, y);
  run(session, x, y);
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, &calls,
                                      &tokens, counts, E, NULL),
         "counts");
  for (i = 0, total = 0; i < E; ++i)
    total += counts[i];
  printf("calls %lld, tokens %lld, selections %lld\n", (long long)calls,
         (long long)tokens, (long long)total);
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, NULL, NULL,
                                      counts, E - 1, NULL),
         "counts too small");
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, NULL, NULL,
                                      counts, E, pairs),
         "co-selection not recorded");
  report(moert_session_write_routing(session, NULL), "null path");

  /* Stopped: a run is not counted, the counts stay. */
  report(moert_session_record_routing(session, MOERT_ROUTING_OFF), "stop");
  run(session, x, y);
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, &calls,
                                      &tokens, NULL, 0, NULL),
         "counts after stop");
  printf("calls %lld, tokens %lld\n", (long long)calls, (long long)tokens);

  /* Restarted with co-selection: from zero; with k = 2 each selection of
   * expert a pairs with exactly one other expert, so row a sums to
   * counts[a]; symmetric, zero diagonal. */
  report(moert_session_record_routing(session, MOERT_ROUTING_COUNTS |
                                                   MOERT_ROUTING_COSELECTION),
         "record co-selection");
  run(session, x, y);
  report(moert_session_routing_counts(session, "tiny_mixtral", 0, &calls,
                                      &tokens, counts, E, pairs),
         "counts and co-selection");
  printf("calls %lld, tokens %lld\n", (long long)calls, (long long)tokens);
  for (i = 0; i < E; ++i) {
    int64_t row = 0;
    expect(pairs[i * E + i] == 0, "zero diagonal");
    for (j = 0; j < E; ++j) {
      row += pairs[i * E + j];
      expect(pairs[i * E + j] == pairs[j * E + i], "symmetric");
    }
    expect(row == counts[i], "row sums equal the counts (k = 2)");
  }
  printf("co-selection consistent: %s\n", failures ? "no" : "yes");

  moert_session_release(session);
  moert_artifact_release(artifact);
  return failures ? 1 : 0;
}
