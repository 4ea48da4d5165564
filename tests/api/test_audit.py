"""The audit log: who may read it, filters and pages, the hash chain, and tampering
(an attacker with database access drops the append-only triggers, then edits or deletes
rows: `GET /api/v1/audit/verify` and `cityos audit verify` name the first broken seq)."""
import hashlib
import re
import time

import pytest

from conftest import assert_error, is_postgres, make_cccd, unique

AUDIT = "/api/v1/audit"


# --- helpers -----------------------------------------------------------------------------

def new_account(server, kind="official", roles=(), unit=None):
    """admin creates an account and it signs in: (id, Client)."""
    pw = "Mat-khau-" + unique("")
    if kind == "citizen":
        cccd = make_cccd("001", 1985)
        body = {"kind": "citizen", "cccd": cccd, "birth_date": "1985-01-01", "sex": "male",
                "full_name": "Vũ Văn Dân", "password": pw}
        username = cccd
    else:
        username = unique("kt-")
        body = {"kind": "official", "username": username, "password": pw, "full_name": "Kiểm Tra Viên",
                "roles": list(roles)}
    if unit:
        body["unit"] = unit
    r = server.admin.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], server.login(username, pw)


def head_seq(server):
    return int(server.sql("SELECT seq FROM audit_head WHERE id = 1")[0][0])


def refused(server, sql):
    """The statement must fail; returns the database's message."""
    try:
        server.sql(sql)
    except Exception as e:  # noqa: BLE001  (sqlite3 error, or psql's stderr in an AssertionError)
        return str(e)
    pytest.fail(f"the database accepted: {sql}")


def drop_triggers(server):
    """What an attacker with database rights does first (trigger names from src/audit/audit.c)."""
    if is_postgres():
        server.sql("DROP TRIGGER audit_log_no_update ON audit_log")      # BEFORE UPDATE OR DELETE
    else:
        server.sql("DROP TRIGGER audit_log_no_update")
        server.sql("DROP TRIGGER audit_log_no_delete")


def make_entries(server, n):
    """n more entries (each list of accounts is a user.list entry); returns the head seq."""
    for _ in range(n):
        assert server.admin.get("/api/v1/users?limit=1").status_code == 200
    return head_seq(server)


def verify(server):
    r = server.admin.get(AUDIT + "/verify")
    assert r.status_code == 200, r.text
    return r.json()


def cli_verify(server):
    p = server.cli("audit", "verify")
    return p.returncode, p.stdout + p.stderr


def canonical_hash(row, prev_hash):
    """The documented encoding (src/audit/audit.h), recomputed outside the server."""
    h = hashlib.sha256(b"cityos-audit-v1\n")
    for v in list(row) + [prev_hash]:
        if v is None:
            h.update(b"N;")
        else:
            b = str(v).encode()
            h.update(str(len(b)).encode() + b":" + b + b";")
    return h.hexdigest()


def rows_with_nulls(server, upto=None):
    """(seq, fields..., prev_hash, hash) with SQL NULL as None (psql prints NULL as '')."""
    cols = ["seq", "at", "actor_id", "actor_kind", "action", "record_type", "record_id", "unit_id", "ip",
            "request_id", "detail", "prev_hash", "hash"]
    sel = ", ".join(f"CASE WHEN {c} IS NULL THEN 'N' ELSE 'V' || CAST({c} AS TEXT) END" for c in cols)
    where = f" WHERE seq <= {upto}" if upto else ""
    out = []
    for r in server.sql(f"SELECT {sel} FROM audit_log{where} ORDER BY seq"):
        out.append(tuple(None if x == "N" else x[1:] for x in r))
    return out


# --- who may read ----------------------------------------------------------------------------

def test_audit_needs_audit_read(server, anon):
    _, citizen = new_account(server, "citizen")
    _, officer = new_account(server, roles=[{"role": "officer", "unit": "00070"}], unit="00070")
    for path in [AUDIT, AUDIT + "/verify", AUDIT + "?action=auth.login"]:
        assert_error(anon.get(path), 401, "unauthenticated")
        assert_error(citizen.get(path), 403, "forbidden")
        assert_error(officer.get(path), 403, "forbidden")
    assert server.admin.get(AUDIT).status_code == 200


# --- list, filters, pages -----------------------------------------------------------------------

