// Traps after writing part of a response.
#include "embly.h"

int main(void) {
  embly_write_all(1, "HTTP/1.1 200 OK\r\n", 17);
  __builtin_trap();
}
