#!/usr/bin/python3
"""Sensor ingestion benchmark: readings per second from MQTT publish to committed storage,
beside mosquitto's own publish-to-subscriber rate (the ceiling), same machine, same go.

  bench/sensors_bench.py [--messages 50000] [--devices 50] [--port 18837] [--db URL]

Both runs publish with `cityos simulate --messages M` (QoS 1, realistic payloads):
  baseline  mosquitto_sub -q 1 -C M on the readings topic: time from the first publish to
            the M-th message delivered to the subscriber;
  cityos    `cityos serve` with CITYOS_MQTT: time from the first publish until M readings
            (messages) are committed in the database (checked through the API counter).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--devices", type=int, default=50, help="per type (7 types)")
    ap.add_argument("--port", type=int, default=18837)
    ap.add_argument("--db", default="")
    ap.add_argument("--batch", default="500")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cityos-bench-")
    db = a.db or os.path.join(tmp, "bench.db")
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {a.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    broker = subprocess.Popen(["mosquitto", "-c", conf], stderr=subprocess.DEVNULL)
    time.sleep(0.3)
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
        kind = "PostgreSQL" if db.startswith("postgres") else "SQLite"
        print(f"| messages | {a.messages} ({a.devices * 7} devices) |")
        print(f"| mosquitto → mosquitto_sub (QoS 1), the ceiling | {a.messages / base_s:,.0f} msg/s ({base_s:.2f} s) |")
        print(f"| mosquitto → cityos → committed ({kind}, batch {a.batch}) | {n / city_s:,.0f} msg/s ({city_s:.2f} s, "
              f"{n} stored, {status['batches']} transactions, {status['dead']} dead) |")
        print(f"| ratio | {(n / city_s) / (a.messages / base_s) * 100:.0f}% of the ceiling |")
    finally:
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
