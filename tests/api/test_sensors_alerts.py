"""Sensors: threshold rules with a duration, rate and offline rules, alerts raised /
acknowledged / cleared with history, an alert from an MQTT reading, VN_AQI per station."""
import secrets
import tempfile
import time

import pytest

from conftest import assert_error, unique
from sensors_helpers import Broker, EnvServer, make_device, mqtt_env, obs, wait_for

PORT = 18832
MIN = 60_000


@pytest.fixture(scope="module")
def broker():
    b = Broker(PORT)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def srv(broker):
    with tempfile.TemporaryDirectory(prefix="cityos-alerts-") as tmp:
        s = EnvServer(tmp, mqtt_env(broker, "cityos-alerts-" + secrets.token_hex(3), CITYOS_SENSORS_SWEEP_S="1",
                                    CITYOS_SENSORS_PRUNE_S="1"))
        s.wait_subscribed()
        yield s
        rc = s.stop()
        s.drop()
        assert rc == 0, open(s.log_path).read()[-3000:]


def now_ms():
    return int(time.time() * 1000)


def upload(srv, dev, key, readings):
    r = srv.client().post(f"/api/v1/devices/{dev}/readings", json={"readings": readings},
                          headers={"X-Device-Key": key})
    assert r.status_code == 200, r.text
    return r.json()


def alerts(admin, dev, state="all"):
    r = admin.get(f"/api/v1/alerts?device={dev}&state={state}")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def rule(admin, **kw):
    r = admin.post("/api/v1/sensors/rules", json=kw)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_threshold_with_duration_raise_ack_clear(srv):
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    rid = rule(admin, name="PM2.5 cao kéo dài", kind="threshold", device_id=dev, attr="pm25", op=">",
               threshold=100, duration_s=600, severity="critical")
    t0 = now_ms() - 30 * MIN
    upload(srv, dev, key, [{"ts": t0, "values": {"pm25": 120}}, {"ts": t0 + 5 * MIN, "values": {"pm25": 130}}])
    assert alerts(admin, dev) == []                       # 5 minutes above: not yet
    upload(srv, dev, key, [{"ts": t0 + 10 * MIN, "values": {"pm25": 140}}])
    [a] = alerts(admin, dev)
    assert a["state"] == "raised" and a["rule"] == rid and a["severity"] == "critical" and a["value"] == 140
    # Still above: the same episode does not raise a second alert.
    upload(srv, dev, key, [{"ts": t0 + 11 * MIN, "values": {"pm25": 150}}])
    assert len(alerts(admin, dev)) == 1
    # Acknowledge: by an operator; not by someone without alerts.ack.
    user = unique("op")
    assert admin.post("/api/v1/users", json={"kind": "official", "username": user, "full_name": "Trực ban",
                                             "password": "Truc-ban-2026!", "roles": [{"role": "operator"}]}).status_code == 201
    op = srv.login(user, "Truc-ban-2026!")
    viewer = unique("vw")
    assert admin.post("/api/v1/users", json={"kind": "official", "username": viewer, "full_name": "Cán bộ",
                                             "password": "Can-bo-2026!!", "roles": [{"role": "officer"}]}).status_code == 201
    assert_error(srv.login(viewer, "Can-bo-2026!!").post(f"/api/v1/alerts/{a['id']}/ack"), 403)
    r = op.post(f"/api/v1/alerts/{a['id']}/ack")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged" and r.json()["acked_by"]
    assert_error(op.post(f"/api/v1/alerts/{a['id']}/ack"), 409, "conflict")
    # A late reading (older than the last one) is stored but does not clear.
    upload(srv, dev, key, [{"ts": t0 + 3 * MIN, "values": {"pm25": 10}}])
    assert alerts(admin, dev)[0]["state"] == "acknowledged"
    # Back below: cleared, with the whole history.
    upload(srv, dev, key, [{"ts": t0 + 12 * MIN, "values": {"pm25": 40}}])
    [a2] = alerts(admin, dev)
    assert a2["state"] == "cleared" and a2["cleared_at"]
    hist = admin.get(f"/api/v1/alerts/{a['id']}").json()["history"]
    assert [h["event"] for h in hist] == ["raised", "acknowledged", "cleared"]
    assert hist[1]["actor"] == r.json()["acked_by"]
    assert alerts(admin, dev, "open") == []
    # A new episode is a new alert.
    upload(srv, dev, key, [{"ts": t0 + 13 * MIN, "values": {"pm25": 200}}, {"ts": t0 + 24 * MIN, "values": {"pm25": 210}}])
    assert [x["state"] for x in alerts(admin, dev)] == ["raised", "cleared"]
    outbox = srv.sql(f"SELECT COUNT(*) FROM sensor_outbox o JOIN sensor_alerts a ON a.id = o.alert_id WHERE a.device_id = '{dev}'")
    assert outbox[0][0] == "4"


