/*
 * embly.h: Embly's host ABI for C functions (wasm32-wasi).
 *
 * Every call returns a WASI errno (0 = success). Pointers are offsets into
 * the function's own memory. Conn 1 is whoever started the instance: for an
 * HTTP gateway it carries the raw HTTP/1.1 request in and the response out.
 * See docs/abi.md for the full contract.
 */
#ifndef EMBLY_H
#define EMBLY_H

#include <stddef.h>
#include <stdint.h>

#define EMBLY_ESUCCESS 0
#define EMBLY_EACCES 2
#define EMBLY_EAGAIN 6
#define EMBLY_EBADF 8
#define EMBLY_EFAULT 21
#define EMBLY_ENOENT 44
#define EMBLY_EPIPE 64
/* Returned by the helpers below (never by the host) when a buffer is too
 * small for what must fit in it. */
#define EMBLY_E2BIG 1

#define EMBLY_IMPORT(name) __attribute__((import_module("embly"), import_name(name)))

/* Copies what is buffered on conn id. 0 with *nread > 0: data; 0 with
 * *nread == 0: EOF; EAGAIN: nothing yet; EBADF: no such conn. */
EMBLY_IMPORT("_read")
int32_t embly_read(int32_t id, void *buf, uint32_t len, uint32_t *nread);

/* Never blocks: accepts what fits in the conn's window. EAGAIN: window full,
 * wait with embly_events; EPIPE: the peer is gone. */
EMBLY_IMPORT("_write")
int32_t embly_write(int32_t id, const void *buf, uint32_t len, uint32_t *nwritten);

/* Starts a target ("function/NAME") and stores a new conn id in *id.
 * ENOENT: no such target; EACCES: not allowed; EAGAIN: a limit is reached. */
EMBLY_IMPORT("_spawn")
int32_t embly_spawn(const char *name, uint32_t name_len, int32_t *id);

/* Waits until some conns have news and writes up to ids_cap of their ids.
 * timeout_ns 0 polls, < 0 waits forever; *n == 0 on timeout. */
EMBLY_IMPORT("_events")
int32_t embly_events(int64_t timeout_ns, int32_t *ids, uint32_t ids_cap, uint32_t *n);

/* Closes our write side of conn id; the peer reads EOF once drained. */
EMBLY_IMPORT("_close")
int32_t embly_close(int32_t id);

/* embly_wait blocks until some conn has news. */
static inline int32_t embly_wait(void) {
  int32_t ids[16];
  uint32_t n = 0;
  return embly_events(-1, ids, 16, &n);
}

/* WASI's poll_oneoff, imported under a name of our own so that the header
 * needs nothing from libc. Used only to sleep. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("poll_oneoff")))
int32_t embly__poll_oneoff(const void *in, void *out, uint32_t nsubscriptions, uint32_t *nevents);

/* embly_sleep_ns sleeps for ns nanoseconds, in the host: the instance uses
 * no CPU and spends none of its CPU budget meanwhile. */
static inline int32_t embly_sleep_ns(uint64_t ns) {
  /* One relative clock subscription (48 bytes) and its event (32 bytes),
   * laid out as WASI preview1 says. */
  uint64_t sub[6] = {0};
  uint64_t ev[4];
  uint32_t nev = 0;
  sub[1] = 0;  /* tag: clock */
  sub[2] = 1;  /* clock id: monotonic */
  sub[3] = ns; /* timeout, relative (flags 0) */
  return embly__poll_oneoff(sub, ev, 1, &nev);
}

/*
 * Backing off. _events has no interest set and reports a conn with unread
 * input (data or an EOF) every time until it is read. A guest that waits
 * for one conn (a full window on conn 1, data on a child) while another
 * conn has input it does not read yet would call _events in a tight loop.
 * The helpers below count consecutive waits after which their conn still
 * could not move; from the third on they sleep first, 50 µs doubling up to
 * 5 ms, so such a guest uses a few percent of a CPU instead of all of it.
 * Any progress resets the count, so a guest that reads what it is told
 * about never sleeps.
 */
