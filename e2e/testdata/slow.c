// Answers after a second, so a test can stop the server mid-request.
#include "embly.h"
#include <string.h>
#include <unistd.h>

int main(void) {
  usleep(1000 * 1000);
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow";
  return embly_write_all(1, resp, strlen(resp));
}
