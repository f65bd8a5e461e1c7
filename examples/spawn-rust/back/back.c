// back is spawned by front: it reads everything its parent (conn 1) sends,
// until EOF, and answers "back got: <message>".
#include "embly.h"

static char msg[64 << 10];

int main(void) {
  size_t n = 0;
  int32_t err = embly_read_all(1, msg, sizeof msg, &n);
  if (err != 0 && err != EMBLY_E2BIG) return err;
  if ((err = embly_write_all(1, "back got: ", 10)) != 0) return err;
  if ((err = embly_write_all(1, msg, n)) != 0) return err;
  return embly_close(1);
}
