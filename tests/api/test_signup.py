"""Citizen sign-up bound to the population register, and password reset, through a
one-time code in the notification outbox (src/signup/).

The code is read from notification_outbox with server.sql, as an SMS or mail gateway
would. Throttle tests send from their own loopback source address (127.0.0.x) so the
per-address limit does not spill into the other tests.
"""
import http.client
import json
import re
import secrets
import urllib.parse

import requests

from conftest import assert_error, make_cccd, unique

HEADER = "cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id\n"
PASSWORD = "Mat-khau-cong-dan-1"


def seed(server, tmp_path, people):
    """people: [(cccd, full_name, birth_date, sex)] into the register."""
    p = tmp_path / f"reg-{secrets.token_hex(3)}.csv"
    p.write_text(HEADER + "".join(f"{c},{n},{b},{s},2025,00004,,,\n" for c, n, b, s in people), encoding="utf-8")
    out = server.cli("population", "import", str(p))
    assert out.returncode == 0, out.stderr
    assert f"{len(people)} loaded" in out.stdout, out.stdout


def resident(server, tmp_path, female=True, name="Phạm Thị Thu Hà"):
    cccd = make_cccd(birth_year=1992, female=female)
    seed(server, tmp_path, [(cccd, name, "1992-07-15", "female" if female else "male")])
    return cccd


def mailbox():
    return f"{unique('dan')}@example.vn"


def outbox(server, destination):
    return server.sql(f"SELECT channel, subject, body, sent_at FROM notification_outbox"
                      f" WHERE destination = '{destination}' ORDER BY id")


def code_from(server, destination):
    rows = outbox(server, destination)
    assert rows, "no message in the outbox"
    m = re.search(r"\b(\d{6})\b", rows[-1][2])
    assert m, rows[-1]
    return m.group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1000000:06d}"


def post_from(server, ip, path, body):
    """POST from a given loopback source address."""
    u = urllib.parse.urlsplit(server.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(ip, 0))
    try:
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def start(anon, cccd, dest, birth="1992-07-15", channel="email"):
    return anon.post("/api/v1/signup/start", json={"cccd": cccd, "birth_date": birth, "channel": channel,
                                                   "destination": dest})


def test_start_validates_input(anon):
    good = {"cccd": make_cccd(), "birth_date": "1990-01-01", "channel": "sms", "destination": "0912345678"}
    for field, value in [("cccd", "12345"), ("cccd", None), ("birth_date", "1990-02-30"), ("channel", "fax"),
                         ("destination", "12345"), ("destination", "0912 345 678")]:
        body = dict(good, **{field: value})
        assert assert_error(anon.post("/api/v1/signup/start", json=body), 422, "validation_failed") is not None
        assert anon.post("/api/v1/signup/start", json=body).json()["error"]["field"] == field
    body = dict(good, channel="email", destination="not-an-address")
    assert anon.post("/api/v1/signup/start", json=body).json()["error"]["field"] == "destination"
    r = anon.post("/api/v1/signup/finish", json={"cccd": make_cccd(), "code": "12ab56", "password": PASSWORD})
    assert assert_error(r, 422)["field"] == "code"


def test_unknown_cccd_and_wrong_birth_date_answer_like_a_real_one(server, anon, tmp_path):
    cccd = resident(server, tmp_path)
    d_real, d_date, d_unknown = mailbox(), mailbox(), mailbox()
    r_real = start(anon, cccd, d_real)
    r_date = start(anon, cccd, d_date, birth="1992-07-16")
    r_unknown = start(anon, make_cccd(birth_year=1992, female=True), d_unknown)
    assert r_real.status_code == r_date.status_code == r_unknown.status_code == 202
    assert r_real.json() == r_date.json() == r_unknown.json() == {"status": "accepted", "expires_in": 600}
    assert len(outbox(server, d_real)) == 1
    assert outbox(server, d_date) == [] and outbox(server, d_unknown) == []
    actions = [r[0] for r in server.sql(f"SELECT action FROM audit_log WHERE record_type = 'resident'"
                                        f" AND record_id = '{cccd}' ORDER BY seq")]
    assert actions == ["signup.start", "signup.start_refused"]


def test_signup_creates_the_citizen_from_the_register(server, anon, tmp_path):
    cccd = resident(server, tmp_path, name="Phạm Thị Thu Hà")
    dest = "+84912345678"
    assert start(anon, cccd, dest, channel="sms").status_code == 202
    (channel, subject, body, sent_at), = outbox(server, dest)
    assert channel == "sms" and sent_at == ""
    assert "Mã xác nhận" in body and "10 phút" in body and "cityos" in subject
    code = code_from(server, dest)
    stored, = server.sql(f"SELECT code_hash FROM signup_codes WHERE subject = '{cccd}'")
    assert code not in stored[0]                                   # hashed, not in clear
    # the password policy of identity, checked before the code is tried
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": "short"})
    assert assert_error(r, 422, "validation_failed")["field"] == "password"
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": cccd})
    assert assert_error(r, 422)["field"] == "password"
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": wrong(code), "password": PASSWORD})
    assert assert_error(r, 422)["field"] == "code"
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == cccd and r.json()["kind"] == "citizen"
    me = server.login(cccd, PASSWORD).get("/api/v1/me").json()
    assert me["kind"] == "citizen" and me["name"] == "Phạm Thị Thu Hà"
    row, = server.sql(f"SELECT birth_date, sex, full_name FROM accounts WHERE username = '{cccd}'")
    assert row == ("1992-07-15", "female", "Phạm Thị Thu Hà")
    acts = [r[0] for r in server.sql(f"SELECT action FROM audit_log WHERE action IN ('user.create', 'signup.complete',"
                                     f" 'signup.code_failed') ORDER BY seq")]
    assert acts[-3:] == ["signup.code_failed", "user.create", "signup.complete"]
    # the code is spent; a second sign-up sends nothing and answers alike
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": PASSWORD})
    assert assert_error(r, 422)["field"] == "code"
    assert start(anon, cccd, dest, channel="sms").status_code == 202
    assert len(outbox(server, dest)) == 1


