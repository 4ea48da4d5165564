"""Every route x every kind of caller, driven by /api/v1/openapi.json.

For each route the expectation is computed from its x-permission alone:
  no x-permission      anonymous gets through (no 401/403)
  any x-permission     anonymous -> 401 unauthenticated; an unknown token -> 401
  "@signed_in"         a citizen, a role-less API client, an official -> through
  "<perm>"             a citizen, a role-less API client, an official whose role lacks
                       <perm> -> 403 forbidden
and no call answers 500. Routes that take a body (x-body-limit) must refuse, from a
caller who may use them, a wrong media type (415) and - when they take JSON - invalid
JSON (400 invalid_json) and a JSON array or string (400), and change nothing doing so.

The test knows how to call each route (KNOWN_ROUTES). A route it does not know fails
test_every_route_is_known (the other two tests check the known ones): add it
consciously, after deciding who may call it.
"""
import requests

from conftest import ADMIN_PASSWORD, assert_error, is_postgres, make_cccd, unique


def R(params=None, accept=None, own_auth=None, errors="cityos", only=None):
    """How to call a route.
    params    values for its path parameters (only plausible: the permission check runs
              before the handler looks at them);
    accept    the body media types when not JSON only (until the OpenAPI document
              carries x-accept, which wins when present);
    own_auth  why a route public in the table still refuses anonymous callers (it
              checks a credential of its own, e.g. a device key);
    errors    "cityos" ({"error": {code, message}}), or "open311" (the GeoReport v2 list
              [{code, description}]) or "oauth" ({"error": "invalid_request"}): for
              those only the status is compared;
    only      for an @signed_in route meant for one kind of principal ("citizen"): the
              others get 403 from the handler."""
    return {"params": params or {}, "accept": accept, "own_auth": own_auth, "errors": errors, "only": only}


FORMS_AND_JSON = "application/x-www-form-urlencoded, multipart/form-data, application/json"

