// The smallest complete HTTP handler: write a raw response on conn 1, return.
#include "embly.h"
#include <string.h>

int main(void) {
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World";
  return embly_write_all(1, resp, strlen(resp));
}
