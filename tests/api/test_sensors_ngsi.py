"""NGSI-LD read access: entities with type / id / q / georel filters, one entity, the
temporal query, the core @context (linked, or inline for application/ld+json)."""
import time

from conftest import assert_error, unique
from sensors_helpers import make_device

HK = (105.8522, 21.0287)       # Hồ Hoàn Kiếm
FAR = (105.78, 20.98)          # Hà Đông, about 10 km away


def upload(server, dev, key, readings):
    r = server.client().post(f"/api/v1/devices/{dev}/readings", json={"readings": readings},
                             headers={"X-Device-Key": key})
    assert r.status_code == 200, r.text


def test_entities_filters_and_temporal(server, admin):
    near, far = unique("aq-n-"), unique("aq-f-")
    k1 = make_device(admin, near, lon=HK[0], lat=HK[1])["key"]
    k2 = make_device(admin, far, lon=FAR[0], lat=FAR[1])["key"]
    t0 = (int(time.time()) - 3600) * 1000
    upload(server, near, k1, [{"ts": t0, "values": {"pm25": 30}}, {"ts": t0 + 60000, "values": {"pm25": 80.5, "no2": 40}}])
    upload(server, far, k2, [{"ts": t0, "values": {"pm25": 20}}])

    r = admin.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:{near}")
    assert r.status_code == 200, r.text
    assert "ngsi-ld-core-context" in r.headers["Link"]
    e = r.json()
    assert e["id"] == f"urn:ngsi-ld:AirQualityObserved:{near}" and e["type"] == "AirQualityObserved"
    assert e["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [HK[0], HK[1]]}}
    assert e["pm25"]["type"] == "Property" and e["pm25"]["value"] == 80.5
    assert e["pm25"]["observedAt"].endswith("Z") and e["areaServed"]["value"] == "Phường Hoàn Kiếm"
    ld = admin.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:{near}", headers={"Accept": "application/ld+json"})
    assert ld.headers["Content-Type"].startswith("application/ld+json") and "ngsi-ld-core-context" in ld.json()["@context"]

    def ids(**q):
        r = admin.get("/ngsi-ld/v1/entities", params={"type": "AirQualityObserved", "limit": 1000, **q})
        assert r.status_code == 200, r.text
        return {x["id"].rsplit(":", 1)[1] for x in r.json()}
    both = ids()
    assert {near, far} <= both
    assert near in ids(q="pm25>50") and far not in ids(q="pm25>50")
    assert far in ids(q="pm25<=20;pm25>=20") and near not in ids(q="pm25<=20")
    got = ids(georel="near;maxDistance==2000", geometry="Point", coordinates=f"[{HK[0]},{HK[1]}]")
    assert near in got and far not in got
    poly = "[[[105.84,21.02],[105.86,21.02],[105.86,21.04],[105.84,21.04],[105.84,21.02]]]"
    got = ids(georel="within", geometry="Polygon", coordinates=poly)
    assert near in got and far not in got
    got = ids(id=f"urn:ngsi-ld:AirQualityObserved:{far}")
    assert got == {far}
    assert_error(admin.get("/ngsi-ld/v1/entities", params={"q": "pm25~3"}), 422)
    assert_error(admin.get("/ngsi-ld/v1/entities", params={"georel": "near;maxDistance==10"}), 422)
    assert_error(admin.get("/ngsi-ld/v1/entities", params={"type": "Toaster"}), 422)
    assert_error(admin.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:nope"), 404)
    assert_error(admin.get("/ngsi-ld/v1/entities/not-a-urn"), 404)
    assert_error(server.client().get("/ngsi-ld/v1/entities"), 401)

    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
    r = admin.get(f"/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:{near}",
                  params={"attrs": "pm25", "timerel": "between", "timeAt": iso(t0 - 1000), "endTimeAt": iso(t0 + 120000)})
    assert r.status_code == 200, r.text
    series = r.json()["pm25"]
    assert [p["value"] for p in series] == [30, 80.5] and "no2" not in r.json()
    r = admin.get(f"/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:{near}", params={"lastN": 1})
    assert [p["value"] for p in r.json()["pm25"]] == [80.5]
    assert_error(admin.get(f"/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:{near}",
                           params={"timerel": "between", "timeAt": "yesterday"}), 422)
