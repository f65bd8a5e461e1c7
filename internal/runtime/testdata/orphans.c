// Spawns children that never end on their own (spin never calls the host,
// waiter waits for news forever and ignores it), tells conn 1 how many, then
// ends as the first byte read from conn 1 says: 'r' returns, 't' traps,
// 'x' exits 1, 'w' waits forever (the test cancels it). Its children must
// all be stopped.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  int spawned = 0;
  for (int i = 0; i < 20; i++) {
    int32_t id;
    if (embly_spawn_str(i % 2 ? "function/spin" : "function/waiter", &id) == 0) spawned++;
  }
  char out[32];
  int k = snprintf(out, sizeof out, "spawned=%d", spawned);
  embly_write_all(1, out, k);
  embly_close(1);
  char how = 0;
  uint32_t n = 0;
  embly_read_some(1, &how, 1, &n);
  switch (how) {
    case 't': __builtin_trap();
    case 'x': exit(1);
    case 'w':
      for (;;) {
        int32_t ids[4];
        embly_events(-1, ids, 4, &n);
      }
  }
  return 0;
}
