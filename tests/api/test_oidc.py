"""The OpenID Connect provider: discovery, JWKS and rotation, code flow with PKCE,
tokens, userinfo, refresh rotation and reuse detection, RP-initiated and back-channel
logout, the client registry - driven as a relying party would, with PyJWT checking the
signatures against the published JWKS.

The token endpoint takes form bodies (RFC 6749) and, for these tests, JSON bodies too;
tests/browser/oidc.test.mjs drives it with form bodies through openid-client.
"""
import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse

import jwt
import pytest
import requests

from conftest import assert_error, make_cccd, unique

CB = "http://127.0.0.1:9/cb"
OUT = "http://127.0.0.1:9/signed-out"


def pkce():
    v = secrets.token_urlsafe(48)
    c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).decode().rstrip("=")
    return v, c


def discovery(server):
    r = requests.get(server.url + "/api/v1/oidc/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    return r.json()


def verify(server, token, aud, alg=None):
    keys = requests.get(server.url + "/api/v1/oidc/jwks").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    key = jwt.PyJWK(jwk)
    return jwt.decode(token, key.key, algorithms=[alg or jwk["alg"]], audience=aud,
                      issuer=discovery(server)["issuer"])


class Receiver:
    """A back-channel logout endpoint on 127.0.0.1."""

    def __init__(self):
        got = self.got = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                got.append((self.headers["Content-Type"], self.rfile.read(n).decode()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/bcl"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.srv.shutdown()


def register(server, **kw):
    body = {"name": "Cổng dịch vụ công " + unique(""), "type": "public", "redirect_uris": [CB],
            "post_logout_redirect_uris": [OUT], "scope": "openid profile cccd unit roles offline_access"}
    body.update(kw)
    r = server.admin.post("/api/v1/oidc/clients", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def citizen(server):
    cccd = make_cccd(birth_year=1992, female=True)
    password = "Mat-khau-" + unique("")
    r = server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": cccd, "birth_date": "1992-05-17",
                                                 "sex": "female", "full_name": "Đỗ Thị Mai", "password": password})
    assert r.status_code == 201, r.text
    s = requests.Session()
    assert s.post(server.url + "/api/v1/auth/login", json={"username": cccd, "password": password}).status_code == 200
    return s, cccd


def authorize(server, browser, client, scope="openid profile cccd", challenge=None, **extra):
    q = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": CB, "scope": scope,
         "state": "st-" + unique(""), "nonce": "n-" + unique("")}
    if challenge:
        q.update(code_challenge=challenge, code_challenge_method="S256")
    q.update(extra)
    r = browser.get(server.url + "/api/v1/oidc/authorize", params=q, allow_redirects=False)
    return q, r


def sign_in_flow(server, browser, client, scope="openid profile cccd"):
    """authorize -> consent page data -> approve -> code. Returns (query, code, verifier)."""
    v, c = pkce()
    q, r = authorize(server, browser, client, scope, c)
    assert r.status_code == 302, r.text
    loc = r.headers["Location"]
    assert loc.startswith("/sso/authorize.html?request=")
    rid = loc.split("=", 1)[1]
    info = browser.get(server.url + f"/api/v1/oidc/requests/{rid}").json()
    assert info["signed_in"] and info["client_name"] == client["name"] and info["scopes"] == scope.split()
    r = browser.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True})
    assert r.status_code == 200, r.text
    to = urllib.parse.urlsplit(r.json()["redirect_to"])
    assert f"{to.scheme}://{to.netloc}{to.path}" == CB
    back = dict(urllib.parse.parse_qsl(to.query))
    assert back["state"] == q["state"] and back["iss"] == discovery(server)["issuer"]
    return q, back["code"], v


def token(server, auth=None, **body):
    return requests.post(server.url + "/api/v1/oidc/token", json=body, auth=auth)


