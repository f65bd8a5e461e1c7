// Checks the window and _events' timeouts against a test that holds conn 1
// and reads nothing until this guest logs "filled". Findings go to the log
// (stdout) first and then, once the window has reopened, to conn 1.
#include "embly.h"
#include <stdio.h>
#include <time.h>

static char fill[3 * 4096];

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void) {
  int32_t ids[8];
  uint32_t n = 99;
  // A positive timeout with no news: n == 0, after at least the timeout.
  int64_t t0 = now_ns();
  int32_t err = embly_events(2000000, ids, 8, &n);
  int64_t waited = now_ns() - t0;
  printf("timeout err=%d n=%u waited_enough=%d\n", err, n, waited >= 2000000);

  for (size_t i = 0; i < sizeof fill; i++) fill[i] = 'w';
  uint32_t first = 0, second = 99;
  int32_t err1 = embly_write(1, fill, sizeof fill, &first);  // takes a window's worth
  int32_t err2 = embly_write(1, fill, 1, &second);           // full: EAGAIN
  uint32_t polled = 99;
  embly_events(0, ids, 8, &polled);                          // a full window is not news
  printf("filled first=%u err1=%d err2=%d second=%u polled=%u\n", first, err1, err2, second, polled);
  fflush(stdout);

  // The test now reads: the reopened window wakes us long before 10 s.
  t0 = now_ns();
  n = 0;
  err = embly_events(10000000000LL, ids, 8, &n);
  int64_t woke_ms = (now_ns() - t0) / 1000000;
  uint32_t again = 99;
  embly_events(0, ids + 4, 4, &again);  // a reopened window is reported once
  char out[128];
  int k = snprintf(out, sizeof out, "|woke err=%d n=%u id=%d fast=%d again=%u", err, n, ids[0], woke_ms < 5000, again);
  return embly_write_all(1, out, k);
}
