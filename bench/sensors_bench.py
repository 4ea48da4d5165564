#!/usr/bin/python3
"""Sensor ingestion benchmark: readings per second from MQTT publish to committed storage,
beside mosquitto's own publish-to-subscriber rate (the ceiling) and the same flow built in
Node-RED (the peer), same machine, same go.

  bench/sensors_bench.py [--messages 50000] [--devices 50] [--port 18837] [--db URL]
                         [--nodered]     (needs --db postgresql://...; npm install in bench/nodered)

Both runs publish with `cityos simulate --messages M` (QoS 1, realistic payloads):
  baseline  mosquitto_sub -q 1 -C M on the readings topic: time from the first publish to
            the M-th message delivered to the subscriber;
  cityos    `cityos serve` with CITYOS_MQTT and one threshold rule (AirQualityObserved
            pm25 > 80): time from the first publish until M readings (messages) are
            committed in the database (checked through the API counter);
  Node-RED  bench/nodered/flows.json: MQTT in (QoS 1) -> store (one multi-row INSERT per
            message into PostgreSQL, pool of 8) -> threshold (pm25 > 80 -> alert row):
            time until M messages are committed (its /count endpoint). The broker is
            restarted first so cityos' persistent session does not queue beside it.
Loopback only; bounded in count and time.
"""
import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CITYOS_BIN", os.path.join(ROOT, "build", "cityos"))


