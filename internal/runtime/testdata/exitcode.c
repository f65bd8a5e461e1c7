// Exits with the code its input names ("code=N"); with "after" in the input
// it answers first. Reads its input to EOF before anything else.
#include "embly.h"
#include <stdlib.h>
#include <string.h>

static char in[8192];

int main(void) {
  size_t n = 0;
  embly_read_all(1, in, sizeof in - 1, &n);
  in[n] = 0;
  const char *c = strstr(in, "code=");
  int code = c ? atoi(c + 5) : 0;
  if (strstr(in, "after")) {
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";
    embly_write_all(1, resp, strlen(resp));
    embly_close(1);
  }
  exit(code);
}