KNOWN_ROUTES = {
    # http core
    "GET /healthz": R(),
    "GET /readyz": R(),
    "GET /metrics": R(),
    "GET /api/v1/openapi.json": R(),
    # units
    "GET /api/v1/eras": R(),
    "GET /api/v1/units": R(),
    "GET /api/v1/units/locate": R(),
    "GET /api/v1/units/boundaries": R(),
    "GET /api/v1/units/{code}": R({"code": "00070"}),
    "GET /api/v1/units/{code}/children": R({"code": "01"}),
    "GET /api/v1/units/{code}/path": R({"code": "00070"}),
    "GET /api/v1/units/{code}/boundary": R({"code": "00070"}),
    # identity
    "POST /api/v1/auth/login": R(),
    "POST /api/v1/auth/logout": R(),
    "GET /api/v1/me": R(),
    "POST /api/v1/me/password": R(),
    "GET /api/v1/users": R(),
    "POST /api/v1/users": R(),
    "GET /api/v1/users/{id}": R({"id": "1"}),
    "PATCH /api/v1/users/{id}": R({"id": "1"}),
    "GET /api/v1/roles": R(),
    "POST /api/v1/clients": R(),
    # audit
    "GET /api/v1/audit": R(),
    "GET /api/v1/audit/verify": R(),
    # oidc: OpenID Connect provider
    "GET /.well-known/openid-configuration": R(),
    "GET /api/v1/oidc/.well-known/openid-configuration": R(),
    "GET /api/v1/oidc/jwks": R(),
    "GET /api/v1/oidc/authorize": R(),
    "GET /api/v1/oidc/requests/{id}": R({"id": "matrix-request"}),
    "POST /api/v1/oidc/requests/{id}/decision": R({"id": "matrix-request"}),
    "POST /api/v1/oidc/token": R(accept="application/x-www-form-urlencoded, application/json", errors="oauth"),
    "GET /api/v1/oidc/userinfo": R(),
    "GET /api/v1/oidc/logout": R(),
    "GET /api/v1/oidc/clients": R(),
    "POST /api/v1/oidc/clients": R(),
    "GET /api/v1/oidc/clients/{id}": R({"id": "matrix-client"}),
    "DELETE /api/v1/oidc/clients/{id}": R({"id": "matrix-client"}),
    "POST /api/v1/oidc/keys/rotate": R(),
    # oidc: two-factor
    "GET /api/v1/me/totp": R(),
    "POST /api/v1/me/totp/enrol": R(),
    "POST /api/v1/me/totp/confirm": R(),
    "POST /api/v1/me/totp/verify": R(),
    "GET /api/v1/oidc/mfa/policy": R(),
    "PUT /api/v1/oidc/mfa/policy": R(),
    "PUT /api/v1/oidc/mfa/accounts/{id}": R({"id": "1"}),
    # population
    "GET /api/v1/population/{cccd}": R({"cccd": "001090123456"}),
    # signup: public by design; their own checks are the register match, the one-time
    # code and the per-CCCD / per-address throttle (tests/api/test_signup.py)
    "POST /api/v1/signup/start": R(),
    "POST /api/v1/signup/finish": R(),
    "POST /api/v1/outbox/claim": R(),
    "POST /api/v1/outbox/{id}/sent": R({"id": "1"}),
    "POST /api/v1/outbox/{id}/failed": R({"id": "1"}),
    "POST /api/v1/password-reset/start": R(),
    "POST /api/v1/password-reset/finish": R(),
    # services
    "GET /api/v1/calendar/due": R(),
    "GET /api/v1/calendar/{year}": R({"year": "2026"}),
    "PUT /api/v1/calendar/{year}": R({"year": "2026"}),
    "GET /api/v1/procedures": R(),
    "GET /api/v1/procedures/{code}": R({"code": "1.000001"}),
    "POST /api/v1/procedures/import": R(),
    "POST /api/v1/dossiers": R(),
    "GET /api/v1/dossiers": R(),
    "GET /api/v1/dossiers/mine": R(only="citizen"),
    "GET /api/v1/dossiers/{code}": R({"code": "MATRIX-0001"}),
    "POST /api/v1/dossiers/{code}/actions": R({"code": "MATRIX-0001"}),
    "POST /api/v1/dossiers/{code}/payments": R({"code": "MATRIX-0001"}),
    "GET /api/v1/dossiers/{code}/payments/{reference}": R({"code": "MATRIX-0001", "reference": "CT0000000000"}),
    "GET /api/v1/dossiers/{code}/payments/{reference}/qr": R({"code": "MATRIX-0001", "reference": "CT0000000000"}),
    "POST /api/v1/dossiers/{code}/rating": R({"code": "MATRIX-0001"}),
    "POST /api/v1/dossiers/{code}/reschedule": R({"code": "MATRIX-0001"}),
    "GET /api/v1/dossiers/{code}/slips/{kind}": R({"code": "MATRIX-0001", "kind": "receipt"}),
    "GET /api/v1/dossiers/{code}/result": R({"code": "MATRIX-0001"}),
    "POST /api/v1/dossiers/{code}/result": R({"code": "MATRIX-0001"}),
    "GET /api/v1/dossiers/{code}/attachments/{sha256}": R({"code": "MATRIX-0001", "sha256": "0" * 64}),
    "GET /api/v1/me/documents": R(only="citizen"),
    "GET /api/v1/me/documents/{sha256}": R({"sha256": "0" * 64}, only="citizen"),
    "GET /api/v1/dossier-stats": R(),
    "GET /api/v1/lookup/dossiers/{code}": R({"code": "MATRIX-0001"}),
    "PUT /api/v1/payment-accounts/{unit}": R({"unit": "00070"}),
    "POST /api/v1/payments/callback": R(own_auth="HMAC in X-Cityos-Signature"),
    # sensors
    "GET /api/v1/devices": R(),
    "POST /api/v1/devices": R(),
    "GET /api/v1/devices/{id}": R({"id": "matrix-device"}),
    "POST /api/v1/devices/{id}/key": R({"id": "matrix-device"}),
    "GET /api/v1/devices/{id}/readings": R({"id": "matrix-device"}),
    "POST /api/v1/devices/{id}/readings": R({"id": "matrix-device"}, own_auth="X-Device-Key"),
    "GET /api/v1/sensors/dead-letters": R(),
    "GET /api/v1/sensors/status": R(),
    "GET /api/v1/sensors/types": R(),
    "GET /api/v1/devices/{id}/aqi": R({"id": "matrix-device"}),
    "GET /api/v1/devices/{id}/aqi/history": R({"id": "matrix-device"}),
    "GET /api/v1/sensors/rules": R(),
    "POST /api/v1/sensors/rules": R(),
    "PUT /api/v1/sensors/rules/{id}": R({"id": "999999"}),
    "DELETE /api/v1/sensors/rules/{id}": R({"id": "999999"}),
    "POST /api/v1/devices/import": R(),
    "GET /api/v1/sensors/commands": R(),
    "POST /api/v1/sensors/commands": R(),
    "GET /api/v1/sensors/schedules": R(),
    "POST /api/v1/sensors/schedules": R(),
    "DELETE /api/v1/sensors/schedules/{id}": R({"id": "999999"}),
    "GET /api/v1/sensors/sun": R(),
    "GET /ngsi-ld/v1/entities": R(),
    "GET /ngsi-ld/v1/entities/{id}": R({"id": "urn:ngsi-ld:Device:matrix-device"}),
    "GET /ngsi-ld/v1/temporal/entities/{id}": R({"id": "urn:ngsi-ld:Device:matrix-device"}),
    "GET /api/v1/sensors/stream": R(),   # an endless event stream: only refusals are called
    "GET /api/v1/alerts": R(),
    "GET /api/v1/alerts/{id}": R({"id": "1"}),
    "POST /api/v1/alerts/{id}/ack": R({"id": "1"}),
    # signing / pki
    "GET /api/v1/pki/ca": R(),
    "GET /api/v1/pki/certificates": R(),
    "GET /api/v1/pki/crl": R(),
    "POST /api/v1/signatures/verify": R(),
    "POST /api/v1/documents": R(),
    "GET /api/v1/documents": R(),
    "GET /api/v1/documents/{id}": R({"id": "1"}),
    "GET /api/v1/documents/{id}/pdf": R({"id": "1"}),
    "POST /api/v1/documents/{id}/sign": R({"id": "1"}),
    "POST /api/v1/documents/{id}/publish": R({"id": "1"}),
    "POST /api/v1/documents/{id}/read": R({"id": "1"}),
    # reports
    "GET /api/v1/reports": R(),
    "GET /api/v1/reports/mine": R(),
    "GET /api/v1/reports/nearby": R(),
    "GET /api/v1/reports/notifications": R(),
    "GET /api/v1/reports/stats": R(),
    "GET /api/v1/reports/photos/{id}": R({"id": "1"}),
    "GET /api/v1/reports/{id}": R({"id": "1"}),
    "POST /api/v1/reports/{id}/assign": R({"id": "1"}),
    "POST /api/v1/reports/{id}/events": R({"id": "1"}),
    "POST /api/v1/reports/{id}/hide": R({"id": "1"}),
    "POST /api/v1/reports/{id}/merge": R({"id": "1"}),
    "POST /api/v1/reports/{id}/reopen": R({"id": "1"}),
    # reports: Open311 GeoReport v2
    "GET /open311/v2/discovery.json": R(),
    "GET /open311/v2/discovery.xml": R(),
    "GET /open311/v2/services.json": R(),
    "GET /open311/v2/services.xml": R(),
    "GET /open311/v2/services/{code}.json": R({"code": "pothole"}),
    "GET /open311/v2/services/{code}.xml": R({"code": "pothole"}),
    "GET /open311/v2/requests.json": R(),
    "GET /open311/v2/requests.xml": R(),
    "POST /open311/v2/requests.json": R(accept=FORMS_AND_JSON, errors="open311"),
    "POST /open311/v2/requests.xml": R(accept=FORMS_AND_JSON, errors="open311"),
    "GET /open311/v2/requests/{id}.json": R({"id": "1"}),
    "GET /open311/v2/requests/{id}.xml": R({"id": "1"}),
    "GET /open311/v2/tokens/{token}.json": R({"token": "matrix-token"}),
    "GET /open311/v2/tokens/{token}.xml": R({"token": "matrix-token"}),
}

