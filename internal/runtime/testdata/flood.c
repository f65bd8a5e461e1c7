// Floods stdout with 64 MiB of lines and stderr with 4 MiB without a
// newline, then answers: the log must keep a bounded part of it.
#include "embly.h"
#include <string.h>
#include <unistd.h>

static char buf[64 << 10];

int main(void) {
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (i % 100 == 99) ? '\n' : 'x';
  for (int i = 0; i < 1024; i++) write(1, buf, sizeof buf);
  memset(buf, 'y', sizeof buf);
  for (int i = 0; i < 64; i++) write(2, buf, sizeof buf);
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nflooded";
  return embly_write_all(1, resp, strlen(resp));
}
