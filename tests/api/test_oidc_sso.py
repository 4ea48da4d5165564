"""Single sign-on of cityos' own screens (citizen portal, officer console, operations
center): the three first-party public clients exist without set-up, their redirect and
post-logout URIs follow the issuer's origin (any host and port), a person signed in to
the provider gets a code at once (no sign-in or consent page), and signing out - through
RP-initiated logout or the old POST /api/v1/auth/logout - ends every screen's tokens.

tests/browser/sso.test.mjs drives the same in Chromium through the screens themselves.
"""
import base64
import hashlib
import secrets
import urllib.parse

import pytest
import requests

from conftest import assert_error, unique

APPS = {
    "cityos-portal": "/portal/",
    "cityos-console": "/console/",
    "cityos-ops": "/ops/",
}


def pkce():
    v = secrets.token_urlsafe(48)
    c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).decode().rstrip("=")
    return v, c


def authorize(server, client_id, cookie=None, redirect_uri=None, **extra):
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id,
              "redirect_uri": redirect_uri or server.url + APPS[client_id],
              "scope": "openid profile offline_access", "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    r = requests.get(server.url + "/api/v1/oidc/authorize", params=params, allow_redirects=False,
                     cookies={"cityos_session": cookie} if cookie else None)
    return r, params, verifier


