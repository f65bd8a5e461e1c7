// hello answers every HTTP request with "Hello World". It reads the
// request's head first (the gateway has written it to conn 1), as a handler
// that looks at the method or the path would.
#include "embly.h"

#include <string.h>

static char head[16 << 10];

int main(void) {
  size_t head_len = 0, n = 0;
  if (embly_http_read_head(1, head, sizeof head, &head_len, &n) != 0) {
    const char *msg = "bad request\n";
    return embly_http_respond(1, 400, "text/plain; charset=utf-8", msg, strlen(msg));
  }
  const char *body = "Hello World";
  return embly_http_respond(1, 200, "text/plain; charset=utf-8", body, strlen(body));
}