def test_discovery_and_jwks(server):
    d = discovery(server)
    assert d["issuer"] == server.url + "/api/v1/oidc"
    assert d["authorization_endpoint"] == d["issuer"] + "/authorize" and d["jwks_uri"] == d["issuer"] + "/jwks"
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert set(d["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert d["backchannel_logout_supported"] is True and d["end_session_endpoint"] == d["issuer"] + "/logout"
    keys = requests.get(d["jwks_uri"]).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES256"}
    assert all("d" not in k and "p" not in k for k in keys)


def test_code_flow_with_pkce_userinfo_and_refresh(server):
    client = register(server)
    browser, cccd = citizen(server)
    q, code, v = sign_in_flow(server, browser, client)
    r = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
              client_id=client["client_id"])
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    t = r.json()
    assert t["token_type"] == "Bearer" and t["expires_in"] == 3600
    claims = verify(server, t["id_token"], client["client_id"], "RS256")
    assert claims["nonce"] == q["nonce"] and claims["name"] == "Đỗ Thị Mai" and claims["azp"] == client["client_id"]
    assert claims["exp"] - claims["iat"] == 3600 and "sid" in claims and "auth_time" in claims
    ui = requests.get(server.url + "/api/v1/oidc/userinfo", headers={"Authorization": "Bearer " + t["access_token"]})
    assert ui.status_code == 200, ui.text
    assert ui.json() == {"sub": claims["sub"], "name": "Đỗ Thị Mai", "preferred_username": cccd, "cccd": cccd,
                         "birthdate": "1992-05-17", "gender": "female"}
    assert server.sql(f"SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.userinfo'")[0][0] != "0"
    # a plain cityos session (first-party screens) gets openid + profile claims only
    own = browser.get(server.url + "/api/v1/oidc/userinfo").json()
    assert own == {"sub": claims["sub"], "name": "Đỗ Thị Mai", "preferred_username": cccd}
    # a third-party access token reaches userinfo only
    assert_error(requests.get(server.url + "/api/v1/me", headers={"Authorization": "Bearer " + t["access_token"]}),
                 403, "forbidden")
    # refresh: rotation, then reuse of the old one revokes the whole family
    r2 = token(server, grant_type="refresh_token", refresh_token=t["refresh_token"], client_id=client["client_id"])
    assert r2.status_code == 200, r2.text
    t2 = r2.json()
    assert t2["refresh_token"] != t["refresh_token"]
    assert "nonce" not in verify(server, t2["id_token"], client["client_id"])
    r3 = token(server, grant_type="refresh_token", refresh_token=t["refresh_token"], client_id=client["client_id"])
    assert r3.status_code == 400 and r3.json()["error"] == "invalid_grant"
    r4 = token(server, grant_type="refresh_token", refresh_token=t2["refresh_token"], client_id=client["client_id"])
    assert r4.status_code == 400 and r4.json()["error"] == "invalid_grant"
    assert requests.get(server.url + "/api/v1/oidc/userinfo",
                        headers={"Authorization": "Bearer " + t2["access_token"]}).status_code == 401


def test_code_is_single_use_and_bound_to_verifier_client_and_redirect(server):
    client = register(server)
    other = register(server)
    browser, _ = citizen(server)
    _, code, v = sign_in_flow(server, browser, client)
    bad = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v[:-1] + "A",
                client_id=client["client_id"])
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    # a code is burnt by any presentation
    again = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
                  client_id=client["client_id"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    _, code, v = sign_in_flow(server, browser, client)
    for body in ({"client_id": other["client_id"]}, {"redirect_uri": CB + "/x"}):
        b = {"grant_type": "authorization_code", "code": code, "redirect_uri": CB, "code_verifier": v,
             "client_id": client["client_id"], **body}
        r = token(server, **b)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
        _, code, v = sign_in_flow(server, browser, client)
    # reuse after success revokes what the first exchange produced
    ok = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
               client_id=client["client_id"])
    assert ok.status_code == 200
    re = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
               client_id=client["client_id"])
    assert re.status_code == 400 and re.json()["error"] == "invalid_grant"
    assert requests.get(server.url + "/api/v1/oidc/userinfo",
                        headers={"Authorization": "Bearer " + ok.json()["access_token"]}).status_code == 401
    # an expired code
    _, code, v = sign_in_flow(server, browser, client)
    server.sql(f"UPDATE oidc_codes SET expires_at = 1 WHERE code_hash = '{hashlib.sha256(code.encode()).hexdigest()}'")
    r = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
              client_id=client["client_id"])
    assert r.status_code == 400 and "expired" in r.json()["error_description"]


