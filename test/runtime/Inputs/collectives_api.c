/* Checks the expert-parallel side of the C API, as a C99 program, without
 * MPI: an artifact of examples/tiny-mixtral.mlir planned for 2 ranks
 * (E = 8, k = 2, d = 64) reports its ranks; calls without a group or with
 * a group of the wrong size fail before running; a malformed table is
 * refused; and a group whose engine fails (disagreeing ranks, a time-out
 * in either all-to-all) fails the call with the engine's message, leaving
 * outputs that are finite (the zeros of a failed exchange, never garbage
 * read out of bounds), and the session counts the exchanges it made and
 * the bytes it sent. Routing statistics are summed over the group
 * (moert_session_reduce_routing), or left as they were when the engine
 * fails. Prints one line per check. */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define T 16
#define D 64

/* A fake engine: rank 0 of `size`; the exchange named by `fail` fails. */
struct fake {
  const char *fail;
  int calls;
};

static int refuse(struct fake *f, const char *what, char *error,
                  uint64_t size) {
  ++f->calls;
  if (!f->fail || strcmp(f->fail, what) != 0)
    return 0;
  snprintf(error, (size_t)size, "rank 0 of 2: the %s timed out (fake)", what);
  return 1;
}

static int fake_all_to_all(void *ctx, const void *send, void *recv,
                           int64_t bytes, char *error, uint64_t size) {
  /* Rank 0 keeps its own block and receives its own counts again. */
  memcpy(recv, send, (size_t)(2 * bytes));
  return refuse(ctx, "all_to_all", error, size);
}

static int fake_all_to_all_v(void *ctx, const void *send,
                             const int64_t *send_counts, void *recv,
                             const int64_t *recv_counts, int64_t row_bytes,
                             char *error, uint64_t size) {
  (void)send;
  (void)send_counts;
  (void)recv;
  (void)recv_counts;
  (void)row_bytes;
  return refuse(ctx, "all_to_all_v", error, size);
}

static int fake_agree(void *ctx, uint64_t value, const char *what, char *error,
                      uint64_t size) {
  (void)value;
  (void)what;
  return refuse(ctx, "agree", error, size);
}

static moert_collectives_t table(struct fake *f, int32_t rank, int32_t size) {
  moert_collectives_t t;
  t.version = MOERT_COLLECTIVES_VERSION;
  t.rank = rank;
  t.size = size;
  t.context = f;
  t.all_to_all = fake_all_to_all;
  t.all_to_all_v = fake_all_to_all_v;
  t.agree = fake_agree;
  return t;
}

static int finite(const float *y) {
  int i;
  for (i = 0; i < T * D; ++i)
    if (!isfinite(y[i]))
      return 0;
  return 1;
}

/* The session's exchange counters (then zeroed with `reset`). */
static void print_stats(moert_session_t *session, int reset) {
  moert_exchange_stats_t st;
  if (report("stats", moert_session_exchange_stats(session, reset, &st)))
    return;
  printf("exchanges: %lld, bytes sent: %lld, seconds >= 0: %s\n",
         (long long)st.exchanges, (long long)st.bytes_sent,
         st.seconds >= 0 ? "yes" : "no");
}

/* Which expert of the single-process weight `name` (of `whole`) each
 * index of the expert-parallel session's weight holds: the rank's slots. */
static void print_slots(moert_session_t *session, moert_session_t *whole,
                        const char *name) {
  moert_tensor_t a, b;
  size_t bytes = sizeof(float);
  int32_t d;
  int64_t s, e;
  if (report("slots", moert_session_weight(session, name, &a)) ||
      report("whole", moert_session_weight(whole, name, &b)))
    return;
  for (d = 1; d < a.rank; ++d)
    bytes *= (size_t)a.shape[d];
  printf("%s [%lld of %lld experts] holds experts", name, (long long)a.shape[0],
         (long long)b.shape[0]);
  for (s = 0; s < a.shape[0]; ++s) {
    long long found = -1;
    for (e = 0; e < b.shape[0] && found < 0; ++e)
      if (!memcmp((const char *)a.data + s * bytes,
                  (const char *)b.data + e * bytes, bytes))
        found = e;
    printf(" %lld", found);
  }
  printf("\n");
}

