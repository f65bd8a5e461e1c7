// vinylbench reads "OP N START" from conn 1 (OP is i for insert, q for query) and
// runs N such operations on embly/vinyl/bench, each a round trip through the
// conn: an insert of a User as JSON, or a query of one user by its unique
// email (an index lookup). It writes "0", or the first failing status.
#include "embly.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char frame[1024], resp[65536];

static int32_t request(int32_t db, uint8_t op, const char *body, int body_len) {
  const char *type = "User";
  uint32_t n = 2 + 4 + 4 + (uint32_t)body_len;
  uint8_t *p = (uint8_t *)frame;
  p[0] = n >> 24; p[1] = n >> 16; p[2] = n >> 8; p[3] = n;
  p[4] = op; p[5] = 1; /* JSON */
  p[6] = 0; p[7] = 0; p[8] = 0; p[9] = 4;
  memcpy(p + 10, type, 4);
  memcpy(p + 14, body, (size_t)body_len);
  int32_t err = embly_write_all(db, frame, 4 + n);
  if (err) return err;
  uint8_t hdr[4];
  if ((err = embly__read_full(db, hdr, 4))) return err;
  uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  if (len > sizeof resp) return 2000;
  if ((err = embly__read_full(db, resp, len))) return err;
  return resp[0] ? 1000 + resp[0] : 0;
}

int main(void) {
  char in[64];
  size_t n = 0;
  embly_read_all(1, in, sizeof in - 1, &n);
  in[n] = 0;
  char op = in[0];
  char *end = 0;
  long count = strtol(in + 2, &end, 10);
  long next = strtol(end, 0, 10); /* inserts use fresh names from here */
  int32_t db = 0;
  int32_t err = embly_spawn_str("embly/vinyl/bench", &db);
  char body[256];
  for (long i = 0; err == 0 && i < count; i++) {
    int bl;
    if (op == 'i') {
      next++;
      bl = snprintf(body, sizeof body, "{\"username\":\"g%ld\",\"email\":\"g%ld@example.com\",\"age\":%ld}", next, next, next % 90);
      err = request(db, 1, body, bl);
    } else {
      bl = snprintf(body, sizeof body, "{\"filter\":{\"field\":\"email\",\"eq\":\"u%ld@example.com\"}}", i % 1000);
      err = request(db, 3, body, bl);
    }
  }
  char out[32];
  int ol = snprintf(out, sizeof out, "%d", err);
  return embly_write_all(1, out, (size_t)ol);
}