def test_code_allows_five_tries_and_expires(server, anon, tmp_path):
    cccd = resident(server, tmp_path)
    dest = mailbox()
    assert start(anon, cccd, dest).status_code == 202
    code = code_from(server, dest)
    for _ in range(5):
        r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": wrong(code), "password": PASSWORD})
        assert assert_error(r, 422)["field"] == "code"
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": PASSWORD})
    assert assert_error(r, 422)["field"] == "code"                # exhausted, even with the right code
    assert server.sql(f"SELECT COUNT(*) FROM accounts WHERE username = '{cccd}'") == [("0",)]
    # a new code; pushed past its 10 minutes it no longer works
    assert start(anon, cccd, dest).status_code == 202
    code = code_from(server, dest)
    server.sql(f"UPDATE signup_codes SET expires_at = created_at - 1 WHERE subject = '{cccd}'")
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": PASSWORD})
    assert assert_error(r, 422)["field"] == "code"


def test_throttle_per_cccd_and_per_address(server):
    ip = f"127.0.{secrets.randbelow(200) + 20}.{secrets.randbelow(200) + 20}"
    cccd = make_cccd()           # not in the register: throttled all the same
    body = {"cccd": cccd, "birth_date": "1990-01-01", "channel": "sms", "destination": "0912345678"}
    for _ in range(5):
        assert post_from(server, ip, "/api/v1/signup/start", body)[0] == 202
    status, headers, raw = post_from(server, ip, "/api/v1/signup/start", body)
    assert status == 429 and json.loads(raw)["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) > 0
    # the same address keeps going with other CCCDs until its own limit (20 in all)
    for i in range(14):
        status = post_from(server, ip, "/api/v1/signup/start", dict(body, cccd=make_cccd()))[0]
        assert status == 202, i
    assert post_from(server, ip, "/api/v1/signup/start", dict(body, cccd=make_cccd()))[0] == 429
    assert post_from(server, ip, "/api/v1/password-reset/start", {"username": "admin"})[0] == 429


def test_password_reset_through_the_same_channel(server, anon, tmp_path):
    cccd = resident(server, tmp_path, female=False, name="Đỗ Minh Quân")
    dest = mailbox()
    assert start(anon, cccd, dest).status_code == 202
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code_from(server, dest), "password": PASSWORD})
    assert r.status_code == 201, r.text
    old = server.login(cccd, PASSWORD)
    assert old.get("/api/v1/me").status_code == 200
    # unknown user names answer the same and send nothing
    before = server.sql("SELECT COUNT(*) FROM notification_outbox")
    r = anon.post("/api/v1/password-reset/start", json={"username": unique("khong-co-")})
    assert r.status_code == 202 and r.json() == {"status": "accepted", "expires_in": 600}
    assert server.sql("SELECT COUNT(*) FROM notification_outbox") == before
    r = anon.post("/api/v1/password-reset/start", json={"username": cccd})
    assert r.status_code == 202 and r.json() == {"status": "accepted", "expires_in": 600}
    rows = outbox(server, dest)
    assert len(rows) == 2 and "đặt lại mật khẩu" in rows[-1][2]
    code = code_from(server, dest)
    new_pw = "Mat-khau-moi-2026"
    r = anon.post("/api/v1/password-reset/finish", json={"username": cccd, "code": code, "new_password": "123"})
    assert assert_error(r, 422)["field"] == "new_password"
    r = anon.post("/api/v1/password-reset/finish", json={"username": cccd, "code": wrong(code), "new_password": new_pw})
    assert assert_error(r, 422)["field"] == "code"
    r = anon.post("/api/v1/password-reset/finish", json={"username": cccd, "code": code, "new_password": new_pw})
    assert r.status_code == 200, r.text
    assert_error(old.get("/api/v1/me"), 401)                      # every session revoked
    r = requests.post(server.url + "/api/v1/auth/login", json={"username": cccd, "password": PASSWORD})
    assert r.status_code == 401
    assert server.login(cccd, new_pw).get("/api/v1/me").status_code == 200
    r = anon.post("/api/v1/password-reset/finish", json={"username": cccd, "code": code, "new_password": new_pw})
    assert assert_error(r, 422)["field"] == "code"                # spent
    acts = [r[0] for r in server.sql("SELECT action FROM audit_log WHERE action LIKE 'password.reset%' ORDER BY seq")]
    assert acts[-4:] == ["password.reset_refused", "password.reset_start", "password.reset_code_failed",
                         "password.reset"]
