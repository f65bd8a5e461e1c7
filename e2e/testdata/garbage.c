// Writes something that is not an HTTP response.
#include "embly.h"

int main(void) { return embly_write_all(1, "this is not HTTP\r\n\r\n", 20); }