def test_authorization_request_errors(server, anon):
    client = register(server)
    browser, _ = citizen(server)
    v, c = pkce()
    # unknown client or unregistered redirect URI: answered here, never redirected
    _, r = authorize(server, browser, {"client_id": "c_nope"}, challenge=c)
    assert_error(r, 422, "validation_failed")
    _, r = authorize(server, browser, client, challenge=c, redirect_uri=CB + "/")
    assert assert_error(r, 422)["field"] == "redirect_uri"

    def redirected(r):
        assert r.status_code == 302, r.text
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))

    q, r = authorize(server, browser, client)                     # public client without PKCE
    e = redirected(r)
    assert e["error"] == "invalid_request" and e["state"] == q["state"]
    _, r = authorize(server, browser, client, challenge=c, code_challenge_method="plain")
    assert redirected(r)["error"] == "invalid_request"
    _, r = authorize(server, browser, client, scope="profile", challenge=c)
    assert redirected(r)["error"] == "invalid_scope"
    _, r = authorize(server, browser, client, challenge=c, response_type="token")
    assert redirected(r)["error"] == "unsupported_response_type"
    narrow = register(server, scope="openid")
    _, r = authorize(server, browser, narrow, scope="openid cccd", challenge=c)
    assert redirected(r)["error"] == "invalid_scope"
    # deciding needs a signed-in person; refusing sends access_denied
    _, r = authorize(server, browser, client, challenge=c)
    rid = r.headers["Location"].split("=", 1)[1]
    assert anon.get(f"/api/v1/oidc/requests/{rid}").json()["signed_in"] is False
    assert_error(anon.post(f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True}), 401)
    r = browser.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": False})
    assert "error=access_denied" in r.json()["redirect_to"]
    assert_error(browser.post(server.url + f"/api/v1/oidc/requests/{rid}/decision", json={"approve": True}), 404)


def test_confidential_client_authentication_and_es256(server):
    client = register(server, type="confidential", id_token_signed_response_alg="ES256")
    assert len(client["client_secret"]) == 43
    assert "client_secret" not in server.admin.get(f"/api/v1/oidc/clients/{client['client_id']}").json()
    browser, _ = citizen(server)
    _, code, v = sign_in_flow(server, browser, client)
    body = dict(grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v)
    r = token(server, auth=(client["client_id"], "wrong"), **body)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = token(server, **body, client_id=client["client_id"])                    # no secret at all
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    _, code, v = sign_in_flow(server, browser, client)
    body.update(code=code, code_verifier=v)
    r = token(server, auth=(client["client_id"], client["client_secret"]), **body)   # client_secret_basic
    assert r.status_code == 200, r.text
    assert jwt.get_unverified_header(r.json()["id_token"])["alg"] == "ES256"
    verify(server, r.json()["id_token"], client["client_id"], "ES256")
    # client_secret_post on refresh
    r = token(server, grant_type="refresh_token", refresh_token=r.json()["refresh_token"],
              client_id=client["client_id"], client_secret=client["client_secret"])
    assert r.status_code == 200, r.text


