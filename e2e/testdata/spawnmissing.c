// Reports the errno of spawning a function that does not exist.
#include "embly.h"
#include <stdio.h>

int main(void) {
  int32_t id = 0;
  int32_t err = embly_spawn_str("function/nope", &id);
  char out[128];
  int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nerrno=%d",
                   err >= 10 ? 8 : 7, err);
  return embly_write_all(1, out, n);
}
