"""`cityos secrets rekey --new-key-file FILE` (src/oidc/oidc_seal.c): every sealed secret
(TOTP seeds, OIDC private signing keys, retired ones too) is re-sealed with a new master
key in one transaction and the check value follows; the new key file is 0600. Afterwards
a node starts with the new key (TOTP sign-in works, the JWKS is the same and its keys
still sign) and a node with the old key is refused; a secret that does not open, a wrong
current key or an existing target file change nothing.
"""
import os
import stat
import types

from conftest import Client, is_postgres
from test_oidc_mfa import enrolled, totp
from test_oidc_prompt import authorize, back_to_client, exchange
from test_secrets_at_rest import key_file, node_with_key, put_secret, sign_in_with_totp, stored_secret


def state(s):
    """What a re-key changes: the check value, the sealed seeds and the sealed keys."""
    (check,) = s.sql("SELECT check_value FROM server_keys WHERE name = 'master'")
    expr = "encode(secret, 'hex')" if is_postgres() else "hex(secret)"
    seeds = dict(s.sql(f"SELECT account_id, {expr} FROM oidc_totp"))
    keys = dict(s.sql("SELECT kid, private_pem FROM oidc_keys"))
    return check[0], seeds, keys


def jwks(url):
    return sorted(Client(url).get("/api/v1/oidc/jwks").json()["keys"], key=lambda k: k["kid"])


def stop(p):
    p.terminate()
    p.wait(timeout=30)


def test_rekey_reseals_everything_and_the_old_key_is_refused(fresh_server, tmp_path):
    s = fresh_server
    aid, username, password, secret, _ = enrolled(s)
    enrolled(s)
    assert s.admin.post("/api/v1/oidc/keys/rotate").status_code == 200   # retired keys are re-sealed too
    before_jwks = jwks(s.url)
    check0, seeds0, keys0 = state(s)
    assert len(seeds0) == 2 and len(keys0) == 4
    s.stop()                                                    # the procedure: every node stopped

    new = tmp_path / "new.key"
    p = s.cli("secrets", "rekey", "--new-key-file", str(new))
    assert p.returncode == 0, p.stderr
    assert "re-sealed 2 TOTP secret(s) and 4 signing key(s)" in p.stdout
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
    text = new.read_text()
    assert len(text.strip()) == 64 and text.strip() != open(key_file(s)).read().strip()
    check1, seeds1, keys1 = state(s)
    assert check1 != check0 and check1 in p.stdout
    assert seeds1.keys() == seeds0.keys() and keys1.keys() == keys0.keys()
    for k in seeds0:
        assert seeds1[k] != seeds0[k] and bytes.fromhex(seeds1[k])[:4] == b"CSB1"
    for k in keys0:
        assert keys1[k] != keys0[k] and keys1[k].startswith("sealed1:") and "PRIVATE" not in keys1[k]
    detail = s.sql("SELECT detail FROM audit_log WHERE action = 'secrets.rekeyed'")
    assert len(detail) == 1 and check1 in detail[0][0]

    # the old key no longer opens this database's secrets: a node with it refuses to start
    url, p = node_with_key(s, key_file(s))
    assert url is None and p.returncode != 0 and "does not match" in p.stderr.read()

    url, p = node_with_key(s, str(new))
    assert url is not None
    try:
        assert jwks(url) == before_jwks
        c, r = sign_in_with_totp(url, username, password, secret, step_offset=1)
        assert r.status_code == 200, r.text
        assert c.get("/api/v1/users").status_code == 200
        # the re-sealed private keys still sign what the unchanged JWKS verifies
        srv = types.SimpleNamespace(url=url)
        r, params, verifier = authorize(srv, "cityos-portal", url + "/portal/", c.token)
        claims = exchange(srv, "cityos-portal", params, back_to_client(srv, r, params)["code"], verifier)
        assert claims["sub"] == str(aid)
        # a new enrolment under the new key works too
        _, u2, pw2, secret2, _ = enrolled(types.SimpleNamespace(url=url, admin=Client(url, s.admin.token),
                                                                 login=lambda u, w: login(url, u, w)))
        _, r = sign_in_with_totp(url, u2, pw2, secret2, step_offset=1)
        assert r.status_code == 200, r.text
    finally:
        stop(p)


def login(url, username, password):
    r = Client(url).post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Client(url, r.json()["token"])


def test_rekey_refusals_change_nothing(fresh_server, tmp_path):
    s = fresh_server
    aid, username, password, secret, _ = enrolled(s)
    other_aid, *_ = enrolled(s)
    s.stop()
    before = state(s)

    # the target exists: never overwritten
    existing = tmp_path / "existing.key"
    existing.write_text(os.urandom(32).hex() + "\n")
    p = s.cli("secrets", "rekey", "--new-key-file", str(existing))
    assert p.returncode != 0 and "already exists" in p.stderr
    # the current key given is not the database's
    wrong = tmp_path / "wrong.key"
    wrong.write_text(os.urandom(32).hex() + "\n")
    wrong.chmod(0o600)
    p = s.cli("secrets", "rekey", "--new-key-file", str(tmp_path / "a.key"), "--master-key-file", str(wrong))
    assert p.returncode != 0 and "is not the key" in p.stderr
    assert not (tmp_path / "a.key").exists()
    # a damaged secret stops the whole re-key before anything is written
    good = stored_secret(s, other_aid)
    put_secret(s, other_aid, good[:-1] + bytes([good[-1] ^ 1]))
    damaged = state(s)
    p = s.cli("secrets", "rekey", "--new-key-file", str(tmp_path / "b.key"))
    assert p.returncode != 0 and f"account {other_aid} does not open" in p.stderr
    assert not (tmp_path / "b.key").exists()
    assert state(s) == damaged
    put_secret(s, other_aid, good)
    assert state(s) == before
    # usage errors
    assert s.cli("secrets", "rekey").returncode == 2
    assert s.cli("secrets", "shuffle", "--new-key-file", str(tmp_path / "c.key")).returncode == 2

    # and nothing stopped the old key from working
    url, p = node_with_key(s, key_file(s))
    assert url is not None
    try:
        _, r = sign_in_with_totp(url, username, password, secret, step_offset=1)
        assert r.status_code == 200, r.text
    finally:
        stop(p)