def test_logout_revokes_and_notifies_back_channel(server, receiver):
    client = register(server, backchannel_logout_uri=receiver.url)
    browser, _ = citizen(server)
    _, code, v = sign_in_flow(server, browser, client)
    t = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
              client_id=client["client_id"]).json()
    claims = verify(server, t["id_token"], client["client_id"])
    r = requests.get(server.url + "/api/v1/oidc/logout", allow_redirects=False,
                     params={"id_token_hint": t["id_token"], "post_logout_redirect_uri": CB, "state": "x"})
    assert assert_error(r, 422)["field"] == "post_logout_redirect_uri"
    r = requests.get(server.url + "/api/v1/oidc/logout", allow_redirects=False,
                     params={"id_token_hint": t["id_token"], "post_logout_redirect_uri": OUT, "state": "x"})
    assert r.status_code == 302 and r.headers["Location"] == OUT + "?state=x"
    assert_error(browser.get(server.url + "/api/v1/me"), 401)            # the provider session ended
    r = token(server, grant_type="refresh_token", refresh_token=t["refresh_token"], client_id=client["client_id"])
    assert r.status_code == 400
    deadline = time.time() + 5
    while not receiver.got and time.time() < deadline:
        time.sleep(0.1)
    assert receiver.got, "no back-channel logout arrived"
    ctype, body = receiver.got[-1]
    assert ctype == "application/x-www-form-urlencoded"
    lt = dict(urllib.parse.parse_qsl(body))["logout_token"]
    assert jwt.get_unverified_header(lt)["typ"] == "logout+jwt"
    lc = verify(server, lt, client["client_id"])
    assert lc["sid"] == claims["sid"] and lc["sub"] == claims["sub"] and "nonce" not in lc
    assert lc["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    # a tampered hint is refused
    bad = t["id_token"][:-4] + ("AAAA" if not t["id_token"].endswith("AAAA") else "BBBB")
    r = requests.get(server.url + "/api/v1/oidc/logout", params={"id_token_hint": bad}, allow_redirects=False)
    assert assert_error(r, 422)["field"] == "id_token_hint"


def test_key_rotation_keeps_old_keys_published(server):
    client = register(server)
    browser, _ = citizen(server)
    _, code, v = sign_in_flow(server, browser, client)
    old = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
                client_id=client["client_id"]).json()["id_token"]
    before = {k["kid"] for k in requests.get(server.url + "/api/v1/oidc/jwks").json()["keys"]}
    assert server.admin.post("/api/v1/oidc/keys/rotate").status_code == 200
    after = {k["kid"] for k in requests.get(server.url + "/api/v1/oidc/jwks").json()["keys"]}
    assert before < after and len(after - before) == 2
    verify(server, old, client["client_id"])          # still verifiable
    _, code, v = sign_in_flow(server, browser, client)
    new = token(server, grant_type="authorization_code", code=code, redirect_uri=CB, code_verifier=v,
                client_id=client["client_id"]).json()["id_token"]
    assert jwt.get_unverified_header(new)["kid"] in after - before
    # once the grace period is over, the retired keys disappear
    server.sql("UPDATE oidc_keys SET publish_until = 1 WHERE retired_at IS NOT NULL")
    final = {k["kid"] for k in requests.get(server.url + "/api/v1/oidc/jwks").json()["keys"]}
    assert final == after - before


def test_client_registry_is_for_administrators(server, anon):
    err = assert_error(server.admin.post("/api/v1/oidc/clients", json={"name": "x", "type": "public",
                                                                        "redirect_uris": ["http://evil.example/cb"]}), 422)
    assert err["field"] == "redirect_uris"
    err = assert_error(server.admin.post("/api/v1/oidc/clients", json={"name": "x", "type": "robot",
                                                                        "redirect_uris": [CB]}), 422)
    assert err["field"] == "type"
    err = assert_error(server.admin.post("/api/v1/oidc/clients", json={"name": "x", "type": "public",
                                                                        "redirect_uris": [CB], "scope": "email"}), 422)
    assert err["field"] == "scope"
    assert_error(anon.get("/api/v1/oidc/clients"), 401)
    browser, _ = citizen(server)
    assert_error(browser.get(server.url + "/api/v1/oidc/clients"), 403)
    c = register(server)
    assert any(x["client_id"] == c["client_id"] for x in server.admin.get("/api/v1/oidc/clients").json()["items"])
    assert server.admin.req("DELETE", f"/api/v1/oidc/clients/{c['client_id']}").status_code == 200
    assert_error(server.admin.get(f"/api/v1/oidc/clients/{c['client_id']}"), 404)
    _, r = authorize(server, browser, c, challenge=pkce()[1])
    assert_error(r, 422)


def test_token_endpoint_takes_form_bodies(server):
    client = register(server)
    browser, _ = citizen(server)
    _, code, v = sign_in_flow(server, browser, client)
    url = server.url + "/api/v1/oidc/token"
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CB, "code_verifier": v,
            "client_id": client["client_id"]}
    r = requests.post(url, data="&".join(f"{k}={urllib.parse.quote(x)}" for k, x in form.items()) + "&code=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"      # a repeated parameter
    r = requests.post(url, data=form)
    assert r.status_code == 200, r.text
    r = requests.post(url, data={"grant_type": "password", "client_id": client["client_id"]})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = requests.post(url, data="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
