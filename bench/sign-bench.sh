#!/bin/sh
# sign-bench.sh - PAdES signing throughput: cityos in-process (bench/sign_bench.c, gcc -O2)
# against `openssl cms -sign` run once per document on the same PDFs and keys (detached,
# DER, with the chain), for RSA-2048 and ECDSA P-256, 1-page and 50-page PDFs.
# Usage: bench/sign-bench.sh [seconds per in-process case (2)] [openssl runs per case (50)]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-2}
runs=${2:-50}
dir=$(mktemp -d "${TMPDIR:-/tmp}/sign_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
src="$root/src/signing"
gcc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wstrict-prototypes \
  -Wwrite-strings -Wno-unused-parameter -Wno-missing-field-initializers -I"$root/src" \
  "$root/bench/sign_bench.c" "$src/pdf_obj.c" "$src/pdf_read.c" "$src/pdf_inflate.c" "$src/pades_cms.c" \
  "$src/pades_sign.c" "$src/pades_stamp.c" "$src/pades_tsa.c" "$src/pdf_font.c" "$src/pades_verify.c" "$src/pki_x509.c" "$root/src/base/arena.c" "$root/src/base/buf.c" \
  -lcrypto -ljansson -lhpdf -lm -lpthread -o "$dir/sign_bench"
"$dir/sign_bench" "$dir" "$secs" > "$dir/inprocess.txt"
echo
printf '%-12s %-6s %14s %14s %8s\n' "key" "pages" "cityos sig/s" "openssl sig/s" "ratio"
while read -r _ type pages _ rate; do
  start=$(date +%s%N)
  i=0
  while [ $i -lt "$runs" ]; do
    openssl cms -sign -binary -in "$dir/in-$pages.pdf" -signer "$dir/signer-$type.pem" \
      -certfile "$dir/chain.pem" -outform DER -out "$dir/out.p7s" -md sha256
    i=$((i + 1))
  done
  end=$(date +%s%N)
  ossl=$(awk -v n="$runs" -v ns="$((end - start))" 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  ratio=$(awk -v a="$rate" -v b="$ossl" 'BEGIN { printf "%.1fx", a / b }')
  name=$([ "$type" = rsa ] && echo RSA-2048 || echo "ECDSA P-256")
  printf '%-12s %-6s %14s %14s %8s\n' "$name" "$pages" "$rate" "$ossl" "$ratio"
done < "$dir/inprocess.txt"
