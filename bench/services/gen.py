#!/usr/bin/env python3
"""A year of Hanoi dossiers for benchmarks: N rows (default 4,000,000) straight into the
dossiers table of a migrated cityos database, by one INSERT ... SELECT per backend.

  gen.py DB [N]       DB: a SQLite file or a postgresql:// URL (catalog already imported)

Mix (per mille, by a hash of the row number): procedures weighted towards certification
(40%), civil status (30%), residence (20%) and the rest (10%); states: 85% returned
(on time 99.8%: 60% early, 39.8% on time, 0.2% late), 1% processed, 5% processing, 3%
received, 2% supplement, 1% fee due, 2% refused, 1% withdrawn; 126 wards of era 2025,
~127 dossiers per ward per day over 250 days of 2025; codes <ward>-<YYMMDD>-<NNNN>.
"""
import sqlite3
import subprocess
import sys
import time

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000_000
DB = sys.argv[1]
PG = DB.startswith("postgres")

# procedure code, weight (per mille)
WEIGHTS = [("2.000815", 250), ("2.000884", 150), ("1.001193", 120), ("1.000656", 40), ("1.000894", 40),
           ("1.004873", 60), ("2.000635", 40), ("1.004222", 80), ("1.004194", 90), ("1.002755", 30),
           ("HN-HKD-01", 40), ("1.013225", 20), ("1.001776", 20), ("HN-DD-01", 20)]
assert sum(w for _, w in WEIGHTS) == 1000
STATUS = [(10, "returned", 850), (9, "approved", 10), (4, "processing", 50), (2, "received", 30),
          (5, "supplement", 20), (6, "fee_due", 10), (3, "refused", 20), (7, "withdrawn", 10)]
BASE_MS = 1735664400000  # 2025-01-01T00:00+07:00
DAY_MS = 86400000


def ranges(items, weight):
    out, lo = [], 0
    for it in items:
        w = weight(it)
        out.append((lo, lo + w - 1, it))
        lo += w
    return out


def case(expr, rows, value):
    return "CASE " + " ".join(f"WHEN {expr} BETWEEN {lo} AND {hi} THEN {value(it)}" for lo, hi, it in rows) + " END"


def sql():
    pr = ranges(WEIGHTS, lambda x: x[1])
    st = ranges(STATUS, lambda x: x[2])
    h1 = "((i * 7919) % 1000)"      # procedure
    h2 = "((i * 104729) % 1000)"    # status
    h3 = "((i * 15485863) % 1000)"  # outcome
    k = "(i % 126)"
    day = "((i / 126) % 250)"
    seq = "(i / 31500 + 1)"
    sub = f"({BASE_MS} + {day} * 126144000 + 28800000 + {seq} * 180000)"
    proc = case(h1, pr, lambda it: f"'{it[0]}'")
    status = case(h2, st, lambda it: str(it[0]))
    state = case(h2, st, lambda it: f"'{it[1]}'")
    done = f"{h2} < 860"
    outcome = f"CASE WHEN {done} THEN (CASE WHEN {h3} < 600 THEN 'early' WHEN {h3} < 998 THEN 'on_time' ELSE 'late' END) END"
    if PG:
        series = f"generate_series(CAST(1 AS BIGINT), {N}) AS s(i)"
        datefmt = f"to_char(to_timestamp({sub} / 1000.0) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYMMDD')"
        pad = f"lpad(CAST({seq} AS TEXT), 4, '0')"
        cccd = f"'001' || lpad(CAST((i * 2654435761) % 1000000000 AS TEXT), 9, '0')"
        div = "div"
    else:
        series = None
        datefmt = f"substr(strftime('%Y%m%d', ({sub}) / 1000, 'unixepoch', '+7 hours'), 3)"
        pad = f"printf('%04d', {seq})"
        cccd = f"'001' || printf('%09d', (i * 2654435761) % 1000000000)"
    cols = ("code, procedure_code, unit_id, holder_unit_id, state, status, channel, applicant_account_id, "
            "applicant_cccd, applicant_name, form, submitted_at, due_at, paused_at, completed_at, outcome, "
            "created_by, updated_at")
    select = (f"SELECT w.code || '-' || {datefmt} || '-' || {pad}, {proc}, w.id, w.id, {state}, {status}, "
              f"CASE WHEN (i % 10) < 7 THEN 'online' ELSE 'counter' END, NULL, {cccd}, 'Nguyễn Văn Thử', '{{}}', "
              f"{sub}, {sub} + 3 * {DAY_MS}, NULL, CASE WHEN {done} THEN {sub} + 2 * {DAY_MS} END, {outcome}, NULL, {sub} "
              f"FROM {{SOURCE}} JOIN bench_wards w ON w.k = {k}")
    if PG:
        return f"INSERT INTO dossiers ({cols}) " + select.replace("{SOURCE}", series)
    return (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N}) "
            f"INSERT INTO dossiers ({cols}) " + select.replace("{SOURCE}", "n"))


PREP = ("DROP TABLE IF EXISTS bench_wards; "
        "CREATE TABLE bench_wards AS SELECT id, code, ROW_NUMBER() OVER (ORDER BY code) - 1 AS k "
        "FROM units WHERE era = '2025' AND level = 'ward';")


def main():
    t0 = time.time()
    if PG:
        script = PREP + sql() + "; DROP TABLE bench_wards; ANALYZE dossiers;"
        subprocess.run(["psql", DB, "-q", "-v", "ON_ERROR_STOP=1", "-c", script], check=True)
    else:
        con = sqlite3.connect(DB)
        con.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;" + PREP)
        con.execute(sql())
        con.commit()
        con.executescript("DROP TABLE bench_wards; ANALYZE;")
        con.close()
    print(f"generated {N} dossiers in {time.time() - t0:.1f} s")


main()
