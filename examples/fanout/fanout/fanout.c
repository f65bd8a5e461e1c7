// fanout answers GET /?n=N (1 <= N <= 1000, default 100). It spawns N
// instances of function sha, sends instance i the 4 KiB chunk i (byte j of
// it is (i + j) % 251), and answers with one line per chunk, "i HEX\n", in
// order. embly_exchange drives all N conns in one event loop.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
#define MAX_N 1000

static char head[8192];
static char drain[4096];

// query_n returns the n=... parameter of the request line, or def.
static int query_n(const char *line, int def) {
  const char *end = strstr(line, " HTTP/");
  const char *q = strchr(line, '?');
  while (q && (!end || q < end)) {
    q++;
    if (strncmp(q, "n=", 2) == 0) return atoi(q + 2);
    q = strchr(q, '&');
  }
  return def;
}

static int fail(int status, const char *msg) {
  return embly_http_respond(1, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

int main(void) {
  size_t head_len = 0, got = 0;
  if (embly_http_read_head(1, head, sizeof head, &head_len, &got) != 0) return fail(400, "bad request\n");
  // Read the request to its end first: an unread EOF on conn 1 would be
  // news to every _events call of the loop below.
  for (uint32_t n = 1; n > 0;)
    if (embly_read_some(1, drain, sizeof drain, &n) != 0) break;

  int n = query_n(head, 100);
  if (n < 1 || n > MAX_N) return fail(400, "n must be between 1 and 1000\n");

  char *chunks = malloc((size_t)n * CHUNK);
  char(*digests)[64] = malloc((size_t)n * 64);
  embly_exchange_t *x = calloc((size_t)n, sizeof *x);
  if (!chunks || !digests || !x) return fail(500, "out of memory\n");
  for (int i = 0; i < n; i++) {
    char *c = chunks + (size_t)i * CHUNK;
    for (int j = 0; j < CHUNK; j++) c[j] = (char)((i + j) % 251);
    int32_t err = embly_spawn_str("function/sha", &x[i].id);
    if (err != 0) {
      char msg[64];
      snprintf(msg, sizeof msg, "spawning worker %d: errno %d\n", i, err);
      return fail(503, msg);
    }
    x[i].out = c;
    x[i].out_len = CHUNK;
    x[i].in = digests[i];
    x[i].in_cap = 64;
  }
  if (embly_exchange(x, (size_t)n) != 0) return fail(500, "waiting for workers failed\n");

  size_t cap = (size_t)n * 80, len = 0;
  char *body = malloc(cap);
  for (int i = 0; i < n; i++) {
    if (x[i].err != 0 || x[i].in_len != 64) {
      char msg[64];
      snprintf(msg, sizeof msg, "worker %d failed: errno %d\n", i, x[i].err);
      return fail(502, msg);
    }
    len += snprintf(body + len, cap - len, "%d %.64s\n", i, digests[i]);
  }
  return embly_http_respond(1, 200, "text/plain; charset=utf-8", body, len);
}
