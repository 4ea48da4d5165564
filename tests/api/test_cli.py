"""The `cityos` subcommands: help, version, migrate, imports (all or nothing), config
precedence, graceful shutdown."""
import os
import signal
import subprocess
import tempfile
import threading
import time

import requests

from conftest import BIN, ROOT, Server, is_postgres


def run(*args, env=None, cwd=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_version_and_help():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("cityos ")
    r = run("--help")
    assert r.returncode == 0
    for cmd in ["serve", "migrate", "import units", "user add", "audit verify", "secrets rekey", "--listen", "--db"]:
        assert cmd in r.stdout, cmd
    for sub in [["serve"], ["migrate"], ["import"], ["user"], ["audit"], ["secrets"]]:
        r = run(*sub, "--help")
        assert r.returncode == 0, (sub, r.stderr)
        assert "Usage" in r.stdout or "usage" in r.stdout, sub
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_config_precedence(tmp_path):
    conf = tmp_path / "cityos.conf"
    conf.write_text("listen = 127.0.0.1:9999\nthreads = 3\ndb = /tmp/from-file.db\n")
    env = dict(os.environ, CITYOS_THREADS="5")
    r = run("config", "--config", str(conf), env=env)
    assert "listen = 127.0.0.1:9999" in r.stdout          # file
    assert "threads = 5" in r.stdout                       # env beats file
    r = run("config", "--config", str(conf), "--threads", "7", env=env)
    assert "threads = 7" in r.stdout                       # flag beats env
    r = run("config", "--threads", "lots")
    assert r.returncode == 2 and "threads must be a whole number" in r.stderr
    r = run("config", "--config", str(tmp_path / "missing.conf"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_migrate_is_idempotent(tmp_path):
    db = str(tmp_path / "m.db")
    r = run("migrate", "--db", db)
    assert r.returncode == 0, r.stderr
    assert "applied" in r.stdout
    r = run("migrate", "--db", db)
    assert r.returncode == 0 and "0 migration(s) applied" in r.stdout


def test_migrate_bad_database():
    r = run("migrate", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert r.returncode == 1 and "cityos migrate:" in r.stderr


def count_units(db, era):
    import sqlite3
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM units WHERE era = ?", (era,)).fetchone()[0]
    finally:
        con.close()


def test_import_units_all_or_nothing(tmp_path):
    db = str(tmp_path / "i.db")
    good = tmp_path / "good.csv"
    good.write_text("level,code,name,type,parent_code\n"
                    "province,01,Thành phố Hà Nội,thành phố trực thuộc trung ương,\n"
                    "ward,00070,Phường Hoàn Kiếm,phường,01\n")
    r = run("import", "units", str(good), "--era", "test", "--db", db)
    assert r.returncode == 0, r.stderr
    assert count_units(db, "test") == 2
    bad_rows = [
        ("ward,ABC,Phường X,phường,01", "code must be"),
        ("ward,00071,Phường X,phường,99", "parent_code that is not in era"),
        ("city,00071,Phường X,phường,01", "level must be"),
        ("ward,00071,,phường,01", "non-empty"),
        ("ward,00071,Phường X,phường", "expected 5 fields"),
    ]
    for row, msg in bad_rows:
        bad = tmp_path / "bad.csv"
        bad.write_text("level,code,name,type,parent_code\nward,00072,Phường Tốt,phường,01\n" + row + "\n")
        r = run("import", "units", str(bad), "--era", "test", "--db", db)
        assert r.returncode == 1, row
        assert msg in r.stderr, (row, r.stderr)
        if "fields" in msg or "code must" in msg or "level" in msg or "non-empty" in msg:
            assert "bad.csv:3" in r.stderr, r.stderr       # names the line
        assert count_units(db, "test") == 2, row            # nothing written, not even line 2
    header = tmp_path / "header.csv"
    header.write_text("code,name\n01,x\n")
    r = run("import", "units", str(header), "--era", "test", "--db", db)
    assert r.returncode == 1 and "header must be" in r.stderr
    r = run("import", "units", str(tmp_path / "nope.csv"), "--era", "test", "--db", db)
    assert r.returncode == 1 and "cannot open" in r.stderr
    r = run("import", "units", str(good), "--db", db)
    assert r.returncode == 2 and "--era" in r.stderr


def test_import_boundaries_validation(tmp_path):
    db = str(tmp_path / "b.db")
    good = tmp_path / "u.csv"
    good.write_text("level,code,name,type,parent_code\nprovince,01,Hà Nội,thành phố,\nward,00070,Phường A,phường,01\n")
    assert run("import", "units", str(good), "--era", "t", "--db", db).returncode == 0
    geo = tmp_path / "b.geojson"
    geo.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"00070"},'
                   '"geometry":{"type":"Polygon","coordinates":[[[105,21],[106,21],[106,22],[105,21]]]}},'
                   '{"type":"Feature","properties":{"code":"99999"},"geometry":{"type":"Polygon",'
                   '"coordinates":[[[105,21],[106,21],[106,22],[105,21]]]}}]}')
    r = run("import", "boundaries", str(geo), "--era", "t", "--db", db)
    assert r.returncode == 1 and "no unit 99999" in r.stderr
    import sqlite3
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM unit_boundaries").fetchone()[0] == 0   # all or nothing
    con.close()
    geo.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"00070"},'
                   '"geometry":{"type":"Polygon","coordinates":[[[105,21],[106,21],[105,21]]]}}]}')
    r = run("import", "boundaries", str(geo), "--era", "t", "--db", db)
    assert r.returncode == 1 and "00070" in r.stderr


def test_serve_stops_gracefully_finishing_in_flight(tmp_path):
    """SIGTERM while requests are running: they complete, then the process exits 0."""
    s = Server(str(tmp_path), ["--argon-ops", "4", "--argon-mem-kib", "65536"])
    results = []

    def slow_login():
        try:
            r = requests.post(s.url + "/api/v1/auth/login", json={"username": "admin", "password": "wrong-password-x"},
                              timeout=30)
            results.append(r.status_code)
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    threads = [threading.Thread(target=slow_login) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    rc = s.proc.wait(timeout=30)
    s.log.close()
    s.drop()
    assert rc == 0
    assert all(isinstance(x, int) and x in (401, 429) for x in results), results
    log = open(s.log_path).read()
    assert "msg=stopped" in log


def test_stopping_server_turns_new_clients_away_with_503(tmp_path):
    """While in-flight requests finish, a client that connects after SIGTERM gets a JSON 503
    with Retry-After and a closed connection, so a load balancer retries on another node."""
    s = Server(str(tmp_path), ["--argon-ops", "8", "--argon-mem-kib", "131072"])
    done = []

    def slow_login():
        r = requests.post(s.url + "/api/v1/auth/login", json={"username": "admin", "password": "wrong-password-x"},
                          timeout=30)
        done.append(r.status_code)

    threads = [threading.Thread(target=slow_login) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    late = requests.get(s.url + "/api/v1/units/00004", timeout=10) if s.proc.poll() is None else None
    for t in threads:
        t.join()
    assert s.proc.wait(timeout=30) == 0
    s.log.close()
    s.drop()
    assert all(x in (401, 429) for x in done), done
    assert late is not None, "the server stopped before the late client could connect; the slow logins were too fast"
    assert late.status_code == 503, late.text
    assert late.json()["error"]["code"] == "unavailable"
    assert late.headers.get("Retry-After") == "1"
    assert late.headers.get("Connection", "").lower() == "close"
