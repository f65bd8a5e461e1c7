// Spawns echo children until _spawn refuses, then ends one child and spawns
// again once its slot is free: reports "spawned=N err=E respawn=R".
#include "embly.h"
#include <stdio.h>

int main(void) {
  // Read conn 1 to its EOF first: an unread EOF is news every time.
  char in[16];
  size_t got_in = 0;
  embly_read_all(1, in, sizeof in, &got_in);
  int32_t ids[64], first = 0, err = 0, id = 0;
  int count = 0;
  while (count < 64 && (err = embly_spawn_str("function/echo", &id)) == 0) {
    if (count == 0) first = id;
    count++;
  }
  // End the first child: close our side; echo closes back and returns.
  embly_close(first);
  char buf[8];
  uint32_t n = 0;
  embly_read_some(first, buf, sizeof buf, &n);
  // Its slot frees when the instance has ended, just after its EOF.
  int32_t respawn = EMBLY_EAGAIN;
  for (int tries = 0; tries < 10000 && respawn == EMBLY_EAGAIN; tries++) {
    respawn = embly_spawn_str("function/echo", &id);
    if (respawn == EMBLY_EAGAIN) embly_events(100000, ids, 64, &n);  // 100 µs
  }
  char out[64];
  int k = snprintf(out, sizeof out, "spawned=%d err=%d respawn=%d", count, err, respawn);
  return embly_write_all(1, out, k);
}
