"""Sign-in, sessions, sign-out and password changes, as request/answer transcripts.

The shared server runs with --login-slow-after 2 --login-max-failures 4 --login-lock 60:
after 2 consecutive failures each attempt must wait 2^(n-2) s (429 rate_limited with
Retry-After), the 4th failure locks the account for 60 s (423 account_locked). Every test
uses accounts of its own, so one test's throttling never reaches another.
"""
import time

import requests

from conftest import assert_error, make_cccd, unique

LOGIN = "/api/v1/auth/login"


# --- helpers -----------------------------------------------------------------------------

def new_official(server, roles=(), unit=None):
    """admin: POST /api/v1/users {kind: official, ...} -> 201. Returns (id, username, password)."""
    username = unique("auth-")
    password = "Mat-khau-" + unique("")
    body = {"kind": "official", "username": username, "password": password,
            "full_name": "Cán bộ Thử Đăng Nhập", "roles": list(roles)}
    if unit:
        body["unit"] = unit
    r = server.admin.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], username, password


def login(server, username, password, **kw):
    return requests.post(server.url + LOGIN, json={"username": username, "password": password}, timeout=60, **kw)


def me(server, token=None, cookie=None):
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if cookie:
        headers["Cookie"] = "cityos_session=" + cookie
    return requests.get(server.url + "/api/v1/me", headers=headers, timeout=60)


def cookie_attrs(set_cookie):
    """'a=b; Path=/; HttpOnly' -> ('a', 'b', {'path': '/', 'httponly': True})."""
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k.lower()] = v if eq else True
    return name, value, attrs


def throttle_row(server, account_id):
    row = server.sql(f"SELECT failed_count, COALESCE(locked_until, 0) FROM accounts WHERE id = {account_id}")[0]
    return int(row[0]), int(row[1])


# --- sign-in -----------------------------------------------------------------------------

def test_login_success_token_cookie_and_principal(server):
    uid, username, password = new_official(server, roles=[{"role": "officer", "unit": "00070"}], unit="00070")

    # POST /api/v1/auth/login {username, password}  (user names are case-insensitive)
    r = login(server, username.upper(), password)
    assert r.status_code == 200, r.text
    body = r.json()
    token = body["token"]
    assert token.startswith("cs_") and len(token) == 46
    now_ms = time.time() * 1000
    assert now_ms < body["expires_at"] <= now_ms + 9 * 3600 * 1000
    p = body["principal"]
    assert p["id"] == uid and p["kind"] == "official" and p["username"] == username
    assert p["name"] == "Cán bộ Thử Đăng Nhập"
    assert p["unit"]["code"] == "00070" and p["unit"]["era"] == "2025"
    assert {"permission": "users.read", "unit": p["unit"]} in p["grants"]

    # Set-Cookie: cityos_session=<token>; Path=/; HttpOnly; SameSite=Strict; Max-Age=...
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "cityos_session" and value == token
    assert attrs.get("httponly") is True
    assert attrs.get("samesite") == "Strict"
    assert attrs.get("path") == "/"
    assert 0 < int(attrs["max-age"]) <= 9 * 3600
    assert "secure" not in attrs                       # plain http here; https adds Secure

    # GET /api/v1/me with the cookie alone (no Authorization header) -> 200, that account
    r = me(server, cookie=token)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == uid and r.json()["roles"] == [{"role": "officer", "unit": p["unit"]}]
    # ... and with the bearer token alone
    assert me(server, token=token).json()["session_id"] == r.json()["session_id"]
    # GET /api/v1/me without either -> 401 unauthenticated
    assert_error(me(server), 401, "unauthenticated")

    # Behind a TLS proxy the cookie is also Secure.
    r = login(server, username, password, headers={"X-Forwarded-Proto": "https"})
    assert cookie_attrs(r.headers["Set-Cookie"])[2].get("secure") is True


def test_login_wrong_password_and_unknown_user_look_alike(server):
    _, username, password = new_official(server)
    # wrong password -> 401 bad_credentials
    wrong = assert_error(login(server, username, password + "x"), 401, "bad_credentials")
    # unknown user -> 401 with exactly the same answer (no user-name probing)
    unknown = assert_error(login(server, unique("nobody-"), password), 401, "bad_credentials")
    assert wrong == unknown


