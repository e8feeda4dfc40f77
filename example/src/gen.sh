#!/bin/sh
# Write N small, deterministic C functions spread over F files, plus gen_checksum()
# that sums them. Its only purpose is a compile step with a tunable, real cost.
# Usage: gen.sh N F OUTDIR
set -eu
n=${1:-3500}
files=${2:-8}
out=${3:-gen}
mkdir -p "$out"
rm -f "$out"/*.c "$out"/*.h
# awk rather than a shell loop: under QEMU every forked process is expensive.
awk -v n="$n" -v files="$files" -v out="$out" '
BEGIN {
  hdr = out "/gen.h"
  print "#ifndef IMAGEFLEET_GEN_H\n#define IMAGEFLEET_GEN_H\n#include <stdint.h>" > hdr
  print "uint64_t gen_checksum(void);" > hdr
  for (p = 0; p < files; p++) print "uint64_t gen_part_" p "(void);" > hdr
  print "#endif" > hdr
  close(hdr)
  for (p = 0; p < files; p++) {
    f = out "/part_" p ".c"
    print "#include \"gen.h\"" > f
    for (i = p; i < n; i += files) {
      printf "static uint64_t f_%d(uint64_t x) {\n", i > f
      printf "  uint64_t a = x * 2654435761u + %du;\n", i > f
      printf "  for (int k = 0; k < %d; k++) { a ^= a >> %d; a *= 0x5bd1e995u + k; a += %du; }\n", 3 + i % 5, 7 + i % 11, i > f
      printf "  switch (a %% 4) { case 0: a += %d; break; case 1: a ^= %d; break; case 2: a *= 3; break; default: a -= %d; }\n", i % 13, i % 17, i % 19 > f
      printf "  return a;\n}\n" > f
    }
    printf "uint64_t gen_part_%d(void) {\n  uint64_t s = 0;\n", p > f
    for (i = p; i < n; i += files) printf "  s += f_%d(%du);\n", i, i > f
    print "  return s;\n}" > f
    close(f)
  }
  f = out "/checksum.c"
  print "#include \"gen.h\"\nuint64_t gen_checksum(void) {\n  uint64_t s = 0;" > f
  for (p = 0; p < files; p++) print "  s += gen_part_" p "();" > f
  print "  return s;\n}" > f
  close(f)
}'
echo "gen.sh: wrote $n functions in $files files to $out/"
