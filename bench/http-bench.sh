#!/usr/bin/env bash
# HTTP benchmark: the cached unit lookup and sign-in, beside the ceiling of a minimal
# libmicrohttpd server (bench/hello.c) run in the same go on the same machine.
#
#   bench/http-bench.sh [SECONDS] [CONNECTIONS]      (default 10 s, 64 connections)
#
# Prints requests/s and p99 for each, and the ratio of the unit lookup to the ceiling.
# Needs: wrk (Debian package), a build in build/ (scripts/build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
threads=2
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x build/cityos ] && [ -x build/bench_hello ] || scripts/build build >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

workers=$(( $(nproc) * 2 )); [ $workers -lt 4 ] && workers=4

build/bench_hello 18181 "$workers" >/dev/null &
pids+=($!)

db="$work/bench.db"
pw="Bench-password-2026"
build/cityos user add --kind official --username bench --name "Bench" --role admin --password "$pw" \
  --db "$db" >/dev/null
build/cityos serve --db "$db" --listen 127.0.0.1:18182 --threads "$workers" --mfa-officials 0 >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18182/readyz >/dev/null && curl -sf http://127.0.0.1:18181/ >/dev/null && break; sleep 0.1; done

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"$pw"}'
LUA

run() {  # name url [script] -> "rps p99_ms"
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency ${3:+-s "$3"} "$2")
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  [ -n "$non2xx" ] && echo "bench: $1: $non2xx non-2xx responses" >&2
  # p99 to milliseconds
  local ms
  ms=$(awk -v v="$p99" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v } else if (v ~ /s$/) { sub(/s$/, "", v); print v*1000 } else print v }')
  echo "$rps $ms"
}

echo "bench: ${secs}s per run, $conns connections, wrk $threads threads, server $workers workers, $(nproc) cores"
read -r hello_rps hello_p99 < <(run hello http://127.0.0.1:18181/)
read -r unit_rps unit_p99 < <(run unit http://127.0.0.1:18182/api/v1/units/00070)
# Sign-in is CPU-bound by design (argon2id): fewer connections.
conns_saved=$conns; conns=8
read -r login_rps login_p99 < <(run login http://127.0.0.1:18182/api/v1/auth/login "$work/login.lua")
conns=$conns_saved
ratio=$(awk -v a="$unit_rps" -v b="$hello_rps" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %12s %10s\n' "run" "requests/s" "p99 ms"
printf '%-34s %12s %10s\n' "libmicrohttpd hello (ceiling)" "$hello_rps" "$hello_p99"
printf '%-34s %12s %10s\n' "GET /api/v1/units/{code}" "$unit_rps" "$unit_p99"
printf '%-34s %12s %10s\n' "POST /api/v1/auth/login (8 conns)" "$login_rps" "$login_p99"
echo "ratio unit lookup / ceiling: $ratio (target >= 0.50)"
