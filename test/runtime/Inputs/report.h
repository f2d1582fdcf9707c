/* What the C API checks of test/runtime print: one line per call, "WHAT:
 * ok" or "WHAT: code N: MESSAGE". */
#ifndef MOEC_TEST_RUNTIME_REPORT_H
#define MOEC_TEST_RUNTIME_REPORT_H

#include <moert.h>

#include <stdio.h>

/* Prints a status (or "ok") after `what`, frees it, returns whether it
 * failed. */
static int report(const char *what, moert_status_t st) {
  if (!st) {
    printf("%s: ok\n", what);
    return 0;
  }
  printf("%s: code %d: %s\n", what, (int)moert_status_code(st),
         moert_status_message(st));
  moert_status_free(st);
  return 1;
}

#endif /* MOEC_TEST_RUNTIME_REPORT_H */
