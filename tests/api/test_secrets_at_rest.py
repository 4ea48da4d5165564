"""Secrets at rest (src/base/seal.c, src/oidc/oidc_seal.c): TOTP seeds and the OIDC
private signing keys are stored sealed with the server master key; rows still in clear
are sealed when a node starts; a node with another key, or without the key file while
the database holds sealed secrets, refuses to start.
"""
import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import BIN, Client, assert_error, is_postgres
from test_oidc_mfa import enrolled, new_official, totp


def stored_secret(server, aid):
    expr = "encode(secret, 'hex')" if is_postgres() else "hex(secret)"
    (row,) = server.sql(f"SELECT {expr} FROM oidc_totp WHERE account_id = {aid}")
    return bytes.fromhex(row[0])


def put_secret(server, aid, raw):
    lit = f"decode('{raw.hex()}', 'hex')" if is_postgres() else f"X'{raw.hex()}'"
    server.sql(f"UPDATE oidc_totp SET secret = {lit} WHERE account_id = {aid}")


def key_file(server):
    return server.db + ".key" if not is_postgres() else os.path.abspath("cityos-master.key")


def sign_in_with_totp(url, username, password, secret, step_offset=0):
    c = Client(url)
    r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    c = Client(url, r.json()["token"])
    assert_error(c.get("/api/v1/users"), 401)                 # pending the second factor
    return c, c.post("/api/v1/me/totp/verify", json={"code": totp(secret, step_offset=step_offset)})


def test_totp_secret_is_stored_sealed_and_sign_in_still_works(server):
    aid, username, password, secret, _ = enrolled(server)
    clear = base64.b32decode(secret + "=" * (-len(secret) % 8))
    stored = stored_secret(server, aid)
    assert clear not in stored and stored[:4] == b"CSB1" and len(stored) == len(clear) + 44
    c, r = sign_in_with_totp(server.url, username, password, secret, step_offset=1)
    assert r.status_code == 200, r.text
    assert c.get("/api/v1/users").status_code == 200


def test_signing_keys_are_stored_sealed(server):
    rows = server.sql("SELECT kid, private_pem FROM oidc_keys")
    assert rows
    for kid, pem in rows:
        assert pem.startswith("sealed1:") and "BEGIN" not in pem and "PRIVATE" not in pem, kid
    kids = {k["kid"] for k in server.client().get("/api/v1/oidc/jwks").json()["keys"]}
    assert {kid for (kid,) in server.sql("SELECT kid FROM oidc_keys WHERE retired_at IS NULL")} <= kids


def test_master_key_file_is_private(server):
    path = key_file(server)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    text = open(path).read()
    assert len(text.strip()) == 64 and int(text, 16) >= 0
    (check,) = server.sql("SELECT check_value FROM server_keys WHERE name = 'master'")
    assert len(check[0]) == 16 and check[0] not in text


def test_clear_rows_are_sealed_at_start_and_still_work(fresh_server):
    s = fresh_server
    aid, username, password, secret, _ = enrolled(s)
    clear = base64.b32decode(secret + "=" * (-len(secret) % 8))
    put_secret(s, aid, clear)                                  # as a database from before sealing
    priv = ec.generate_private_key(ec.SECP256R1())
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
    s.sql("INSERT INTO oidc_keys (kid, alg, private_pem, created_at, retired_at, publish_until)"
          f" VALUES ('clear0000000001', 'ES256', '{pem}', 1, 1, 99999999999999)")
    url2, node2 = s.start_node()                               # its start seals them
    try:
        stored = stored_secret(s, aid)
        assert stored[:4] == b"CSB1" and clear not in stored
        (sealed,) = s.sql("SELECT private_pem FROM oidc_keys WHERE kid = 'clear0000000001'")
        assert sealed[0].startswith("sealed1:") and "BEGIN" not in sealed[0]
        actions = [a for (a,) in s.sql("SELECT action FROM audit_log WHERE action = 'secrets.sealed'")]
        assert actions == ["secrets.sealed"]
        # the sealed seed still signs in, the sealed key is still the same key in the JWKS
        _, r = sign_in_with_totp(url2, username, password, secret, step_offset=1)
        assert r.status_code == 200, r.text
        (jwk,) = [k for k in Client(url2).get("/api/v1/oidc/jwks").json()["keys"] if k["kid"] == "clear0000000001"]
        nums = priv.public_key().public_numbers()
        pad = lambda b: base64.urlsafe_b64decode(b + "=" * (-len(b) % 4))  # noqa: E731
        assert int.from_bytes(pad(jwk["x"]), "big") == nums.x and int.from_bytes(pad(jwk["y"]), "big") == nums.y
    finally:
        node2.terminate()
        node2.wait()


def test_a_secret_copied_to_another_account_does_not_open(fresh_server):
    s = fresh_server
    a_id, _, _, a_secret, _ = enrolled(s)
    b_id, b_user, b_pw, _, _ = enrolled(s)
    put_secret(s, b_id, stored_secret(s, a_id))               # the attacker's own seed into B's row
    _, r = sign_in_with_totp(s.url, b_user, b_pw, a_secret, step_offset=1)
    assert r.status_code != 200
    assert_error(r, 500, "internal")


def node_with_key(s, key_path):
    """Starts a node with --master-key-file; (url, proc) or None when it refused."""
    import subprocess
    import re
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--master-key-file", key_path] + s.common,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
    if m:
        return m.group(1), p
    p.wait(timeout=30)
    return None, p


def test_a_node_with_another_or_no_key_refuses_to_start(fresh_server, tmp_path):
    s = fresh_server
    new_official(s)
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex() + "\n")
    other.chmod(0o600)
    url, p = node_with_key(s, str(other))
    assert url is None and p.returncode != 0
    assert "does not match" in p.stderr.read()
    url, p = node_with_key(s, str(tmp_path / "missing.key"))
    assert url is None and p.returncode != 0
    assert "key file is missing" in p.stderr.read()
    assert not (tmp_path / "missing.key").exists()             # no new key made over sealed data
    # the right key, given explicitly, works
    url, p = node_with_key(s, key_file(s))
    try:
        assert url is not None
        assert Client(url).get("/api/v1/oidc/jwks").status_code == 200
    finally:
        p.terminate()
        p.wait()


@pytest.mark.skipif(is_postgres(), reason="SQLite: the default key file sits beside the database")
def test_default_key_file_beside_the_sqlite_database(server):
    assert os.path.exists(server.db + ".key")