#define EMBLY__BACKOFF_MIN_NS 50000ull
#define EMBLY__BACKOFF_MAX_NS 5000000ull

/* embly_await waits for news after an EAGAIN; *fruitless counts the waits
 * since the caller last made progress (set it to 0 when it does). */
static inline int32_t embly_await(uint32_t *fruitless) {
  if (*fruitless >= 2) {
    uint32_t shift = *fruitless - 2;
    uint64_t ns = shift >= 7 ? EMBLY__BACKOFF_MAX_NS : EMBLY__BACKOFF_MIN_NS << shift;
    if (ns > EMBLY__BACKOFF_MAX_NS) ns = EMBLY__BACKOFF_MAX_NS;
    embly_sleep_ns(ns);
  }
  if (*fruitless < 64) (*fruitless)++;
  return embly_wait();
}

/* embly_write_all writes all of buf, waiting while the window is full. */
static inline int32_t embly_write_all(int32_t id, const void *buf, size_t len) {
  const char *p = (const char *)buf;
  uint32_t fruitless = 0;
  while (len > 0) {
    uint32_t n = 0;
    int32_t err = embly_write(id, p, (uint32_t)len, &n);
    if (err == EMBLY_EAGAIN) {
      if ((err = embly_await(&fruitless)) != 0) return err;
      continue;
    }
    if (err != 0) return err;
    fruitless = 0;
    p += n;
    len -= n;
  }
  return 0;
}

/* embly_read_some reads at least one byte, waiting while nothing is buffered.
 * *nread == 0 on return means EOF. */
static inline int32_t embly_read_some(int32_t id, void *buf, size_t len, uint32_t *nread) {
  uint32_t fruitless = 0;
  for (;;) {
    int32_t err = embly_read(id, buf, (uint32_t)len, nread);
    if (err != EMBLY_EAGAIN) return err;
    if ((err = embly_await(&fruitless)) != 0) return err;
  }
}

/* embly_spawn_str spawns the target named by a NUL-terminated string. */
static inline int32_t embly_spawn_str(const char *name, int32_t *id) {
  size_t n = 0;
  while (name[n]) n++;
  return embly_spawn(name, (uint32_t)n, id);
}

/*
 * Addresses: talking to an instance you did not spawn (docs/abi.md,
 * "Addresses").
 *
 *   int32_t lst; char addr[64];
 *   embly_listen(&lst, addr, sizeof addr);   // publish: addr = "addr/<token>"
 *   ... pass addr to another instance (a message, a kv record) ...
 *   int32_t id;
 *   embly_dial(addr, &id);                   // elsewhere: a new conn to us
 *   embly_accept(lst, &id);                  // here: the other end of it
 */
#define EMBLY_ADDR_MAX 64 /* "addr/" + 32 hex digits + NUL fits */

/* embly__read_line reads one '\n'-terminated line from conn id into buf
 * (NUL-terminated, without the '\n'), one byte at a time so nothing after
 * it is consumed. With wait == 0 it returns EAGAIN when no line has begun;
 * the host writes each line whole, so a begun line is there entirely. */
static inline int32_t embly__read_line(int32_t id, char *buf, size_t cap, int wait) {
  size_t at = 0;
  for (;;) {
    char c;
    uint32_t got = 0;
    int32_t err = (wait || at > 0) ? embly_read_some(id, &c, 1, &got) : embly_read(id, &c, 1, &got);
    if (err != 0) return err;
    if (got == 0) return EMBLY_EPIPE;
    if (c == '\n') break;
    if (at + 1 >= cap) return EMBLY_E2BIG;
    buf[at++] = c;
  }
  buf[at] = 0;
  return 0;
}

/* embly_listen publishes an address for this instance: *listen_id is the
 * listen conn, and addr (cap bytes, EMBLY_ADDR_MAX is enough) receives the
 * address, NUL-terminated, to pass to whoever should reach us. The address
 * stays valid until this instance ends or closes the listen conn. */
