"""prompt and max_age on the authorization endpoint (OpenID Connect Core 1.0 §3.1.2.1):
prompt=none answers through the redirect and never shows a page (login_required without
a current provider sign-in, consent_required for a third-party client, whose consent is
asked every time); prompt=login and select_account, and a max_age the sign-in is older
than, ask for a fresh password sign-in even with a live provider session, and the ID
token's auth_time is that new sign-in; prompt=consent shows the consent page even to
cityos' own screens; unknown values are invalid_request.
"""
import base64
import hashlib
import secrets
import time
import urllib.parse

import jwt
import pytest
import requests

from conftest import unique

CB = "http://127.0.0.1:9/cb"


def pkce():
    v = secrets.token_urlsafe(48)
    c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).decode().rstrip("=")
    return v, c


def sign_in(server, username, password):
    r = requests.post(server.url + "/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def authorize(server, client_id, redirect_uri, cookie=None, **extra):
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid profile", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    r = requests.get(server.url + "/api/v1/oidc/authorize", params=params, allow_redirects=False,
                     cookies={"cityos_session": cookie} if cookie else None)
    return r, params, verifier


def back_to_client(server, r, params):
    """The answer went straight back to the client (no page): its query."""
    assert r.status_code == 302, r.text
    assert "html" not in r.headers.get("Content-Type", "")
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == params["redirect_uri"], r.headers["Location"]
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert q["state"] == params["state"] and q["iss"] == server.url + "/api/v1/oidc"
    return q


def page_request(r):
    assert r.status_code == 302, r.text
    assert r.headers["Location"].startswith("/sso/authorize.html?request="), r.headers["Location"]
    return urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["request"][0]


def exchange(server, client_id, params, code, verifier):
    t = requests.post(server.url + "/api/v1/oidc/token",
                      data={"grant_type": "authorization_code", "code": code, "client_id": client_id,
                            "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert t.status_code == 200, t.text
    keys = requests.get(server.url + "/api/v1/oidc/jwks").json()["keys"]
    tok = t.json()["id_token"]
    jwk = next(k for k in keys if k["kid"] == jwt.get_unverified_header(tok)["kid"])
    return jwt.decode(tok, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=client_id,
                      issuer=server.url + "/api/v1/oidc")


def portal(server):
    return "cityos-portal", server.url + "/portal/"


@pytest.fixture(scope="module")
def person(server, admin):
    username, pw = unique("prompt"), "Mat-khau-Prompt-2026!"
    r = admin.post("/api/v1/users", json={"kind": "official", "username": username, "full_name": "Phạm Văn Nhắc",
                                          "password": pw, "unit": "00004",
                                          "roles": [{"role": "officer", "unit": "00004"}]})
    assert r.status_code == 201, r.text
    return username, pw


@pytest.fixture(scope="module")
def third_party(admin):
    r = admin.post("/api/v1/oidc/clients", json={"name": "Ứng dụng bên ngoài " + unique(""), "type": "public",
                                                  "redirect_uris": [CB], "scope": "openid profile"})
    assert r.status_code == 201, r.text
    return r.json()["client_id"]


def test_discovery_lists_prompt_values(server):
    d = requests.get(server.url + "/api/v1/oidc/.well-known/openid-configuration").json()
    assert set(d["prompt_values_supported"]) == {"none", "login", "consent", "select_account"}


def test_prompt_none_without_a_sign_in_is_login_required(server, third_party):
    for cid, uri in (portal(server), (third_party, CB)):
        r, params, _ = authorize(server, cid, uri, prompt="none")
        q = back_to_client(server, r, params)
        assert q["error"] == "login_required" and "code" not in q


def test_prompt_none_with_a_session_gives_the_code_at_once(server, person):
    cookie = sign_in(server, *person)
    cid, uri = portal(server)
    r, params, verifier = authorize(server, cid, uri, cookie, prompt="none")
    q = back_to_client(server, r, params)
    assert "error" not in q
    claims = exchange(server, cid, params, q["code"], verifier)
    assert claims["nonce"] == params["nonce"] and isinstance(claims["auth_time"], int)


def test_prompt_none_third_party_is_consent_required(server, person, third_party):
    cookie = sign_in(server, *person)
    r, params, _ = authorize(server, third_party, CB, cookie, prompt="none")
    q = back_to_client(server, r, params)
    assert q["error"] == "consent_required" and "code" not in q


def test_prompt_none_never_uses_an_access_token_or_a_pending_session(server, admin, person):
    cookie = sign_in(server, *person)
    cid, uri = portal(server)
    r, params, verifier = authorize(server, cid, uri, cookie)
    q = back_to_client(server, r, params)
    t = requests.post(server.url + "/api/v1/oidc/token",
                      data={"grant_type": "authorization_code", "code": q["code"], "client_id": cid,
                            "redirect_uri": uri, "code_verifier": verifier}).json()
    r, params, _ = authorize(server, "cityos-console", server.url + "/console/", t["access_token"], prompt="none")
    assert back_to_client(server, r, params)["error"] == "login_required"
    # a session still owing its second factor
    username, pw = unique("prompt2fa"), "Mat-khau-Prompt-2026!"
    u = admin.post("/api/v1/users", json={"kind": "official", "username": username, "full_name": "Lê Văn Hai",
                                          "password": pw, "unit": "00004",
                                          "roles": [{"role": "officer", "unit": "00004"}]})
    assert u.status_code == 201, u.text
    assert admin.req("PUT", f"/api/v1/oidc/mfa/accounts/{u.json()['id']}", json={"required": True}).status_code == 200
    pending = sign_in(server, username, pw)
    r, params, _ = authorize(server, cid, uri, pending, prompt="none")
    assert back_to_client(server, r, params)["error"] == "login_required"


def test_unknown_or_mixed_prompt_and_bad_max_age_are_invalid_request(server, person):
    cookie = sign_in(server, *person)
    cid, uri = portal(server)
    for extra in ({"prompt": "maybe"}, {"prompt": "none login"}, {"prompt": "login bogus"}, {"max_age": "-1"},
                  {"max_age": "1h"}, {"max_age": ""}, {"max_age": "99999999999"}):
        r, params, _ = authorize(server, cid, uri, cookie, **extra)
        q = back_to_client(server, r, params)
        assert q["error"] == "invalid_request", (extra, q)
    # known values in any order, with repeated spaces
    r, params, _ = authorize(server, cid, uri, cookie, prompt="consent  login")
    page_request(r)


def fresh_sign_in_flow(server, person, **extra):
    """A live session asks for the portal with extra: the page must ask for a new sign-in.
    Returns (old auth_time, new auth_time, authorize time) in seconds."""
    old = sign_in(server, *person)
    cid, uri = portal(server)
    r, params, verifier = authorize(server, cid, uri, old)
    before = exchange(server, cid, params, back_to_client(server, r, params)["code"], verifier)
    time.sleep(1.1)   # auth_time is in seconds
    asked = int(time.time())
    r, params, verifier = authorize(server, cid, uri, old, **extra)
    rid = page_request(r)
    info = requests.get(server.url + f"/api/v1/oidc/requests/{rid}", cookies={"cityos_session": old}).json()
    assert info["signed_in"] is False and info["fresh_sign_in"] is True
    d = requests.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True},
                      cookies={"cityos_session": old})
    assert d.status_code == 401 and d.json()["error"]["fresh_sign_in"] is True, d.text
    new = sign_in(server, *person)
    info = requests.get(server.url + f"/api/v1/oidc/requests/{rid}", cookies={"cityos_session": new}).json()
    assert info["signed_in"] is True
    d = requests.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True},
                      cookies={"cityos_session": new})
    assert d.status_code == 200, d.text
    to = urllib.parse.urlsplit(d.json()["redirect_to"])
    q = dict(urllib.parse.parse_qsl(to.query))
    after = exchange(server, cid, params, q["code"], verifier)
    return before["auth_time"], after["auth_time"], asked


