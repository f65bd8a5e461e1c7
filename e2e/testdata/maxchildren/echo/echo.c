// Copies conn 1 back to conn 1 until EOF, then closes it.
#include "embly.h"

static char buf[4096];

int main(void) {
  for (;;) {
    uint32_t n = 0;
    int32_t err = embly_read_some(1, buf, sizeof buf, &n);
    if (err != 0) return 10 + err;
    if (n == 0) break;
    if ((err = embly_write_all(1, buf, n)) != 0) return 20 + err;
  }
  return embly_close(1);
}
