// Reads a count N from conn 1 (decimal, until EOF), spawns N echo children,
// sends each its own message, gathers every answer with embly_exchange and
// reports "ok=N bad=B err=E": an instance holding thousands of conns at once.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char out[24], in[24];
} msgs;

int main(void) {
  char arg[32];
  size_t len = 0;
  if (embly_read_all(1, arg, sizeof arg - 1, &len) != 0) return 1;
  arg[len] = 0;
  int n = atoi(arg);
  embly_exchange_t *x = calloc(n, sizeof *x);
  msgs *m = calloc(n, sizeof *m);
  for (int i = 0; i < n; i++) {
    int32_t err = embly_spawn_str("function/echo", &x[i].id);
    if (err != 0) {
      char out[64];
      int k = snprintf(out, sizeof out, "spawn %d failed: %d", i, err);
      return embly_write_all(1, out, k);
    }
    x[i].out = m[i].out;
    x[i].out_len = snprintf(m[i].out, sizeof m[i].out, "child %d", i);
    x[i].in = m[i].in;
    x[i].in_cap = sizeof m[i].in;
  }
  int32_t err = embly_exchange(x, n);
  int ok = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    if (x[i].err == 0 && x[i].in_len == x[i].out_len && memcmp(x[i].in, x[i].out, x[i].out_len) == 0) ok++;
    else bad++;
  }
  char out[64];
  int k = snprintf(out, sizeof out, "ok=%d bad=%d err=%d", ok, bad, err);
  return embly_write_all(1, out, k);
}