def test_rule_validation(srv):
    admin = srv.admin
    bad = [({"name": "x", "kind": "nope"}, "kind"),
           ({"name": "x", "kind": "threshold", "attr": "speed", "threshold": 1}, "attr"),
           ({"name": "x", "kind": "threshold", "attr": "pm25"}, "threshold"),
           ({"name": "x", "kind": "threshold", "attr": "pm25", "threshold": 1, "op": "="}, "op"),
           ({"name": "x", "kind": "offline", "duration_s": 2}, "duration_s"),
           ({"name": "", "kind": "offline", "duration_s": 60}, "name")]
    for body, field in bad:
        e = assert_error(admin.post("/api/v1/sensors/rules", json=body), 422)
        assert e["field"] == field, (body, e)
    assert_error(srv.client().get("/api/v1/alerts"), 401)
    assert_error(admin.get("/api/v1/alerts?state=nope"), 422)
    assert_error(admin.get("/api/v1/alerts/999999"), 404)


def test_rate_rule(srv):
    admin = srv.admin
    dev = unique("fl-")
    key = make_device(admin, dev, "FloodMonitoring", 105.80, 21.00)["key"]
    rule(admin, name="Nước lên nhanh", kind="rate", device_id=dev, attr="currentLevel", op=">", threshold=0.05)
    t0 = now_ms() - 30 * MIN
    upload(srv, dev, key, [{"ts": t0, "values": {"currentLevel": 1.0}}, {"ts": t0 + 10 * MIN, "values": {"currentLevel": 1.2}}])
    assert alerts(admin, dev) == []                       # 0.02 m/min
    upload(srv, dev, key, [{"ts": t0 + 12 * MIN, "values": {"currentLevel": 1.5}}])   # 0.15 m/min
    [a] = alerts(admin, dev)
    assert a["state"] == "raised" and abs(a["value"] - 0.15) < 1e-9


def test_offline_rule(srv):
    admin = srv.admin
    dev = unique("wc-")
    key = make_device(admin, dev, "WasteContainer", 105.83, 21.02)["key"]
    rule(admin, name="Mất kết nối", kind="offline", device_id=dev, duration_s=30, severity="warning")
    upload(srv, dev, key, [{"values": {"fillingLevel": 0.3}}])
    time.sleep(1.5)
    assert alerts(admin, dev) == []                       # reported just now
    srv.sql(f"UPDATE sensor_devices SET last_seen_at = {now_ms() - 120_000} WHERE id = '{dev}'")
    a = wait_for(lambda: alerts(admin, dev), timeout=10)[0]
    assert a["state"] == "raised" and "silent" in a["message"]
    assert admin.get(f"/api/v1/devices/{dev}").json()["state"] in ("online", "offline")
    upload(srv, dev, key, [{"values": {"fillingLevel": 0.35}}])
    assert alerts(admin, dev)[0]["state"] == "cleared"


def test_alert_from_mqtt_reading(srv, broker):
    admin = srv.admin
    dev = unique("wc-")
    make_device(admin, dev, "WasteContainer", 105.83, 21.02)
    rule(admin, name="Thùng rác đầy", kind="threshold", device_type="WasteContainer", attr="fillingLevel",
         op=">", threshold=0.9)
    t = now_ms()
    broker.publish(f"cityos/v1/devices/{dev}/readings", obs(t - 1000, fillingLevel=0.95))
    a = wait_for(lambda: alerts(admin, dev), timeout=10)[0]
    assert a["state"] == "raised" and a["device_type"] == "WasteContainer"
    assert a["raised_at"] - t < 1000, a


