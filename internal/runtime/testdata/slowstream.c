// Streams N KiB ("N" on conn 1) to conn 1 without ever reading conn 1 to
// EOF: after the number, conn 1's input (more bytes, or its EOF) stays
// unread, so _events reports conn 1 on every call while embly_write_all
// waits for the window. The SDK's back-off keeps that from spinning.
#include "embly.h"
#include <stdlib.h>

static char num[16];
static char chunk[1024];

int main(void) {
  uint32_t got = 0;
  embly_read_some(1, num, sizeof num - 1, &got);
  num[got] = 0;
  int kib = atoi(num);
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = 'a' + i % 26;
  for (int i = 0; i < kib; i++) {
    if (embly_write_all(1, chunk, sizeof chunk) != 0) return 1;
  }
  return 0;
}
