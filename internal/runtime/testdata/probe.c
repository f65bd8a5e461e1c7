// Calls the host ABI with edge-case arguments and reports each errno on
// conn 1 as "name=errno" lines, so the test can check the contract.
#include "embly.h"
#include <stdio.h>
#include <string.h>

static char out[4096];
static size_t used;

static void report(const char *name, int32_t err) {
  used += snprintf(out + used, sizeof out - used, "%s=%d\n", name, err);
}

int main(void) {
  uint32_t n = 0;
  int32_t id = 0;
  char buf[16];
  char *far = (char *)0xFFFFFF00; // far past the end of memory
  uint32_t *farp = (uint32_t *)0xFFFFFFF0;

  report("read_bad_buf", embly_read(1, far, 64, &n));
  report("read_bad_nread", embly_read(1, buf, sizeof buf, farp));
  report("read_wrapping", embly_read(1, (char *)0xFFFFFFF8, 0x10, &n));
  report("write_bad_buf", embly_write(1, far, 64, &n));
  report("write_bad_nwritten", embly_write(1, "x", 1, farp));
  report("spawn_bad_name", embly_spawn(far, 64, &id));
  report("spawn_bad_id", embly_spawn("function/echo", 13, (int32_t *)farp));
  report("events_bad_ids", embly_events(0, (int32_t *)far, 64, &n));
  report("events_bad_n", embly_events(0, (int32_t *)buf, 4, farp));
  report("read_bad_conn", embly_read(99, buf, sizeof buf, &n));
  report("write_bad_conn", embly_write(99, "x", 1, &n));
  report("close_bad_conn", embly_close(99));
  report("spawn_unknown_function", embly_spawn_str("function/nope", &id));
  report("spawn_unknown_target", embly_spawn_str("bogus/thing", &id));

  // Nothing has been written to us yet unless the test sent something,
  // and the test sends nothing before it reads this report: EAGAIN.
  report("read_empty", embly_read(1, buf, sizeof buf, &n));
  int32_t ids[4];
  n = 99;
  int32_t err = embly_events(0, ids, 4, &n);
  used += snprintf(out + used, sizeof out - used, "events_poll=%d n=%u\n", err, n);
  n = 99;
  err = embly_events(1000000, ids, 4, &n); // 1ms
  used += snprintf(out + used, sizeof out - used, "events_timeout=%d n=%u\n", err, n);
  embly_write_all(1, out, used);
  embly_close(1);
  // Conn 1 is closed for writing now.
  report("write_after_close", embly_write(1, "x", 1, &n));
  // Wait for the test to close its side: EOF must then be reported.
  for (;;) {
    err = embly_read_some(1, buf, sizeof buf, &n);
    if (err != 0 || n == 0) break;
  }
  return 0;
}
