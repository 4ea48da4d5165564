"""Administrative units: two eras, the tree, search without diacritics, locate."""
import time

import requests

from conftest import assert_error, unique


def test_eras(anon):
    body = anon.get("/api/v1/eras").json()
    eras = {e["name"]: e for e in body["items"]}
    assert body["active"] == "2025"
    assert eras["2025"]["units"] == 127 and eras["2025"]["active"] and eras["2025"]["has_boundaries"]
    assert eras["2024"]["units"] == 610 and not eras["2024"]["active"]


def test_roots_and_children_2025(anon):
    body = anon.get("/api/v1/units").json()
    assert body["total"] == 1
    city = body["items"][0]
    assert city["code"] == "01" and city["name"] == "Thành phố Hà Nội" and city["children_count"] == 126
    page1 = anon.get("/api/v1/units?parent=01&limit=100").json()
    page2 = anon.get("/api/v1/units?parent=01&limit=100&offset=100").json()
    assert page1["total"] == 126 and len(page1["items"]) == 100 and len(page2["items"]) == 26
    codes = [u["code"] for u in page1["items"] + page2["items"]]
    assert codes == sorted(codes) and len(set(codes)) == 126
    kinds = {u["type"] for u in page1["items"] + page2["items"]}
    assert kinds == {"phường", "xã"}
    children = anon.get("/api/v1/units/01/children?limit=1000").json()
    assert children["total"] == 126


def test_three_levels_2024(anon):
    districts = anon.get("/api/v1/units?era=2024&parent=01").json()
    assert districts["total"] == 30
    total_wards = 0
    for d in districts["items"]:
        total_wards += anon.get(f"/api/v1/units?era=2024&parent={d['code']}&limit=1").json()["total"]
    assert total_wards == 579
    u = anon.get("/api/v1/units/00004?era=2024").json()
    assert u["name"] == "Phường Trúc Bạch" and u["level"] == "ward" and u["depth"] == 2
    assert u["parent"] == {"code": "001", "name": "Quận Ba Đình"}
    # The same code names another ward in 2025: eras never mix.
    assert anon.get("/api/v1/units/00004").json()["name"] == "Phường Ba Đình"


def test_get_one_and_path(anon):
    r = anon.get("/api/v1/units/00070")
    assert r.status_code == 200
    u = r.json()
    assert u["name"] == "Phường Hoàn Kiếm" and u["era"] == "2025" and u["level"] == "ward"
    assert u["parent"] == {"code": "01", "name": "Thành phố Hà Nội"} and u["has_boundary"] is True
    path = anon.get("/api/v1/units/00004/path?era=2024").json()["items"]
    assert [p["code"] for p in path] == ["01", "001", "00004"]


def test_search_ignores_diacritics_and_case(anon):
    items = anon.get("/api/v1/units", params={"q": "hoan kiem"}).json()["items"]
    assert items[0]["name"] == "Phường Hoàn Kiếm"
    items = anon.get("/api/v1/units", params={"q": "BA ĐÌNH"}).json()["items"]
    assert items[0]["name"] == "Phường Ba Đình"
    items = anon.get("/api/v1/units", params={"q": "ba dinh", "era": "2024"}).json()["items"]
    names = [i["name"] for i in items]
    assert names[0] == "Quận Ba Đình" and "Phường Phúc Xá" not in names
    # Decomposed (NFD) input finds the same.
    nfd = "Hoa\u0300n Kie\u0302\u0301m"
    assert anon.get("/api/v1/units", params={"q": nfd}).json()["items"][0]["code"] == "00070"
    # Both spellings of "hòa/hoà".
    a = anon.get("/api/v1/units", params={"q": "Yên Hoà"}).json()["items"]
    b = anon.get("/api/v1/units", params={"q": "Yên Hòa"}).json()["items"]
    assert a and a == b
    assert anon.get("/api/v1/units", params={"q": "zzzz"}).json()["total"] == 0


