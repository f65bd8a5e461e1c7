// Spawns echo children (which stay alive until their conn closes) until
// _spawn refuses, and answers "spawned=N err=E".
#include "embly.h"
#include <stdio.h>

static char head[4096];

int main(void) {
  size_t head_len = 0, got = 0;
  embly_http_read_head(1, head, sizeof head, &head_len, &got);
  int count = 0;
  int32_t err = 0, id = 0;
  while (count < 100 && (err = embly_spawn_str("function/echo", &id)) == 0) count++;
  char body[64];
  int n = snprintf(body, sizeof body, "spawned=%d err=%d", count, err);
  return embly_http_respond(1, 200, "text/plain", body, n);
}
