/* Checks moert's session settings through the C API, as a C99 program:
 * the first options struct, the growable config and its struct_size rules,
 * and moert_version(). Prints one line per check; exits 1 on a mismatch. */
#include <moert.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

/* Creates a session of `artifact` with `config` and prints the outcome. */
static void create(moert_artifact_t *artifact,
                   const moert_session_config_t *config, const char *what) {
  moert_session_t *session = NULL;
  moert_status_t st =
      moert_session_create_with_config(artifact, config, &session);
  if (st) {
    printf("%s: code %d: %s\n", what, (int)moert_status_code(st),
           moert_status_message(st));
    moert_status_free(st);
  } else {
    printf("%s: ok, %d threads\n", what,
           (int)moert_session_num_threads(session));
  }
  moert_session_release(session);
}

/* Creates a session and prints its threads and device. */
static void created(moert_artifact_t *artifact,
                    const moert_session_config_t *config, const char *what) {
  moert_session_t *session = NULL;
  moert_status_t st =
      moert_session_create_with_config(artifact, config, &session);
  if (st) {
    printf("%s: code %d: %s\n", what, (int)moert_status_code(st),
           moert_status_message(st));
    moert_status_free(st);
    ++failures;
    return;
  }
  printf("%s: ok, %d threads, %s\n", what,
         (int)moert_session_num_threads(session),
         moert_device_name(moert_session_device(session)));
  moert_session_release(session);
}

int main(int argc, char **argv) {
  moert_artifact_t *artifact = NULL;
  moert_session_t *session = NULL;
  moert_session_options_t options = {3};
  moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
  moert_status_t st;
  /* A caller compiled against a newer moert.h: one more field. */
  struct {
    moert_session_config_t known;
    int32_t newer;
  } grown;

  if (argc != 2)
    return 2;
  printf("version: %s\n", moert_version());
  st = moert_artifact_load(argv[1], &artifact);
  if (st) {
    printf("load: %s\n", moert_status_message(st));
    moert_status_free(st);
    return 1;
  }

  /* The first API, unchanged. */
  st = moert_session_create(artifact, &options, &session);
  printf("options: %s, %d threads\n", st ? moert_status_message(st) : "ok",
         (int)moert_session_num_threads(session));
  failures += st != NULL || moert_session_num_threads(session) != 3;
  moert_status_free(st);
  moert_session_release(session);

  printf("config size: %u\n", (unsigned)config.struct_size);
  create(artifact, NULL, "null config");
  config.num_threads = 2;
  create(artifact, &config, "config");
  config.num_threads = -1;
  create(artifact, &config, "negative");
  config.num_threads = 2;
  config.struct_size = 4;
  create(artifact, &config, "short");

  memset(&grown, 0, sizeof(grown));
  grown.known.struct_size = sizeof(grown);
  grown.known.num_threads = 1;
  create(artifact, &grown.known, "newer, default");
  grown.newer = 7;
  create(artifact, &grown.known, "newer, set");

  /* A caller of the first version: 8 bytes, no device field. */
  config = (moert_session_config_t)MOERT_SESSION_CONFIG_INIT;
  config.struct_size = 8;
  config.num_threads = 2;
  config.device = (moert_device_t *)&config; /* past struct_size: unread */
  created(artifact, &config, "first version");
  config = (moert_session_config_t)MOERT_SESSION_CONFIG_INIT;
  config.num_threads = 1;
  st = moert_device_get(0, &config.device);
  failures += st != NULL;
  moert_status_free(st);
  created(artifact, &config, "device");
  /* CUDA graphs on the CPU. */
  config.cuda_graphs = 1;
  create(artifact, &config, "graphs on the cpu");

  moert_artifact_release(artifact);
  return failures ? 1 : 0;
}
