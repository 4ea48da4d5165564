#!/usr/bin/env python3
"""Services benchmark: with a year of dossiers loaded (gen.py), the officer inbox and the
public lookup latency (p50/p99 over sequential requests) and the sustained submission
rate (counter submissions from several threads for a few seconds).

  bench.py CITYOS_BIN DB [--rows N] [--threads 8] [--seconds 10]
  DB: a SQLite file path or a postgresql:// URL of an EMPTY database (created by you).
Results go to stdout; docs/BENCHMARKS.md records them.
"""
import argparse
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PW = "Bench-mark-2026!x"


def q(db, sql):
    if db.startswith("postgres"):
        out = subprocess.run(["psql", db, "-qAt", "-F", "|", "-c", sql], check=True, capture_output=True, text=True)
        return [r.split("|") for r in out.stdout.splitlines() if r]
    con = sqlite3.connect(db)
    try:
        return [list(map(str, r)) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("db")
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--requests", type=int, default=300)
    a = ap.parse_args()
    common = ["--db", a.db, "--data-dir", os.path.join(ROOT, "data"), "--web-dir", os.path.join(ROOT, "web"),
              "--argon-ops", "1", "--argon-mem-kib", "8192", "--mfa-officials", "0"]
    subprocess.run([a.bin, "procedures", "import", os.path.join(ROOT, "data/procedures/hanoi.json")] + common,
                   check=True, capture_output=True)
    have = int(q(a.db, "SELECT COUNT(*) FROM dossiers")[0][0])
    if have < a.rows:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/services/gen.py"), a.db, str(a.rows - have)], check=True)
    subprocess.run([a.bin, "user", "add", "--kind", "official", "--username", "benchadmin", "--name", "Bench",
                    "--role", "admin", "--password", PW] + common, capture_output=True)
    log = tempfile.NamedTemporaryFile(prefix="svc-bench-", suffix=".log", delete=False)
    srv = subprocess.Popen([a.bin, "serve", "--listen", "127.0.0.1:0", "--log-level", "warn"] + common,
                           stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url = None
        for _ in range(600):
            m = re.search(r"listening on (http://[0-9.]+:\d+)/", srv.stdout.readline())
            if m:
                url = m.group(1)
                break
        assert url, "server did not start"
        tok = requests.post(url + "/api/v1/auth/login", json={"username": "benchadmin", "password": PW}).json()["token"]
        name = f"bench{random.randrange(10**6)}"
        requests.post(url + "/api/v1/users", headers={"Authorization": "Bearer " + tok},
                      json={"kind": "official", "username": name, "full_name": "Cán bộ", "password": PW,
                            "unit": "00004", "roles": [{"role": "officer", "unit": "00004"}]}).raise_for_status()
        otok = requests.post(url + "/api/v1/auth/login", json={"username": name, "password": PW}).json()["token"]
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + otok
        total = int(q(a.db, "SELECT COUNT(*) FROM dossiers")[0][0])
        print(f"rows: {total} dossiers ({'PostgreSQL' if a.db.startswith('postgres') else 'SQLite'})")

        lat = []
        for i in range(a.requests):
            params = {"unit": "00004", "limit": 20, "offset": random.choice([0, 0, 20, 100])}
            if i % 3 == 1:
                params["status"] = 4
            if i % 3 == 2:
                params["procedure"] = "2.000815"
            t0 = time.perf_counter()
            r = s.get(url + "/api/v1/dossiers", params=params)
            lat.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        print(f"inbox (unit 00004, ~{total // 126} dossiers held, overdue first, 20 per page): "
              f"p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 99):.1f} ms over {len(lat)} requests")

        lat = []
        for i in range(a.requests):
            params = {"unit": "00004", "limit": 20, "sort": "step"}
            if i % 2:
                params["step_overdue"] = "true"
            t0 = time.perf_counter()
            r = s.get(url + "/api/v1/dossiers", params=params)
            lat.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        print(f"inbox by step deadline (sort=step, every other with step_overdue=true): "
              f"p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 99):.1f} ms over {len(lat)} requests")

        sample = q(a.db, f"SELECT code, applicant_cccd FROM dossiers WHERE id % 9973 = 1 LIMIT {a.requests}")
        anon = requests.Session()
        lat = []
        for code, cccd in sample:
            t0 = time.perf_counter()
            r = anon.get(url + f"/api/v1/lookup/dossiers/{code}", params={"cccd4": cccd[-4:]})
            lat.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        print(f"public lookup (code + 4 digits, with timeline): p50 {statistics.median(lat):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms over {len(lat)} requests")

        done = [0] * a.threads
        errors = []
        stop = time.time() + a.seconds
        body = {"procedure": "2.000815", "unit": "00004", "channel": "counter",
                "applicant": {"cccd": "001090123456", "name": "Nguyễn Văn Thử"},
                "form": {"document_title": "Bằng tốt nghiệp", "pages": 2, "copies": 1,
                         "applicant_name": "Nguyễn Văn Thử", "applicant_cccd": "001090123456"}}

        def worker(k):
            ss = requests.Session()
            ss.headers["Authorization"] = "Bearer " + otok
            while time.time() < stop:
                r = ss.post(url + "/api/v1/dossiers", json=body)
                if r.status_code != 201:
                    errors.append(r.text[:200])
                    return
                done[k] += 1

        t0 = time.time()
        ths = [threading.Thread(target=worker, args=(k,)) for k in range(a.threads)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        el = time.time() - t0
        print(f"submissions: {sum(done)} in {el:.1f} s = {sum(done) / el:.0f}/s with {a.threads} threads"
              + (f" ({len(errors)} errors: {errors[0]})" if errors else ""))
    finally:
        srv.terminate()
        srv.wait(timeout=60)


main()