static inline int32_t embly_listen(int32_t *listen_id, char *addr, size_t cap) {
  int32_t err = embly_spawn_str("addr/listen", listen_id);
  if (err != 0) return err;
  return embly__read_line(*listen_id, addr, cap, 1);
}

/* embly_dial opens a conn to the instance that published addr.
 * ENOENT: no such address (wrong, withdrawn, or its instance ended);
 * EAGAIN: its backlog is full, or this instance dialed too often. */
static inline int32_t embly_dial(const char *addr, int32_t *id) {
  return embly_spawn_str(addr, id);
}

/* embly_accept takes the next conn dialed to the listen conn: *id is our
 * end of it. EAGAIN: none is pending (wait with _events: the listen conn
 * is reported when one arrives). A conn id _events reports before you
 * accepted it is such a conn: accept until EAGAIN to learn it. */
static inline int32_t embly_accept(int32_t listen_id, int32_t *id) {
  char line[16];
  int32_t err = embly__read_line(listen_id, line, sizeof line, 0);
  if (err != 0) return err;
  int32_t v = 0;
  for (const char *p = line; *p; p++) v = v * 10 + (*p - '0');
  *id = v;
  return 0;
}

/* embly_accept_wait is embly_accept that waits for a dial. */
static inline int32_t embly_accept_wait(int32_t listen_id, int32_t *id) {
  uint32_t fruitless = 0;
  for (;;) {
    int32_t err = embly_accept(listen_id, id);
    if (err != EMBLY_EAGAIN) return err;
    if ((err = embly_await(&fruitless)) != 0) return err;
  }
}

/* embly_read_all reads conn id until EOF, or until buf (cap bytes) is full,
 * and stores the count in *n. EMBLY_E2BIG: buf filled up before EOF. */
static inline int32_t embly_read_all(int32_t id, void *buf, size_t cap, size_t *n) {
  char *p = (char *)buf;
  *n = 0;
  while (*n < cap) {
    uint32_t got = 0;
    int32_t err = embly_read_some(id, p + *n, cap - *n, &got);
    if (err != 0) return err;
    if (got == 0) return 0;
    *n += got;
  }
  return EMBLY_E2BIG;
}

/*
 * Waiting on many conns.
 *
 * _events has no interest set: it reports every conn with news, and keeps
 * reporting a conn with unread data or an unread EOF until it is read
 * (level-triggered). So a guest that holds many conns should run one event
 * loop that reads whatever _events reports, rather than wait on one conn at
 * a time: embly_wait() returns at once, again and again, while another conn
 * has input nobody reads. embly_exchange is that loop for the common case of
 * fan-out: send each conn a request, close, and gather each answer.
 */

/* embly_exchange_t is one request/response exchange driven by
 * embly_exchange: send out[0..out_len) on conn id, close our write side,
 * and read the answer into in[0..in_cap) until EOF. */
typedef struct {
  int32_t id;      /* the conn, usually from embly_spawn */
  const void *out; /* the request; may be NULL when out_len is 0 */
  size_t out_len;
  void *in; /* where the answer goes */
  size_t in_cap;
  /* Set by embly_exchange. */
  size_t in_len; /* bytes of the answer stored in in */
  /* 0; EMBLY_E2BIG when the answer was longer than in_cap (the rest was
   * read and dropped); or the errno that ended the exchange, such as
   * EMBLY_EPIPE when the peer ended before taking the whole request. */
  int32_t err;
  /* Private to embly_exchange. */
  size_t sent_;
  uint32_t state_;
} embly_exchange_t;

#define EMBLY__SENT 1u
#define EMBLY__RECEIVED 2u

/* embly__find returns the exchange of conn id, or NULL. Conn ids from
 * _spawn grow, so x is usually sorted by id: binary search then. */
static inline embly_exchange_t *embly__find(embly_exchange_t *x, size_t count, int sorted, int32_t id) {
  if (sorted) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (x[mid].id == id) return &x[mid];
      if (x[mid].id < id) lo = mid + 1;
      else hi = mid;
    }
    return NULL;
  }
  for (size_t i = 0; i < count; i++)
    if (x[i].id == id) return &x[i];
  return NULL;
}

