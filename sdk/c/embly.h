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

/* embly_write_all writes all of buf, waiting while the window is full. */
static inline int32_t embly_write_all(int32_t id, const void *buf, size_t len) {
  const char *p = (const char *)buf;
  while (len > 0) {
    uint32_t n = 0;
    int32_t err = embly_write(id, p, (uint32_t)len, &n);
    if (err == EMBLY_EAGAIN) {
      if ((err = embly_wait()) != 0) return err;
      continue;
    }
    if (err != 0) return err;
    p += n;
    len -= n;
  }
  return 0;
}

/* embly_read_some reads at least one byte, waiting while nothing is buffered.
 * *nread == 0 on return means EOF. */
static inline int32_t embly_read_some(int32_t id, void *buf, size_t len, uint32_t *nread) {
  for (;;) {
    int32_t err = embly_read(id, buf, (uint32_t)len, nread);
    if (err != EMBLY_EAGAIN) return err;
    if ((err = embly_wait()) != 0) return err;
  }
}

/* embly_spawn_str spawns the target named by a NUL-terminated string. */
static inline int32_t embly_spawn_str(const char *name, int32_t *id) {
  size_t n = 0;
  while (name[n]) n++;
  return embly_spawn(name, (uint32_t)n, id);
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

#endif /* EMBLY_H */
