// Reads a size in MiB from conn 1 (until EOF) and writes that many bytes
// back, as fast as the window lets it.
#include "embly.h"
#include <stdlib.h>

static char chunk[64 << 10];

int main(void) {
  char arg[16];
  size_t len = 0;
  if (embly_read_all(1, arg, sizeof arg - 1, &len) != 0) return 1;
  arg[len] = 0;
  long long left = atoll(arg) << 20;
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = 'a' + i % 26;
  while (left > 0) {
    size_t n = left < (long long)sizeof chunk ? (size_t)left : sizeof chunk;
    if (embly_write_all(1, chunk, n) != 0) return 2;
    left -= n;
  }
  return 0;
}
