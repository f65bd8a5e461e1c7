// Answers GET /big?mib=N with N MiB (with a Content-Length), written as fast
// as the window lets it: the host must hold no more than the windows.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char head[4096];
static char chunk[64 << 10];

int main(void) {
  size_t head_len = 0, got = 0;
  if (embly_http_read_head(1, head, sizeof head, &head_len, &got) != 0) return 1;
  // Read the request to its EOF: an unread EOF is news to every _events
  // call, and embly_write_all would spin instead of sleeping.
  for (uint32_t n = 1; n > 0;)
    if (embly_read_some(1, chunk, sizeof chunk, &n) != 0) break;
  const char *q = strstr(head, "mib=");
  long long left = (q ? atoll(q + 4) : 1) << 20;
  char resp[128];
  int k = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %lld\r\n\r\n", left);
  if (embly_write_all(1, resp, k) != 0) return 1;
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
  while (left > 0) {
    size_t n = left < (long long)sizeof chunk ? (size_t)left : sizeof chunk;
    if (embly_write_all(1, chunk, n) != 0) return 2;
    left -= n;
  }
  return 0;
}
