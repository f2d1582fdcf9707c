/* run_layer.c: run an entry point of a moec artifact through moert's C API.
 *
 *   run_layer ARTIFACT [TOKENS [WEIGHTS.safetensors ...]]
 *
 * Loads ARTIFACT, binds the weights files given (by default the files the
 * artifact records, looked for next to it first), runs its first function
 * on TOKENS (default 3) rows of f32 inputs, element i of each input being
 * (i * 37 % 101) / 50.0 - 1, and prints each result, one token per line.
 * Every call's status is checked; on error it prints the message and exits
 * with 1 before printing any result. Plain C99, moert.h only. */
#include <moert.h>

#include <stdio.h>
#include <stdlib.h>

/* Prints and frees a failed status; returns whether it failed. */
static int failed(moert_status_t status, const char *what) {
  if (!status)
    return 0;
  fprintf(stderr, "run_layer: %s: %s\n", what, moert_status_message(status));
  moert_status_free(status);
  return 1;
}

/* A buffer for parameter p with TOKENS for its token dimension (-1). */
static float *allocate(const moert_param_t *p, int64_t tokens, int64_t *shape,
                       moert_tensor_t *tensor) {
  int64_t count = 1;
  int32_t d;
  if (p->dtype != MOERT_F32) {
    fprintf(stderr, "run_layer: '%s' is %s; this example handles f32 only\n",
            p->name, moert_dtype_name(p->dtype));
    return NULL;
  }
  for (d = 0; d < p->rank; ++d) {
    shape[d] = p->shape[d] < 0 ? tokens : p->shape[d];
    count *= shape[d];
  }
  tensor->dtype = MOERT_F32;
  tensor->rank = p->rank;
  tensor->shape = shape;
  tensor->data = calloc(count > 0 ? (size_t)count : 1, sizeof(float));
  if (!tensor->data)
    fprintf(stderr, "run_layer: no memory for '%s'\n", p->name);
  return tensor->data;
}

#define MAX_TENSORS 8
#define MAX_RANK 8

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  const moert_param_t *args = NULL, *results = NULL;
  int32_t num_args = 0, num_results = 0, num_inputs = 0, num_outputs = 0, i;
  moert_tensor_t inputs[MAX_TENSORS], outputs[MAX_TENSORS];
  int64_t shapes[2 * MAX_TENSORS][MAX_RANK];
  int64_t tokens = argc > 2 ? atoll(argv[2]) : 3;
  const char *function;
  int status = 1;

  if (argc < 2 || tokens < 1) {
    fprintf(stderr, "usage: run_layer ARTIFACT [TOKENS [WEIGHTS ...]]\n");
    return 2;
  }
  if (failed(moert_artifact_load(argv[1], &artifact), "loading the artifact"))
    return 1;
  function = moert_artifact_function_name(artifact, 0);
  if (failed(moert_artifact_function_signature(artifact, function, &num_args,
                                               &args, &num_results, &results),
             "reading its signature"))
    goto done;
  config.num_threads = 2;
  if (failed(moert_session_create_with_config(artifact, &config, &session),
             "creating a session"))
    goto done;
  if (argc > 3) {
    for (i = 3; i < argc; ++i)
      if (failed(moert_session_bind_weights_file(session, argv[i], NULL),
                 "binding weights"))
        goto done;
  } else if (failed(moert_session_bind_recorded_weights(session),
                    "binding the recorded weights")) {
    goto done;
  }
  if (failed(moert_session_check_weights(session, function),
             "checking the weights"))
    goto done;

  /* Inputs: the arguments that are not weights, in order. */
  for (i = 0; i < num_args; ++i) {
    float *x;
    int64_t n, e;
    if (args[i].is_weight)
      continue;
    if (num_inputs == MAX_TENSORS || args[i].rank > MAX_RANK) {
      fprintf(stderr, "run_layer: too many inputs or dimensions\n");
      goto done;
    }
    x = allocate(&args[i], tokens, shapes[num_inputs], &inputs[num_inputs]);
    if (!x)
      goto done;
    ++num_inputs;
    for (n = 1, e = 0; e < args[i].rank; ++e)
      n *= shapes[num_inputs - 1][e];
    for (e = 0; e < n; ++e)
      x[e] = (float)(e * 37 % 101) / 50.0f - 1.0f;
  }
  if (num_results > MAX_TENSORS) {
    fprintf(stderr, "run_layer: too many results\n");
    goto done;
  }
  for (; num_outputs < num_results; ++num_outputs)
    if (results[num_outputs].rank > MAX_RANK ||
        !allocate(&results[num_outputs], tokens,
                  shapes[MAX_TENSORS + num_outputs], &outputs[num_outputs]))
      goto done;
  if (failed(moert_session_run(session, function, inputs, num_inputs, outputs,
                               num_outputs),
             "running"))
    goto done;

  for (i = 0; i < num_outputs; ++i) {
    const float *y = outputs[i].data;
    int64_t rows = outputs[i].rank ? outputs[i].shape[0] : 1, cols = 1, r, c;
    int32_t d;
    for (d = 1; d < outputs[i].rank; ++d)
      cols *= outputs[i].shape[d];
    printf("%s %s: %s, %lld x %lld\n", function, results[i].name,
           moert_dtype_name(outputs[i].dtype), (long long)rows,
           (long long)cols);
    for (r = 0; r < rows; ++r)
      for (c = 0; c < cols; ++c)
        printf("%.8e%c", y[r * cols + c], c + 1 < cols ? ' ' : '\n');
  }
  status = 0;

done:
  for (i = 0; i < num_inputs; ++i)
    free(inputs[i].data);
  for (i = 0; i < num_outputs; ++i)
    free(outputs[i].data);
  moert_session_release(session);
  moert_artifact_release(artifact);
  return status;
}
