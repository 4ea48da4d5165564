"""Two-factor sign-in (TOTP, RFC 6238) and recovery codes, as request/answer transcripts.

A session of an account that needs the second factor (enrolled, flagged, or an official
under the policy) gets 401 {"second_factor": ...} on every non-public route until
POST /api/v1/me/totp/verify accepts a code; public routes treat it as anonymous.
"""
import base64
import hashlib
import hmac
import struct
import time

import tempfile

from conftest import ADMIN_PASSWORD, Server, assert_error, unique


def totp(secret, t=None, step_offset=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time() if t is None else t) // 30 + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def new_official(server, roles=({"role": "unit_admin", "unit": "00004"},)):
    username = unique("mfa-")
    password = "Mat-khau-" + unique("")
    r = server.admin.post("/api/v1/users", json={"kind": "official", "username": username, "password": password,
                                                 "full_name": "Cán bộ Hai Lớp", "roles": list(roles), "unit": "00004"})
    assert r.status_code == 201, r.text
    return r.json()["id"], username, password


def enrolled(server):
    """An official with TOTP set up; returns (id, username, password, secret, recovery codes)."""
    aid, username, password = new_official(server)
    c = server.login(username, password)
    r = c.post("/api/v1/me/totp/enrol")
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = c.post("/api/v1/me/totp/confirm", json={"code": totp(secret)})
    assert r.status_code == 200, r.text
    return aid, username, password, secret, r.json()["recovery_codes"]


def test_test_helper_matches_rfc6238():
    # RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    seed = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    assert totp(seed, 59) == "287082" and totp(seed, 1111111109) == "081804"


def test_enrolment_gives_uri_qr_and_recovery_codes(server):
    _, username, password = new_official(server)
    c = server.login(username, password)
    assert c.get("/api/v1/me/totp").json() == {"enrolled": False, "pending_enrolment": False, "required": False,
                                               "verified": False, "recovery_codes_left": 0}
    assert_error(c.post("/api/v1/me/totp/confirm", json={"code": "123456"}), 409, "conflict")
    r = c.post("/api/v1/me/totp/enrol")
    assert r.status_code == 201, r.text
    body = r.json()
    secret = body["secret"]
    assert len(secret) == 32 and body["digits"] == 6 and body["period"] == 30
    assert body["otpauth_uri"] == (f"otpauth://totp/cityos%20H%C3%A0%20N%E1%BB%99i:{username}?secret={secret}"
                                   "&issuer=cityos%20H%C3%A0%20N%E1%BB%99i&algorithm=SHA1&digits=6&period=30")
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].endswith("</svg>")
    assert c.get("/api/v1/me/totp").json()["pending_enrolment"] is True
    # The secret is stored; the code is wrong -> 401; the right one -> 10 recovery codes.
    assert_error(c.post("/api/v1/me/totp/confirm", json={"code": "000000" if totp(secret) != "000000" else "111111"}),
                 401, "bad_credentials")
    err = assert_error(c.post("/api/v1/me/totp/confirm", json={}), 422, "validation_failed")
    assert err["field"] == "code"
    r = c.post("/api/v1/me/totp/confirm", json={"code": totp(secret)})
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10 and all(len(x) == 11 and x[5] == "-" for x in codes)
    st = c.get("/api/v1/me/totp").json()
    assert st["enrolled"] and st["required"] and st["verified"] and st["recovery_codes_left"] == 10
    assert_error(c.post("/api/v1/me/totp/enrol"), 409, "conflict")
    # Only hashes are stored.
    stored = [r[0] for r in server.sql("SELECT code_hash FROM oidc_recovery_codes")]
    assert codes[0].replace("-", "") not in stored
    assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in stored


def test_a_new_session_needs_the_second_factor_and_a_code_is_not_replayed(server, anon):
    _, username, password, secret, _ = enrolled(server)
    c = server.login(username, password)
    err = assert_error(c.get("/api/v1/roles"), 401, "unauthenticated")
    assert err["second_factor"] == "required"
    assert c.get("/api/v1/units/00004").status_code in (200, 404)   # public: served as anonymous
    # The code accepted at confirmation cannot be used again (same time step).
    now = time.time()
    if int(now) % 30 < 28:
        assert_error(c.post("/api/v1/me/totp/verify", json={"code": totp(secret, now)}), 401, "bad_credentials")
    # The next step's code is within the window and not yet used.
    r = c.post("/api/v1/me/totp/verify", json={"code": totp(secret, now, step_offset=1)})
    assert r.status_code == 200, r.text
    assert c.get("/api/v1/roles").status_code == 200
    acts = [a for (a,) in server.sql("SELECT action FROM audit_log WHERE action LIKE 'mfa.%' ORDER BY seq")]
    assert "mfa.enrolled" in acts and "mfa.verified" in acts and "mfa.failed" in acts


def test_recovery_codes_work_once(server):
    _, username, password, secret, codes = enrolled(server)
    c = server.login(username, password)
    r = c.post("/api/v1/me/totp/verify", json={"recovery_code": codes[3].upper()})
    assert r.status_code == 200, r.text
    assert c.get("/api/v1/roles").status_code == 200
    assert c.get("/api/v1/me/totp").json()["recovery_codes_left"] == 9
    c2 = server.login(username, password)
    assert_error(c2.post("/api/v1/me/totp/verify", json={"recovery_code": codes[3]}), 401, "bad_credentials")
    err = assert_error(c2.post("/api/v1/me/totp/verify", json={"recovery_code": "abc"}), 422)
    assert err["field"] == "recovery_code"


