// Reads a spawn target on conn 1 (until EOF). For "many:TARGET" it spawns
// TARGET until _spawn refuses and writes "spawned=N err=E". Otherwise it
// spawns the target once, writes "err=E\n", and if that worked sends the
// child "ping", closes its side and relays the child's answer on conn 1.
#include "embly.h"
#include <stdio.h>
#include <string.h>

static char name[256], buf[4096];

int main(void) {
  size_t n = 0;
  if (embly_read_all(1, name, sizeof name - 1, &n) != 0) return 1;
  name[n] = 0;
  int32_t id = 0, err = 0;
  if (strncmp(name, "many:", 5) == 0) {
    int count = 0;
    while ((err = embly_spawn_str(name + 5, &id)) == 0) count++;
    int len = snprintf(buf, sizeof buf, "spawned=%d err=%d", count, err);
    return embly_write_all(1, buf, len);
  }
  err = embly_spawn_str(name, &id);
  int len = snprintf(buf, sizeof buf, "err=%d\n", err);
  embly_write_all(1, buf, len);
  if (err != 0) return 0;
  if (embly_write_all(id, "ping", 4) != 0) return 2;
  embly_close(id);
  for (;;) {
    uint32_t got = 0;
    if (embly_read_some(id, buf, sizeof buf, &got) != 0) return 3;
    if (got == 0) break;
    embly_write_all(1, buf, got);
  }
  return 0;
}
