#!/bin/sh
# geo-bench.sh - builds bench/geo_bench.c against src/units/geo.c (gcc -O2) and runs
# 1,000,000 random lookups inside the Hanoi bbox, on the ward and district indexes.
# Usage: bench/geo-bench.sh [lookups] [extra gcc flags...]
#   e.g. bench/geo-bench.sh 1000000 -DGEO_EDGES_PER_BAND=8 -DGEO_CELLS_PER_VERTEX=1
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
[ $# -gt 0 ] && shift
out=$(mktemp "${TMPDIR:-/tmp}/geo_bench.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM
gcc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 \
  -Wstrict-prototypes -Wwrite-strings -I"$root/src" "$@" \
  "$root/bench/geo_bench.c" "$root/src/units/geo.c" -ljansson -lm -o "$out"
"$out" "$root" "$n"
