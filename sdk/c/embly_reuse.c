/* embly_reuse.c is compiled into every C function declared with
 * reuse = true. Such a function is built as a WASI reactor
 * (-mexec-model=reactor): the runtime calls _initialize once, which runs the
 * constructors, snapshots the instance, and then calls embly_main for each
 * invocation on the same instance, which keeps its memory from one
 * invocation to the next.
 *
 * A command's _start cannot do that: it runs main and then exit, which
 * ends the instance. embly_main runs main as _start would have (with the
 * same arguments), and when main returns 0 it writes out what exit would
 * have (stdio's buffers) and returns, leaving the instance ready for the
 * next invocation. Any other status ends the instance through exit, as a
 * command's would. atexit handlers run only then. */
#include <stdio.h>
#include <stdlib.h>

/* wasi-libc's entry to main: the program's own main(void), or libc's,
 * which gathers the arguments for a main(int, char **). */
int __main_void(void);

__attribute__((export_name("embly_main"))) void embly_main(void) {
  int status = __main_void();
  if (status != 0) {
    exit(status);
  }
  fflush(NULL);
}
