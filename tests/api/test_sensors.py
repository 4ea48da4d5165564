"""Sensors: device registry, MQTT ingestion through a real mosquitto, dead letters, HTTP
batch upload, rollups, CSV export, restart without loss."""
import csv
import io
import secrets
import signal
import tempfile
import time

import pytest

from conftest import assert_error, unique
from sensors_helpers import Broker, EnvServer, make_device, mqtt_env, obs, wait_for

PORT = 18830
HK_LON, HK_LAT = 105.8522, 21.0287          # Hồ Hoàn Kiếm


@pytest.fixture(scope="module")
def broker():
    b = Broker(PORT)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def srv(broker):
    with tempfile.TemporaryDirectory(prefix="cityos-sensors-") as tmp:
        s = EnvServer(tmp, mqtt_env(broker, "cityos-test-" + secrets.token_hex(3)))
        s.wait_subscribed()
        yield s
        rc = s.stop()
        s.drop()
        log = open(s.log_path).read()
        assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
        assert rc == 0, log[-3000:]


def now_ms():
    return int(time.time() * 1000)


def series(admin, dev, **q):
    r = admin.get(f"/api/v1/devices/{dev}/readings", params=q)
    assert r.status_code == 200, r.text
    return {s["attr"]: s for s in r.json()["series"]}


def test_device_registry(srv):
    admin = srv.admin
    dev_id = unique("aq-")
    d = make_device(admin, dev_id)
    assert d["key"].startswith("dk_") and len(d["key"]) == 51
    assert d["unit"] and d["unit"]["name"] == "Phường Hoàn Kiếm", d
    assert d["state"] == "never" and d["status"] == "active"
    got = admin.get(f"/api/v1/devices/{dev_id}").json()
    assert "key" not in got and got["unit"]["code"] == d["unit"]["code"]
    stored = srv.sql(f"SELECT secret_hash FROM sensor_devices WHERE id = '{dev_id}'")[0][0]
    assert d["key"] not in stored and len(stored) == 64
    assert_error(admin.post("/api/v1/devices", json={"id": dev_id, "type": "AirQualityObserved", "name": "x",
                                                     "lon": HK_LON, "lat": HK_LAT}), 409, "conflict")
    e = assert_error(admin.post("/api/v1/devices", json={"id": "a/b", "type": "AirQualityObserved", "name": "x",
                                                         "lon": 1, "lat": 1}), 422)
    assert e["field"] == "id"
    e = assert_error(admin.post("/api/v1/devices", json={"id": unique("x"), "type": "Toaster", "name": "x",
                                                         "lon": 1, "lat": 1}), 422)
    assert e["field"] == "type"
    e = assert_error(admin.post("/api/v1/devices", json={"id": unique("x"), "type": "Streetlight", "name": "x",
                                                         "lon": 200, "lat": 1}), 422)
    assert e["field"] == "lon"
    assert_error(srv.client().get("/api/v1/devices"), 401)
    assert_error(admin.get("/api/v1/devices/nope"), 404, "not_found")
    items = admin.get("/api/v1/devices?type=AirQualityObserved").json()["items"]
    assert dev_id in [i["id"] for i in items]
    types = admin.get("/api/v1/sensors/types").json()["items"]
    assert {t["type"] for t in types} >= {"AirQualityObserved", "Streetlight", "FloodMonitoring", "ParkingSpot"}


