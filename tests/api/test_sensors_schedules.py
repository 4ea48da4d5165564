"""Street-light schedules: sunrise/sunset at Hanoi (NOAA), the schedule API with its
validation, and firing once per schedule across two nodes on one database."""
import glob
import os
import tempfile
import time

import pytest

from conftest import assert_error, unique
from sensors_helpers import EnvServer, make_device, wait_for

DAY = 86400000


def lights(admin, n):
    ids = [unique("sl-") for _ in range(n)]
    for d in ids:
        make_device(admin, d, "Streetlight", 105.85, 21.03)
    return ids


def test_sun_at_hanoi(admin):
    r = admin.get("/api/v1/sensors/sun?date=2026-06-21")
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j["sunrise"], j["sunset"], j["utc_offset_h"]) == ("05:16", "18:41", 7)
    j = admin.get("/api/v1/sensors/sun?date=2026-12-21").json()
    assert (j["sunrise"], j["sunset"]) == ("06:29", "17:20")
    assert admin.get("/api/v1/sensors/sun").status_code == 200          # today
    assert admin.get("/api/v1/sensors/sun?date=2028-02-29").status_code == 200
    for bad in ("2026-13-01", "21/06/2026", "2026-06-21x", "2026-02-29", "2026-04-31"):
        assert assert_error(admin.get("/api/v1/sensors/sun?date=" + bad), 422)["field"] == "date"