def test_vn_aqi_station(srv):
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    # Two days ago in Vietnam time: every hour PM2.5 55.7 µg/m³ (two readings an hour).
    HOUR = 3_600_000
    vn_day_start = ((now_ms() + 7 * HOUR) // (24 * HOUR) - 2) * 24 * HOUR - 7 * HOUR
    readings = []
    for h in range(24):
        for m in (10, 40):
            readings.append({"ts": vn_day_start + h * HOUR + m * MIN, "values": {"pm25": 55.7, "no2": 150}})
    upload(srv, dev, key, readings)
    # The sweeper computes and stores the index (tests/api/test_sensors_aqi.py for more).
    aqi = lambda d, at: admin.get(f"/api/v1/devices/{d}/aqi", params={"at": at}).json()
    body = wait_for(lambda: (b := aqi(dev, vn_day_start + 20 * HOUR))["daily"]["status"] == "stored" and b, timeout=30)
    assert body["daily"]["aqi"] == 110 and body["daily"]["band"] == "Kém", body
    assert body["daily"]["sub_indices"]["pm25"] == 110 and body["daily"]["sub_indices"]["no2"] == 75
    assert body["daily"]["dominant"] == "pm25"
    assert body["hourly"]["aqi"] == 110 and body["hourly"]["sub_indices"]["pm25"] == 110
    assert body["scale"].startswith("VN_AQI")
    # A station without PM data has no index.
    dev2 = unique("aq-")
    key2 = make_device(admin, dev2)["key"]
    upload(srv, dev2, key2, [{"ts": vn_day_start + HOUR, "values": {"no2": 150}}])
    body = wait_for(lambda: (b := aqi(dev2, vn_day_start + 2 * HOUR))["daily"]["status"] == "stored" and b, timeout=30)
    assert body["daily"]["aqi"] is None and body["daily"]["sub_indices"]["no2"] == 75
    assert_error(admin.get(f"/api/v1/devices/{dev2}/aqi?at=x"), 422)


def test_retention_prunes_old_rows(srv):
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    upload(srv, dev, key, [{"values": {"pm25": 12}}])
    old = now_ms() - 40 * 86400_000                       # older than the 30 days of raw data kept
    older = now_ms() - 100 * 86400_000                    # older than the 90 days of 1-minute rollups
    srv.sql(f"INSERT INTO sensor_readings(device_id, attr, ts, value, received_at) VALUES ('{dev}', 'pm25', {old}, 1, {old})")
    for res, t in ((60000, old), (60000, older), (3600000, older)):
        srv.sql(f"INSERT INTO sensor_rollups(res, device_id, attr, bucket, n, vmin, vmax, vsum) VALUES ({res}, '{dev}', 'pm25', {t - t % res}, 1, 1, 1, 1)")
    count = lambda t, extra="": int(srv.sql(f"SELECT COUNT(*) FROM {t} WHERE device_id = '{dev}' {extra}")[0][0])
    wait_for(lambda: count("sensor_readings") == 1, timeout=10)
    wait_for(lambda: count("sensor_rollups", "AND res = 60000") == 2, timeout=10)
    assert count("sensor_rollups", "AND res = 3600000") == 2   # hourly rollups are kept



def test_alert_events_stream_as_sse(srv):
    """GET /api/v1/sensors/stream pushes committed alert events as Server-Sent Events;
    it needs sensors.read."""
    import json as _json
    import threading
    import requests as _requests
    admin = srv.admin
    assert_error(srv.client().get("/api/v1/sensors/stream"), 401, "unauthenticated")
    dev = unique("sse-")
    key = make_device(admin, dev)["key"]
    rule(admin, name="PM2.5 tức thời", kind="threshold", device_id=dev, attr="pm25", op=">", threshold=150,
         duration_s=0, severity="critical")
    got, ready = [], threading.Event()

    def follow():
        with _requests.get(srv.url + "/api/v1/sensors/stream", stream=True, timeout=20,
                           headers={"Authorization": "Bearer " + admin.token}) as r:
            got.append(("status", r.status_code, r.headers.get("Content-Type", "")))
            event = None
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "alert":
                    data = _json.loads(line[6:])
                    if data["device_id"] == dev:
                        got.append(("alert", data, time.time()))
                        return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert ready.wait(10), f"the stream did not open: {got}"
    assert got[0][1] == 200 and got[0][2].startswith("text/event-stream")
    t0 = time.time()
    upload(srv, dev, key, [{"ts": now_ms(), "values": {"pm25": 300}}])
    t.join(10)
    assert len(got) == 2, f"no alert event arrived on the stream: {got}"
    data, at = got[1][1], got[1][2]
    assert data["event"] == "raised" and data["severity"] == "critical"
    assert at - t0 < 1.0, f"the event took {at - t0:.3f} s"


def put(client, path, json):
    return client.req("PUT", path, json=json)


def delete(client, path):
    return client.req("DELETE", path)


def test_rule_replace_and_delete(srv):
    """PUT replaces a rule (validated like creation): a name or severity change keeps its
    open alerts, a changed condition clears them ("rule_changed") and evaluation starts
    afresh; DELETE clears them ("rule_deleted") and the rule raises nothing more."""
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    base = dict(name="PM10 cao", kind="threshold", device_id=dev, attr="pm10", op=">", threshold=100)
    rid = rule(admin, **base)
    t0 = now_ms() - 20 * MIN
    upload(srv, dev, key, [{"ts": t0, "values": {"pm10": 150}}])
    [a] = alerts(admin, dev)
    assert a["state"] == "raised" and a["rule"] == rid
    # Validation as for creation; unknown rules are 404; city-wide writers only.
    assert assert_error(put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, kind="nope")), 422)["field"] == "kind"
    assert assert_error(put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, attr="fillingLevel", device_type="AirQualityObserved")), 422)["field"] == "attr"
    assert assert_error(put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, enabled="yes")), 422)["field"] == "enabled"
    assert_error(put(admin, "/api/v1/sensors/rules/99999999", json=base), 404)
    assert_error(put(admin, "/api/v1/sensors/rules/x", json=base), 404)
    user = unique("op")
    assert admin.post("/api/v1/users", json={"kind": "official", "username": user, "full_name": "Trực ban",
                                             "password": "Truc-ban-2026!", "roles": [{"role": "operator"}]}).status_code == 201
    op = srv.login(user, "Truc-ban-2026!")
    assert_error(put(op, f"/api/v1/sensors/rules/{rid}", json=base), 403)
    assert_error(delete(op, f"/api/v1/sensors/rules/{rid}"), 403)
    # Name and severity only: the alert stays open.
    r = put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, name="PM10 rất cao", severity="critical"))
    assert r.status_code == 200, r.text
    assert r.json()["alerts_cleared"] == 0 and r.json()["name"] == "PM10 rất cao" and r.json()["severity"] == "critical"
    assert [x["state"] for x in alerts(admin, dev)] == ["raised"]
    # A new threshold: the open alert is cleared by the change, with who changed it.
    r = put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, threshold=200))
    assert r.status_code == 200 and r.json()["alerts_cleared"] == 1, r.text
    [a1] = alerts(admin, dev)
    assert a1["state"] == "cleared"
    hist = admin.get(f"/api/v1/alerts/{a['id']}").json()["history"]
    assert [h["event"] for h in hist] == ["raised", "rule_changed"] and hist[1]["actor"]
    listed = [x for x in admin.get("/api/v1/sensors/rules").json()["items"] if x["id"] == rid]
    assert listed[0]["threshold"] == 200 and listed[0]["name"] == "PM10 cao"
    upload(srv, dev, key, [{"ts": t0 + MIN, "values": {"pm10": 150}}])     # below the new threshold
    assert [x["state"] for x in alerts(admin, dev)] == ["cleared"]
    upload(srv, dev, key, [{"ts": t0 + 2 * MIN, "values": {"pm10": 250}}])  # above it: a new alert
    states = alerts(admin, dev)
    assert [x["state"] for x in states] == ["raised", "cleared"]
    # Disabled: cleared; no alert while disabled.
    r = put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, threshold=200, enabled=False))
    assert r.json()["alerts_cleared"] == 1 and r.json()["enabled"] is False
    upload(srv, dev, key, [{"ts": t0 + 3 * MIN, "values": {"pm10": 260}}])
    assert [x["state"] for x in alerts(admin, dev)] == ["cleared", "cleared"]
    r = put(admin, f"/api/v1/sensors/rules/{rid}", json=dict(base, threshold=200, enabled=True))
    assert r.json()["alerts_cleared"] == 0
    upload(srv, dev, key, [{"ts": t0 + 4 * MIN, "values": {"pm10": 270}}])
    open_id = alerts(admin, dev, "open")[0]["id"]
    # Delete: the open alert is cleared, the rule is gone and raises nothing more.
    r = delete(admin, f"/api/v1/sensors/rules/{rid}")
    assert r.status_code == 200 and r.json() == {"id": rid, "deleted": True, "alerts_cleared": 1}, r.text
    assert alerts(admin, dev, "open") == []
    assert [h["event"] for h in admin.get(f"/api/v1/alerts/{open_id}").json()["history"]] == ["raised", "rule_deleted"]
    assert rid not in [x["id"] for x in admin.get("/api/v1/sensors/rules").json()["items"]]
    assert_error(delete(admin, f"/api/v1/sensors/rules/{rid}"), 404)
    assert_error(put(admin, f"/api/v1/sensors/rules/{rid}", json=base), 404)
    upload(srv, dev, key, [{"ts": t0 + 5 * MIN, "values": {"pm10": 100}}, {"ts": t0 + 6 * MIN, "values": {"pm10": 300}}])
    assert alerts(admin, dev, "open") == []
    assert srv.sql(f"SELECT COUNT(*) FROM sensor_rule_state WHERE rule_id = {rid}") == [("0",)]
    actions = [r[0] for r in srv.sql(f"SELECT action FROM audit_log WHERE record_type = 'sensor_rule'"
                                     f" AND record_id = '{rid}' ORDER BY seq")]
    assert actions == ["sensor_rule.create"] + ["sensor_rule.update"] * 4 + ["sensor_rule.delete"]
    outbox = srv.sql(f"SELECT event FROM sensor_outbox WHERE alert_id = {open_id} ORDER BY id")
    assert [o[0] for o in outbox] == ["raised", "rule_deleted"]


