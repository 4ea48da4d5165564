"""Stored VN_AQI (Decision 1459/QĐ-TCMT): the sweeper computes every completed hour and
Vietnam day per station and keeps the index and its sub-indices in sensor_aqi; a late
reading makes it recompute the hours (NowCast) and days it feeds; the API serves the
stored rows. Two nodes on one database run the job at once."""
import os
import tempfile
import time

import pytest

from conftest import assert_error, unique
from sensors_helpers import EnvServer, make_device, wait_for

HOUR = 3_600_000
DAY = 24 * HOUR
MIN = 60_000
ENV = {"CITYOS_SENSORS_SWEEP_S": "1"}


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="cityos-aqi-") as tmp:
        s = EnvServer(tmp, ENV)
        saved = {k: os.environ.get(k) for k in ENV}
        os.environ.update(ENV)
        try:
            _url_b, proc_b = s.start_node()   # a second node running the same job
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        yield s
        proc_b.terminate()
        assert proc_b.wait(timeout=20) == 0
        rc = s.stop()
        logs = "".join(open(os.path.join(tmp, f)).read() for f in os.listdir(tmp) if f.endswith(".log"))
        s.drop()
        assert rc == 0, logs[-3000:]
        assert "VN_AQI run failed" not in logs, logs[-3000:]


def now_ms():
    return int(time.time() * 1000)


def upload(srv, dev, key, readings):
    r = srv.client().post(f"/api/v1/devices/{dev}/readings", json={"readings": readings},
                          headers={"X-Device-Key": key})
    assert r.status_code == 200, r.text


def stored(srv, dev, period, start):
    """The stored row as (aqi, pm25 sub-index, no2 sub-index, computed_at), or None."""
    rows = srv.sql(f"SELECT aqi, pm25, no2, computed_at FROM sensor_aqi WHERE device_id = '{dev}'"
                   f" AND period = '{period}' AND start_at = {start}")
    if not rows:
        return None
    return tuple(int(v) if v != "" else None for v in rows[0])


def hour_api(srv, dev, start):
    return srv.admin.get(f"/api/v1/devices/{dev}/aqi", params={"at": start + 30 * MIN}).json()["hourly"]