def test_prompt_login_forces_a_fresh_sign_in(server, person):
    old, new, asked = fresh_sign_in_flow(server, person, prompt="login")
    assert old < asked <= new


def test_select_account_is_served_as_login(server, person):
    old, new, asked = fresh_sign_in_flow(server, person, prompt="select_account")
    assert old < asked <= new


def test_max_age_zero_forces_a_fresh_sign_in(server, person):
    old, new, asked = fresh_sign_in_flow(server, person, max_age="0")
    assert old < asked <= new


def test_max_age_longer_than_the_session_keeps_single_sign_on(server, person):
    cookie = sign_in(server, *person)
    cid, uri = portal(server)
    r, params, verifier = authorize(server, cid, uri, cookie, max_age="3600")
    claims = exchange(server, cid, params, back_to_client(server, r, params)["code"], verifier)
    assert 0 <= claims["iat"] - claims["auth_time"] <= 3600
    time.sleep(1.1)
    r, params, _ = authorize(server, cid, uri, cookie, max_age="1", prompt="none")
    assert back_to_client(server, r, params)["error"] == "login_required"


def test_prompt_consent_shows_the_page_to_first_party_clients(server, person):
    cookie = sign_in(server, *person)
    cid, uri = portal(server)
    r, params, verifier = authorize(server, cid, uri, cookie, prompt="consent")
    rid = page_request(r)
    info = requests.get(server.url + f"/api/v1/oidc/requests/{rid}", cookies={"cityos_session": cookie}).json()
    assert info["signed_in"] is True and info["first_party"] is True and info["ask_consent"] is True
    assert info["fresh_sign_in"] is False
    d = requests.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True},
                      cookies={"cityos_session": cookie})
    assert d.status_code == 200, d.text
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(d.json()["redirect_to"]).query))
    exchange(server, cid, params, q["code"], verifier)
