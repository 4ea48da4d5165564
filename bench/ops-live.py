#!/usr/bin/python3
"""The operations center under `cityos simulate`: does one node keep up with ~10,000 live
devices, and does the page's data stay quick? (Debian python3 + requests, no PyPI.)

  bench/ops-live.py [--per-type 1429] [--interval 10] [--duration 120] [--db URL|FILE]

Starts mosquitto (anonymous, own port), `cityos serve` wired to it (CITYOS_BIN, default
build/cityos; a fresh SQLite file unless --db names an empty PostgreSQL database) and
`cityos simulate --devices PER_TYPE` (7 device types, so 1429 per type is 10,003 devices,
each publishing every --interval seconds). While it runs, every 5 s, it times what the
operations page loads (GET /api/v1/devices?limit=10000 for the map, open alerts), follows
the live feed (GET /api/v1/sensors/stream), and samples the server's resident memory.
A threshold rule (PM2.5 > 25) makes alerts flow on the feed. At the end it prints:
messages published (the simulator's count) and stored (committed), dead letters, the
page's request times (p50/p99), live-feed events, peak RSS.
"""
import argparse
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CITYOS_BIN", os.path.join(ROOT, "build", "cityos"))
PW = "Bench-password-2026!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count(db, sql):
    if db.startswith("postgresql://"):
        out = subprocess.run(["psql", db, "-qAtc", sql], capture_output=True, text=True, check=True).stdout
        return int(out.strip() or 0)
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-type", type=int, default=1429)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--duration", type=int, default=120)
    ap.add_argument("--db")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cityos-ops-live-")
    db = a.db or os.path.join(tmp, "ops.db")
    port = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, CITYOS_MQTT=f"mqtt://127.0.0.1:{port}")
    common = ["--db", db, "--data-dir", os.path.join(ROOT, "data"), "--web-dir", os.path.join(ROOT, "web"),
              "--argon-ops", "1", "--argon-mem-kib", "8192", "--mfa-officials", "0"]
    subprocess.run([BIN, "user", "add", "--kind", "official", "--username", "ops", "--name", "Vận hành",
                    "--role", "admin", "--password", PW] + common, check=True, capture_output=True, env=env)
    log = open(os.path.join(tmp, "server.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + common, stdout=subprocess.PIPE, stderr=log,
                           text=True, env=env)
    url = None
    while url is None:
        line = srv.stdout.readline()
        if not line:
            sys.exit("server did not start: " + open(log.name).read()[-2000:])
        m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
        url = m.group(1) if m else None
    token = requests.post(url + "/api/v1/auth/login", json={"username": "ops", "password": PW}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    print(f"ops-live: server {url}, broker :{port}, db {db}", flush=True)
    # A low PM2.5 threshold, so that alerts flow on the live feed as they would on a bad day.
    r = requests.post(url + "/api/v1/sensors/rules", headers=auth,
                      json={"name": "PM2.5 > 25", "kind": "threshold", "device_type": "AirQualityObserved",
                            "attr": "pm25", "op": ">", "threshold": 25})
    assert r.status_code == 201, r.text

    sim_log = open(os.path.join(tmp, "simulate.log"), "w")
    sim = subprocess.Popen([BIN, "simulate", "--devices", str(a.per_type), "--interval", str(a.interval),
                            "--duration", str(a.duration)] + common, stdout=sim_log, stderr=subprocess.STDOUT, env=env)

    def mqtt_stored():
        return requests.get(url + "/api/v1/sensors/status", headers=auth, timeout=60).json()["mqtt"]["stored"]

    events = {"n": 0}
    stop = threading.Event()

    def follow():
        while not stop.is_set():
            try:
                with requests.get(url + "/api/v1/sensors/stream", headers=auth, stream=True, timeout=(5, 5)) as r:
                    for line in r.iter_lines():
                        if stop.is_set():
                            return
                        if line.startswith(b"data:"):
                            events["n"] += 1
            except requests.RequestException:
                time.sleep(0.5)

    threading.Thread(target=follow, daemon=True).start()
    map_ms, alerts_ms, peak = [], [], 0
    t0 = time.time()
    while sim.poll() is None:
        time.sleep(5)
        t = time.perf_counter()
        ndev, offset = 0, 0
        while True:   # as the page does: pages of 10,000 until a short one
            r = requests.get(url + "/api/v1/devices", params={"limit": 10000, "offset": offset}, headers=auth,
                             timeout=60)
            got = len(r.json().get("items", [])) if r.status_code == 200 else 0
            ndev += got
            offset += 10000
            if got < 10000:
                break
        map_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        requests.get(url + "/api/v1/alerts", params={"state": "open", "limit": 100}, headers=auth, timeout=60)
        alerts_ms.append((time.perf_counter() - t) * 1000)
        peak = max(peak, rss_kib(srv.pid))
        stored = mqtt_stored()
        print(f"ops-live: t={time.time() - t0:5.0f}s devices on the map {ndev}, messages stored {stored},"
              f" map {map_ms[-1]:.0f} ms, rss {peak // 1024} MiB, feed events {events['n']}", flush=True)
    time.sleep(max(5, a.interval))   # let the last batch commit
    stop.set()
    stored = mqtt_stored()
    values = count(db, "SELECT COUNT(*) FROM sensor_readings")
    distinct = count(db, "SELECT COUNT(*) FROM (SELECT DISTINCT device_id, ts FROM sensor_readings) AS m")
    dead = count(db, "SELECT COUNT(*) FROM sensor_dead_letters")
    devices = count(db, "SELECT COUNT(*) FROM sensor_devices")
    sim_out = open(sim_log.name).read()
    print(sim_out.strip().splitlines()[-1] if sim_out.strip() else "(simulator printed nothing)")
    print(f"ops-live: {devices} devices, {a.duration} s at one reading set per {a.interval} s each;"
          f" messages stored once each {distinct} ({values} values; the ingestion counter saw {stored},"
          f" duplicates landing on the same rows included), dead letters {dead}")
    print(f"ops-live: map data (all devices) p50 {statistics.median(map_ms):.0f} ms p99 {pct(map_ms, 99):.0f} ms;"
          f" open alerts p50 {statistics.median(alerts_ms):.0f} ms; live-feed events {events['n']};"
          f" server peak RSS {peak // 1024} MiB")
    srv.terminate()
    srv.wait(timeout=60)
    broker.terminate()
    broker.wait(timeout=10)


if __name__ == "__main__":
    main()
