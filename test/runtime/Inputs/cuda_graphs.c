/* Runs a CUDA artifact (moe-compile --target=cuda) of one function taking
 * hidden states [T, D] on the first CUDA device in a session that captures
 * its calls as CUDA graphs: calls with T = 5, 5 again on the same buffers,
 * 3 on buffers of their own, then 5 once more on the first buffers, then
 * the session released. Prints one line per call (report.h). Usage:
 *   cuda_graphs ARTIFACT D */
#include "report.h"

#include <moert.h>

#include <stdio.h>
#include <stdlib.h>

static moert_session_t *session;
static moert_device_t *device;
static const char *function;

/* Input and output buffers of T tokens. */
struct call {
  moert_buffer_t *x, *y;
  int64_t shape[2];
  moert_buffer_tensor_t in, out;
};

static void prepare(struct call *c, int64_t T, int64_t D) {
  size_t bytes = (size_t)(T * D) * sizeof(float);
  c->x = c->y = NULL;
  c->shape[0] = T;
  c->shape[1] = D;
  report("alloc x", moert_buffer_alloc(device, bytes, &c->x));
  report("alloc y", moert_buffer_alloc(device, bytes, &c->y));
  c->in.dtype = MOERT_F32;
  c->in.rank = 2;
  c->in.shape = c->shape;
  c->in.buffer = c->x;
  c->in.offset = 0;
  c->out = c->in;
  c->out.buffer = c->y;
}

static void enqueue(struct call *c, const char *what) {
  report(what, moert_session_enqueue(session, function, &c->in, 1, &c->out, 1));
}

static void release(struct call *c) {
  moert_buffer_release(c->x);
  moert_buffer_release(c->y);
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  struct call five, three;
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
  prepare(&five, 5, D);
  enqueue(&five, "T=5");
  enqueue(&five, "T=5 again");
  report("synchronize", moert_session_synchronize(session));
  prepare(&three, 3, D);
  enqueue(&three, "T=3");
  report("synchronize", moert_session_synchronize(session));
  release(&three);
  enqueue(&five, "T=5 once more");
  report("synchronize", moert_session_synchronize(session));
  release(&five);
  moert_session_release(session);
  moert_artifact_release(artifact);
  return 0;
}
