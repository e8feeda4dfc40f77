#include <stdio.h>
int main(void) { printf("%s\n", ROLE); return 0; }
