// kvclient runs the C SDK's kv helpers against embly/kv/cache and writes a
// transcript of every result to conn 1.
#include "embly.h"

#include <stdio.h>
#include <string.h>

static char out[4096];
static size_t at;

#define say(...) (at += snprintf(out + at, sizeof out - at, __VA_ARGS__))

static void list(int32_t db, const char *prefix, const char *cursor, size_t cursor_len, uint32_t limit) {
  char buf[1024];
  size_t len = 0;
  int32_t err = embly_kv_list(db, prefix, strlen(prefix), cursor, cursor_len, limit, buf, sizeof buf, &len);
  say("list %s %d:", prefix, err);
  embly_kv_page_t pg;
  embly_kv_page_init(&pg, buf, len);
  const void *key;
  size_t key_len;
  while (embly_kv_page_next(&pg, &key, &key_len)) say(" %.*s", (int)key_len, (const char *)key);
  say(" next=%.*s\n", (int)pg.cursor_len, (const char *)pg.cursor);
}

int main(void) {
  int32_t db = 0, nope = 0;
  char buf[64];
  size_t len = 0;
  say("open %d\n", embly_kv_open("cache", &db));
  say("get %d\n", embly_kv_get(db, "k", 1, buf, sizeof buf, &len));
  say("set %d\n", embly_kv_set(db, "k", 1, "v1", 2, 0));
  say("set %d\n", embly_kv_set(db, "k2", 2, "v2", 2, 60000));
  say("set %d\n", embly_kv_set(db, "other", 5, "", 0, 0));
  int32_t err = embly_kv_get(db, "k", 1, buf, sizeof buf, &len);
  say("get %d %.*s\n", err, (int)len, buf);
  say("small %d\n", embly_kv_get(db, "k", 1, buf, 1, &len));
  err = embly_kv_get(db, "k2", 2, buf, sizeof buf, &len);
  say("get %d %.*s\n", err, (int)len, buf);
  list(db, "k", "", 0, 1);
  list(db, "k", "k", 1, 1);
  list(db, "", "", 0, 0);
  say("empty key %d\n", embly_kv_set(db, "", 0, "x", 1, 0));
  say("delete %d\n", embly_kv_delete(db, "k", 1));
  say("get %d\n", embly_kv_get(db, "k", 1, buf, sizeof buf, &len));
  say("open nope %d\n", embly_kv_open("nope", &nope));
  return embly_write_all(1, out, at);
}
