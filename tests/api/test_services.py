"""Online public services: the working-day calendar API and CLI, the procedure catalog."""
import json
import os

from conftest import ROOT, assert_error, unique

CATALOG = os.path.join(ROOT, "data", "procedures", "hanoi.json")


def official(server, role=None):
    name = unique("svc")
    pw = "Mat-khau-dai-2026!"
    args = ["user", "add", "--kind", "official", "--username", name, "--name", "Cán bộ Thử", "--password", pw]
    if role:
        args += ["--role", role]
    server.cli(*args, check=True)
    return server.login(name, pw)


# --- calendar -----------------------------------------------------------------------------

def test_calendar_cli_holidays_and_due(server):
    out = server.cli("calendar", "holidays", "2024", check=True).stdout.splitlines()
    assert "2024-02-08 Tết Nguyên đán" in out and "2024-02-14 Tết Nguyên đán" in out
    assert "2024-04-18 Giỗ Tổ Hùng Vương" in out
    assert "2024-09-02 Quốc khánh" in out
    assert all(len(line.split(" ", 1)[0]) == 10 for line in out)
    assert server.cli("calendar", "due", "2024-02-07", "1", check=True).stdout.strip() == "2024-02-15"
    assert server.cli("calendar", "due", "2024-02-07T17:30", "1", check=True).stdout.strip() == "2024-02-16"
    bad = server.cli("calendar", "due", "2024-02-30", "1")
    assert bad.returncode == 2 and "START" in bad.stderr
    assert server.cli("calendar", "holidays", "abc").returncode == 2


def test_calendar_get_public(anon):
    r = anon.get("/api/v1/calendar/2025")
    assert r.status_code == 200
    y = r.json()
    assert y["tet"] == "2025-01-29" and y["hung_kings"] == "2025-04-07"
    dates = {d["date"]: d["name"] for d in y["days_off"]}
    assert "2025-01-25" in dates and "2025-02-02" in dates   # decided range from overrides.json
    assert {"date": "2025-04-26", "name": "Làm bù cho ngày 02/5"} in y["working_days"]
    assert y["overrides_source"] == "file"
    assert_error(anon.get("/api/v1/calendar/20x5"), 422, "validation_failed")
    assert_error(anon.get("/api/v1/calendar/1500"), 422, "validation_failed")


def test_calendar_due_api(anon):
    r = anon.get("/api/v1/calendar/due", params={"start": "2024-02-07T10:00", "days": 1})
    assert r.status_code == 200, r.text
    assert r.json()["due_date"] == "2024-02-15"
    assert r.json()["due"].startswith("2024-02-15T17:00:00")
    e = assert_error(anon.get("/api/v1/calendar/due", params={"start": "yesterday", "days": 1}), 422)
    assert e["field"] == "start"
    e = assert_error(anon.get("/api/v1/calendar/due", params={"days": -1}), 422)
    assert e["field"] == "days"


def test_calendar_put_requires_permission(server, anon):
    body = {"off": [{"date": "2031-05-02", "name": "Nghỉ hoán đổi"}]}
    assert_error(anon.req("PUT", "/api/v1/calendar/2031", json=body), 401)
    officer = official(server)
    assert_error(officer.req("PUT", "/api/v1/calendar/2031", json=body), 403)


def test_calendar_put_and_audit(server, admin):
    year = 2031
    body = {"tet": {"from": "2031-01-20", "to": "2031-01-28", "source": "test"},
            "off": [{"date": "2031-05-02", "name": "Nghỉ hoán đổi", "source": "test"}],
            "work": [{"date": "2031-04-26", "name": "Làm bù", "source": "test"}]}
    r = admin.req("PUT", f"/api/v1/calendar/{year}", json=body)
    assert r.status_code == 200, r.text
    y = r.json()
    assert y["overrides_source"] == "database"
    dates = [d["date"] for d in y["days_off"]]
    assert "2031-05-02" in dates and "2031-01-20" in dates
    assert y["working_days"] == [{"date": "2031-04-26", "name": "Làm bù"}]
    # The CLI sees the stored year too, and the due date moves.
    out = server.cli("calendar", "holidays", str(year), check=True).stdout
    assert "2031-05-02 Nghỉ hoán đổi" in out
    assert server.cli("calendar", "due", "2031-04-29", "1", check=True).stdout.strip() == "2031-05-05"
    rows = server.sql("SELECT action, record_id FROM audit_log WHERE action = 'calendar.update'")
    assert ("calendar.update", str(year)) in rows
    # A stored year replaces the file's year entirely.
    r = admin.req("PUT", "/api/v1/calendar/2024", json={"off": []})
    assert r.status_code == 200
    dates = [d["date"] for d in r.json()["days_off"]]
    assert "2024-02-08" not in dates and "2024-02-09" in dates