def test_rule_recipients_are_notified_through_the_outbox_gateway(srv):
    """A rule's `notify` recipients get a message when its alert is raised and when it
    clears (not on acknowledgement), in Vietnamese, through notification_outbox, which the
    SMS / mail gateway drains (docs/OUTBOX.md); bad recipients are refused by field."""
    admin = srv.admin
    for bad in ([{"channel": "sms", "destination": "12345"}], [{"channel": "fax", "destination": "0912345678"}],
                [{"channel": "email", "destination": "a@b.vn", "x": 1}], {"channel": "sms"}, ["0912345678"]):
        e = assert_error(admin.post("/api/v1/sensors/rules", json={"name": "x", "kind": "threshold", "attr": "pm25",
                                                                    "threshold": 1, "notify": bad}), 422)
        assert e["field"] == "notify", (bad, e)
    dev = unique("aqn-")
    key = make_device(admin, dev)["key"]
    phone = "09" + str(secrets.randbelow(10**8)).zfill(8)
    mail = unique("truc-ban-") + "@hanoi.gov.vn"
    notify = [{"channel": "sms", "destination": phone}, {"channel": "email", "destination": mail}]
    r = admin.post("/api/v1/sensors/rules", json={"name": "Bụi mịn PM2.5 vượt ngưỡng", "kind": "threshold",
                                                  "device_id": dev, "attr": "pm25", "threshold": 100,
                                                  "severity": "critical", "notify": notify})
    assert r.status_code == 201, r.text
    assert r.json()["notify"] == notify
    rid = r.json()["id"]
    assert [x for x in admin.get("/api/v1/sensors/rules").json()["items"] if x["id"] == rid][0]["notify"] == notify
    r = admin.post("/api/v1/clients", json={"username": unique("cong-sms-"), "name": "Cổng SMS",
                                            "roles": [{"role": "outbox_gateway", "unit": None}]})
    gw = srv.client(r.json()["api_key"])

    def mine():
        out = []
        while True:
            c = gw.post("/api/v1/outbox/claim", json={"limit": 100})
            assert c.status_code == 200, c.text
            if not c.json()["messages"]:
                return out
            for m in c.json()["messages"]:
                assert gw.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": c.json()["lease"]}).status_code == 200
                if m["destination"] in (phone, mail):
                    out.append(m)

    mine()
    t0 = now_ms() - 10 * MIN
    upload(srv, dev, key, [{"ts": t0, "values": {"pm25": 150}}])
    [a] = alerts(admin, dev)
    raised = mine()
    assert sorted((m["channel"], m["destination"]) for m in raised) == sorted([("sms", phone), ("email", mail)])
    assert all("Cảnh báo mới" in m["body"] and dev in m["body"] and "Bụi mịn PM2.5" in m["subject"] for m in raised)
    assert admin.post(f"/api/v1/alerts/{a['id']}/ack").status_code == 200
    assert mine() == []
    upload(srv, dev, key, [{"ts": t0 + MIN, "values": {"pm25": 20}}])
    cleared = mine()
    assert len(cleared) == 2 and all("Đã hết cảnh báo" in m["body"] for m in cleared)
    # Without recipients: nobody is notified; the list can be emptied with PUT.
    r = admin.req("PUT", f"/api/v1/sensors/rules/{rid}", json={"name": "Bụi mịn PM2.5 vượt ngưỡng", "kind": "threshold",
                                                              "device_id": dev, "attr": "pm25", "threshold": 100})
    assert r.status_code == 200 and r.json()["notify"] == []
    upload(srv, dev, key, [{"ts": t0 + 2 * MIN, "values": {"pm25": 180}}])
    assert alerts(admin, dev, "open") and mine() == []