def sign_in(server, username, password):
    """A sign-in at the provider (what its page does): the session token, also the cookie."""
    r = requests.post(server.url + "/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    assert r.cookies.get("cityos_session") == r.json()["token"]
    return r.json()["token"]


def code_flow(server, client_id, cookie):
    """Authorize with the provider session only (no page), then exchange the code."""
    r, params, verifier = authorize(server, client_id, cookie)
    assert r.status_code == 302, r.text
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == params["redirect_uri"]
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert q["state"] == params["state"]
    assert q["iss"] == server.url + "/api/v1/oidc"
    t = requests.post(server.url + "/api/v1/oidc/token",
                      data={"grant_type": "authorization_code", "code": q["code"], "client_id": client_id,
                            "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert t.status_code == 200, t.text
    return t.json()


@pytest.fixture(scope="module")
def person(server, admin):
    username, pw = unique("sso"), "Mat-khau-SSO-2026!"
    r = admin.post("/api/v1/users", json={"kind": "official", "username": username, "full_name": "Trần Văn Điều Hành",
                                          "password": pw, "unit": "00004",
                                          "roles": [{"role": "officer", "unit": "00004"},
                                                    {"role": "operator", "unit": "00004"}]})
    assert r.status_code == 201, r.text
    return username, pw


def test_first_party_clients_exist_without_setup(server, admin):
    r = admin.get("/api/v1/oidc/clients")
    assert r.status_code == 200, r.text
    got = {c["client_id"]: c for c in r.json()["items"]}
    for cid, path in APPS.items():
        c = got[cid]
        assert c["type"] == "public" and c["first_party"] is True
        assert c["redirect_uris"] == [path] and c["post_logout_redirect_uris"] == [path]
        assert "openid" in c["scope"].split()
    assert {"unit", "roles"} <= set(got["cityos-console"]["scope"].split())


def test_restart_keeps_one_registration(fresh_server):
    """Registration at start is an upsert: a second start (or a second node) adds nothing,
    and an administrator's changes to the screens' URIs are put back."""
    fresh_server.sql("UPDATE oidc_clients SET redirect_uris = '[\"https://evil.example/cb\"]'"
                     " WHERE client_id = 'cityos-portal'")
    url, proc = fresh_server.start_node()
    try:
        rows = fresh_server.sql("SELECT client_id, redirect_uris FROM oidc_clients"
                                " WHERE client_id LIKE 'cityos-%' ORDER BY client_id")
        assert rows == [("cityos-console", '["/console/"]'), ("cityos-ops", '["/ops/"]'),
                        ("cityos-portal", '["/portal/"]')]
        # the second node, on another port, accepts its own origin
        r = requests.get(url + "/api/v1/oidc/authorize", allow_redirects=False,
                         params={"response_type": "code", "client_id": "cityos-ops", "redirect_uri": url + "/ops/",
                                 "scope": "openid", "code_challenge": pkce()[1], "code_challenge_method": "S256"})
        assert r.status_code == 302 and r.headers["Location"].startswith("/sso/authorize.html?request=")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_redirect_uri_is_the_issuers_origin_exactly(server):
    # without a provider session: to the sign-in page
    r, _, _ = authorize(server, "cityos-portal")
    assert r.status_code == 302 and r.headers["Location"].startswith("/sso/authorize.html?request=")
    port = urllib.parse.urlsplit(server.url).port
    for bad in [f"http://127.0.0.1:{port + 1}/portal/", f"http://localhost:{port}/portal/",
                server.url + "/portal", server.url + "/portal/x", server.url + "/console/",
                "https://evil.example/portal/", "/portal/"]:
        r, _, _ = authorize(server, "cityos-portal", redirect_uri=bad)
        assert_error(r, 422, "validation_failed")
        assert "Location" not in r.headers
    # the origin follows the Host header (no public_url): another name of this machine works
    host_url = f"http://localhost:{port}/ops/"
    verifier, challenge = pkce()
    r = requests.get(f"http://localhost:{port}/api/v1/oidc/authorize", allow_redirects=False,
                     params={"response_type": "code", "client_id": "cityos-ops", "redirect_uri": host_url,
                             "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
    assert r.status_code == 302, r.text
    # PKCE stays required for these public clients
    r, _, _ = authorize(server, "cityos-portal", code_challenge=None, code_challenge_method=None)
    assert r.status_code == 302 and "error=invalid_request" in r.headers["Location"]


def test_one_sign_in_serves_all_three(server, person):
    cookie = sign_in(server, *person)
    tokens = {cid: code_flow(server, cid, cookie) for cid in APPS}
    access = {t["access_token"] for t in tokens.values()}
    assert len(access) == 3
    for cid, t in tokens.items():
        me = requests.get(server.url + "/api/v1/me", headers={"Authorization": "Bearer " + t["access_token"]})
        assert me.status_code == 200, me.text
        assert me.json()["username"] == person[0]
        # a first-party token may use the API as the person (a third party's reaches only userinfo)
        d = requests.get(server.url + "/api/v1/devices?limit=1", headers={"Authorization": "Bearer " + t["access_token"]})
        assert d.status_code == 200, d.text
    # all three come from the one provider session
    sids = {server.sql(f"SELECT session_id FROM oidc_access WHERE client_id = '{cid}' ORDER BY token_id DESC LIMIT 1")[0][0]
            for cid in APPS}
    assert len(sids) == 1


def test_third_party_client_still_asks(server, admin, person):
    """Only first-party clients skip the page: a registered third party gets the consent page."""
    c = admin.post("/api/v1/oidc/clients", json={"name": "Ứng dụng khác", "type": "public",
                                                  "redirect_uris": ["http://127.0.0.1:9/cb"], "scope": "openid profile"})
    assert c.status_code == 201, c.text
    cookie = sign_in(server, *person)
    verifier, challenge = pkce()
    r = requests.get(server.url + "/api/v1/oidc/authorize", allow_redirects=False, cookies={"cityos_session": cookie},
                     params={"response_type": "code", "client_id": c.json()["client_id"],
                             "redirect_uri": "http://127.0.0.1:9/cb", "scope": "openid",
                             "code_challenge": challenge, "code_challenge_method": "S256"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/sso/authorize.html?request=")
    rid = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["request"][0]
    g = requests.get(server.url + f"/api/v1/oidc/requests/{rid}", cookies={"cityos_session": cookie})
    assert g.status_code == 200 and g.json()["first_party"] is False and g.json()["signed_in"] is True


def test_access_token_in_cookie_is_not_a_provider_session(server, person):
    cookie = sign_in(server, *person)
    t = code_flow(server, "cityos-portal", cookie)
    r, _, _ = authorize(server, "cityos-console", t["access_token"])
    assert r.status_code == 302 and r.headers["Location"].startswith("/sso/authorize.html?request=")


def gone(server, tokens):
    for cid, t in tokens.items():
        me = requests.get(server.url + "/api/v1/me", headers={"Authorization": "Bearer " + t["access_token"]})
        assert me.status_code == 401, (cid, me.text)
        rr = requests.post(server.url + "/api/v1/oidc/token",
                           data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "client_id": cid})
        assert rr.status_code == 400 and rr.json()["error"] == "invalid_grant", (cid, rr.text)


def test_signing_out_of_one_signs_out_of_all(server, person):
    cookie = sign_in(server, *person)
    tokens = {cid: code_flow(server, cid, cookie) for cid in APPS}
    # the console signs out (RP-initiated, with its registered post-logout URI)
    state = secrets.token_urlsafe(8)
    r = requests.get(server.url + "/api/v1/oidc/logout", allow_redirects=False,
                     params={"id_token_hint": tokens["cityos-console"]["id_token"],
                             "post_logout_redirect_uri": server.url + "/console/", "state": state})
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == server.url + "/console/?state=" + state
    gone(server, tokens)
    # the provider session is over: the next authorize goes to the sign-in page
    r, _, _ = authorize(server, "cityos-ops", cookie)
    assert r.headers["Location"].startswith("/sso/authorize.html?request=")
    # another screen's URI is not a registered post-logout URI of the console
    cookie = sign_in(server, *person)
    t = code_flow(server, "cityos-console", cookie)
    r = requests.get(server.url + "/api/v1/oidc/logout", allow_redirects=False,
                     params={"id_token_hint": t["id_token"], "post_logout_redirect_uri": server.url + "/portal/"})
    assert_error(r, 422, "validation_failed")


def test_cookie_logout_ends_the_screens_too(server, person):
    """POST /api/v1/auth/logout of the provider session (the root shell's sign-out)."""
    cookie = sign_in(server, *person)
    tokens = {cid: code_flow(server, cid, cookie) for cid in APPS}
    r = requests.post(server.url + "/api/v1/auth/logout", cookies={"cityos_session": cookie})
    assert r.status_code == 200, r.text
    gone(server, tokens)


def test_screen_token_logout_ends_the_provider_session(server, person):
    """A screen that signs out with POST /api/v1/auth/logout and its access token ends the
    provider session it came from, so the other screens and the cookie end as well."""
    cookie = sign_in(server, *person)
    tokens = {cid: code_flow(server, cid, cookie) for cid in APPS}
    r = requests.post(server.url + "/api/v1/auth/logout",
                      headers={"Authorization": "Bearer " + tokens["cityos-ops"]["access_token"]})
    assert r.status_code == 200, r.text
    gone(server, tokens)
    me = requests.get(server.url + "/api/v1/me", cookies={"cityos_session": cookie})
    assert me.status_code == 401


def test_a_session_owing_a_second_factor_gets_the_page(server, admin):
    """No code without the second factor: a pending session is anonymous at authorize."""
    username, pw = unique("sso2fa"), "Mat-khau-SSO-2026!"
    r = admin.post("/api/v1/users", json={"kind": "official", "username": username, "full_name": "Lê Thị Hai Lớp",
                                          "password": pw, "unit": "00004",
                                          "roles": [{"role": "officer", "unit": "00004"}]})
    assert r.status_code == 201, r.text
    r = admin.req("PUT", f"/api/v1/oidc/mfa/accounts/{r.json()['id']}", json={"required": True})
    assert r.status_code == 200, r.text
    cookie = sign_in(server, username, pw)
    r, _, _ = authorize(server, "cityos-console", cookie)
    assert r.status_code == 302 and r.headers["Location"].startswith("/sso/authorize.html?request=")
