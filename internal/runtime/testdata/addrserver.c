// Publishes an address, tells its parent, then serves the dials it is
// told to expect: conn 1 carries the address out, then a mode and a count
// in ("serve N", "withdraw", "idle"), then EOF.
//   serve N:   answer N dials, one after another: read the request to EOF,
//              write "hello, " + request, close.
//   withdraw:  close the listen conn, tell the parent "withdrawn", then wait
//              for conn 1's second EOF... (just wait for a dial that never
//              comes: until the parent stops us).
//   idle:      never accept; wait until stopped.
#include "embly.h"
#include <stdio.h>
#include <string.h>

static char cmd[64];
static char req[4096];
static char resp[4200];

int main(void) {
  int32_t lst;
  char addr[EMBLY_ADDR_MAX];
  int32_t err = embly_listen(&lst, addr, sizeof addr);
  if (err != 0) {
    printf("listen: errno %d\n", err);
    return 1;
  }
  size_t n = strlen(addr);
  addr[n] = '\n';
  embly_write_all(1, addr, n + 1);
  size_t got = 0;
  embly_read_all(1, cmd, sizeof cmd - 1, &got);
  cmd[got] = 0;
  if (strncmp(cmd, "withdraw", 8) == 0) {
    embly_close(lst);
    embly_write_all(1, "withdrawn\n", 10);
    embly_close(1);
    for (;;) embly_sleep_ns(1000000000ull);
  }
  if (strncmp(cmd, "idle", 4) == 0) {
    embly_close(1);
    for (;;) embly_sleep_ns(1000000000ull);
  }
  int count = 0;
  sscanf(cmd, "serve %d", &count);
  for (int i = 0; i < count; i++) {
    int32_t id;
    if ((err = embly_accept_wait(lst, &id)) != 0) {
      printf("accept: errno %d\n", err);
      return 1;
    }
    size_t len = 0;
    embly_read_all(id, req, sizeof req, &len);
    memcpy(resp, "hello, ", 7);
    memcpy(resp + 7, req, len);
    embly_write_all(id, resp, 7 + len);
    embly_close(id);
  }
  embly_write_all(1, "served\n", 7);
  return 0;
}