/* embly__progress moves exchange e as far as it goes without waiting and
 * reports whether it is complete. */
static inline int embly__progress(embly_exchange_t *e) {
  while (!(e->state_ & EMBLY__SENT)) {
    if (e->sent_ == e->out_len) {
      embly_close(e->id);
      e->state_ |= EMBLY__SENT;
      break;
    }
    uint32_t n = 0;
    int32_t err = embly_write(e->id, (const char *)e->out + e->sent_, (uint32_t)(e->out_len - e->sent_), &n);
    if (err == EMBLY_EAGAIN) break; /* reported by _events when it reopens */
    if (err != 0) {
      e->err = err;
      e->state_ |= EMBLY__SENT;
      break;
    }
    e->sent_ += n;
  }
  while (!(e->state_ & EMBLY__RECEIVED)) {
    char drop[256];
    int full = e->in_len == e->in_cap;
    uint32_t n = 0;
    int32_t err = full ? embly_read(e->id, drop, sizeof drop, &n)
                       : embly_read(e->id, (char *)e->in + e->in_len, (uint32_t)(e->in_cap - e->in_len), &n);
    if (err == EMBLY_EAGAIN) break;
    if (err != 0 || n == 0) { /* an error, or EOF */
      if (err != 0 && e->err == 0) e->err = err;
      e->state_ |= EMBLY__RECEIVED;
      break;
    }
    if (!full) e->in_len += n;
    else if (e->err == 0) e->err = EMBLY_E2BIG;
  }
  return e->state_ == (EMBLY__SENT | EMBLY__RECEIVED);
}

/* embly_exchange runs the exchanges x[0..count) at once, in one event loop,
 * until each has sent its request, closed, and read its answer to EOF. It
 * returns 0, with each exchange's outcome in its err, or the errno of a
 * failed _events. Requests and answers flow at the same time, so a peer
 * that answers while it still reads (an echo) cannot deadlock against us,
 * and thousands of conns cost one _events call per batch of news.
 * Each conn may appear once. Conns outside x should not have unread input
 * (data or an EOF) while it runs: _events reports them every time, and the
 * loop then backs off with short sleeps (see embly_await) instead of
 * spinning, which costs latency; read them to EOF first when you can. */
static inline int32_t embly_exchange(embly_exchange_t *x, size_t count) {
  int sorted = 1;
  size_t pending = 0;
  for (size_t i = 0; i < count; i++) {
    x[i].in_len = 0;
    x[i].err = 0;
    x[i].sent_ = 0;
    x[i].state_ = 0;
    if (i > 0 && x[i].id <= x[i - 1].id) sorted = 0;
  }
  for (size_t i = 0; i < count; i++)
    if (!embly__progress(&x[i])) pending++;
  int32_t ids[256];
  uint32_t fruitless = 0;
  while (pending > 0) {
    uint32_t n = 0;
    /* Only conns outside x reported, again: back off (see embly_await). */
    if (fruitless >= 2) {
      uint32_t shift = fruitless - 2;
      uint64_t ns = shift >= 7 ? EMBLY__BACKOFF_MAX_NS : EMBLY__BACKOFF_MIN_NS << shift;
      embly_sleep_ns(ns > EMBLY__BACKOFF_MAX_NS ? EMBLY__BACKOFF_MAX_NS : ns);
    }
    int32_t err = embly_events(-1, ids, 256, &n);
    if (err != 0) return err;
    int moved = 0;
    for (uint32_t i = 0; i < n; i++) {
      embly_exchange_t *e = embly__find(x, count, sorted, ids[i]);
      if (e == NULL || e->state_ == (EMBLY__SENT | EMBLY__RECEIVED)) continue;
      moved = 1;
      if (embly__progress(e)) pending--;
    }
    if (moved) fruitless = 0;
    else if (fruitless < 64) fruitless++;
  }
  return 0;
}

