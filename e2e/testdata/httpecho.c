// Answers an HTTP request with its own body, streamed back as it arrives.
#include "embly.h"
#include <string.h>

static char buf[8192];

int main(void) {
  // Skip the request line and headers: everything up to the blank line.
  size_t have = 0;
  char *body = NULL;
  while (!body) {
    uint32_t n = 0;
    if (embly_read_some(1, buf + have, sizeof buf - have, &n) != 0 || n == 0) return 1;
    have += n;
    for (size_t i = 3; i < have; i++) {
      if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
        body = buf + i + 1;
        break;
      }
    }
    if (!body && have == sizeof buf) return 2;
  }
  const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";
  embly_write_all(1, head, strlen(head));
  embly_write_all(1, body, buf + have - body);
  for (;;) {
    uint32_t n = 0;
    if (embly_read_some(1, buf, sizeof buf, &n) != 0) return 3;
    if (n == 0) break;
    if (embly_write_all(1, buf, n) != 0) return 4;
  }
  return 0;
}