def test_search_and_list_validation(anon):
    assert_error(anon.get("/api/v1/units", params={"q": "   "}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"q": "x" * 300}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"limit": "0"}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"limit": "abc"}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"offset": "-1"}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"level": "galaxy"}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units", params={"era": "1999"}), 404, "not_found")
    assert_error(anon.get("/api/v1/units", params={"parent": "99999"}), 404, "not_found")
    assert_error(anon.get("/api/v1/units/99999"), 404, "not_found")
    assert_error(anon.get("/api/v1/units/00070?era=nope"), 404, "not_found")


def test_locate_landmarks(anon):
    cases = [((21.0287, 105.8524), "00070"),      # Hồ Hoàn Kiếm
             ((21.0368, 105.8346), "00004")]      # Quảng trường Ba Đình
    for (lat, lon), code in cases:
        r = anon.get("/api/v1/units/locate", params={"lat": lat, "lon": lon})
        assert r.status_code == 200, r.text
        assert r.json()["code"] == code
    u = anon.get("/api/v1/units/locate", params={"lat": 21.2187, "lon": 105.8042}).json()
    assert u["name"] == "Xã Nội Bài"
    # The 2024 era has district boundaries only: the lake is in Quận Hoàn Kiếm.
    u = anon.get("/api/v1/units/locate", params={"lat": 21.0287, "lon": 105.8524, "era": "2024"}).json()
    assert u["code"] == "002"


def test_locate_errors(anon):
    assert_error(anon.get("/api/v1/units/locate", params={"lat": 10.77, "lon": 106.70}), 404, "not_found")
    assert_error(anon.get("/api/v1/units/locate", params={"lat": "abc", "lon": 105}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units/locate", params={"lat": 95, "lon": 105}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units/locate", params={"lon": 105}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units/locate", params={"lat": "nan", "lon": 105}), 400, "bad_request")
    assert_error(anon.get("/api/v1/units/locate", params={"lat": "21", "lon": "1e999"}), 400, "bad_request")


def test_boundaries(anon):
    fc = anon.get("/api/v1/units/boundaries").json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 126
    assert {f["geometry"]["type"] for f in fc["features"]} <= {"Polygon", "MultiPolygon"}
    districts = anon.get("/api/v1/units/boundaries?era=2024").json()
    assert len(districts["features"]) == 30
    one = anon.get("/api/v1/units/00070/boundary")
    assert one.status_code == 200 and one.json()["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Wards of 2024 have no shipped boundary.
    assert_error(anon.get("/api/v1/units/00004/boundary?era=2024"), 404, "not_found")


def test_import_while_running_is_picked_up_without_restart(fresh_server, tmp_path):
    """`cityos import units` against the database of a running server (any node): the
    server sees the new era and a renamed unit within seconds, no restart needed."""
    s = fresh_server
    era = unique("t")
    csv = tmp_path / "units.csv"
    csv.write_text("level,code,name,type,parent_code\n"
                   "province,01,Thành phố Thử Nghiệm,thành phố trực thuộc trung ương,\n"
                   "ward,00070,Phường Tạm Thời,phường,01\n")
    assert requests.get(s.url + "/api/v1/units/00070", params={"era": era}).status_code == 404
    s.cli("import", "units", str(csv), "--era", era, check=True)
    deadline = time.time() + 20
    r = None
    while time.time() < deadline:
        r = requests.get(s.url + "/api/v1/units/00070", params={"era": era})
        if r.status_code == 200:
            break
        time.sleep(0.5)
    assert r is not None and r.status_code == 200, r.text
    assert r.json()["name"] == "Phường Tạm Thời" and r.json()["parent"]["code"] == "01"
    assert era in [e["name"] for e in requests.get(s.url + "/api/v1/eras").json()["items"]]
    # A second import renames the ward; search (diacritic-free) finds the new name.
    csv.write_text("level,code,name,type,parent_code\nward,00070,Phường Đổi Tên,phường,01\n")
    s.cli("import", "units", str(csv), "--era", era, check=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        r = requests.get(s.url + "/api/v1/units", params={"era": era, "q": "doi ten"})
        if r.status_code == 200 and r.json()["items"]:
            break
        time.sleep(0.5)
    assert [u["code"] for u in r.json()["items"]] == ["00070"], r.text
    # The active era is untouched.
    assert requests.get(s.url + "/api/v1/units/00070").json()["name"] == "Phường Hoàn Kiếm"
