// Checks that it starts from a clean memory: a static counter must be 0 and
// memory grown for a large buffer must read as zeros. It then dirties both,
// so a host that reused memory without clearing it would be caught by the
// next instance.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>

static int counter;

int main(void) {
  counter++;
  size_t size = 4 << 20; // past the in-place clearing threshold
  unsigned char *big = malloc(size);
  size_t dirty = 0;
  for (size_t i = 0; i < size; i += 4096) dirty += big[i] != 0;
  for (size_t i = 0; i < size; i++) big[i] = 0xAB;
  char out[64];
  int n = snprintf(out, sizeof out, "counter=%d dirty=%zu", counter, dirty);
  return embly_write_all(1, out, n);
}