def test_device_import_export(srv):
    admin = srv.admin
    a, b, c = unique("imp-"), unique("imp-"), unique("imp-")
    r = admin.post("/api/v1/devices/import", json={"devices": [
        {"id": a, "type": "Streetlight", "name": "Đèn 1", "lon": HK_LON, "lat": HK_LAT},
        {"id": b, "type": "WasteContainer", "name": "Thùng rác, phố Hàng Bài", "lon": 105.852, "lat": 21.024}]})
    assert r.status_code == 201, r.text
    keys = {k["id"]: k["key"] for k in r.json()["keys"]}
    assert set(keys) == {a, b} and all(k.startswith("dk_") for k in keys.values())
    csv_text = f'id,type,name,lon,lat\n{c},ParkingSpot,"Bãi xe ""A""",105.85,21.03\n'
    r = admin.post("/api/v1/devices/import", json={"csv": csv_text})
    assert r.status_code == 201, r.text
    assert admin.get(f"/api/v1/devices/{c}").json()["name"] == 'Bãi xe "A"'
    # All or nothing: a duplicate or a bad row writes nothing.
    d = unique("imp-")
    e = assert_error(admin.post("/api/v1/devices/import", json={"devices": [
        {"id": d, "type": "Streetlight", "name": "x", "lon": HK_LON, "lat": HK_LAT},
        {"id": a, "type": "Streetlight", "name": "x", "lon": HK_LON, "lat": HK_LAT}]}), 409)
    assert e["index"] == 1
    assert_error(admin.get(f"/api/v1/devices/{d}"), 404)
    e = assert_error(admin.post("/api/v1/devices/import", json={"devices": [
        {"id": d, "type": "Toaster", "name": "x", "lon": 1, "lat": 1}]}), 422)
    assert e["field"] == "type" and e["index"] == 0
    assert_error(admin.post("/api/v1/devices/import", json={"csv": "a,b\n"}), 422)
    r = admin.get("/api/v1/devices?format=csv&limit=10000")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows[b]["name"] == "Thùng rác, phố Hàng Bài" and rows[b]["type"] == "WasteContainer"
    assert rows[a]["unit_name"] == "Phường Hoàn Kiếm" and rows[a]["state"] == "never"


def test_operator_role_and_scope(srv):
    admin = srv.admin
    user = unique("op")
    r = admin.post("/api/v1/users", json={"kind": "official", "username": user, "full_name": "Điều hành viên",
                                          "password": "Dieu-hanh-2026!", "roles": [{"role": "operator"}]})
    assert r.status_code == 201, r.text
    op = srv.login(user, "Dieu-hanh-2026!")
    dev_id = unique("aq-")
    make_device(admin, dev_id)
    assert op.get(f"/api/v1/devices/{dev_id}").status_code == 200
    assert_error(op.post("/api/v1/devices", json={"id": unique("x"), "type": "Streetlight", "name": "x",
                                                  "lon": HK_LON, "lat": HK_LAT}), 403)
    assert_error(op.post(f"/api/v1/devices/{dev_id}/key"), 403)


def test_mqtt_ingest_and_dead_letters(srv, broker):
    admin = srv.admin
    dev = unique("aq-")
    make_device(admin, dev)
    t = now_ms() - 60000
    broker.publish(f"cityos/v1/devices/{dev}/readings", obs(t, pm25=55.7, pm10=80, temperature=29.5))
    s = wait_for(lambda: series(admin, dev, resolution="raw").get("pm25"))
    assert s["t"] == [t] and s["v"] == [55.7]
    got = admin.get(f"/api/v1/devices/{dev}").json()
    assert got["state"] == "online"
    assert got["latest"]["ts"] == t and got["latest"]["values"] == {"pm25": 55.7, "pm10": 80, "temperature": 29.5}
    # Bad messages: each kept with its reason, none stored.
    bad = {
        "unknown_attribute: speed": obs(t, speed=3),
        "out_of_range: pm25": obs(t, pm25=-5),
        "timestamp_in_future": obs(now_ms() + 3600_000, pm25=5),
        "invalid_json": "{not json",
        "unit_mismatch": '{"values": {"pm25": {"value": 5, "unit": "ppm"}}}',
    }
    for payload in bad.values():
        broker.publish(f"cityos/v1/devices/{dev}/readings", payload)
    ghost = unique("ghost-")
    broker.publish(f"cityos/v1/devices/{ghost}/readings", obs(t, pm25=1))

    def dead():
        items = admin.get(f"/api/v1/sensors/dead-letters?device={dev}&limit=100").json()["items"]
        return items if len(items) >= len(bad) else None
    items = wait_for(dead)
    reasons = [i["reason"] for i in items]
    for want in bad:
        assert any(r.startswith(want) for r in reasons), (want, reasons)
    assert all(i["source"] == "mqtt" and i["topic"].endswith("/readings") for i in items)
    ghosts = wait_for(lambda: admin.get(f"/api/v1/sensors/dead-letters?device={ghost}").json()["items"])
    assert ghosts[0]["reason"] == "unknown_device"
    # Nothing from the bad messages was stored.
    assert srv.sql(f"SELECT COUNT(*) FROM sensor_readings WHERE device_id = '{dev}'")[0][0] == "3"