def test_unknown_user_is_throttled_like_a_real_one(server):
    """A 429 or 423 must not tell that an account exists (for citizens the user name is
    their CCCD): an unknown name goes through exactly the same steps."""
    _, real, _ = new_official(server)
    ghost = unique("khong-co-")
    answers = {}
    for name in (real, ghost):
        seen = []
        for _ in range(2):
            seen.append(login(server, name, "wrong-password-x").status_code)
        r = login(server, name, "wrong-password-x")
        seen.append((r.status_code, r.headers.get("Retry-After")))
        answers[name] = seen
    assert answers[real] == answers[ghost] == [401, 401, (429, "1")]
    time.sleep(1.05)
    assert login(server, real, "x" * 12).status_code == login(server, ghost, "x" * 12).status_code == 401
    r1, r2 = login(server, real, "x" * 12), login(server, ghost, "x" * 12)
    assert (r1.status_code, r1.headers.get("Retry-After")) == (r2.status_code, r2.headers.get("Retry-After")) \
        == (429, "2")
    time.sleep(2.05)
    r1, r2 = login(server, real, "x" * 12), login(server, ghost, "x" * 12)
    assert (r1.status_code, r1.headers.get("Retry-After")) == (r2.status_code, r2.headers.get("Retry-After")) \
        == (423, "60")


