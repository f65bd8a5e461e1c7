// Serves commands from conn 1, one byte each, answering one byte each:
// 's' spawns function/echo, sends it "ping", closes, reads "ping" and EOF
// back (spawn + one round trip); 'r' sends "ping" to one echo child kept for
// the whole run and reads it back (a round trip alone). EOF ends it.
#include "embly.h"

static int32_t roundtrip(int32_t id, int close_after) {
  char buf[8];
  uint32_t got = 0, n = 0;
  if (embly_write_all(id, "ping", 4) != 0) return 1;
  if (close_after) embly_close(id);
  while (got < 4) {
    if (embly_read_some(id, buf + got, sizeof buf - got, &n) != 0 || n == 0) return 2;
    got += n;
  }
  if (close_after && (embly_read_some(id, buf, sizeof buf, &n) != 0 || n != 0)) return 3;
  return 0;
}

int main(void) {
  int32_t kept = 0;
  for (;;) {
    char cmd;
    uint32_t n = 0;
    if (embly_read_some(1, &cmd, 1, &n) != 0) return 1;
    if (n == 0) return 0;
    int32_t err = 0, id = 0;
    if (cmd == 's') {
      err = embly_spawn_str("function/echo", &id);
      if (err == 0) err = roundtrip(id, 1);
    } else {
      if (kept == 0) err = embly_spawn_str("function/echo", &kept);
      if (err == 0) err = roundtrip(kept, 0);
    }
    char res = err == 0 ? 'k' : 'e';
    if (embly_write_all(1, &res, 1) != 0) return 2;
  }
}