/* embly_http_read_head reads the head of an HTTP request (request line and
 * headers, up to and including the empty line) from conn id into buf and
 * NUL-terminates it. *head_len is the head's length; *n is how many bytes
 * were read, so buf[*head_len .. *n) is the start of the body. It returns
 * EMBLY_E2BIG if the head does not fit in cap - 1 bytes, and EMBLY_EPIPE if
 * the conn ends before the head does. */
static inline int32_t embly_http_read_head(int32_t id, char *buf, size_t cap, size_t *head_len, size_t *n) {
  *head_len = 0;
  *n = 0;
  if (cap == 0) return EMBLY_E2BIG;
  buf[0] = 0;
  for (;;) {
    /* Look for the blank line in what is there (LF or CRLF endings). */
    for (size_t i = 0; i + 1 < *n; i++) {
      if (buf[i] != '\n') continue;
      size_t j = i + 1;
      if (buf[j] == '\r' && j + 1 < *n) j++;
      if (buf[j] == '\n') {
        *head_len = j + 1;
        buf[*n] = 0;
        return 0;
      }
    }
    if (*n >= cap - 1) return EMBLY_E2BIG;
    uint32_t got = 0;
    int32_t err = embly_read_some(id, buf + *n, cap - 1 - *n, &got);
    if (err != 0) return err;
    if (got == 0) return EMBLY_EPIPE;
    *n += got;
    buf[*n] = 0;
  }
}

/* embly__reason is the reason phrase of a few common statuses. */
static inline const char *embly__reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
  }
  return "Status";
}

/* embly__append copies s to buf at *at, if it fits in cap. */
static inline int embly__append(char *buf, size_t cap, size_t *at, const char *s) {
  while (*s) {
    if (*at >= cap) return 0;
    buf[(*at)++] = *s++;
  }
  return 1;
}

