// Streams a chunked response in pieces, waiting for the client to ask for
// the next one (it sends nothing; the test reads pieces as they come).
#include "embly.h"
#include <string.h>
#include <unistd.h>

int main(void) {
  const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  embly_write_all(1, head, strlen(head));
  embly_write_all(1, "6\r\nfirst\n\r\n", 11);
  usleep(300 * 1000);
  embly_write_all(1, "7\r\nsecond\n\r\n", 12);
  embly_write_all(1, "0\r\n\r\n", 5);
  return 0;
}
