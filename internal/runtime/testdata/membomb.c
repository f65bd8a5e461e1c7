// Grows its memory 1 MiB at a time until memory.grow fails, says where on
// stdout, then traps, as Go and Rust do when they run out of memory.
#include <stdio.h>

int main(void) {
  while (__builtin_wasm_memory_grow(0, 16) != (__SIZE_TYPE__)-1) {
  }
  printf("memory.grow failed at %lu pages\n", (unsigned long)__builtin_wasm_memory_size(0));
  fflush(stdout);
  __builtin_trap();
}
