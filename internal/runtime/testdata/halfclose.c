// Closes its write side of conn 1 at once (the test reads EOF), then reads
// all the test sends and logs how many bytes it got: a side that closed its
// write half still reads.
#include "embly.h"
#include <stdio.h>

static char buf[8192];

int main(void) {
  embly_close(1);
  uint32_t n = 0;
  int32_t werr = embly_write(1, "x", 1, &n);
  unsigned long long total = 0;
  for (;;) {
    if (embly_read_some(1, buf, sizeof buf, &n) != 0) return 1;
    if (n == 0) break;
    total += n;
  }
  printf("write_after_close=%d got=%llu\n", werr, total);
  return 0;
}
