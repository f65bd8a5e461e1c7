// Reports how much monotonic time has passed, as the guest sees it, since
// its initialization: the host's clock for a snapshot instance resumes from
// the snapshot, so this stays small however long ago the snapshot was.
// Built with -mexec-model=reactor (names starting with "reactor").
#include "embly.h"
#include <stdio.h>
#include <time.h>

static long long at_init;

static long long now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((constructor)) static void init(void) { at_init = now(); }

__attribute__((export_name("embly_main"))) void embly_main(void) {
  char out[32];
  int n = snprintf(out, sizeof out, "%lld", now() - at_init);
  embly_write_all(1, out, n);
}
