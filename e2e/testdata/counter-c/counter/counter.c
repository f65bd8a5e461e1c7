// counter answers with how many requests its instance has served, and logs
// it. GET /fail answers, then ends with status 3.
#include "embly.h"

#include <stdio.h>
#include <string.h>

static char head[4096];
static int hits;

int main(void) {
  size_t head_len = 0, n = 0;
  if (embly_http_read_head(1, head, sizeof head, &head_len, &n) != 0) {
    return 1;
  }
  hits++;
  printf("request %d\n", hits);
  char body[32];
  int len = snprintf(body, sizeof body, "hits=%d", hits);
  embly_http_respond(1, 200, "text/plain; charset=utf-8", body, (size_t)len);
  return strncmp(head, "GET /fail ", 10) == 0 ? 3 : 0;
}
