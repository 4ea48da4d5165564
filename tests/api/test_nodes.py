"""Several cityos nodes on one database behave as one system: sessions, sign-out,
sign-in throttling and audit are shared, never per process."""
import requests

from conftest import Client, assert_error, unique


def test_two_nodes_share_sessions_and_throttling(server, admin):
    url_b, proc_b = server.start_node()
    try:
        b = Client(url_b)
        # A session made on node A works on node B, and sign-out on B ends it on A.
        login = requests.post(server.url + "/api/v1/auth/login",
                              json={"username": "admin", "password": __import__("conftest").ADMIN_PASSWORD}).json()
        tok = login["token"]
        assert Client(url_b, tok).get("/api/v1/me").status_code == 200
        assert Client(url_b, tok).post("/api/v1/auth/logout").status_code in (200, 204)
        assert_error(Client(server.url, tok).get("/api/v1/me"), 401, "unauthenticated")
        # An account created through node B signs in on node A.
        name = unique("node")
        r = Client(url_b, admin.token).post("/api/v1/users", json={
            "kind": "official", "username": name, "password": "Mat-khau-rat-dai-1", "full_name": "Trần Văn Nút",
            "unit": "00070", "roles": [{"role": "officer", "unit": "00070"}]})
        assert r.status_code == 201, r.text
        assert requests.post(server.url + "/api/v1/auth/login",
                             json={"username": name, "password": "Mat-khau-rat-dai-1"}).status_code == 200
        # Failed sign-ins alternate between the nodes and still count together
        # (the session server slows down after 2 failures).
        bad = {"username": name, "password": "wrong-password-1"}
        assert requests.post(server.url + "/api/v1/auth/login", json=bad).status_code == 401
        assert requests.post(url_b + "/api/v1/auth/login", json=bad).status_code == 401
        r = requests.post(server.url + "/api/v1/auth/login", json=bad)
        assert_error(r, 429, "rate_limited")
        # Both nodes append to one audit chain, which stays intact.
        v = admin.get("/api/v1/audit/verify").json()
        assert v["ok"] is True, v
    finally:
        proc_b.terminate()
        proc_b.wait(timeout=30)
