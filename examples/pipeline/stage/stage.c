#define _GNU_SOURCE
// One stage of a streaming pipeline. Its name (argv[0]) says what it does:
//
//   pipeline  the HTTP front: answers POST with the body sent through the chain
//   upper     a-z -> A-Z, then on to rot13
//   rot13     rotates letters by 13, then on to squash
//   squash    spaces and newlines -> '_', the end of the chain
//
// Every stage except the last spawns the next one and relays in both
// directions at once: what its parent sends goes down the chain,
// transformed; what comes back up goes to its parent. Each direction holds
// at most one 64 KiB buffer, so a body of any size streams through in
// constant memory, at the pace of the slowest reader.
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF (64 << 10)

// A transform maps each byte through a table: one load per byte, far
// cheaper than branching on every byte.
typedef unsigned char table[256];

static table identity, upper, rot13, squash;

static void make_tables(void) {
  for (int c = 0; c < 256; c++) {
    identity[c] = upper[c] = rot13[c] = squash[c] = (unsigned char)c;
    if (c >= 'a' && c <= 'z') upper[c] = (unsigned char)(c - 'a' + 'A');
    if (c >= 'a' && c <= 'z') rot13[c] = (unsigned char)('a' + (c - 'a' + 13) % 26);
    if (c >= 'A' && c <= 'Z') rot13[c] = (unsigned char)('A' + (c - 'A' + 13) % 26);
    if (c == ' ' || c == '\n') squash[c] = '_';
  }
}

static void apply(const unsigned char *t, char *p, size_t n) {
#ifdef PIPELINE_RELAY_ONLY
  // Built so by the runtime's BenchmarkPipeline to time the relaying alone.
  return;
#endif
  for (size_t i = 0; i < n; i++) p[i] = (char)t[(unsigned char)p[i]];
}

// A flow moves bytes from conn src to conn dst through one buffer.
typedef struct {
  int32_t src, dst;
  const unsigned char *fn; // the transform
  char *buf;
  size_t len, off; // buf[off:len] waits to be written
  int eof;         // src said EOF: close dst once the buffer is out
  int done;        // dst is closed
  int32_t err;
} flow;

// step moves f as far as it goes without waiting; it reports whether it
// moved anything.
static int step(flow *f) {
  int moved = 0;
  while (!f->done) {
    if (f->off < f->len) {
      uint32_t n = 0;
      int32_t err = embly_write(f->dst, f->buf + f->off, (uint32_t)(f->len - f->off), &n);
      if (err == EMBLY_EAGAIN) break;
      if (err != 0) {
        f->err = err; // the reader is gone: stop this flow
        f->done = 1;
        break;
      }
      f->off += n;
      moved = 1;
      continue;
    }
    if (f->eof) {
      embly_close(f->dst);
      f->done = 1;
      moved = 1;
      break;
    }
    uint32_t n = 0;
    int32_t err = embly_read(f->src, f->buf, BUF, &n);
    if (err == EMBLY_EAGAIN) break;
    if (err != 0 || n == 0) {
      f->eof = 1;
    } else {
      if (f->fn != identity) apply(f->fn, f->buf, n);
      f->len = n;
      f->off = 0;
    }
    moved = 1;
  }
  return moved;
}

// run drives the flows until all are done. When a flow waits for room in
// its window while its source still has input, _events (level-triggered)
// reports that source at once every time; run then sleeps a little, longer
// each time nothing moves, instead of spinning.
static int run(flow *flows, int count) {
  long pause_ns = 0;
  for (;;) {
    int moved = 0, done = 1;
    for (int i = 0; i < count; i++) {
      moved |= step(&flows[i]);
      done &= flows[i].done;
    }
    if (done) return 0;
    if (moved) {
      pause_ns = 0;
      continue;
    }
    if (pause_ns > 0) {
      struct timespec ts = {0, pause_ns};
      nanosleep(&ts, NULL);
    }
    pause_ns = pause_ns == 0 ? 1000 : (pause_ns * 2 > 20000 ? 20000 : pause_ns * 2);
    int32_t ids[16];
    uint32_t n = 0;
    if (embly_events(-1, ids, 16, &n) != 0) return 1;
  }
}

static char down_buf[BUF], up_buf[BUF];

// relay spawns next and runs the two flows between conn 1 and it. The
// first len bytes of down_buf are already read and go down first.
static int relay(const char *next, const unsigned char *fn, size_t len) {
  int32_t child = 0;
  if (embly_spawn_str(next, &child) != 0) return 1;
  apply(fn, down_buf, len);
  flow flows[2] = {
      {.src = 1, .dst = child, .fn = fn, .buf = down_buf, .len = len},
      {.src = child, .dst = 1, .fn = identity, .buf = up_buf},
  };
  return run(flows, 2);
}

static int front(void) {
  static char head[8192];
  size_t head_len = 0, got = 0;
  const char *bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  if (embly_http_read_head(1, head, sizeof head, &head_len, &got) != 0)
    return embly_write_all(1, bad, strlen(bad));
  char *cl = strcasestr(head, "\r\ncontent-length:");
  if (cl == NULL || cl > head + head_len) {
    const char *resp = "HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\n\r\n";
    return embly_write_all(1, resp, strlen(resp));
  }
  long long length = atoll(cl + strlen("\r\ncontent-length:"));
  // The transforms keep the length, so the answer's length is known now.
  char resp[128];
  int k = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %lld\r\n\r\n", length);
  if (embly_write_all(1, resp, k) != 0) return 1;
  size_t early = got - head_len; // body bytes that came with the head
  memcpy(down_buf, head + head_len, early);
  return relay("function/upper", identity, early);
}

static int last(const unsigned char *fn) {
  flow f = {.src = 1, .dst = 1, .fn = fn, .buf = down_buf};
  return run(&f, 1);
}

int main(int argc, char **argv) {
  const char *name = argc > 0 ? argv[0] : "";
  make_tables();
  if (strcmp(name, "pipeline") == 0) return front();
  if (strcmp(name, "upper") == 0) return relay("function/rot13", upper, 0);
  if (strcmp(name, "rot13") == 0) return relay("function/squash", rot13, 0);
  if (strcmp(name, "squash") == 0) return last(squash);
  fprintf(stderr, "stage: unknown stage %s\n", name);
  return 2;
}
