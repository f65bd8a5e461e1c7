// Spawns function/hello and relays the child's whole answer as its own.
#include "embly.h"

static char buf[4096];

int main(void) {
  int32_t child = 0;
  if (embly_spawn_str("function/hello", &child) != 0) return 1;
  embly_close(child);
  for (;;) {
    uint32_t n = 0;
    if (embly_read_some(child, buf, sizeof buf, &n) != 0) return 2;
    if (n == 0) break;
    embly_write_all(1, buf, n);
  }
  return 0;
}