def test_rollups_redelivery_and_csv(srv, broker):
    admin = srv.admin
    dev = unique("aq-")
    make_device(admin, dev)
    minute = (now_ms() - 3 * 3600_000) // 60000 * 60000
    topic = f"cityos/v1/devices/{dev}/readings"
    # Out of order, and the middle one twice (a redelivery): counted once.
    lines = [obs(minute + 30_000, pm25=30), obs(minute + 10_000, pm25=10), obs(minute + 20_000, pm25=20),
             obs(minute + 20_000, pm25=20), obs(minute + 61_000, pm25=40)]
    broker.publish_lines(topic, lines)
    frm, to = minute - 60_000, minute + 120_000
    s = wait_for(lambda: (lambda x: x if x and len(x["t"]) == 2 else None)(
        series(admin, dev, resolution="1m", **{"from": frm, "to": to}).get("pm25")))
    assert s["t"] == [minute, minute + 60000]
    assert s["n"] == [3, 1] and s["min"] == [10, 40] and s["max"] == [30, 40] and s["v"] == [20, 40]
    h = series(admin, dev, resolution="1h", **{"from": frm, "to": to})["pm25"]
    assert h["n"] == [4] and h["v"] == [25]
    raw = series(admin, dev, **{"from": frm, "to": to})["pm25"]      # auto: a short range is raw
    assert raw["t"] == [minute + 10_000, minute + 20_000, minute + 30_000, minute + 61_000]
    auto = admin.get(f"/api/v1/devices/{dev}/readings", params={"from": minute - 30 * 86400_000 + 1, "to": to})
    assert auto.json()["resolution"] == "1h"
    r = admin.get(f"/api/v1/devices/{dev}/readings", params={"from": frm, "to": to, "format": "csv"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [float(x["value"]) for x in rows] == [10, 20, 30, 40] and rows[0]["device"] == dev
    assert_error(admin.get(f"/api/v1/devices/{dev}/readings?resolution=5m"), 422)
    assert_error(admin.get(f"/api/v1/devices/{dev}/readings?from=10&to=5"), 422)


def test_http_batch_upload(srv):
    admin = srv.admin
    dev = unique("fl-")
    key = make_device(admin, dev, "FloodMonitoring", 105.80, 21.00)["key"]
    anon = srv.client()
    t = now_ms() - 120_000
    body = {"readings": [{"ts": t, "values": {"currentLevel": 1.2}}, {"ts": t + 60_000, "values": {"currentLevel": 1.4}}]}
    assert_error(anon.post(f"/api/v1/devices/{dev}/readings", json=body), 401)
    assert_error(anon.post(f"/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": "dk_" + "0" * 48}), 401)
    r = anon.post(f"/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": key})
    assert r.status_code == 200 and r.json()["stored"] == 2, r.text
    # Sent again: nothing new (idempotent).
    r = anon.post(f"/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": key})
    assert r.status_code == 200 and r.json()["stored"] == 0
    bad = {"readings": [{"ts": t, "values": {"currentLevel": 1.0}}, {"ts": t, "values": {"currentLevel": 99}}]}
    e = assert_error(anon.post(f"/api/v1/devices/{dev}/readings", json=bad, headers={"X-Device-Key": key}), 422)
    assert e["reason"].startswith("reading 1: out_of_range")
    dl = admin.get(f"/api/v1/sensors/dead-letters?device={dev}").json()["items"]
    assert dl and dl[0]["source"] == "http"
    assert [v for v in series(admin, dev, resolution="raw")["currentLevel"]["v"]] == [1.2, 1.4]
    # A rotated key replaces the old one.
    new = admin.post(f"/api/v1/devices/{dev}/key").json()["key"]
    assert_error(anon.post(f"/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": key}), 401)
    assert anon.post(f"/api/v1/devices/{dev}/readings", json=body, headers={"X-Device-Key": new}).status_code == 200


def count_stored(s, dev):
    return int(s.sql(f"SELECT COUNT(*) FROM sensor_readings WHERE device_id = '{dev}'")[0][0])


