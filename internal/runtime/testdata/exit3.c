#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("about to exit\n");
  fprintf(stderr, "with code 3\n");
  exit(3);
}
