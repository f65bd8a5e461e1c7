// Spawns children until _spawn refuses, then reports how many it got and
// the errno that stopped it.
#include "embly.h"
#include <stdio.h>

int main(void) {
  int count = 0;
  int32_t err = 0, id = 0;
  while ((err = embly_spawn_str("function/echo", &id)) == 0) count++;
  char out[64];
  int n = snprintf(out, sizeof out, "spawned=%d err=%d", count, err);
  return embly_write_all(1, out, n);
}