def test_crash_before_commit_loses_nothing(broker):
    """The server dies (SIGKILL) after reading messages but before committing them: the
    broker must not have been acknowledged, so after a restart every reading is stored once."""
    with tempfile.TemporaryDirectory(prefix="cityos-sensors-") as tmp:
        cid = "cityos-crash-" + secrets.token_hex(3)
        s = EnvServer(tmp, mqtt_env(broker, cid, CITYOS_SENSORS_FAULT_AFTER="40", CITYOS_MQTT_BATCH="50"))
        try:
            s.wait_subscribed()
            dev = unique("aq-")
            make_device(s.admin, dev)
            t0 = now_ms() - 3600_000
            n = 200
            broker.publish_lines(f"cityos/v1/devices/{dev}/readings", [obs(t0 + i * 1000, pm25=i % 300) for i in range(n)])
            assert s.proc.wait(timeout=30) == -signal.SIGKILL
            stored_at_crash = count_stored(s, dev)
            assert stored_at_crash < n
            s.restart(mqtt_env(broker, cid))
            wait_for(lambda: count_stored(s, dev) >= n)
            time.sleep(0.3)
            assert count_stored(s, dev) == n
            total = s.sql(f"SELECT SUM(n) FROM sensor_rollups WHERE res = 60000 AND device_id = '{dev}'")[0][0]
            assert int(total) == n
        finally:
            s.stop()
            s.drop()


def test_kill_9_mid_stream(broker):
    """kill -9 while a stream is being ingested; restart; every published QoS 1 reading is
    stored exactly once (compared per device and timestamp)."""
    with tempfile.TemporaryDirectory(prefix="cityos-sensors-") as tmp:
        cid = "cityos-kill-" + secrets.token_hex(3)
        s = EnvServer(tmp, mqtt_env(broker, cid, CITYOS_MQTT_BATCH="100"))
        try:
            s.wait_subscribed()
            devs = [unique("aq-") for _ in range(2)]
            for d in devs:
                make_device(s.admin, d)
            t0 = now_ms() - 2 * 3600_000
            n = 1500
            pubs = [broker.publish_lines(f"cityos/v1/devices/{d}/readings",
                                         [obs(t0 + i * 1000, pm25=(i * 7) % 500) for i in range(n)], wait=False)
                    for d in devs]
            wait_for(lambda: sum(count_stored(s, d) for d in devs) > 200, interval=0.01)
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait()
            mid = sum(count_stored(s, d) for d in devs)
            for p in pubs:
                assert p.wait(timeout=60) == 0
            s.restart(mqtt_env(broker, cid))
            for d in devs:
                wait_for(lambda: count_stored(s, d) >= n, timeout=60)
            time.sleep(0.3)
            for d in devs:
                assert count_stored(s, d) == n
                ts = {int(r[0]) for r in s.sql(f"SELECT ts FROM sensor_readings WHERE device_id = '{d}'")}
                assert ts == {t0 + i * 1000 for i in range(n)}
                total = s.sql(f"SELECT SUM(n) FROM sensor_rollups WHERE res = 3600000 AND device_id = '{d}'")[0][0]
                assert int(total) == n
            print(f"stored at the kill: {mid} of {2 * n}")
        finally:
            s.stop()
            s.drop()


def test_simulator_registers_and_publishes(srv, broker):
    """`cityos simulate` registers N devices of each type and its readings pass validation."""
    import os
    import subprocess
    from conftest import BIN
    env = dict(os.environ, CITYOS_MQTT=broker.url)
    p = subprocess.run([BIN, "simulate", "--devices", "2", "--messages", "70", *srv.common], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "registered 14 devices" in p.stdout and "70 acknowledged" in p.stdout, p.stdout
    items = srv.admin.get("/api/v1/devices?limit=10000").json()["items"]
    sims = [d for d in items if d["id"].startswith("sim-")]
    assert len(sims) == 14 and len({d["type"] for d in sims}) == 7
    assert all(d["unit"] for d in sims), [d["id"] for d in sims if not d["unit"]]
    wait_for(lambda: all(d["state"] == "online" for d in srv.admin.get("/api/v1/devices?limit=10000").json()["items"]
                         if d["id"].startswith("sim-")))
    dead = srv.admin.get("/api/v1/sensors/dead-letters?limit=1000").json()["items"]
    assert not [d for d in dead if (d["device"] or "").startswith("sim-")], dead[:3]
