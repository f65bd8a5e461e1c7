// Spawns function/echo, sends it what it read on conn 1, and relays the
// child's answer back on conn 1, prefixed with "child said: ".
#include "embly.h"
#include <string.h>

static char buf[4096];

int main(void) {
  int32_t child = 0;
  int32_t err = embly_spawn_str("function/echo", &child);
  if (err != 0) return 100 + err;
  uint32_t n = 0;
  for (;;) {
    if ((err = embly_read_some(1, buf, sizeof buf, &n)) != 0) return 1;
    if (n == 0) break;
    if ((err = embly_write_all(child, buf, n)) != 0) return 2;
  }
  embly_close(child);
  embly_write_all(1, "child said: ", 12);
  for (;;) {
    if ((err = embly_read_some(child, buf, sizeof buf, &n)) != 0) return 3;
    if (n == 0) break;
    embly_write_all(1, buf, n);
  }
  return 0;
}
