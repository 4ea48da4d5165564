#!/bin/sh
# Population import rate beside the raw `sqlite3 .import` of the same CSV into a plain
# table (no validation, no key), in the same run.
#   bench/population-bench.sh [ROWS] [BUILD_DIR]     (default 1000000, build)
# Also times 1000 random CCCD lookups on the loaded register (sqlite3, the SQL the API runs).
set -eu
ROWS=${1:-1000000}
BUILD=${2:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/popbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }

echo "generating $ROWS rows..."
python3 "$ROOT/bench/gen-population.py" "$ROWS" > "$TMP/people.csv"
ls -l "$TMP/people.csv" | awk '{printf "csv: %.0f MB\n", $5/1e6}'
# Units first, so the timed run measures only the register.
"$BUILD/cityos" migrate --db "$TMP/cityos.db" --data-dir "$ROOT/data" > /dev/null

t0=$(now)
"$BUILD/cityos" population import "$TMP/people.csv" --db "$TMP/cityos.db" --data-dir "$ROOT/data" | tail -1
t1=$(now)
sqlite3 "$TMP/raw.db" <<EOF
CREATE TABLE raw (cccd TEXT, full_name TEXT, birth_date TEXT, sex TEXT, permanent_era TEXT,
  permanent_unit TEXT, current_era TEXT, current_unit TEXT, household_id TEXT);
.mode csv
.import --skip 1 $TMP/people.csv raw
EOF
t2=$(now)
python3 - "$TMP/cityos.db" "$TMP/people.csv" <<'EOF'
import random, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1])
keys = []
with open(sys.argv[2]) as f:
    next(f)
    for i, line in enumerate(f):
        if i % 997 == 0:
            keys.append(line.split(",", 1)[0])
random.shuffle(keys)
keys = keys[:1000]
t = time.perf_counter()
for k in keys:
    assert con.execute("SELECT cccd, full_name, birth_date, sex, perm_era, perm_code, perm_unit, cur_era,"
                       " cur_code, cur_unit, household_id, updated_at FROM residents WHERE cccd = ?",
                       (k,)).fetchone()
d = time.perf_counter() - t
print(f"lookup: {len(keys)} random CCCDs, {d / len(keys) * 1e6:.1f} us each (python sqlite3, warm)")
EOF
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$ROWS" 'BEGIN {
  ci = b - a; raw = c - b;
  printf "cityos population import: %.2f s (%.0f rows/s)\n", ci, n / ci;
  printf "sqlite3 .import (raw):    %.2f s (%.0f rows/s)\n", raw, n / raw;
  printf "ratio cityos/raw time:    %.2f\n", ci / raw }'