def test_list_filters_and_pages(server, admin):
    uid, me = new_account(server, roles=[{"role": "officer"}])
    # Audit times are whole milliseconds: step past the sign-in's millisecond so the
    # window below starts strictly after it.
    time.sleep(0.01)
    t0 = int(time.time() * 1000)
    target, _ = new_account(server, "citizen", unit="00070")
    for _ in range(3):
        me.get("/api/v1/users?limit=1")
    me.get(f"/api/v1/users/{target}")
    t1 = int(time.time() * 1000) + 1

    # ?actor= : exactly what this official did, newest first
    r = admin.get(f"{AUDIT}?actor={uid}")
    assert r.status_code == 200
    body = r.json()
    assert body["limit"] == 50 and body["offset"] == 0 and body["has_more"] is False
    mine = body["items"]
    assert [e["action"] for e in mine] == ["user.read", "user.list", "user.list", "user.list", "auth.login"]
    seqs = [e["seq"] for e in mine]
    assert seqs == sorted(seqs, reverse=True)
    e = mine[0]
    assert set(e) == {"seq", "at", "actor", "action", "record_type", "record_id", "unit_id", "ip",
                      "request_id", "detail", "hash"}
    assert e["actor"] == {"id": uid, "kind": "official"} and e["ip"] == "127.0.0.1"
    assert e["record_type"] == "account" and e["record_id"] == str(target)
    assert re.fullmatch(r"[0-9a-f]{64}", e["hash"]) and re.fullmatch(r"[0-9a-f]{16}", e["request_id"])

    # the request id ties an entry to the access log line
    r = me.get(f"/api/v1/users/{target}", headers={"X-Request-Id": "audit-trace-77"})
    assert admin.get(f"{AUDIT}?actor={uid}&limit=1").json()["items"][0]["request_id"] == "audit-trace-77"

    # pages
    p1 = admin.get(f"{AUDIT}?actor={uid}&limit=2").json()
    p2 = admin.get(f"{AUDIT}?actor={uid}&limit=2&offset=2").json()
    p3 = admin.get(f"{AUDIT}?actor={uid}&limit=2&offset=4").json()
    assert p1["has_more"] and p2["has_more"] and not p3["has_more"]
    assert [e["seq"] for e in p1["items"] + p2["items"] + p3["items"]] == \
        [e["seq"] for e in admin.get(f"{AUDIT}?actor={uid}").json()["items"]]

    # action, record, time window
    reads = admin.get(f"{AUDIT}?actor={uid}&action=user.read").json()["items"]
    assert len(reads) == 2 and all(x["action"] == "user.read" for x in reads)
    rec = admin.get(f"{AUDIT}?record_type=account&record_id={target}").json()["items"]
    assert [x["action"] for x in rec] == ["user.read", "user.read", "auth.login", "user.create"]
    assert [x["actor"]["id"] for x in rec] == [uid, uid, target, admin.get("/api/v1/me").json()["id"]]
    window = admin.get(f"{AUDIT}?actor={uid}&from={t0}&to={t1}").json()["items"]
    assert [x["action"] for x in window] == ["user.read", "user.list", "user.list", "user.list"]
    assert all(t0 <= x["at"] < t1 for x in window)
    assert admin.get(f"{AUDIT}?actor={uid}&to={t0 - 60000}").json()["items"] == []
    assert admin.get(f"{AUDIT}?action=no.such.action").json()["items"] == []

    # bad parameters: 422 / 400 naming the parameter
    for q, status, field in [("actor=abc", 422, "actor"), ("actor=0", 422, "actor"), ("from=-5", 422, "from"),
                             ("to=soon", 422, "to"), ("action=" + "a" * 129, 422, "action"),
                             ("limit=0", 400, "limit"), ("limit=501", 400, "limit"), ("offset=x", 400, "offset")]:
        err = assert_error(admin.get(f"{AUDIT}?{q}"), status)
        assert err["field"] == field, q


def test_login_entries_hold_no_secrets(server, admin):
    uid, me = new_account(server)
    username = me.get("/api/v1/me").json()["username"]
    pw_probe = "Sai-mat-khau-" + unique("")
    r = server.client().post("/api/v1/auth/login", json={"username": username, "password": pw_probe})
    assert_error(r, 401, "bad_credentials")
    last = admin.get(f"{AUDIT}?record_type=account&record_id={uid}").json()["items"]
    assert [x["action"] for x in last][:2] == ["auth.login_failed", "auth.login"]
    assert last[0]["detail"] == {"locked": False, "reason": "bad_password"}
    assert pw_probe not in repr(last) and me.token not in repr(last)
    rows = server.sql("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'auth.%' AND (detail LIKE '%"
                      + pw_probe + "%' OR detail LIKE '%cs\\_%' ESCAPE '\\' OR detail LIKE '%argon2%')")
    assert rows[0][0] == "0"


# --- the chain ---------------------------------------------------------------------------------

def test_verify_ok_on_intact_chain(server, admin):
    make_entries(server, 2)
    body = verify(server)
    assert body["ok"] is True and body["entries"] == body["head_seq"] >= 3
    assert re.fullmatch(r"[0-9a-f]{64}", body["head_hash"])
    rc, out = cli_verify(server)
    assert rc == 0 and "audit: intact" in out, out