def test_day_and_hours_stored_with_sub_indices(srv):
    """The decision's example: PM2.5 24-hour mean 55.7 µg/m³ gives 110 (Kém)."""
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    # Two days ago in Vietnam time (yesterday could still be within its grace minute).
    day = ((now_ms() + 7 * HOUR) // DAY - 2) * DAY - 7 * HOUR
    upload(srv, dev, key, [{"ts": day + h * HOUR + m * MIN, "values": {"pm25": 55.7, "no2": 150}}
                           for h in range(24) for m in (10, 40)])
    row = wait_for(lambda: stored(srv, dev, "day", day), timeout=30)
    assert row[:3] == (110, 110, 75), row
    # Every hour of the day is stored too: NowCast of a constant 55.7 is 55.7.
    wait_for(lambda: all(stored(srv, dev, "hour", day + h * HOUR) for h in range(24)), timeout=30)
    assert stored(srv, dev, "hour", day + 20 * HOUR)[:3] == (110, 110, 75)
    body = admin.get(f"/api/v1/devices/{dev}/aqi", params={"at": day + 20 * HOUR + 5 * MIN}).json()
    assert body["daily"]["status"] == "stored" and body["daily"]["day_start"] == day
    assert body["daily"]["aqi"] == 110 and body["daily"]["band"] == "Kém", body
    assert body["daily"]["sub_indices"]["pm25"] == 110 and body["daily"]["sub_indices"]["no2"] == 75
    assert body["daily"]["sub_indices"]["o3_8h"] is None and body["daily"]["dominant"] == "pm25"
    assert body["hourly"]["hour"] == day + 20 * HOUR and body["hourly"]["aqi"] == 110
    # History: the 24 stored hours in order, and the day.
    hist = admin.get(f"/api/v1/devices/{dev}/aqi/history",
                     params={"period": "hour", "from": day, "to": day + 23 * HOUR}).json()["items"]
    assert [i["start"] for i in hist] == [day + h * HOUR for h in range(24)]
    assert all(i["aqi"] == 110 and i["sub_indices"]["no2"] == 75 for i in hist[1:])
    # The first hour has no NowCast (it needs 2 of the latest 3 hours): NO2 only, no index.
    assert hist[0]["aqi"] is None and hist[0]["sub_indices"] == {
        "o3_1h": None, "o3_8h": None, "co": None, "so2": None, "no2": 75, "pm10": None, "pm25": None}
    days = admin.get(f"/api/v1/devices/{dev}/aqi/history", params={"period": "day"}).json()["items"]
    assert [(d["start"], d["aqi"]) for d in days] == [(day, 110)]
    # The hour after the data: NowCast still has 2 of the latest 3 hours; 3 hours later it has not.
    assert wait_for(lambda: stored(srv, dev, "hour", day + 24 * HOUR), timeout=30)[:2] == (110, 110)
    assert stored(srv, dev, "hour", day + 25 * HOUR) is None
    # "pending" until the job's cursor has passed that hour (a slow machine: under ASan), then
    # "no_data", never a value.
    late = wait_for(lambda: (lambda h: h if h["status"] != "pending" else None)(
        admin.get(f"/api/v1/devices/{dev}/aqi", params={"at": day + 25 * HOUR}).json()["hourly"]), timeout=60)
    assert late["status"] == "no_data" and late["aqi"] is None


def test_late_reading_recomputes_stored_hours(srv):
    admin = srv.admin
    dev = unique("aq-")
    key = make_device(admin, dev)["key"]
    h0 = now_ms() // HOUR * HOUR - 5 * HOUR     # three completed hours h0, h0+1h, h0+2h: PM2.5 20 each
    upload(srv, dev, key, [{"ts": h0 + k * HOUR + 20 * MIN, "values": {"pm25": 20}} for k in range(3)])
    # NowCast of 20, 20, 20 is 20 -> sub-index 50/25 * 20 = 40.
    wait_for(lambda: stored(srv, dev, "hour", h0 + 2 * HOUR), timeout=30)
    before_3 = wait_for(lambda: stored(srv, dev, "hour", h0 + 3 * HOUR), timeout=30)
    before_2 = stored(srv, dev, "hour", h0 + 2 * HOUR)
    assert before_2[:2] == (40, 40) and before_3[:2] == (40, 40), (before_2, before_3)
    assert hour_api(srv, dev, h0 + 2 * HOUR)["aqi"] == 40
    # A late reading of 100 in the hour h0+2h: its mean becomes 60.
    upload(srv, dev, key, [{"ts": h0 + 2 * HOUR + 50 * MIN, "values": {"pm25": 100}}])
    # h0+2h: c = 60, 20, 20; w = 20/60 < 1/2 -> 1/2, 3 of 12 hours: (60 + 10 + 5) / 1.75 = 42.86
    #   -> 50 + 50/25 * 17.86 = 85.7 -> 86.
    # h0+3h (no data of its own): c = -, 60, 20, 20: (30 + 5 + 2.5) / 0.875 = 42.86 -> 86 too.
    # h0+4h: c = -, -, 60, ...: fewer than 2 of the latest 3 hours, no PM index.
    row2 = wait_for(lambda: (stored(srv, dev, "hour", h0 + 2 * HOUR) or (0,))[0] != 40 and
                    stored(srv, dev, "hour", h0 + 2 * HOUR), timeout=30)
    row3 = wait_for(lambda: (stored(srv, dev, "hour", h0 + 3 * HOUR) or (0,))[0] != 40 and
                    stored(srv, dev, "hour", h0 + 3 * HOUR), timeout=30)
    assert row2[:2] == (86, 86) and row3[:2] == (86, 86), (row2, row3)
    assert stored(srv, dev, "hour", h0 + 4 * HOUR) is None
    assert row2[3] > before_2[3]
    assert stored(srv, dev, "hour", h0 + HOUR)[:2] == (40, 40)   # earlier hours are unchanged
    assert hour_api(srv, dev, h0 + 2 * HOUR)["sub_indices"]["pm25"] == 86
    wait_for(lambda: srv.sql(f"SELECT COUNT(*) FROM sensor_aqi_late WHERE device_id = '{dev}'")[0][0] == "0")


def test_in_order_path_computes_completed_hours(srv):
    """Hours the cursor has not reached yet are computed in order from the rollups (here
    written straight into the database, so no late-reading mark exists)."""
    dev = unique("aq-")
    make_device(srv.admin, dev)
    h = now_ms() // HOUR * HOUR - 4 * HOUR
    wait_for(lambda: int(srv.sql("SELECT next_start FROM sensor_aqi_progress WHERE period = 'hour'")[0][0]) > h + HOUR)
    for k, v in enumerate((30, 40)):   # hourly means of PM10 (µg/m³)
        srv.sql("INSERT INTO sensor_rollups(res, device_id, attr, bucket, n, vmin, vmax, vsum)"
                f" VALUES (3600000, '{dev}', 'pm10', {h + k * HOUR}, 1, {v}, {v}, {v})")
    time.sleep(1.5)
    assert stored(srv, dev, "hour", h + HOUR) is None   # the cursor had passed: nothing knew of them
    srv.sql(f"UPDATE sensor_aqi_progress SET next_start = {h} WHERE period = 'hour'")
    # h+1h: PM10 c = 40, 30; w = 0.75: (40 + 22.5) / 1.75 = 35.71 -> 50/50 * 35.71 = 35.7 -> 36.
    row = wait_for(lambda: stored(srv, dev, "hour", h + HOUR), timeout=30)
    assert row[0] == 36, row
    wait_for(lambda: int(srv.sql("SELECT next_start FROM sensor_aqi_progress WHERE period = 'hour'")[0][0]) > h + HOUR)
    pm10 = srv.sql(f"SELECT pm10, dominant FROM sensor_aqi WHERE device_id = '{dev}' AND start_at = {h + HOUR}")
    assert pm10 == [("36", "pm10")]


def test_api_defaults_and_errors(srv):
    admin = srv.admin
    dev = unique("aq-")
    make_device(admin, dev)
    body = admin.get(f"/api/v1/devices/{dev}/aqi").json()
    t = now_ms() - MIN
    # Default: the latest completed hour and day; this station has no data.
    assert body["hourly"]["hour"] in (t // HOUR * HOUR - HOUR, t // HOUR * HOUR - 2 * HOUR)
    assert body["hourly"]["aqi"] is None and body["hourly"]["status"] in ("no_data", "pending")
    # The current hour is not computed yet.
    cur = admin.get(f"/api/v1/devices/{dev}/aqi", params={"at": now_ms()}).json()
    assert cur["hourly"]["status"] == "pending"
    assert_error(admin.get(f"/api/v1/devices/{dev}/aqi?at=x"), 422)
    assert_error(admin.get(f"/api/v1/devices/{dev}/aqi/history?period=week"), 422)
    assert_error(admin.get(f"/api/v1/devices/{dev}/aqi/history?from=5&to=4"), 422)
    assert_error(admin.get(f"/api/v1/devices/{dev}/aqi/history?from=x"), 422)
    assert_error(admin.get("/api/v1/devices/nope/aqi/history"), 404)
    light = unique("sl-")
    make_device(admin, light, "Streetlight")
    assert_error(admin.get(f"/api/v1/devices/{light}/aqi/history"), 422)
