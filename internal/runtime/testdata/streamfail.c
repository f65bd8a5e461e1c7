// Starts a chunked response, then traps, or with "spin" in the request
// spins until its CPU budget stops it.
#include "embly.h"
#include <string.h>

static char in[8192];

int main(void) {
  size_t n = 0;
  embly_read_all(1, in, sizeof in - 1, &n);
  in[n] = 0;
  const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\npartial\n\r\n";
  embly_write_all(1, head, strlen(head));
  if (strstr(in, "spin")) {
    volatile int x = 0;
    for (;;) x++;
  }
  __builtin_trap();
}