/* embly__append_uint appends v in decimal. */
static inline int embly__append_uint(char *buf, size_t cap, size_t *at, unsigned long long v) {
  char digits[24];
  int i = (int)sizeof digits - 1;
  digits[i] = 0;
  do {
    digits[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  return embly__append(buf, cap, at, digits + i);
}

/* embly_http_respond writes a complete HTTP/1.1 response to conn id: the
 * status line, Content-Type (unless NULL), Content-Length and the body. */
static inline int32_t embly_http_respond(int32_t id, int status, const char *content_type, const void *body, size_t len) {
  char head[512];
  size_t at = 0;
  int ok = embly__append(head, sizeof head, &at, "HTTP/1.1 ") &&
           embly__append_uint(head, sizeof head, &at, (unsigned)status) &&
           embly__append(head, sizeof head, &at, " ") &&
           embly__append(head, sizeof head, &at, embly__reason(status)) &&
           embly__append(head, sizeof head, &at, "\r\n");
  if (ok && content_type) {
    ok = embly__append(head, sizeof head, &at, "Content-Type: ") &&
         embly__append(head, sizeof head, &at, content_type) &&
         embly__append(head, sizeof head, &at, "\r\n");
  }
  ok = ok && embly__append(head, sizeof head, &at, "Content-Length: ") &&
       embly__append_uint(head, sizeof head, &at, len) &&
       embly__append(head, sizeof head, &at, "\r\n\r\n");
  if (!ok) return EMBLY_E2BIG;
  int32_t err = embly_write_all(id, head, at);
  if (err != 0) return err;
  return embly_write_all(id, body, len);
}

/*
 * Key-value databases: `database "kv" "NAME" {}` in embly.hcl.
 *
 * embly_kv_open spawns embly/kv/NAME once; every call after that is one
 * request and one response on that conn (docs/abi.md, "embly/kv"). Keys and
 * values are bytes. The helpers return 0, a host errno (EPIPE: the conn
 * ended), EMBLY_E2BIG (the answer does not fit in the buffer; the conn
 * stays usable), or one of the EMBLY_KV_* statuses the store answered.
 */
#define EMBLY_KV_NOT_FOUND 1001   /* no such key, or it expired */
#define EMBLY_KV_TOO_LARGE 1002   /* a key, value or page passes its limit */
#define EMBLY_KV_BAD_REQUEST 1003 /* an empty key, a malformed request */
#define EMBLY_KV_UNAVAILABLE 1004 /* the store failed; retry later */
#define EMBLY_KV_MAX_KEY (1u << 10)
#define EMBLY_KV_MAX_VALUE (1u << 20)
#define EMBLY_KV_MAX_PAGE 1000u

/* embly_kv_open spawns the service of kv database name (NUL-terminated)
 * and stores the conn in *db. ENOENT: embly.hcl declares no such kv
 * database. */
static inline int32_t embly_kv_open(const char *name, int32_t *db) {
  char target[128] = "embly/kv/";
  size_t at = 9;
  while (*name) {
    if (at >= sizeof target) return EMBLY_E2BIG;
    target[at++] = *name++;
  }
  return embly_spawn(target, (uint32_t)at, db);
}

static inline void embly__be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline uint32_t embly__get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* embly__read_full reads exactly len bytes; EPIPE if the conn ends first. */
static inline int32_t embly__read_full(int32_t id, void *buf, size_t len) {
  char *p = (char *)buf;
  while (len > 0) {
    uint32_t got = 0;
    int32_t err = embly_read_some(id, p, len, &got);
    if (err != 0) return err;
    if (got == 0) return EMBLY_EPIPE;
    p += got;
    len -= got;
  }
  return 0;
}

/* embly__kv_request sends one frame: op, then up to two length-prefixed
 * fields (a, b), then an 8-byte ttl if has_ttl, then the raw tail. */
static inline int32_t embly__kv_request(int32_t db, uint8_t op, uint32_t limit, int has_limit,
                                        const void *a, size_t a_len, int has_b, const void *b, size_t b_len,
                                        int has_ttl, uint64_t ttl_ms, const void *tail, size_t tail_len) {
  uint8_t head[32];
  size_t n = 4 + 1 + (has_limit ? 4 : 0) + 4 + a_len + (has_b ? 4 + b_len : 0) + (has_ttl ? 8 : 0) + tail_len;
  embly__be32(head, (uint32_t)(n - 4));
  head[4] = op;
  size_t at = 5;
  if (has_limit) { embly__be32(head + at, limit); at += 4; }
  embly__be32(head + at, (uint32_t)a_len);
  at += 4;
  int32_t err = embly_write_all(db, head, at);
  if (err == 0) err = embly_write_all(db, a, a_len);
  if (err == 0 && has_b) {
    embly__be32(head, (uint32_t)b_len);
    err = embly_write_all(db, head, 4);
    if (err == 0) err = embly_write_all(db, b, b_len);
  }
  if (err == 0 && has_ttl) {
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)(ttl_ms >> (56 - 8 * i));
    err = embly_write_all(db, head, 8);
  }
  if (err == 0 && tail_len > 0) err = embly_write_all(db, tail, tail_len);
  return err;
}

/* embly__kv_response reads one response frame: its payload into buf (the
 * value, the page, or the store's message on an error status) and its
 * length into *len. A payload larger than cap is read and dropped, so the
 * next request still works, and the result is EMBLY_E2BIG. */
static inline int32_t embly__kv_response(int32_t db, void *buf, size_t cap, size_t *len) {
  uint8_t head[5];
  if (len) *len = 0;
  int32_t err = embly__read_full(db, head, 5);
  if (err != 0) return err;
  uint32_t n = embly__get32(head);
  if (n == 0) return EMBLY_EPIPE;
  size_t payload = n - 1;
  size_t keep = payload <= cap ? payload : 0;
  if (keep > 0 && (err = embly__read_full(db, buf, keep)) != 0) return err;
  for (size_t left = payload - keep; left > 0;) {
    uint8_t sink[256];
    size_t k = left < sizeof sink ? left : sizeof sink;
    if ((err = embly__read_full(db, sink, k)) != 0) return err;
    left -= k;
  }
  if (len) *len = keep;
  if (head[4] != 0) return 1000 + head[4];
  return payload > cap ? EMBLY_E2BIG : 0;
}

/* embly_kv_get reads the value of key into buf (cap bytes) and its length
 * into *len. EMBLY_KV_NOT_FOUND: no such key. */
static inline int32_t embly_kv_get(int32_t db, const void *key, size_t key_len, void *buf, size_t cap, size_t *len) {
  int32_t err = embly__kv_request(db, 1, 0, 0, key, key_len, 0, 0, 0, 0, 0, 0, 0);
  return err ? err : embly__kv_response(db, buf, cap, len);
}

/* embly_kv_set stores value under key; ttl_ms > 0 makes it expire. */
static inline int32_t embly_kv_set(int32_t db, const void *key, size_t key_len, const void *value, size_t value_len, uint64_t ttl_ms) {
  int32_t err = embly__kv_request(db, 2, 0, 0, key, key_len, 0, 0, 0, 1, ttl_ms, value, value_len);
  return err ? err : embly__kv_response(db, 0, 0, 0);
}

/* embly_kv_delete removes key (a missing key is not an error). */
static inline int32_t embly_kv_delete(int32_t db, const void *key, size_t key_len) {
  int32_t err = embly__kv_request(db, 3, 0, 0, key, key_len, 0, 0, 0, 0, 0, 0, 0);
  return err ? err : embly__kv_response(db, 0, 0, 0);
}

/* embly_kv_list reads a page of up to limit keys (0: 100) that start with
 * prefix and sort after cursor (cursor_len 0: the first page) into buf; read
 * it with embly_kv_page_t. A full page of the longest keys takes about
 * 1 MiB; a buffer of 64 KiB holds 1000 keys of 60 bytes. */
static inline int32_t embly_kv_list(int32_t db, const void *prefix, size_t prefix_len, const void *cursor, size_t cursor_len,
                                    uint32_t limit, void *buf, size_t cap, size_t *len) {
  int32_t err = embly__kv_request(db, 4, limit, 1, prefix, prefix_len, 1, cursor, cursor_len, 0, 0, 0, 0);
  return err ? err : embly__kv_response(db, buf, cap, len);
}

/* embly_kv_page_t walks a page from embly_kv_list:
 *
 *   embly_kv_page_t pg;
 *   embly_kv_page_init(&pg, buf, len);
 *   const void *key; size_t key_len;
 *   while (embly_kv_page_next(&pg, &key, &key_len)) { ... }
 *   // then pg.cursor / pg.cursor_len: the next page's cursor; 0 bytes: the last page
 */
typedef struct {
  const uint8_t *p;
  size_t len, at;
  uint32_t left;
  const void *cursor;
  size_t cursor_len;
} embly_kv_page_t;

static inline void embly_kv_page_init(embly_kv_page_t *pg, const void *buf, size_t len) {
  pg->p = (const uint8_t *)buf;
  pg->len = len;
  pg->at = 4;
  pg->left = len >= 4 ? embly__get32(pg->p) : 0;
  pg->cursor = 0;
  pg->cursor_len = 0;
  if (pg->left == 0 && len >= 4) {
    pg->cursor = pg->p + 4;
    pg->cursor_len = len - 4;
  }
}

/* embly_kv_page_next stores the next key and returns 1, or returns 0 when
 * the page is done (and sets the cursor). */
static inline int embly_kv_page_next(embly_kv_page_t *pg, const void **key, size_t *key_len) {
  if (pg->left == 0 || pg->at + 4 > pg->len) return 0;
  uint32_t n = embly__get32(pg->p + pg->at);
  if (pg->at + 4 + n > pg->len) return 0;
  *key = pg->p + pg->at + 4;
  *key_len = n;
  pg->at += 4 + n;
  if (--pg->left == 0) {
    pg->cursor = pg->p + pg->at;
    pg->cursor_len = pg->len - pg->at;
  }
  return 1;
}

#endif /* EMBLY_H */