def test_chain_is_recomputable_and_triggers_refuse_changes(fresh_server):
    s = fresh_server
    n = make_entries(s, 3)
    # An outside tool re-checks every link with the encoding documented in audit.h.
    prev = "0" * 64
    rows = rows_with_nulls(s)
    assert [int(r[0]) for r in rows] == list(range(1, n + 1))
    for r in rows:
        fields, prev_hash, stored = r[:11], r[11], r[12]
        assert prev_hash == prev
        assert canonical_hash(fields, prev) == stored, r
        prev = stored
    assert s.sql("SELECT last_hash FROM audit_head")[0][0] == prev

    # While the triggers are in place the database itself refuses every change.
    assert "append-only" in refused(s, "UPDATE audit_log SET action = 'nothing' WHERE seq = 1")
    assert "append-only" in refused(s, f"DELETE FROM audit_log WHERE seq = {n}")
    assert "append-only" in refused(s, "DELETE FROM audit_log")
    assert "audit_head" in refused(s, "DELETE FROM audit_head")
    assert "audit_head" in refused(s, "UPDATE audit_head SET seq = seq - 1")
    if is_postgres():
        assert "append-only" in refused(s, "TRUNCATE audit_log")
    assert head_seq(s) == n and int(s.sql("SELECT COUNT(*) FROM audit_log")[0][0]) == n
    assert verify(s)["ok"] is True


def insert_row(s, row):
    """Puts a saved row (from rows_with_nulls) back, as it was."""
    cols = ["seq", "at", "actor_id", "actor_kind", "action", "record_type", "record_id", "unit_id", "ip",
            "request_id", "detail", "prev_hash", "hash"]
    vals = ", ".join("NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in row)
    if is_postgres():   # typed columns want typed values
        vals = ", ".join("NULL" if v is None else (v if c in ("seq", "at", "actor_id", "unit_id")
                                                    else "'" + v.replace("'", "''") + "'")
                         for c, v in zip(cols, row))
    s.sql(f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({vals})")


def test_edited_row_is_found(fresh_server):
    s = fresh_server
    n = make_entries(s, 4)
    k = n // 2
    drop_triggers(s)
    original = rows_with_nulls(s, upto=k)[-1]

    # 1. the detail of row k is rewritten: its hash no longer matches
    s.sql(f"UPDATE audit_log SET detail = '{{\"limit\":1,\"note\":\"doctored\"}}' WHERE seq = {k}")
    body = verify(s)
    assert body["ok"] is False and body["first_bad_seq"] == k, body
    assert "hash mismatch" in body["reason"]
    rc, out = cli_verify(s)
    assert rc == 1 and f"audit: broken at seq {k}:" in out, out

    # put it back: intact again (the check is exact, not a heuristic)
    s.sql(f"DELETE FROM audit_log WHERE seq = {k}")
    insert_row(s, original)
    assert verify(s)["ok"] is True

    # 2. the editor also recomputes row k's own hash: the next link betrays it
    fields = list(original[:11])
    fields[4] = "user.nothing"                                     # action
    forged = canonical_hash(fields, original[11])
    s.sql(f"UPDATE audit_log SET action = 'user.nothing', hash = '{forged}' WHERE seq = {k}")
    body = verify(s)
    assert body["ok"] is False and body["first_bad_seq"] == k + 1, body
    assert "prev_hash" in body["reason"]
    rc, out = cli_verify(s)
    assert rc == 1 and f"audit: broken at seq {k + 1}:" in out, out


def test_deleted_rows_are_found(fresh_server):
    s = fresh_server
    n = make_entries(s, 4)
    k = n // 2
    drop_triggers(s)
    saved = rows_with_nulls(s)

    # 1. a row in the middle
    s.sql(f"DELETE FROM audit_log WHERE seq = {k}")
    body = verify(s)
    assert body["ok"] is False and body["first_bad_seq"] == k, body
    assert "missing" in body["reason"]
    rc, out = cli_verify(s)
    assert rc == 1 and f"audit: broken at seq {k}:" in out, out
    # new entries keep coming and do not paper over the hole
    n = make_entries(s, 1)
    assert verify(s)["first_bad_seq"] == k
    insert_row(s, saved[k - 1])
    assert verify(s)["ok"] is True

    # 2. the last row (the head remembers it)
    s.sql(f"DELETE FROM audit_log WHERE seq = {n}")
    body = verify(s)
    assert body["ok"] is False and body["first_bad_seq"] == n, body
    assert "last entry missing" in body["reason"]
    rc, out = cli_verify(s)
    assert rc == 1 and f"audit: broken at seq {n}:" in out, out

    # 3. the head itself (after dropping its guard too): reported, not a read error
    if is_postgres():
        s.sql("DROP TRIGGER audit_head_guard ON audit_head")
    else:
        s.sql("DROP TRIGGER audit_head_no_delete")
    s.sql("DELETE FROM audit_head")
    body = verify(s)
    assert body["ok"] is False and body["first_bad_seq"] == n and "audit_head" in body["reason"], body
    rc, out = cli_verify(s)
    assert rc == 1 and f"audit: broken at seq {n}:" in out, out
    # and nothing can be audited any more, so audited requests fail closed
    r = s.admin.get("/api/v1/users?limit=1")
    assert r.status_code >= 500