def test_wrong_codes_slow_the_account_down_without_locking_it(server):
    _, username, password, secret, codes = enrolled(server)
    c = server.login(username, password)
    wrong = "000000" if totp(secret) not in ("000000",) else "999999"
    for _ in range(3):
        assert_error(c.post("/api/v1/me/totp/verify", json={"code": wrong}), 401, "bad_credentials")
    r = c.post("/api/v1/me/totp/verify", json={"recovery_code": codes[0]})
    assert_error(r, 429, "rate_limited")   # even a right answer waits its turn
    assert 1 <= int(r.headers["Retry-After"]) <= 300
    time.sleep(1.1)
    assert c.post("/api/v1/me/totp/verify", json={"recovery_code": codes[0]}).status_code == 200


def test_per_account_flag_forces_enrolment(server):
    aid, username, password = new_official(server)
    r = server.admin.req("PUT", f"/api/v1/oidc/mfa/accounts/{aid}", json={"required": True})
    assert r.status_code == 200, r.text
    c = server.login(username, password)
    err = assert_error(c.get("/api/v1/roles"), 401, "unauthenticated")
    assert err["second_factor"] == "enrolment_required"
    assert c.get("/api/v1/me").status_code == 200
    secret = c.post("/api/v1/me/totp/enrol").json()["secret"]
    assert c.post("/api/v1/me/totp/confirm", json={"code": totp(secret)}).status_code == 200
    assert c.get("/api/v1/roles").status_code == 200
    # Reset by an administrator: the account must enrol again.
    r = server.admin.req("PUT", f"/api/v1/oidc/mfa/accounts/{aid}", json={"reset": True})
    assert r.status_code == 200
    c2 = server.login(username, password)
    assert assert_error(c2.get("/api/v1/roles"), 401)["second_factor"] == "enrolment_required"
    err = assert_error(server.admin.req("PUT", f"/api/v1/oidc/mfa/accounts/{aid}", json={"required": "yes"}), 422)
    assert err["field"] == "required"
    assert_error(server.admin.req("PUT", "/api/v1/oidc/mfa/accounts/99999999", json={"required": True}), 404)
    assert_error(c2.req("PUT", f"/api/v1/oidc/mfa/accounts/{aid}", json={"required": False}), 401)


def test_policy_requires_officials_and_address_limit(fresh_server):
    s = fresh_server
    assert s.admin.get("/api/v1/oidc/mfa/policy").json() == {"require_for_officials": False, "source": "setting"}
    _, username, password = new_official(s)
    citizen_free = s.login(username, password)
    assert citizen_free.get("/api/v1/roles").status_code == 200
    assert_error(citizen_free.get("/api/v1/oidc/mfa/policy"), 403)
    r = s.admin.req("PUT", "/api/v1/oidc/mfa/policy", json={"require_for_officials": True})
    assert r.status_code == 200 and r.json() == {"require_for_officials": True, "source": "administrator"}
    # Existing and new sessions of officials now owe the second factor (the admin too).
    assert assert_error(s.login(username, password).get("/api/v1/roles"), 401)["second_factor"] == \
        "enrolment_required"
    assert assert_error(s.admin.get("/api/v1/roles"), 401)["second_factor"] == "enrolment_required"
    # Address limit: 30 wrong codes from one address within 15 min block that address.
    clients = []
    # Users are created by the admin, who now needs a second factor: enrol it first.
    secret = s.admin.post("/api/v1/me/totp/enrol").json()["secret"]
    assert s.admin.post("/api/v1/me/totp/confirm", json={"code": totp(secret)}).status_code == 200
    for _ in range(10):
        aid, u, p = new_official(s)
        c = s.login(u, p)
        sec = c.post("/api/v1/me/totp/enrol").json()["secret"]
        assert c.post("/api/v1/me/totp/confirm", json={"code": totp(sec)}).status_code == 200
        clients.append((s.login(u, p), sec))
    fails = 0
    for c, sec in clients:
        for _ in range(3):
            wrong = "000000" if totp(sec) != "000000" else "111111"
            r = c.post("/api/v1/me/totp/verify", json={"code": wrong})
            if r.status_code == 429:
                break
            assert r.status_code == 401
            fails += 1
    assert fails == 30
    c, sec = clients[0]
    r = c.post("/api/v1/me/totp/verify", json={"code": totp(sec)})
    assert_error(r, 429, "rate_limited")
    assert 800 <= int(r.headers["Retry-After"]) <= 900


def test_officials_need_the_second_factor_by_default():
    """A fresh install (setting mfa_officials left at 1): the first administrator, an
    official, cannot use the API before enrolling; citizens are not affected; an
    administrator's explicit choice then overrides the setting."""
    with tempfile.TemporaryDirectory(prefix="cityos-mfa-") as tmp:
        s = Server(tmp, official_mfa=True)
        try:
            err = assert_error(s.admin.get("/api/v1/roles"), 401)
            assert err["second_factor"] == "enrolment_required"
            assert s.admin.get("/api/v1/me/totp").json()["required"] is True
            secret = s.admin.post("/api/v1/me/totp/enrol").json()["secret"]
            assert s.admin.post("/api/v1/me/totp/confirm", json={"code": totp(secret)}).status_code == 200
            assert s.admin.get("/api/v1/roles").status_code == 200
            assert s.admin.get("/api/v1/oidc/mfa/policy").json() == {"require_for_officials": True,
                                                                     "source": "setting"}
            # A new session of the same official owes the code again.
            again = s.login("admin", ADMIN_PASSWORD)
            assert assert_error(again.get("/api/v1/roles"), 401)["second_factor"] == "required"
            r = s.admin.req("PUT", "/api/v1/oidc/mfa/policy", json={"require_for_officials": False})
            assert r.json() == {"require_for_officials": False, "source": "administrator"}
        finally:
            s.stop()
            s.drop()