def test_calendar_put_validation_names_the_field(admin):
    cases = [
        ({"off": [{"date": "2031-13-01", "name": "x"}]}, "off[0].date"),
        ({"off": [{"date": "2030-05-01", "name": "x"}]}, "off[0].date"),
        ({"year": 2030}, "year"),
        ({"holidays": []}, "holidays"),
        ({"tet": {"from": "2031-06-01", "to": "2031-06-03"}}, "tet.to"),
        ({"work": "2031-04-26"}, "work"),
    ]
    for body, field in cases:
        e = assert_error(admin.req("PUT", "/api/v1/calendar/2031", json=body), 422, "validation_failed")
        assert e["field"] == field, (body, e)


# --- procedure catalog ----------------------------------------------------------------------

def test_catalog_import_export_cli(server, tmp_path):
    out = server.cli("procedures", "import", CATALOG, check=True).stdout
    assert "30 procedures" in out
    exp = tmp_path / "export.json"
    server.cli("procedures", "export", str(exp), check=True)
    doc = json.loads(exp.read_text())
    src = json.load(open(CATALOG))
    assert len(doc["procedures"]) == len(src["procedures"]) >= 25
    assert {p["code"] for p in doc["procedures"]} == {p["code"] for p in src["procedures"]}
    # Re-import of the export is accepted (round trip).
    assert server.cli("procedures", "import", str(exp)).returncode == 0


def test_catalog_import_errors_name_line_and_path(server, tmp_path):
    src = json.load(open(CATALOG))
    src["workflows"][0]["actions"][1]["roles"] = []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(src, ensure_ascii=False, indent=1))
    p = server.cli("procedures", "import", str(bad))
    assert p.returncode == 1
    assert "workflows[0].actions[1]" in p.stderr and "no roles" in p.stderr and "line " in p.stderr
    line = int(p.stderr.split("line ")[1].split(":")[0])
    assert '"id": "refuse"' in bad.read_text().splitlines()[line]   # the line of the object
    src = json.load(open(CATALOG))
    del src["workflows"][0]["actions"][-1]   # withdraw: "withdrawn" becomes unreachable
    bad.write_text(json.dumps(src, ensure_ascii=False, indent=1))
    p = server.cli("procedures", "import", str(bad))
    assert p.returncode == 1 and "unreachable" in p.stderr
    src = json.load(open(CATALOG))
    src["workflows"][0]["states"][6]["status"] = 9   # 'returned' has no way out and is not final
    bad.write_text(json.dumps(src, ensure_ascii=False, indent=1))
    p = server.cli("procedures", "import", str(bad))
    assert p.returncode == 1 and "not final" in p.stderr


def test_catalog_api(server, anon, admin):
    server.cli("procedures", "import", CATALOG, check=True)
    r = anon.get("/api/v1/procedures", params={"q": "khai sinh"})
    assert r.status_code == 200
    codes = [p["code"] for p in r.json()["items"]]
    assert "1.001193" in codes
    # diacritics ignored both ways
    r2 = anon.get("/api/v1/procedures", params={"q": "Khai Sinh"})
    assert [p["code"] for p in r2.json()["items"]] == codes
    r = anon.get("/api/v1/procedures", params={"level": "province"})
    assert all("province" in p["levels"] for p in r.json()["items"]) and r.json()["total"] >= 1
    r = anon.get("/api/v1/procedures", params={"limit": 5, "offset": 5})
    assert len(r.json()["items"]) == 5 and r.json()["total"] >= 25
    assert_error(anon.get("/api/v1/procedures", params={"level": "planet"}), 422)
    p = anon.get("/api/v1/procedures/1.001193").json()
    assert p["name"] == "Đăng ký khai sinh" and p["workflow_definition"]["id"] == "ward_standard"
    assert any(f["name"] == "child_birth_date" for f in p["form"]["fields"])
    assert_error(anon.get("/api/v1/procedures/9.999999"), 404)
    # import over the API: permission, validation with field, success
    doc = json.load(open(CATALOG))
    assert_error(anon.post("/api/v1/procedures/import", json=doc), 401)
    officer = official(server)
    assert_error(officer.post("/api/v1/procedures/import", json=doc), 403)
    doc["procedures"][0]["days"] = -1
    e = assert_error(admin.post("/api/v1/procedures/import", json=doc), 422, "validation_failed")
    assert e["field"] == "procedures[0].days"
    doc["procedures"][0]["days"] = 0
    doc["procedures"][0]["name"] = "Đăng ký khai sinh (sửa)"
    r = admin.post("/api/v1/procedures/import", json=doc)
    assert r.status_code == 200 and r.json()["procedures"] == 30
    assert anon.get("/api/v1/procedures/1.001193").json()["name"] == "Đăng ký khai sinh (sửa)"