def test_login_field_validation(server, anon):
    cases = [
        ({"password": "x"}, "username"),                        # missing
        ({"username": "", "password": "x"}, "username"),        # empty
        ({"username": 42, "password": "x"}, "username"),        # not a string
        ({"username": ["admin"], "password": "x"}, "username"),
        ({"username": "admin"}, "password"),
        ({"username": "admin", "password": ""}, "password"),
        ({"username": "admin", "password": None}, "password"),
        ({"username": "admin", "password": 123456789012}, "password"),
    ]
    for body, field in cases:
        r = anon.post(LOGIN, json=body)
        err = assert_error(r, 422, "validation_failed")
        assert err["field"] == field, (body, err)
    # Not an object / no body at all -> 400
    assert_error(anon.post(LOGIN, json=["admin", "x"]), 400, "invalid_json")
    assert_error(anon.post(LOGIN, data=b"", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    # None of these counted as a failed sign-in for admin.
    assert server.sql("SELECT failed_count FROM accounts WHERE username = 'admin'")[0][0] == "0"


def test_throttle_then_lock_then_unlock(server):
    uid, username, password = new_official(server)

    # 1st and 2nd failures: plain 401
    for _ in range(2):
        assert_error(login(server, username, "wrong-password-1"), 401, "bad_credentials")
    assert throttle_row(server, uid)[0] == 2

    # 3rd attempt right away: 429 rate_limited, Retry-After: 1 (2^(2-2) s), not counted
    r = login(server, username, password)            # even the right password must wait
    assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "1"
    assert throttle_row(server, uid)[0] == 2

    # After waiting, the next attempt goes through (a failure again: 3 in a row)
    time.sleep(1.05)
    assert_error(login(server, username, "wrong-password-2"), 401, "bad_credentials")
    r = login(server, username, "wrong-password-3")
    assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "2"             # 2^(3-2) s
    time.sleep(2.05)

    # 4th failure: 423 account_locked, Retry-After: 60 (the lock duration)
    r = login(server, username, "wrong-password-4")
    assert_error(r, 423, "account_locked")
    assert 59 <= int(r.headers["Retry-After"]) <= 60
    failed, locked_until = throttle_row(server, uid)
    assert locked_until > time.time() * 1000 + 55000

    # While locked even the right password is refused, with the time left.
    r = login(server, username, password)
    assert_error(r, 423, "account_locked")
    assert 1 <= int(r.headers["Retry-After"]) <= 60

    # The lock shows on the account for an administrator.
    acct = server.admin.get(f"/api/v1/users/{uid}").json()
    assert acct["locked_until"] == locked_until

    # An operator ends the lock (locked_until in the past): sign-in works again.
    server.sql(f"UPDATE accounts SET locked_until = 1 WHERE id = {uid}")
    r = login(server, username, password)
    assert r.status_code == 200, r.text
    assert throttle_row(server, uid) == (0, 0)

    # Every attempt left a trace: refused ones as auth.login_failed with the reason.
    entries = server.admin.get(f"/api/v1/audit?record_type=account&record_id={uid}&limit=50").json()["items"]
    reasons = [(e["action"], (e["detail"] or {}).get("reason")) for e in reversed(entries)
               if e["action"].startswith("auth.")]
    assert reasons == [("auth.login_failed", "bad_password")] * 2 + [("auth.login_failed", "rate_limited")] + \
        [("auth.login_failed", "bad_password")] + [("auth.login_failed", "rate_limited")] + \
        [("auth.login_failed", "bad_password"), ("auth.login_failed", "locked"), ("auth.login", None)]
    assert all(e["actor"]["kind"] == "anonymous" for e in entries if e["action"] == "auth.login_failed")


def test_success_resets_the_failure_count(server):
    uid, username, password = new_official(server)
    for _ in range(2):
        assert_error(login(server, username, "not-the-password"), 401, "bad_credentials")
    assert throttle_row(server, uid)[0] == 2
    time.sleep(1.05)                                   # the 1 s wait after 2 failures
    assert login(server, username, password).status_code == 200
    assert throttle_row(server, uid) == (0, 0)
    # Two new failures in a row are plain 401s again, no waiting: the count restarted.
    for _ in range(2):
        assert_error(login(server, username, "not-the-password"), 401, "bad_credentials")
    assert throttle_row(server, uid)[0] == 2


def test_stale_cookie_does_not_block_signing_in(server):
    _, username, password = new_official(server)
    r = login(server, username, password, headers={"Cookie": "cityos_session=cs_" + "A" * 43})
    assert r.status_code == 200, r.text
    # ... but on a route that needs a session it is a 401
    assert_error(me(server, cookie="cs_" + "A" * 43), 401, "unauthenticated")
    assert_error(me(server, token="not-a-token"), 401, "unauthenticated")
    r = requests.get(server.url + "/api/v1/me", headers={"Authorization": "Basic YWRtaW46eA=="}, timeout=60)
    assert_error(r, 401, "unauthenticated")


# --- sessions ------------------------------------------------------------------------------

def test_logout_revokes_the_token_and_clears_the_cookie(server):
    _, username, password = new_official(server)
    t1 = login(server, username, password).json()["token"]
    t2 = login(server, username, password).json()["token"]

    # POST /api/v1/auth/logout (Bearer t1) -> 200 {ok: true}, cookie cleared
    r = requests.post(server.url + "/api/v1/auth/logout", headers={"Authorization": "Bearer " + t1}, timeout=60)
    assert r.status_code == 200 and r.json() == {"ok": True}
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "cityos_session" and value == "" and attrs["max-age"] == "0"
    assert attrs.get("httponly") is True and attrs.get("path") == "/"

    # The same token, as bearer or cookie: 401
    assert_error(me(server, token=t1), 401, "unauthenticated")
    assert_error(me(server, cookie=t1), 401, "unauthenticated")
    r = requests.post(server.url + "/api/v1/auth/logout", headers={"Authorization": "Bearer " + t1}, timeout=60)
    assert_error(r, 401, "unauthenticated")
    # The other session lives on.
    assert me(server, token=t2).status_code == 200

    # Logging out with the cookie alone works too.
    r = requests.post(server.url + "/api/v1/auth/logout", headers={"Cookie": "cityos_session=" + t2}, timeout=60)
    assert r.status_code == 200
    assert_error(me(server, token=t2), 401, "unauthenticated")


def test_expired_session_is_refused(server):
    _, username, password = new_official(server)
    token = login(server, username, password).json()["token"]
    sid = me(server, token=token).json()["session_id"]
    server.sql(f"UPDATE tokens SET expires_at = {int(time.time() * 1000) - 1000} WHERE id = {sid}")
    assert_error(me(server, token=token), 401, "unauthenticated")
    assert_error(me(server, cookie=token), 401, "unauthenticated")


def test_disabled_account_cannot_sign_in_and_loses_its_sessions(server):
    uid, username, password = new_official(server)
    token = login(server, username, password).json()["token"]
    assert me(server, token=token).status_code == 200

    # admin: PATCH /api/v1/users/{id} {status: disabled} -> 200
    r = server.admin.patch(f"/api/v1/users/{uid}", json={"status": "disabled"})
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert_error(me(server, token=token), 401, "unauthenticated")
    # The right password no longer signs in, with the same answer as a wrong one.
    assert_error(login(server, username, password), 401, "bad_credentials")

    # Re-enabled: signs in again (the old session stays revoked).
    assert server.admin.patch(f"/api/v1/users/{uid}", json={"status": "active"}).status_code == 200
    time.sleep(0.05)
    assert login(server, username, password).status_code == 200
    assert_error(me(server, token=token), 401, "unauthenticated")


def test_disabled_in_database_stops_live_sessions(server):
    """Even when the status is changed behind the API's back (tokens not revoked), a
    session of a disabled account is refused."""
    uid, username, password = new_official(server)
    token = login(server, username, password).json()["token"]
    server.sql(f"UPDATE accounts SET status = 'disabled' WHERE id = {uid}")
    assert_error(me(server, token=token), 401, "unauthenticated")
    server.sql(f"UPDATE accounts SET status = 'active' WHERE id = {uid}")
    assert me(server, token=token).status_code == 200


def test_citizen_signs_in_with_cccd(server):
    cccd = make_cccd("001", 1988, female=True)
    password = "Cong-dan-" + unique("")
    r = server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": cccd, "birth_date": "1988-03-08",
                                                 "sex": "female", "full_name": "Trần Thị Bình", "password": password})
    assert r.status_code == 201, r.text
    body = login(server, cccd, password).json()
    assert body["principal"]["kind"] == "citizen" and body["principal"]["cccd"] == cccd
    assert body["principal"]["grants"] == []


