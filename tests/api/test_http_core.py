"""The HTTP core: health, readiness, metrics, OpenAPI, errors as JSON, limits,
request ids, static files, keep-alive."""
import http.client
import json
import re
import socket
import time
import urllib.parse

import requests

from conftest import assert_error


def test_healthz_and_readyz(anon):
    r = anon.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = anon.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_request_id_generated_and_echoed(anon):
    r = anon.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["X-Request-Id"])
    r = anon.get("/healthz", headers={"X-Request-Id": "trace-42.abc"})
    assert r.headers["X-Request-Id"] == "trace-42.abc"
    # An id with unsafe characters is replaced, never echoed.
    r = anon.get("/healthz", headers={"X-Request-Id": "bad id\"<script>"})
    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["X-Request-Id"])


def test_request_id_in_access_log(server, anon):
    anon.get("/api/v1/units/00070", headers={"X-Request-Id": "log-check-1234"})
    # Access lines are buffered and written at least every 200 ms.
    pattern = r"rid=log-check-1234 msg=access method=GET path=\"/api/v1/units/00070\" status=200"
    deadline = time.time() + 3
    while time.time() < deadline and not re.search(pattern, open(server.log_path).read()):
        time.sleep(0.05)
    assert re.search(pattern, open(server.log_path).read())


def test_unknown_api_path_is_json_404(anon):
    assert_error(anon.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_with_allow(anon):
    r = anon.req("DELETE", "/api/v1/units/00070")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]
    r = anon.req("PUT", "/index.html")
    assert_error(r, 405, "method_not_allowed")


def test_metrics_prometheus_format(anon):
    anon.get("/api/v1/units/00070")
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert "# TYPE cityos_http_requests_total counter" in text
    assert "# TYPE cityos_http_request_duration_seconds histogram" in text
    assert re.search(r'cityos_http_requests_total\{method="GET",route="/api/v1/units/\{code\}",status="2xx"\} [1-9]', text)
    assert re.search(r'cityos_http_request_duration_seconds_bucket\{method="GET",route="/api/v1/units/\{code\}",le="\+Inf"\} [1-9]', text)
    assert re.search(r"cityos_db_pool_size \d+", text)
    assert re.search(r"cityos_db_pool_in_use \d+", text)
    # Every sample line is NAME{labels} VALUE or NAME VALUE.
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? [0-9.e+-]+', line), line


def test_openapi_lists_every_route(anon):
    doc = anon.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for p in ["/api/v1/units", "/api/v1/units/{code}", "/api/v1/units/locate", "/api/v1/auth/login",
              "/api/v1/users", "/api/v1/audit", "/healthz", "/metrics"]:
        assert p in paths, p
    assert paths["/api/v1/units/{code}"]["get"]["parameters"][0]["name"] == "code"


def test_bodies_limits_and_media_type(admin):
    # Invalid JSON, trailing garbage, invalid UTF-8, too deep, not an object.
    for body in [b"{", b'{"username":"a"} x', b'{"username":"\xff\xfe"}', b"[" * 40 + b"]" * 40, b"[1,2]",
                 b'{"a":1,"a":2}']:
        r = admin.post("/api/v1/users", data=body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
    # A body that is not JSON.
    r = admin.post("/api/v1/users", data=b"username=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")
    # Larger than the route's limit.
    r = admin.post("/api/v1/users", data=b'{"x":"' + b"a" * (2 << 20) + b'"}',
                   headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")
    # A body on a route that takes none.
    r = admin.req("GET", "/api/v1/me", data=b"{}", headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")


def test_chunked_body_over_limit(server):
    """A chunked upload past the route's limit is cut off with 413 (the server stops
    reading, so the client may see its later writes fail)."""
    u = urllib.parse.urlsplit(server.url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    s.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    try:
        for _ in range(64):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
            if b"\r\n\r\n" in data and b"}" in data:
                break
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b'"too_large"' in data


def test_keep_alive_survives(server):
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    socks = set()
    for path in ["/healthz", "/api/v1/units/00070", "/api/v1/units?q=hoan%20kiem", "/api/v1/nothing"]:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.getheader("Connection", "").lower() != "close", path
        socks.add(id(conn.sock))
        assert conn.sock is not None
    # A POST with a body on the same connection, then another GET.
    conn.request("POST", "/api/v1/auth/login", body=json.dumps({"username": "nobody", "password": "x" * 12}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    assert r.status in (401, 429)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    assert len(socks) == 1


def test_static_files(anon):
    r = anon.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    etag = r.headers["ETag"]
    assert r.headers["Cache-Control"] == "no-cache"
    r2 = anon.get("/", headers={"If-None-Match": etag})
    assert r2.status_code == 304
    r = anon.get("/app.js")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    r = anon.get("/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    assert_error(anon.get("/no-such-file.html"), 404, "not_found")


def test_path_traversal_refused(server):
    # requests normalises "..", so send the raw request line.
    u = urllib.parse.urlsplit(server.url)
    for raw in ["/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/vendor/../../README.md", "/.git/config"]:
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        s.sendall(f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        status = int(data.split(b" ", 2)[1])
        assert status == 404, (raw, data[:200])
        assert b"cmake_minimum_required" not in data and b"[core]" not in data


def test_huge_headers_refused(anon):
    r = anon.get("/healthz", headers={"X-Big": "a" * 100000})
    assert r.status_code in (413, 431)
