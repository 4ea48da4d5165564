"""Two cityos nodes in one MQTT shared-subscription group on one database: every reading
published at QoS 1 is stored exactly once, and both nodes took part (their
/api/v1/sensors/status counters)."""
import json
import os
import subprocess
import secrets
import tempfile
import threading
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, Client, is_postgres
from sensors_helpers import Broker, EnvServer, make_device, obs, wait_for

PORT = 18840
N = 600   # readings, over 4 stations


@pytest.fixture(scope="module")
def broker():
    b = Broker(PORT)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def nodes(broker):
    group = "grp-" + secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="cityos-cluster-") as tmp:
        env_a = {"CITYOS_MQTT": broker.url, "CITYOS_MQTT_CLIENT_ID": group + "-a", "CITYOS_MQTT_GROUP": group,
                 "CITYOS_MQTT_BATCH": "50", "CITYOS_SENSORS_CMD_RETRY_MS": "60000",
                 # PostgreSQL: no timed safety poll of the live feed within a test, so an alert
                 # from the other node can only arrive through NOTIFY
                 "CITYOS_SENSORS_LIVE_SAFETY_MS": "600000"}
        a = EnvServer(tmp, env_a)
        a.wait_subscribed()
        env_b = dict(env_a, CITYOS_MQTT_CLIENT_ID=group + "-b")
        saved = {k: os.environ.get(k) for k in env_b}
        os.environ.update(env_b)
        try:
            url_b, proc_b = a.start_node()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        tok = requests.post(url_b + "/api/v1/auth/login",
                            json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
        b = Client(url_b, tok)
        logs = [os.path.join(tmp, f) for f in os.listdir(tmp) if f.startswith("node-")]
        wait_for(lambda: "mqtt subscribed" in open(logs[0]).read(), timeout=20)
        yield a, b
        proc_b.terminate()
        assert proc_b.wait(timeout=20) == 0
        rc = a.stop()
        a.drop()
        assert rc == 0, open(a.log_path).read()[-3000:]


def stored(client):
    return client.get("/api/v1/sensors/status").json()["mqtt"]


def test_shared_group_stores_each_reading_once(nodes, broker):
    a, b = nodes
    devs = ["cl-" + secrets.token_hex(3) for _ in range(4)]
    for d in devs:
        make_device(a.admin, d)
    before = [stored(a.admin), stored(b)]
    t0 = int(time.time() * 1000) - 3600000
    per = N // len(devs)
    pubs = [broker.publish_lines(f"cityos/v1/devices/{d}/readings",
                                 [obs(t0 + i * 1000, pm25=10 + i % 50) for i in range(per)], wait=False)
            for d in devs]
    for p in pubs:
        assert p.wait(timeout=60) == 0
    wait_for(lambda: sum(stored(c)["stored"] for c in (a.admin, b)) - sum(x["stored"] for x in before) >= N,
             timeout=30)
    time.sleep(0.5)   # a redelivery or a duplicate would show up now
    after = [stored(a.admin), stored(b)]
    took = [after[i]["stored"] - before[i]["stored"] for i in range(2)]
    assert sum(took) == N, (before, after)
    assert all(t > 0 for t in took), f"one node did all the work: {took}"
    assert all(after[i]["dead"] == before[i]["dead"] for i in range(2))
    ids = ",".join(f"'{d}'" for d in devs)
    rows = a.sql(f"SELECT device_id, ts FROM sensor_readings WHERE device_id IN ({ids})")
    assert len(rows) == N
    assert {(d, str(t0 + i * 1000)) for d in devs for i in range(per)} == set(rows)
    print(f"\nshare of {N} readings: node a {took[0]}, node b {took[1]}")


def test_group_command_published_once_by_the_cluster(nodes, broker):
    """Both nodes run the command dispatcher; each command reaches its light once."""
    a, b = nodes
    lights = ["cl-sl-" + secrets.token_hex(3) for _ in range(30)]
    for d in lights:
        make_device(a.admin, d, "Streetlight", 105.85, 21.03)
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-q", "1", "-W", "3", "-v",
                            "-t", "cityos/v1/devices/+/commands"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.3)
    r = b.post("/api/v1/sensors/commands", json={"devices": lights, "action": "dim", "level": 0.5})
    assert r.status_code == 202, r.text
    want = {c["id"] for c in r.json()["commands"]}
    out, _ = sub.communicate(timeout=10)
    got = [json.loads(line.split(" ", 1)[1])["id"] for line in out.splitlines() if line.strip()]
    got = [i for i in got if i in want]
    assert sorted(got) == sorted(want), f"{len(got)} messages for {len(want)} commands"


@pytest.mark.skipif(not is_postgres(), reason="LISTEN/NOTIFY is PostgreSQL's; one SQLite node polls")
def test_alert_from_one_node_on_the_other_nodes_stream_at_once(nodes):
    """An alert committed on node a wakes node b's live feed through PostgreSQL NOTIFY.
    b's timed safety poll is 10 minutes here (CITYOS_SENSORS_LIVE_SAFETY_MS), so each alert
    arriving within seconds came by the notification; the latencies are printed (the
    benchmark bench/alert-latency.py --cross-node measures them)."""
    a, b = nodes
    devs = [("cl-nf-" + secrets.token_hex(3)) for _ in range(9)]
    keys = {d: make_device(a.admin, d)["key"] for d in devs}
    r = a.admin.post("/api/v1/sensors/rules", json={"name": "NO2 cực cao", "kind": "threshold",
                                                     "device_type": "AirQualityObserved", "attr": "no2",
                                                     "op": ">", "threshold": 3000})
    assert r.status_code == 201, r.text
    got, ready = {}, threading.Event()

    def follow():
        with requests.get(b.base + "/api/v1/sensors/stream", stream=True, timeout=60,
                          headers={"Authorization": "Bearer " + b.token}) as resp:
            event = None
            for line in resp.iter_lines(decode_unicode=True):
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "alert":
                    data = json.loads(line[6:])
                    if data["device_id"] in keys and data["event"] == "raised":
                        got[data["device_id"]] = time.time()
                        if len(got) == len(devs):
                            return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert ready.wait(10)
    lat = []
    for d in devs:
        time.sleep(0.37)   # not in step with b's timed poll
        t0 = time.time()
        r = requests.post(a.url + f"/api/v1/devices/{d}/readings", headers={"X-Device-Key": keys[d]},
                          json={"values": {"no2": 3500}})
        assert r.status_code == 200, r.text
        wait_for(lambda: d in got, timeout=30, interval=0.001)
        lat.append(got[d] - t0)
    lat.sort()
    print(f"cross-node alert to stream: {[round(x * 1000) for x in lat]} ms")
