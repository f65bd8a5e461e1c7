// Waits for news forever and never reads it.
#include "embly.h"

int main(void) {
  for (;;) {
    int32_t ids[4];
    uint32_t n;
    embly_events(-1, ids, 4, &n);
  }
}
