"""End-to-end API tests: the real `cityos` binary against a real database.

Environment:
  CITYOS_BIN      the binary (default: build/cityos)
  CITYOS_TEST_DB  "sqlite" (default) or a postgresql:// URL of a server where the
                  tests may create databases (each server fixture gets a fresh one)
"""
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CITYOS_BIN", os.path.join(ROOT, "build", "cityos"))
TEST_DB = os.environ.get("CITYOS_TEST_DB", "sqlite")
ADMIN_PASSWORD = "Quan-tri-vien-2026!"

# Fast password hashing for tests (production defaults are much stronger).
FAST_ARGON = ["--argon-ops", "1", "--argon-mem-kib", "8192"]
# Officials need a second factor by default (setting mfa_officials); most tests are about
# something else and turn that default off. test_oidc_mfa.py tests the default itself.
NO_OFFICIAL_MFA = ["--mfa-officials", "0"]


def is_postgres():
    return TEST_DB.startswith("postgres")


def _pg_url_with_db(url, dbname):
    p = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + dbname, p.query, p.fragment))


class Server:
    """One running `cityos serve` with its own fresh database."""

    def __init__(self, tmp, extra_args=(), official_mfa=False):
        self.tmp = tmp
        if is_postgres():
            dbname = "cityos_t_" + secrets.token_hex(6)
            subprocess.run(["psql", TEST_DB, "-qAtc", f"CREATE DATABASE {dbname}"], check=True,
                           capture_output=True)
            self.db = _pg_url_with_db(TEST_DB, dbname)
            self.dbname = dbname
        else:
            self.db = os.path.join(tmp, "cityos.db")
            self.dbname = None
        self.common = ["--db", self.db, "--data-dir", os.path.join(ROOT, "data"),
                       "--web-dir", os.path.join(ROOT, "web")] + FAST_ARGON \
            + ([] if official_mfa else NO_OFFICIAL_MFA) + list(extra_args)
        # The first administrator, created before the server starts.
        out = self.cli("user", "add", "--kind", "official", "--username", "admin",
                       "--name", "Quản trị viên", "--role", "admin", "--password", ADMIN_PASSWORD)
        assert out.returncode == 0, out.stderr
        self.log_path = os.path.join(tmp, "server.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + self.common,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("server did not start in time")
        if not getattr(self, "url", None):
            self.stop()
            raise RuntimeError("server did not start: " + open(self.log_path).read()[-3000:])
        self.admin = self.login("admin", ADMIN_PASSWORD)

    def start_node(self):
        """Another `cityos serve` process on the same database (a second node behind a
        load balancer). Returns (url, process); stop it with process.terminate()."""
        log = open(os.path.join(self.tmp, f"node-{secrets.token_hex(3)}.log"), "w")
        proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + self.common,
                                stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
            if m:
                return m.group(1), proc
        proc.kill()
        raise RuntimeError("second node did not start")

    # --- helpers -------------------------------------------------------------------
    def cli(self, *args, check=False):
        p = subprocess.run([BIN, *args, *self.common], capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def sql(self, query):
        """Runs SQL directly on the database (as an attacker or operator would)."""
        if is_postgres():
            p = subprocess.run(["psql", self.db, "-qAt", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", query],
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            return [tuple(r.split("|")) for r in p.stdout.splitlines() if r]
        con = sqlite3.connect(self.db, timeout=10)
        try:
            cur = con.execute(query)
            rows = cur.fetchall()
            con.commit()
            return [tuple(str(c) if c is not None else "" for c in r) for r in rows]
        finally:
            con.close()

    def client(self, token=None):
        return Client(self.url, token)

    def login(self, username, password):
        r = requests.post(self.url + "/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return Client(self.url, r.json()["token"])

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def drop(self):
        if self.dbname:
            subprocess.run(["psql", TEST_DB, "-qAtc", f"DROP DATABASE IF EXISTS {self.dbname}"],
                           capture_output=True)


class Client:
    def __init__(self, base, token=None):
        self.base = base
        self.s = requests.Session()
        if token:
            self.s.headers["Authorization"] = "Bearer " + token
        self.token = token

    def req(self, method, path, **kw):
        return self.s.request(method, self.base + path, timeout=60, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.req("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.req("PATCH", path, json=json, **kw)


def assert_error(r, status, code=None):
    """Every error is a JSON body {"error": {"code", "message"}} with the right status."""
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body = r.json()
    assert isinstance(body.get("error"), dict), body
    assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory(prefix="cityos-api-") as tmp:
        s = Server(tmp, ["--login-slow-after", "2", "--login-max-failures", "4", "--login-lock", "60"])
        yield s
        rc = s.stop()
        s.drop()
        log = open(s.log_path).read()
        assert "runtime error" not in log, log[-5000:]            # UBSan
        assert "AddressSanitizer" not in log, log[-5000:]
        assert "LeakSanitizer" not in log, log[-5000:]
        assert rc == 0, f"server exited with {rc}: {log[-3000:]}"


@pytest.fixture()
def fresh_server():
    """A server of its own, for tests that damage their database."""
    with tempfile.TemporaryDirectory(prefix="cityos-api-") as tmp:
        s = Server(tmp)
        yield s
        s.stop()
        s.drop()


@pytest.fixture(scope="session")
def anon(server):
    return server.client()


@pytest.fixture(scope="session")
def admin(server):
    return server.admin


def unique(prefix):
    return f"{prefix}{secrets.token_hex(4)}"


def make_cccd(province="001", birth_year=1990, female=False):
    """A CCCD consistent with a birth year and sex (digits 7-12 random)."""
    century = {18: 8, 19: 0, 20: 2, 21: 4, 22: 6}[birth_year // 100]
    digit4 = century + (1 if female else 0)
    return f"{province}{digit4}{birth_year % 100:02d}{secrets.randbelow(10**6):06d}"
