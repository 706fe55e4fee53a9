/* Writes N MiB into memory for real (every page touched), then says "survived". The memory-limit
 * test in the VM uses it: busybox has nothing that holds a known amount of memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
  for (long i = 0; i < mib; ++i) {
    char* p = malloc(1 << 20);
    if (!p) return 2;
    memset(p, 'x', 1 << 20);
  }
  puts("survived");
  return 0;
}
