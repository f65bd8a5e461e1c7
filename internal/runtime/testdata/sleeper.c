// Sleeps 300 ms in poll_oneoff and waits 300 ms in _events, then answers:
// waiting must not count against the CPU budget.
#include "embly.h"
#include <string.h>
#include <unistd.h>

static char in[4096];

int main(void) {
  // Read the input to its EOF: unread, the EOF would be news at once.
  size_t got = 0;
  embly_read_all(1, in, sizeof in, &got);
  usleep(300 * 1000);
  int32_t ids[4];
  uint32_t n;
  embly_events(300 * 1000 * 1000LL, ids, 4, &n);
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nslept";
  return embly_write_all(1, resp, strlen(resp));
}
