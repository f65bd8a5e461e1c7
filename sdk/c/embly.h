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

#endif /* EMBLY_H */
