// Spawns children that trap, exit non-zero, and return, and reads each to
// EOF: a child that ends any way closes its conns after what it wrote.
#include "embly.h"
#include <stdio.h>

static const char *names[] = {"function/trap", "function/exit3", "function/hello"};

int main(void) {
  // Read conn 1 to its EOF first: an unread EOF is news every time.
  char in[16];
  size_t got_in = 0;
  embly_read_all(1, in, sizeof in, &got_in);
  embly_exchange_t x[3] = {0};
  char answers[3][128];
  for (int i = 0; i < 3; i++) {
    if (embly_spawn_str(names[i], &x[i].id) != 0) return 1;
    x[i].in = answers[i];
    x[i].in_cap = sizeof answers[i];
  }
  if (embly_exchange(x, 3) != 0) return 2;
  char out[512];
  int k = 0;
  for (int i = 0; i < 3; i++)
    k += snprintf(out + k, sizeof out - k, "%s err=%d %.*s|", names[i] + 9, x[i].err, (int)x[i].in_len, answers[i]);
  return embly_write_all(1, out, k);
}