def start_sim(cmd, env):
    """Starts the publisher; the clock starts when it has opened the database and
    registered its devices (it prints "registered ..."), i.e. just before publishing."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while True:
        line = p.stdout.readline()
        if not line or line.startswith("registered"):
            return p, time.time()


def psql(url, sql):
    subprocess.run(["psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def start_broker(conf):
    broker = subprocess.Popen(["mosquitto", "-c", conf], stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return broker


def run_nodered(a, pg_url, sim, env, tmp):
    """The peer: Node-RED with bench/nodered/flows.json. Returns (seconds, stored, alerts)."""
    nr_dir = os.path.join(ROOT, "bench", "nodered")
    red = os.path.join(nr_dir, "node_modules", "node-red", "red.js")
    if not os.path.exists(red):
        raise SystemExit("Node-RED is not installed: (cd bench/nodered && npm install)")
    psql(pg_url, "DROP TABLE IF EXISTS nr_readings, nr_alerts;"
         " CREATE TABLE nr_readings(device_id TEXT NOT NULL, attr TEXT NOT NULL, ts BIGINT NOT NULL,"
         " value DOUBLE PRECISION NOT NULL, PRIMARY KEY (device_id, attr, ts));"
         " CREATE TABLE nr_alerts(device_id TEXT PRIMARY KEY, raised_at BIGINT NOT NULL, value DOUBLE PRECISION)")
    user_dir = os.path.join(tmp, "nodered")
    os.mkdir(user_dir)
    with open(os.path.join(nr_dir, "flows.json")) as f, open(os.path.join(user_dir, "flows.json"), "w") as g:
        g.write(f.read())
    log_path = os.path.join(tmp, "nodered.log")
    nr_env = dict(os.environ, NR_PORT=str(a.nr_port), NR_PG_URL=pg_url, NR_MQTT_PORT=str(a.port))
    nr = subprocess.Popen(["node", red, "--settings", os.path.join(nr_dir, "settings.js"), "--userDir", user_dir,
                           "flows.json"], env=nr_env, cwd=nr_dir, stdout=open(log_path, "w"),
                          stderr=subprocess.STDOUT)
    count_url = f"http://127.0.0.1:{a.nr_port}/count"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if "Connected to broker" in open(log_path).read():
                break
            time.sleep(0.2)
        else:
            raise SystemExit("Node-RED did not connect: " + open(log_path).read()[-2000:])
        time.sleep(0.5)
        pub, t0 = start_sim(sim, env)
        deadline = t0 + 900
        got = {"stored": 0}
        while time.time() < deadline:
            got = requests.get(count_url).json()
            if got["stored"] >= a.messages:
                break
            time.sleep(0.05)
        secs = time.time() - t0
        pub.communicate(timeout=60)
        time.sleep(0.5)
        got = requests.get(count_url).json()
        return secs, got["stored"], got["alerts"]
    finally:
        nr.terminate()
        nr.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--devices", type=int, default=50, help="per type (7 types)")
    ap.add_argument("--port", type=int, default=18837)
    ap.add_argument("--db", default="")
    ap.add_argument("--batch", default="500")
    ap.add_argument("--nodered", action="store_true", help="also run the Node-RED peer (PostgreSQL only)")
    ap.add_argument("--nr-port", type=int, default=18838)
    a = ap.parse_args()
    if a.nodered and not a.db.startswith("postgres"):
        raise SystemExit("--nodered stores in PostgreSQL: give --db postgresql://...")
    tmp = tempfile.mkdtemp(prefix="cityos-bench-")
    db = a.db or os.path.join(tmp, "bench.db")
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {a.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    broker = start_broker(conf)
    env = dict(os.environ, CITYOS_MQTT=f"mqtt://127.0.0.1:{a.port}", CITYOS_MQTT_CLIENT_ID="bench-node",
               CITYOS_MQTT_BATCH=a.batch)
    common = ["--db", db, "--data-dir", os.path.join(ROOT, "data"), "--argon-ops", "1", "--argon-mem-kib", "8192",
              "--mfa-officials", "0"]
    subprocess.run([BIN, "migrate", "--db", db], check=True, capture_output=True)
    subprocess.run([BIN, "import", "reference", "--db", db, "--data-dir", os.path.join(ROOT, "data")],
                   capture_output=True)
    sim = [BIN, "simulate", "--devices", str(a.devices), "--messages", str(a.messages)] + common
    try:
        # Register the devices once (a tiny run), so both runs publish the same way.
        subprocess.run([BIN, "simulate", "--devices", str(a.devices), "--messages", "1"] + common, env=env,
                       check=True, capture_output=True)
        # --- baseline: mosquitto to a plain QoS 1 subscriber ---------------------------------
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(a.port), "-q", "1", "-C", str(a.messages),
                                "-t", "cityos/v1/devices/+/readings"], stdout=subprocess.DEVNULL)
        time.sleep(0.3)
        pub, t0 = start_sim(sim, env)
        sub.wait(timeout=600)
        base_s = time.time() - t0
        print(pub.communicate(timeout=60)[0].strip().splitlines()[-1], file=sys.stderr)
        # --- cityos: publish -> committed ------------------------------------------------------
        pw = "Bench-password-2026!"
        subprocess.run([BIN, "user", "add", "--kind", "official", "--username", "bench", "--name", "Bench",
                        "--role", "admin", "--password", pw] + common, capture_output=True)
        log = open(os.path.join(tmp, "server.log"), "w")
        srv = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + common, env=env,
                               stdout=subprocess.PIPE, stderr=log, text=True)
        url = None
        while url is None:
            line = srv.stdout.readline()
            m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
            if m:
                url = m.group(1)
            if not line:
                raise SystemExit("server did not start")
        tok = requests.post(url + "/api/v1/auth/login", json={"username": "bench", "password": pw}).json()["token"]
        h = {"Authorization": "Bearer " + tok}
        # The same threshold as the Node-RED flow's.
        r = requests.post(url + "/api/v1/sensors/rules", headers=h,
                          json={"name": "PM2.5 > 80", "kind": "threshold", "device_type": "AirQualityObserved",
                                "attr": "pm25", "op": ">", "threshold": 80})
        assert r.status_code == 201, r.text

        def stored():
            return requests.get(url + "/api/v1/sensors/status", headers=h).json()["mqtt"]["stored"]
        time.sleep(0.5)
        pub, t0 = start_sim(sim, env)
        deadline = t0 + 900
        while stored() < a.messages and time.time() < deadline:
            time.sleep(0.05)
        city_s = time.time() - t0
        pub.communicate(timeout=60)
        n = stored()
        status = requests.get(url + "/api/v1/sensors/status", headers=h).json()["mqtt"]
        srv.terminate()
        srv.wait(timeout=30)
        nr = None
        if a.nodered:
            broker.terminate()
            broker.wait()
            broker = start_broker(conf)
            nr = run_nodered(a, db, sim, env, tmp)
        kind = "PostgreSQL" if db.startswith("postgres") else "SQLite"
        print(f"| messages | {a.messages} ({a.devices * 7} devices) |")
        print(f"| mosquitto → mosquitto_sub (QoS 1), the ceiling | {a.messages / base_s:,.0f} msg/s ({base_s:.2f} s) |")
        print(f"| mosquitto → cityos → committed ({kind}, batch {a.batch}) | {n / city_s:,.0f} msg/s ({city_s:.2f} s, "
              f"{n} stored, {status['batches']} transactions, {status['dead']} dead) |")
        print(f"| ratio | {(n / city_s) / (a.messages / base_s) * 100:.0f}% of the ceiling |")
        if nr:
            nr_s, nr_n, nr_alerts = nr
            print(f"| mosquitto → Node-RED (MQTT in → store → threshold, {kind}) | {nr_n / nr_s:,.0f} msg/s "
                  f"({nr_s:.2f} s, {nr_n} stored, {nr_alerts} alert rows) |")
    finally:
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
