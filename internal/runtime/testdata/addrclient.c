// Reads "ADDR MSG" or "ADDR *N" from conn 1, to EOF.
//   ADDR MSG: dials ADDR, sends MSG, closes, answers with the reply, or
//             "errno E" when the dial fails.
//   ADDR *N:  dials ADDR up to N times without sending anything and answers
//             "dialed K errno E" (E of the first refusal, 0 if none).
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char in[4096];
static char out[4096];

int main(void) {
  size_t n = 0;
  embly_read_all(1, in, sizeof in - 1, &n);
  in[n] = 0;
  char *msg = strchr(in, ' ');
  if (msg == NULL) return 1;
  *msg++ = 0;
  int32_t id, err;
  if (msg[0] == '*') {
    int want = atoi(msg + 1), k = 0;
    err = 0;
    for (; k < want; k++) {
      if ((err = embly_dial(in, &id)) != 0) break;
    }
    int len = snprintf(out, sizeof out, "dialed %d errno %d", k, err);
    return embly_write_all(1, out, (size_t)len);
  }
  if ((err = embly_dial(in, &id)) != 0) {
    int len = snprintf(out, sizeof out, "errno %d", err);
    return embly_write_all(1, out, (size_t)len);
  }
  embly_write_all(id, msg, strlen(msg));
  embly_close(id);
  size_t got = 0;
  embly_read_all(id, out, sizeof out, &got);
  return embly_write_all(1, out, got);
}
