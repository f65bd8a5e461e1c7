// kvbench reads "OP N" from conn 1 (OP is s for set, g for get) and runs N
// such operations on embly/kv/bench, each a round trip through the conn.
#include "embly.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
  char in[64];
  size_t n = 0;
  embly_read_all(1, in, sizeof in - 1, &n);
  in[n] = 0;
  char op = in[0];
  long count = strtol(in + 2, 0, 10);
  int32_t db = 0;
  int32_t err = embly_kv_open("bench", &db);
  char key[32], value[128];
  for (int i = 0; i < (int)sizeof value; i++) value[i] = 'v';
  for (long i = 0; err == 0 && i < count; i++) {
    int kl = snprintf(key, sizeof key, "key%ld", i % 1000);
    size_t len = 0;
    if (op == 's') {
      err = embly_kv_set(db, key, (size_t)kl, value, sizeof value, 0);
    } else {
      err = embly_kv_get(db, key, (size_t)kl, value, sizeof value, &len);
    }
  }
  char out[32];
  int ol = snprintf(out, sizeof out, "%d", err);
  return embly_write_all(1, out, (size_t)ol);
}
