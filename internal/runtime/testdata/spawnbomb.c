// Spawns copies of itself until _spawn refuses, then holds them all,
// waiting forever without using the CPU.
#include "embly.h"
#include <stdio.h>

static char buf[4096];

int main(void) {
  printf("up\n");
  fflush(stdout);
  int32_t id;
  while (embly_spawn_str("function/spawnbomb", &id) == 0) {
  }
  // Read whatever _events reports (conn 1's EOF, when its peer closes), so
  // that it is not reported again and again.
  for (;;) {
    int32_t ids[64];
    uint32_t got = 0;
    embly_events(-1, ids, 64, &got);
    for (uint32_t i = 0; i < got; i++) {
      uint32_t r = 1;
      while (r > 0 && embly_read(ids[i], buf, sizeof buf, &r) == 0) {
      }
    }
  }
}