def test_schedule_create_list_delete(server, admin):
    ls = lights(admin, 2)
    before = int(time.time() * 1000)
    r = admin.post("/api/v1/sensors/schedules", json={"name": "Đèn phố Tràng Tiền", "devices": ls, "action": "on",
                                                      "when": "sunset", "offset_min": 15})
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["when"], s["offset_min"], s["action"], s["devices"], s["fired_count"]) == ("sunset", 15, "on", ls, 0)
    assert before < s["next_at"] <= before + DAY + 10 * 60000 and s["next_at"] % 60000 == 0
    # Sunset + 15 min in Hanoi: 17:28..18:57 local over the year, i.e. 10:28..11:57 UTC.
    utc_min = s["next_at"] // 60000 % 1440
    assert 10 * 60 + 27 <= utc_min <= 11 * 60 + 57, utc_min
    sun = admin.get("/api/v1/sensors/sun?date=" + time.strftime("%Y-%m-%d", time.gmtime(s["next_at"] / 1000 + 7 * 3600)))
    h, m = map(int, sun.json()["sunset"].split(":"))
    assert utc_min == (h - 7) * 60 + m + 15
    r = admin.post("/api/v1/sensors/schedules", json={"devices": ls[:1], "action": "dim", "level": 0.3,
                                                      "when": "22:30"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["when"] == "22:30" and t["level"] == 0.3 and t["next_at"] // 60000 % 1440 == 15 * 60 + 30
    assert before < t["next_at"] <= before + DAY
    items = admin.get("/api/v1/sensors/schedules").json()["items"]
    assert {s["id"], t["id"]} <= {x["id"] for x in items}
    r = admin.req("DELETE", f"/api/v1/sensors/schedules/{s['id']}")
    assert r.status_code == 200, r.text
    assert_error(admin.req("DELETE", f"/api/v1/sensors/schedules/{s['id']}"), 404)
    assert_error(admin.req("DELETE", "/api/v1/sensors/schedules/abc"), 404)
    assert s["id"] not in {x["id"] for x in admin.get("/api/v1/sensors/schedules").json()["items"]}
    audit = server.sql("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'streetlight.schedule.%'")
    assert int(audit[0][0]) >= 3


def test_schedule_validation(server, admin, anon):
    ls = lights(admin, 1)
    aq = unique("aq-")
    make_device(admin, aq)
    ok = {"devices": ls, "action": "off", "when": "sunrise"}
    cases = [({"action": "blink"}, "action"), ({"when": "dusk"}, "when"), ({"when": "24:00"}, "when"),
             ({"when": "7:30"}, "when"), ({"offset_min": 1000}, "offset_min"), ({"offset_min": 1.5}, "offset_min"),
             ({"action": "dim"}, "level"), ({"level": 2}, "level"), ({"devices": []}, "devices"),
             ({"devices": "x"}, "devices"), ({"name": 5}, "name")]
    for change, field in cases:
        body = dict(ok, **change)
        assert assert_error(admin.post("/api/v1/sensors/schedules", json=body), 422)["field"] == field, change
    e = assert_error(admin.post("/api/v1/sensors/schedules", json=dict(ok, devices=[ls[0], aq])), 422)
    assert (e["field"], e["index"]) == ("devices", 1)
    assert_error(anon.post("/api/v1/sensors/schedules", json=ok), 401)
    assert_error(anon.get("/api/v1/sensors/schedules"), 401)


@pytest.fixture(scope="module")
def cluster():
    """Two nodes on one database, sweeping every second (no broker: commands stay pending)."""
    with tempfile.TemporaryDirectory(prefix="cityos-sched-") as tmp:
        env = {"CITYOS_SENSORS_SWEEP_S": "1"}
        s = EnvServer(tmp, env)
        saved = os.environ.get("CITYOS_SENSORS_SWEEP_S")
        os.environ["CITYOS_SENSORS_SWEEP_S"] = "1"
        try:
            _, node2 = s.start_node()
        finally:
            if saved is None:
                os.environ.pop("CITYOS_SENSORS_SWEEP_S")
            else:
                os.environ["CITYOS_SENSORS_SWEEP_S"] = saved
        yield s
        node2.terminate()
        node2.wait(timeout=20)
        rc = s.stop()
        s.drop()
        assert rc == 0, open(s.log_path).read()[-3000:]


def test_fired_once_across_two_nodes(cluster):
    admin = cluster.admin
    ls = lights(admin, 3)
    ids = []
    for k in range(4):   # several due at once: both sweepers race for them
        r = admin.post("/api/v1/sensors/schedules", json={"devices": ls, "action": "dim", "level": 0.25 + k / 10,
                                                          "when": "sunset", "offset_min": -k})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    due = int(time.time() * 1000) + 1200
    cluster.sql(f"UPDATE sensor_schedules SET next_at = {due} WHERE id IN ({','.join(map(str, ids))})")

    def fired():
        items = [x for x in admin.get("/api/v1/sensors/schedules").json()["items"] if x["id"] in ids]
        return items if all(x["fired_count"] >= 1 for x in items) else None
    wait_for(fired, timeout=15)
    time.sleep(2.5)   # more sweeps on both nodes: nothing fires again
    items = {x["id"]: x for x in admin.get("/api/v1/sensors/schedules").json()["items"] if x["id"] in ids}
    for x in items.values():
        assert x["fired_count"] == 1 and x["last_fired_at"] == due
        assert due < x["next_at"] <= due + DAY                           # the next sunset (minus k)
        assert 10 * 60 - 5 <= x["next_at"] // 60000 % 1440 <= 11 * 60 + 45
    for d in ls:
        cmds = admin.get(f"/api/v1/sensors/commands?device={d}").json()["items"]
        assert len(cmds) == 4, cmds
        assert sorted(c["level"] for c in cmds) == [0.25, 0.35, 0.45, 0.55]
        assert all(c["not_before"] == due and c["action"] == "dim" and c["state"] == "pending" for c in cmds)
    logs = "".join(open(p).read() for p in glob.glob(os.path.join(cluster.tmp, "*.log")))
    assert logs.count("schedule fired") == 4, logs[-3000:]
    rows = cluster.sql("SELECT COUNT(*) FROM sensor_commands WHERE schedule_id IN (%s)" % ",".join(map(str, ids)))
    assert int(rows[0][0]) == 12