PROBE_ROLE = "matrix_probe"          # a role whose one permission no route asks for


# --- helpers -----------------------------------------------------------------------------

def routes_of(doc):
    """[(method, pattern, operation)] from the OpenAPI document, in a stable order."""
    out = []
    for pattern, item in sorted(doc["paths"].items()):
        for method, op in sorted(item.items()):
            out.append((method.upper(), pattern, op))
    return out


def fill(pattern, key):
    path = pattern
    for name, value in KNOWN_ROUTES[key]["params"].items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"{key}: KNOWN_ROUTES has no value for a path parameter of {path}"
    return path


def call(server, method, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = "Bearer " + token
    return requests.request(method, server.url + path, headers=headers, timeout=60, **kw)


class Callers:
    """The principals. Denied calls never reach a handler, so one token of each kind
    serves them all. A call that gets through runs the handler (logout revokes its
    token, enrolment changes the account...), so each gets a fresh account."""

    def __init__(self, server):
        self.server = server
        self.roles = {r["name"]: set(r["permissions"])
                      for r in server.admin.get("/api/v1/roles").json()["items"]}
        self.cached = {}

    def _create(self, body):
        r = self.server.admin.post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text

    def citizen(self):
        cccd, pw = make_cccd("001", 1979), "Cong-dan-" + unique("")
        self._create({"kind": "citizen", "cccd": cccd, "birth_date": "1979-09-02", "sex": "male",
                      "full_name": "Đỗ Văn Ma Trận", "password": pw})
        return "citizen", self.server.login(cccd, pw).token

    def client(self):
        r = self.server.admin.post("/api/v1/clients", json={"username": unique("ma-tran-"), "name": "Không vai trò"})
        assert r.status_code == 201, r.text
        return "API client without roles", r.json()["api_key"]

    def official(self, perm):
        """An official of Phường Hoàn Kiếm holding one role that lacks perm: `officer`
        when it lacks it, else another role that does, else the probe role."""
        candidates = [r for r, perms in sorted(self.roles.items()) if perm not in perms and "*" not in perms]
        role = "officer" if "officer" in candidates else (candidates[0] if candidates else PROBE_ROLE)
        if role == PROBE_ROLE and PROBE_ROLE not in self.roles:
            self.server.sql(f"INSERT INTO roles (name, description) VALUES ('{PROBE_ROLE}', 'access matrix')"
                            " ON CONFLICT DO NOTHING")
            self.server.sql(f"INSERT INTO role_permissions (role, permission) VALUES ('{PROBE_ROLE}',"
                            " 'matrix.probe') ON CONFLICT DO NOTHING")
            self.roles[PROBE_ROLE] = {"matrix.probe"}
        username, pw = unique("ma-tran-"), "Can-bo-" + unique("")
        self._create({"kind": "official", "username": username, "password": pw, "full_name": f"Cán bộ vai {role}",
                      "unit": "00070", "roles": [{"role": role, "unit": "00070"}]})
        return f"official with role {role}", self.server.login(username, pw).token

    def fresh(self, kind, perm):
        return self.citizen() if kind == "citizen" else self.client() if kind == "client" else self.official(perm)

    def reused(self, kind, perm):
        key = (kind, perm if kind == "official" else None)
        if key not in self.cached:
            self.cached[key] = self.fresh(kind, perm)
        return self.cached[key]


# --- the tests ---------------------------------------------------------------------------

def test_every_route_is_known(anon):
    doc = anon.get("/api/v1/openapi.json").json()
    found = {f"{m} {p}": p for m, p, _ in routes_of(doc)}
    unknown = sorted(set(found) - set(KNOWN_ROUTES))

    def suggestion(key):
        names = [seg[1:seg.index("}")] for seg in found[key].split("/") if seg.startswith("{")]
        params = "{" + ", ".join(f'"{n}": "?"' for n in names) + "}" if names else ""
        return f'"{key}": R({params}),'
    assert not unknown, ("routes this test does not know how to call; decide who may call them and add "
                         "them to KNOWN_ROUTES in tests/api/test_access_matrix.py:\n    "
                         + "\n    ".join(suggestion(k) for k in unknown))
    gone = sorted(set(KNOWN_ROUTES) - set(found))
    assert not gone, f"routes in KNOWN_ROUTES that the server no longer has: {gone}"


def test_routes_by_principal(server, anon):
    doc = anon.get("/api/v1/openapi.json").json()
    callers = Callers(server)
    transcript, problems = [], []

    def check(key, who, r, want):
        line = f"{key:45} {who:38} -> {r.status_code}"
        transcript.append(line)
        if r.status_code == 500:
            problems.append(line + f" (an internal error) {r.text[:200]}")
        elif want == "through":
            if r.status_code in (401, 403):
                problems.append(line + f" (expected to get through) {r.text[:200]}")
        elif want is not None:
            status, code = want
            ok = r.status_code == status and r.headers.get("Content-Type", "").startswith("application/json")
            body = r.json() if ok else None
            if not ok or not isinstance(body, dict) or (body.get("error") or {}).get("code") != code:
                problems.append(line + f" (expected {status} {code}) {r.text[:200]}")

    for method, pattern, op in routes_of(doc):
        key = f"{method} {pattern}"
        if key not in KNOWN_ROUTES:
            continue                     # test_every_route_is_known fails for it
        path = fill(pattern, key)
        perm = op.get("x-permission")
        if perm is None:
            own = KNOWN_ROUTES[key]["own_auth"]
            check(key, "anonymous" + (f" ({own})" if own else ""), call(server, method, path),
                  None if own else "through")
            continue
        check(key, "anonymous", call(server, method, path), (401, "unauthenticated"))
        check(key, "an unknown token", call(server, method, path, "cs_" + "Z" * 43), (401, "unauthenticated"))
        for kind in ["citizen", "client", "official"]:
            only = KNOWN_ROUTES[key]["only"]
            if perm == "@signed_in":
                who, tok = callers.fresh(kind, perm)
                want = "through" if only in (None, kind) else (403, "forbidden")
                check(key, who, call(server, method, path, tok), want)
            else:
                who, tok = callers.reused(kind, perm)
                check(key, who, call(server, method, path, tok), (403, "forbidden"))

    print("\n".join(transcript))
    assert not problems, "\n".join(problems)


def fingerprint_query(server):
    """One query: the row count of every table, the live tokens and the audit head -
    what a refused request must leave as it was."""
    if is_postgres():
        tables = [r[0] for r in server.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    else:
        tables = [r[0] for r in server.sql("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND name NOT LIKE 'sqlite_%'")]
    parts = [f"SELECT '{t}', COUNT(*) FROM {t}" for t in sorted(tables)]
    parts.append("SELECT 'live tokens', COUNT(*) FROM tokens WHERE revoked_at IS NULL")
    parts.append("SELECT 'audit head', seq FROM audit_head WHERE id = 1")
    return " UNION ALL ".join(parts)


def test_bodies_are_checked_before_anything_changes(server, anon):
    doc = anon.get("/api/v1/openapi.json").json()
    body_routes = [(m, p, op) for m, p, op in routes_of(doc) if op.get("x-body-limit")]
    assert {f"{m} {p}" for m, p, _ in body_routes} >= {
        "POST /api/v1/auth/login", "POST /api/v1/auth/logout", "POST /api/v1/me/password",
        "POST /api/v1/users", "PATCH /api/v1/users/{id}", "POST /api/v1/clients"}
    admin = server.login("admin", ADMIN_PASSWORD).token       # logout must not end the shared session
    q = fingerprint_query(server)
    transcript, problems = [], []

    def send_all(method, pattern, op):
        key = f"{method} {pattern}"
        known = KNOWN_ROUTES[key]
        path = fill(pattern, key)
        accept = op.get("x-accept") or known["accept"] or "application/json"
        token = None if op.get("x-permission") is None else admin
        sends = [("text/plain", b'{"a": 1}', 415, "unsupported_media_type")]
        if "application/json" in accept and not known["own_auth"]:
            sends += [("application/json", b'{"username": "x", ', 400, "invalid_json"),
                      ("application/json", b'{"a": 1} trailing', 400, "invalid_json"),
                      ("application/json", b'[{"username": "x"}]', 400, None),
                      ("application/json; charset=utf-8", b'"just a string"', 400, None)]
        for ctype, data, status, code in sends:
            r = call(server, method, path, token, data=data, headers={"Content-Type": ctype})
            line = f"{key:40} {ctype:32} {data[:22]!r:26} -> {r.status_code}"
            transcript.append(line)
            try:
                if known["errors"] != "cityos":
                    assert r.status_code == status, r.text[:200]
                else:
                    assert_error(r, status, code)
            except (AssertionError, ValueError, AttributeError) as e:
                problems.append(f"{line}: {e!r}")

    body_routes = [r for r in body_routes if f"{r[0]} {r[1]}" in KNOWN_ROUTES]   # others: see above
    before = dict(server.sql(q))
    for route in body_routes:
        send_all(*route)
    if dict(server.sql(q)) != before:
        # Something changed: find the route(s), one at a time.
        for route in body_routes:
            b = dict(server.sql(q))
            send_all(*route)
            a = dict(server.sql(q))
            if a != b:
                problems.append(f"{route[0]} {route[1]}: refused bodies changed the database: "
                                f"{ {k: (b.get(k), a.get(k)) for k in a if b.get(k) != a.get(k)} }")
    print("\n".join(transcript))
    assert not problems, "\n".join(problems)
    assert call(server, "GET", "/api/v1/me", admin).status_code == 200     # still signed in
