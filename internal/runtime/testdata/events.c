// Checks that _events reports exactly the conns with news, level-triggered
// for data and EOF, and reports "name=value" lines on conn 1.
#include "embly.h"
#include <stdio.h>

static char out[1024];
static size_t used;

#define REPORT(...) (used += snprintf(out + used, sizeof out - used, __VA_ARGS__))

int main(void) {
  // Read conn 1 to its EOF first: an unread EOF is news every time.
  char in[16];
  size_t got_in = 0;
  embly_read_all(1, in, sizeof in, &got_in);
  int32_t a, b, c;
  if (embly_spawn_str("function/echo", &a) || embly_spawn_str("function/echo", &b) ||
      embly_spawn_str("function/echo", &c))
    return 1;
  int32_t ids[8];
  uint32_t n = 0, got = 0;
  REPORT("quiet=%u\n", (embly_events(0, ids, 8, &n), n));  // nobody has news yet
  embly_write_all(b, "x", 1);
  embly_close(b);
  // b's echo answers "x" and closes: b, and only b, has news.
  embly_events(-1, ids, 8, &n);
  REPORT("first=%u only_b=%d\n", n, n == 1 && ids[0] == b);
  embly_events(0, ids, 8, &n);
  REPORT("level=%u only_b=%d\n", n, n == 1 && ids[0] == b);
  char buf[8];
  embly_read_some(b, buf, sizeof buf, &got);
  // The data is read but the EOF is not: still news.
  embly_events(-1, ids, 8, &n);
  REPORT("eof_pending=%u only_b=%d\n", n, n == 1 && ids[0] == b);
  embly_read_some(b, buf, sizeof buf, &got);
  REPORT("eof=%u\n", got);
  embly_events(0, ids, 8, &n);
  REPORT("after_eof=%u\n", n);
  // Close a and c: each echo closes back, and both are reported (maybe in
  // separate calls), never b again.
  embly_close(a);
  embly_close(c);
  int seen_a = 0, seen_c = 0, other = 0;
  while (!(seen_a && seen_c)) {
    embly_events(-1, ids, 8, &n);
    for (uint32_t i = 0; i < n; i++) {
      if (ids[i] == a && !seen_a) {
        seen_a = 1;
        embly_read(a, buf, sizeof buf, &got);
      } else if (ids[i] == c && !seen_c) {
        seen_c = 1;
        embly_read(c, buf, sizeof buf, &got);
      } else {
        other++;
      }
    }
  }
  REPORT("a_and_c=1 other=%d\n", other);
  return embly_write_all(1, out, used);
}
