"""The population register: `cityos population import` and GET /api/v1/population/{cccd}.

Residents in these tests live (current address, era 2025) in Phường Ba Đình (00004); a
clerk of that ward may read them, a clerk of Phường Ngọc Hà (00008) may not (404, like a
missing CCCD, and the refusal is audited).
"""
import os

from conftest import assert_error, make_cccd, unique

HEADER = "cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id\n"


def official(server, roles):
    username = unique("pop-")
    password = "Mat-khau-" + unique("")
    r = server.admin.post("/api/v1/users", json={"kind": "official", "username": username, "password": password,
                                                 "full_name": "Cán bộ Dân cư", "roles": roles})
    assert r.status_code == 201, r.text
    return server.login(username, password)


def write_csv(tmp_path, rows):
    p = tmp_path / "people.csv"
    p.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(p)


def audit_actions(server, cccd):
    return [r[0] for r in server.sql(f"SELECT action FROM audit_log WHERE record_type = 'resident'"
                                     f" AND record_id = '{cccd}' ORDER BY seq")]


def test_import_validates_every_row_and_reports_bad_ones(server, tmp_path):
    good = make_cccd(birth_year=1985)
    good2 = make_cccd(birth_year=2003, female=True)
    rows = [
        f"{good},Nguyễn Văn An,1985-04-12,male,2024,00001,2025,00004,HK-1",
        f"{good2},\"Trần Thị \"\"Bé\"\" Hoa\",2003-11-30,F,2025,00004,,,",
        f"{make_cccd(birth_year=1990)},Lê Văn Sai,1990-01-01,female,2024,00001,,,",     # sex digit
        f"{make_cccd(birth_year=1990)},Lê Văn Năm,1991-01-01,male,2024,00001,,,",      # year digits
        f"{make_cccd(birth_year=1990)},Lê Văn Ngày,1990-02-30,male,2024,00001,,,",     # no such date
        f"{make_cccd(birth_year=1990)},Lê Văn Mã,1990-02-03,male,2024,99999,,,",       # unknown unit
        f"{make_cccd(birth_year=1990)},Lê Văn Kỷ,1990-02-03,male,2025,00001,,,",       # 2024 code in 2025
        f"{make_cccd(birth_year=1990)},Lê Văn Hiện,1990-02-03,male,2024,00001,2025,,",  # half a current address
        f"{good},Nguyễn Văn An,1985-04-12,male,2024,00001,2025,00004,HK-1",              # duplicate
        "12345,Quá Ngắn,1990-01-01,male,2024,00001,,,",
        "too,few,fields",
    ]
    path = write_csv(tmp_path, rows)
    report = str(tmp_path / "bad.csv")
    out = server.cli("population", "import", path, "--report", report)
    assert out.returncode == 0, out.stderr
    assert "11 lines, 2 loaded, 9 rejected" in out.stdout, out.stdout
    lines = open(report, encoding="utf-8").read().splitlines()
    assert lines[0] == "line,cccd,reason"
    by_line = {int(l.split(",", 1)[0]): l for l in lines[1:]}
    assert sorted(by_line) == list(range(4, 13))
    assert "sex" in by_line[4] and "year of birth" in by_line[5] and "real date" in by_line[6]
    assert "permanent address" in by_line[7] and "permanent address" in by_line[8]
    assert "current address" in by_line[9] and "earlier in this file" in by_line[10]
    assert "too few fields" in by_line[12]
    got = server.sql(f"SELECT full_name, sex, cur_code, household_id FROM residents WHERE cccd = '{good2}'")
    assert got == [("Trần Thị \"Bé\" Hoa", "female", "", "")]
    # Importing again updates in place (upsert by CCCD), nothing duplicated.
    path = write_csv(tmp_path, [f"{good},Nguyễn Văn An Mới,1985-04-12,M,2024,00001,2025,00004,HK-2"])
    out = server.cli("population", "import", path)
    assert out.returncode == 0 and "1 loaded, 0 rejected" in out.stdout, out.stdout + out.stderr
    assert os.path.exists(path + ".rejected.csv")
    assert server.sql(f"SELECT full_name, household_id FROM residents WHERE cccd = '{good}'") == [
        ("Nguyễn Văn An Mới", "HK-2")]


def test_import_refuses_a_wrong_header_and_a_missing_file(server, tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("cccd,name\n1,2\n")
    out = server.cli("population", "import", str(p))
    assert out.returncode == 1 and "header" in out.stderr
    out = server.cli("population", "import", str(tmp_path / "none.csv"))
    assert out.returncode == 1 and "cannot open" in out.stderr


def test_lookup_is_permission_checked_scoped_and_audited(server, anon, tmp_path):
    cccd = make_cccd(birth_year=1979, female=True)
    path = write_csv(tmp_path, [f"{cccd},Phạm Thị Lan,1979-06-01,female,2024,00001,2025,00004,HK-77"])
    assert server.cli("population", "import", path).returncode == 0

    r = server.admin.get(f"/api/v1/population/{cccd}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["full_name"] == "Phạm Thị Lan" and body["birth_date"] == "1979-06-01" and body["sex"] == "female"
    assert body["permanent_address"]["era"] == "2024" and body["permanent_address"]["code"] == "00001"
    assert body["current_address"] == {"era": "2025", "code": "00004", "name": "Phường Ba Đình"}
    assert body["household_id"] == "HK-77"
    assert audit_actions(server, cccd) == ["population.read"]

    assert_error(anon.get(f"/api/v1/population/{cccd}"), 401)
    nobody = official(server, [])
    assert_error(nobody.get(f"/api/v1/population/{cccd}"), 403, "forbidden")

    here = official(server, [{"role": "population_clerk", "unit": "00004"}])
    assert here.get(f"/api/v1/population/{cccd}").status_code == 200
    elsewhere = official(server, [{"role": "population_clerk", "unit": "00008"}])
    assert_error(elsewhere.get(f"/api/v1/population/{cccd}"), 404, "not_found")
    assert audit_actions(server, cccd) == ["population.read", "population.read", "population.read_denied"]

    missing = make_cccd(birth_year=1950)
    assert_error(server.admin.get(f"/api/v1/population/{missing}"), 404, "not_found")
    assert audit_actions(server, missing) == ["population.read_missing"]
    err = assert_error(server.admin.get("/api/v1/population/12345"), 422, "validation_failed")
    assert err["field"] == "cccd"
