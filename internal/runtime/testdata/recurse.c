// Recurses without end through a call the compiler cannot turn into a
// loop, until the host's call stack limit traps it.
static int down(int n);
static int (*volatile self)(int) = down;

static int down(int n) { return self(n + 1) + 1; }

int main(void) { return self(0); }
