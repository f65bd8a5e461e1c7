// Never returns and never calls the host: only a cancelled context stops it.
int main(void) {
  volatile int x = 0;
  for (;;) x++;
}
