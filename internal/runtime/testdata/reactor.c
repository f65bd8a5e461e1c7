// A WASI reactor the runtime pre-initializes: _initialize runs the
// constructor once, the host snapshots the instance, and every invocation
// calls embly_main in a fresh copy. Each must see initialized=42 (the
// snapshot) and counter=1 (nothing left by an earlier invocation).
// Built with -mexec-model=reactor (see the test's build flags).
#include "embly.h"
#include <stdio.h>
#include <stdlib.h>

static int initialized;
static int counter;
static char *heap;

__attribute__((constructor)) static void init(void) {
  initialized = 42;
  heap = calloc(1, 1 << 20);
}

__attribute__((export_name("embly_main"))) void embly_main(void) {
  counter++;
  int dirty = heap[12345];
  heap[12345] = 7;
  char out[96];
  int n = snprintf(out, sizeof out, "initialized=%d counter=%d dirty=%d", initialized, counter, dirty);
  embly_write_all(1, out, n);
}
