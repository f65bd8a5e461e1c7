// A reactor that exposes every host call with raw arguments, so the ABI
// fuzzer (fuzz_test.go) can call them with any values at all.
#include "embly.h"
#include <stdint.h>

#define P(x) ((void *)(uintptr_t)(x))

__attribute__((import_module("wasi_snapshot_preview1"), import_name("poll_oneoff")))
int32_t wasi_poll_oneoff(int32_t in, int32_t out, int32_t nsubs, int32_t nevents);

__attribute__((export_name("f_read"))) int32_t f_read(int32_t id, int32_t buf, int32_t len, int32_t p) {
  return embly_read(id, P(buf), (uint32_t)len, P(p));
}
__attribute__((export_name("f_write"))) int32_t f_write(int32_t id, int32_t buf, int32_t len, int32_t p) {
  return embly_write(id, P(buf), (uint32_t)len, P(p));
}
__attribute__((export_name("f_spawn"))) int32_t f_spawn(int32_t name, int32_t len, int32_t p) {
  return embly_spawn(P(name), (uint32_t)len, P(p));
}
__attribute__((export_name("f_events"))) int32_t f_events(int64_t timeout, int32_t ids, int32_t cap, int32_t p) {
  return embly_events(timeout, P(ids), (uint32_t)cap, P(p));
}
__attribute__((export_name("f_close"))) int32_t f_close(int32_t id) { return embly_close(id); }
__attribute__((export_name("f_poll"))) int32_t f_poll(int32_t in, int32_t out, int32_t n, int32_t p) {
  return wasi_poll_oneoff(in, out, n, p);
}