/* Routing site 0 of tiny_mixtral: calls, tokens, selections counted. */
static void print_routing(moert_session_t *session) {
  int64_t calls = 0, tokens = 0, counts[8], sum = 0;
  int e;
  if (report("counts",
             moert_session_routing_counts(session, "tiny_mixtral", 0, &calls,
                                          &tokens, counts, 8, NULL)))
    return;
  for (e = 0; e < 8; ++e)
    sum += counts[e];
  printf("calls %lld, tokens %lld, selections %lld\n", (long long)calls,
         (long long)tokens, (long long)sum);
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  static float x[T * D], y[T * D];
  int64_t shape[2] = {T, D};
  moert_tensor_t in = {MOERT_F32, 2, shape, x};
  moert_tensor_t out = {MOERT_F32, 2, shape, y};
  struct fake f = {NULL, 0};
  moert_collectives_t t;
  const char *fails[3] = {"agree", "all_to_all", "all_to_all_v"};
  int i;

  moert_artifact_t *one = NULL;
  moert_session_t *whole = NULL;
  if (argc != 3)
    return 2;
  for (i = 0; i < T * D; ++i)
    x[i] = (float)((i * 7919) % 2003) / 1001.0f - 1.0f;
  if (report("load", moert_artifact_load(argv[1], &artifact)) ||
      report("session", moert_session_create(artifact, NULL, &session)) ||
      report("weights", moert_session_bind_recorded_weights(session)) ||
      report("load one", moert_artifact_load(argv[2], &one)) ||
      report("session one", moert_session_create(one, NULL, &whole)) ||
      report("weights one", moert_session_bind_recorded_weights(whole)) ||
      report("run one",
             moert_session_run(whole, "tiny_mixtral", &in, 1, &out, 1)))
    return 1;
  printf(
      "ranks: %lld, unknown function: %lld, null: %lld\n",
      (long long)moert_artifact_expert_parallel_ranks(artifact, "tiny_mixtral"),
      (long long)moert_artifact_expert_parallel_ranks(artifact, "nope"),
      (long long)moert_artifact_expert_parallel_ranks(NULL, "nope"));

  report("no group",
         moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
  report("weights, no group",
         moert_session_check_weights(session, "tiny_mixtral"));
  t = table(&f, 0, 2);
  t.version = 7;
  report("version 7", moert_session_set_collectives(session, &t));
  t = table(&f, 2, 2);
  report("rank 2 of 2", moert_session_set_collectives(session, &t));
  t = table(&f, 0, 2);
  t.agree = NULL;
  report("no agree", moert_session_set_collectives(session, &t));
  report("null session", moert_session_set_collectives(NULL, &t));
  t = table(&f, 0, 1);
  report("group of 1", moert_session_set_collectives(session, &t));
  report("run on 1",
         moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
  printf("engine calls: %d\n", f.calls);

  for (i = 0; i < 3; ++i) {
    char what[64];
    f.fail = fails[i];
    t = table(&f, 0, 2);
    report("group of 2", moert_session_set_collectives(session, &t));
    memset(y, 0xff, sizeof y); /* NaNs unless the call writes */
    snprintf(what, sizeof what, "run, %s fails", fails[i]);
    report(what, moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
    printf("output finite: %s\n", finite(y) ? "yes" : "no");
    print_stats(session, 1);
  }
  print_stats(session, 0);
  report("stats, null out", moert_session_exchange_stats(session, 0, NULL));

  /* Each rank binds the experts of its slots: rank 0 and then rank 1 of
   * the uniform plan (experts dealt to the ranks in turn). */
  f.fail = NULL;
  for (i = 0; i < 2; ++i) {
    char what[64];
    t = table(&f, i, 2);
    snprintf(what, sizeof what, "rank %d of 2", i);
    report(what, moert_session_set_collectives(session, &t));
    report("run", moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
    print_slots(session, whole, "block_sparse_moe.experts.w1");
    print_slots(session, whole, "block_sparse_moe.experts.w2");
  }

  /* Routing statistics summed over the group: the fake's all_to_all hands
   * rank 0 its own block from both ranks, so the sums double the tokens
   * and counts; the calls stay the most any rank made. */
  f.fail = NULL;
  t = table(&f, 0, 2);
  report("group of 2", moert_session_set_collectives(session, &t));
  report("reduce before recording", moert_session_reduce_routing(session));
  report("record", moert_session_record_routing(session, MOERT_ROUTING_COUNTS));
  report("run, recorded",
         moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
  report("stop", moert_session_record_routing(session, MOERT_ROUTING_OFF));
  print_routing(session);
  report("reduce", moert_session_reduce_routing(session));
  print_routing(session);
  for (i = 0; i < 2; ++i) {
    f.fail = fails[i];
    report(fails[i], moert_session_reduce_routing(session));
    print_routing(session);
  }
  report("null session", moert_session_reduce_routing(NULL));
  report("remove the group", moert_session_set_collectives(session, NULL));
  report("reduce without", moert_session_reduce_routing(session));
  report("run without",
         moert_session_run(session, "tiny_mixtral", &in, 1, &out, 1));
  moert_session_release(session);
  moert_artifact_release(artifact);
  moert_session_release(whole);
  moert_artifact_release(one);
  return 0;
}
