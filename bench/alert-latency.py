#!/usr/bin/python3
"""Reading -> alert latency on the live feed (Debian python3 + requests, no PyPI).

  bench/alert-latency.py [-n 200] [--db URL|FILE] [--url URL --user U --password P] [--cross-node]

Without --url it starts its own `cityos serve` (CITYOS_BIN, default build/cityos) on a
fresh SQLite file (or --db, e.g. a PostgreSQL URL of an empty database). It registers one
air-quality station and a threshold rule (pm25 > 100, no duration), follows
GET /api/v1/sensors/stream (Server-Sent Events) and uploads N readings one at a time
(POST /api/v1/devices/{id}/readings) with a random pause of 0..--gap-ms between them
(else the uploads fall into step with the feed's 200 ms polling), alternating 150 µg/m³ (raises the alert) and
10 µg/m³ (clears it). For each reading: the time from just before the upload until its
"raised" or "cleared" event arrives on the stream. Prints p50/p90/p99/max of that and of
the upload's own round trip (the commit). With --cross-node a second `cityos serve` runs
on the same database and the stream is followed on it while uploads go to the first: the
time for an alert committed on one node to reach another node's feed (PostgreSQL:
LISTEN/NOTIFY; SQLite: the 200 ms poll).
"""
import argparse
import json
import os
import queue
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CITYOS_BIN", os.path.join(ROOT, "build", "cityos"))


def start_server(db, tmp):
    common = ["--db", db, "--data-dir", os.path.join(ROOT, "data"), "--web-dir", os.path.join(ROOT, "web"),
              "--argon-ops", "1", "--argon-mem-kib", "8192", "--mfa-officials", "0"]
    pw = "Bench-password-2026!"
    subprocess.run([BIN, "user", "add", "--kind", "official", "--username", "bench", "--name", "Bench",
                    "--role", "admin", "--password", pw] + common, check=True, capture_output=True)
    log = open(os.path.join(tmp, "server.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + common, stdout=subprocess.PIPE, stderr=log,
                           text=True)
    while True:
        line = srv.stdout.readline()
        if not line:
            raise SystemExit("server did not start: " + open(os.path.join(tmp, "server.log")).read()[-2000:])
        m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
        if m:
            return srv, m.group(1), "bench", pw


def start_node(db, tmp):
    """A second node on the same database (the user exists already)."""
    common = ["--db", db, "--data-dir", os.path.join(ROOT, "data"), "--web-dir", os.path.join(ROOT, "web"),
              "--argon-ops", "1", "--argon-mem-kib", "8192", "--mfa-officials", "0"]
    log = open(os.path.join(tmp, "node-b.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + common, stdout=subprocess.PIPE, stderr=log,
                           text=True)
    while True:
        line = srv.stdout.readline()
        if not line:
            raise SystemExit("second node did not start: " + open(os.path.join(tmp, "node-b.log")).read()[-2000:])
        m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
        if m:
            return srv, m.group(1)


def follow(url, headers, out, ready):
    """Puts (arrival time, event dict) for every alert event of the stream."""
    with requests.get(url + "/api/v1/sensors/stream", headers=headers, stream=True, timeout=(5, 120)) as r:
        r.raise_for_status()
        ready.set()
        for line in r.iter_lines(chunk_size=1, decode_unicode=True):
            if line and line.startswith("data:"):
                out.put((time.perf_counter(), json.loads(line[5:].strip())))


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200, help="readings (each raises or clears)")
    ap.add_argument("--gap-ms", type=float, default=250, help="random pause 0..GAP between readings, so uploads"
                    " do not fall into step with the feed's polling")
    ap.add_argument("--db", default="")
    ap.add_argument("--url", default="")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="")
    ap.add_argument("--cross-node", action="store_true", help="follow the stream on a second node")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cityos-alert-bench-")
    srv = node_b = None
    if a.url:
        url, user, pw = a.url.rstrip("/"), a.user, a.password
    else:
        srv, url, user, pw = start_server(a.db or os.path.join(tmp, "bench.db"), tmp)
    follow_url = url
    if a.cross_node:
        if a.url:
            raise SystemExit("--cross-node starts its own nodes (no --url)")
        node_b, follow_url = start_node(a.db or os.path.join(tmp, "bench.db"), tmp)
    try:
        tok = requests.post(url + "/api/v1/auth/login", json={"username": user, "password": pw}).json()["token"]
        h = {"Authorization": "Bearer " + tok}
        dev = "bench-aq-" + secrets.token_hex(3)
        r = requests.post(url + "/api/v1/devices", headers=h,
                          json={"id": dev, "type": "AirQualityObserved", "name": "Bench " + dev, "lon": 105.8522,
                                "lat": 21.0287})
        r.raise_for_status()
        key = r.json()["key"]
        r = requests.post(url + "/api/v1/sensors/rules", headers=h,
                          json={"name": "bench pm25", "kind": "threshold", "device_id": dev, "attr": "pm25",
                                "op": ">", "threshold": 100, "duration_s": 0})
        r.raise_for_status()
        events, ready = queue.Queue(), threading.Event()
        threading.Thread(target=follow, args=(follow_url, h, events, ready), daemon=True).start()
        ready.wait(10)
        time.sleep(0.5)   # the feed starts from the events committed after it connected
        up = requests.Session()
        lat, rtt, missed = [], [], 0
        ts = int(time.time() * 1000) - a.n * 1000
        for i in range(a.n):
            time.sleep(random.uniform(0, a.gap_ms / 1000))
            want = "raised" if i % 2 == 0 else "cleared"
            body = {"readings": [{"ts": ts + i * 1000, "values": {"pm25": 150 if want == "raised" else 10}}]}
            t0 = time.perf_counter()
            r = up.post(f"{url}/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": key})
            t1 = time.perf_counter()
            r.raise_for_status()
            rtt.append((t1 - t0) * 1000)
            deadline = t0 + 5
            while True:
                try:
                    at, ev = events.get(timeout=max(0.01, deadline - time.perf_counter()))
                except queue.Empty:
                    missed += 1
                    break
                if ev.get("device_id") == dev and ev.get("event") == want:
                    lat.append((at - t0) * 1000)
                    break
        kind = "PostgreSQL" if (a.db or "").startswith("postgres") else ("SQLite" if not a.url else a.url)
        where = "; stream followed on a second node" if a.cross_node else ""
        print(f"backend: {kind}{where}; readings: {a.n}; events seen: {len(lat)}; missed (>5 s): {missed}")
        if lat:
            print("reading -> event on the stream (ms): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f"
                  % (pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat)))
        print("upload round trip (commit, ms):     p50 %.1f  p90 %.1f  p99 %.1f  max %.1f"
              % (pct(rtt, 50), pct(rtt, 90), pct(rtt, 99), max(rtt)))
        return 0 if lat and not missed else 1
    finally:
        for p in (node_b, srv):
            if p:
                p.terminate()
                p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