def test_api_client_cannot_sign_in_with_a_password(server):
    username = unique("robot-")
    r = server.admin.post("/api/v1/clients", json={"username": username, "name": "Máy đọc"})
    assert r.status_code == 201, r.text
    assert_error(login(server, username, "anything-at-all"), 401, "bad_credentials")


# --- password change -----------------------------------------------------------------------

def test_password_change(server):
    uid, username, password = new_official(server)
    t_here = login(server, username, password).json()["token"]
    t_other = login(server, username, password).json()["token"]
    here = server.client(t_here)
    before = server.sql("SELECT password_hash FROM accounts WHERE id = %d" % uid)[0][0]

    # wrong current password -> 422 on current_password
    r = here.post("/api/v1/me/password", json={"current_password": "not-it-at-all", "new_password": "Mot-mat-khau-moi"})
    assert assert_error(r, 422, "validation_failed")["field"] == "current_password"
    # missing current password
    r = here.post("/api/v1/me/password", json={"new_password": "Mot-mat-khau-moi"})
    assert assert_error(r, 422, "validation_failed")["field"] == "current_password"
    # weak new passwords -> 422 on new_password
    for weak in ["Ngan-1", "123456789012345", username, username.upper(), None, 12345678901]:
        r = here.post("/api/v1/me/password", json={"current_password": password, "new_password": weak})
        assert assert_error(r, 422, "validation_failed")["field"] == "new_password", weak
    # nothing changed so far
    assert server.sql("SELECT password_hash FROM accounts WHERE id = %d" % uid)[0][0] == before
    assert me(server, token=t_other).status_code == 200

    # success -> 200; the other session is signed out, this one stays
    new = "Mat-khau-moi-" + unique("")
    r = here.post("/api/v1/me/password", json={"current_password": password, "new_password": new})
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert me(server, token=t_here).status_code == 200
    assert_error(me(server, token=t_other), 401, "unauthenticated")
    # the old password is refused, the new one works
    assert_error(login(server, username, password), 401, "bad_credentials")
    assert login(server, username, new).status_code == 200
    # audited, without the secret
    e = server.admin.get(f"/api/v1/audit?action=auth.password_change&actor={uid}").json()["items"]
    assert len(e) == 1 and e[0]["record_id"] == str(uid)
    assert new not in str(e) and password not in str(e)


def test_password_change_guesses_are_throttled_like_sign_ins(server):
    """A stolen session is no fast oracle for the password: wrong current passwords count
    as failed sign-ins (slowed after 2, locked at 4), and a right one forgives them."""
    uid, username, password = new_official(server)
    me_ = server.login(username, password)
    url = "/api/v1/me/password"
    guess = {"current_password": "doan-mo-1", "new_password": "Mat-khau-moi-hoan-toan"}
    for _ in range(2):
        assert assert_error(me_.post(url, json=guess), 422, "validation_failed")["field"] == "current_password"
    assert throttle_row(server, uid)[0] == 2
    r = me_.post(url, json=guess)
    assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "1"
    # also at the sign-in form: it is the same counter
    assert_error(login(server, username, password), 429, "rate_limited")
    time.sleep(1.05)
    # the right current password goes through after the wait and forgives the failures
    r = me_.post(url, json={"current_password": password, "new_password": "Mat-khau-moi-hoan-toan"})
    assert r.status_code == 200, r.text
    assert throttle_row(server, uid) == (0, 0)
    failed = server.admin.get(f"/api/v1/audit?action=auth.login_failed&record_id={uid}").json()["items"]
    assert [e["detail"]["reason"] for e in reversed(failed)] == ["bad_password", "bad_password", "rate_limited",
                                                                "rate_limited"]
    assert all(e["actor"]["id"] == uid for e in failed if e["detail"].get("during") == "password_change")
    assert sum(1 for e in failed if e["detail"].get("during") == "password_change") == 3
