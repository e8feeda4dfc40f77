#include <inttypes.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "gen/gen.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

/* One line, so tests can compare the output of every platform's image. */
int main(void) {
  struct utsname u;
  if (uname(&u) != 0) return 1;
  printf("imagefleet-example %s arch=%s checksum=%" PRIu64 "\n", VERSION, u.machine, gen_checksum());
  return 0;
}
