"""Account administration: create, validate, list, read, change; unit scope; reads are
audited; API clients. Request/answer transcripts against the shared server."""
import time

import pytest

from conftest import assert_error, make_cccd, unique

USERS = "/api/v1/users"


# --- helpers -----------------------------------------------------------------------------

def password():
    return "Mat-khau-" + unique("")


def official_body(unit=None, roles=(), **over):
    body = {"kind": "official", "username": unique("off-"), "password": password(),
            "full_name": "Lê Văn Cán Bộ", "roles": list(roles)}
    if unit:
        body["unit"] = unit
    body.update(over)
    return body


def citizen_body(unit=None, year=1990, female=False, **over):
    body = {"kind": "citizen", "cccd": make_cccd("001", year, female), "birth_date": f"{year}-06-15",
            "sex": "female" if female else "male", "full_name": "Phạm Thị Công Dân", "password": password()}
    if unit:
        body["unit"] = unit
    body.update(over)
    return body


def create(client, body, status=201):
    r = client.post(USERS, json=body)
    assert r.status_code == status, r.text
    return r.json()


def signed_in(server, body):
    """Creates the account as admin and signs it in: (account JSON, Client)."""
    acc = create(server.admin, body)
    return acc, server.login(body["username"] if body["kind"] != "citizen" else body["cccd"], body["password"])


def counts(server):
    """(accounts, account_roles, tokens, audit head seq): what a refused request must not change."""
    return tuple(int(x) for x in server.sql(
        "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM account_roles),"
        " (SELECT COUNT(*) FROM tokens), (SELECT seq FROM audit_head WHERE id = 1)")[0])


def ids(listing):
    return {u["id"] for u in listing["items"]}


def r_text(obj):
    return repr(obj)


def admin_id(admin):
    return admin.get("/api/v1/me").json()["id"]


@pytest.fixture(scope="module")
def scope(server):
    """Accounts for the unit-scope tests, all tagged so a search finds just them.
    X: a citizen of Phường Hoàn Kiếm (00070); Y: a citizen of Phường Ba Đình (00004);
    A: officer at 00070; B: unit_admin at 00070; C: unit_admin at the city (01)."""
    tag = unique("scope")
    s = {"tag": tag}
    s["X"] = create(server.admin, citizen_body("00070", full_name=f"Người Hoàn Kiếm {tag}"))
    s["Y"] = create(server.admin, citizen_body("00004", full_name=f"Người Ba Đình {tag}"))
    s["A"], s["a"] = signed_in(server, official_body("00070", [{"role": "officer", "unit": "00070"}],
                                                     full_name=f"Cán bộ A {tag}"))
    s["B"], s["b"] = signed_in(server, official_body("00070", [{"role": "unit_admin", "unit": "00070"}],
                                                     full_name=f"Quản trị B {tag}"))
    s["C"], s["c"] = signed_in(server, official_body("01", [{"role": "unit_admin", "unit": "01"}],
                                                     full_name=f"Quản trị C {tag}"))
    return s


# --- create --------------------------------------------------------------------------------

def test_admin_creates_an_official(server, admin):
    body = official_body("00070", [{"role": "officer", "unit": "00070"}, {"role": "unit_admin", "unit": "01"}])
    body["username"] = body["username"].upper() + "  "          # normalized: trimmed, lower case
    u = create(admin, body)
    assert u["kind"] == "official" and u["username"] == body["username"].strip().lower()
    assert u["full_name"] == "Lê Văn Cán Bộ" and u["status"] == "active"
    assert u["unit"]["code"] == "00070" and u["unit"]["name"] == "Phường Hoàn Kiếm" and u["unit"]["era"] == "2025"
    roles = {(r["role"], r["unit"]["code"]) for r in u["roles"]}
    assert roles == {("officer", "00070"), ("unit_admin", "01")}
    assert u["cccd"] is None and u["birth_date"] is None and u["sex"] is None
    assert "password" not in u and "password_hash" not in u and body["password"] not in r_text(u)
    # stored hashed (argon2id), never in the clear
    h = server.sql(f"SELECT password_hash FROM accounts WHERE id = {u['id']}")[0][0]
    assert h.startswith("$argon2id$") and body["password"] not in h
    # audited as user.create by the admin, without the password
    e = admin.get(f"/api/v1/audit?action=user.create&record_id={u['id']}").json()["items"]
    assert len(e) == 1 and e[0]["actor"]["id"] == admin_id(admin) and e[0]["detail"]["kind"] == "official"
    assert body["password"] not in r_text(e)


def test_admin_creates_a_citizen(admin):
    body = citizen_body("00004", year=2001, female=True, sex="Nữ")   # Vietnamese spelling accepted
    u = create(admin, body)
    assert u["kind"] == "citizen" and u["username"] == body["cccd"] and u["cccd"] == body["cccd"]
    assert u["birth_date"] == "2001-06-15" and u["sex"] == "female" and u["roles"] == []
    assert u["unit"]["code"] == "00004"


def test_duplicates_are_409(server, admin):
    off = create(admin, official_body())
    cit = create(admin, citizen_body())
    before = counts(server)
    r = admin.post(USERS, json=official_body(username=off["username"].upper()))
    assert assert_error(r, 409, "conflict")["field"] == "username"
    r = admin.post(USERS, json=citizen_body(cccd=cit["cccd"]))        # same CCCD = same user name
    assert_error(r, 409, "conflict")
    r = admin.post(USERS, json=official_body(cccd=cit["cccd"], birth_date="1990-06-15", sex="male"))
    assert assert_error(r, 409, "conflict")["field"] == "cccd"
    assert counts(server) == before


def test_every_validation_error_names_its_field_and_writes_nothing(server, admin):
    female_1990 = make_cccd("001", 1990, female=True)
    future_year = time.gmtime().tm_year + 1
    cases = [
        # (body, field)
        (citizen_body(cccd="12345"), "cccd"),                                   # bad format
        (citizen_body(cccd="0010901234a5"), "cccd"),
        (citizen_body(cccd="999090123456"), "cccd"),                            # unknown province
        (citizen_body(year=1990, birth_date="1991-06-15"), "cccd"),            # year mismatch
        (citizen_body(cccd=female_1990, sex="male"), "cccd"),                  # sex mismatch
        (citizen_body(cccd=make_cccd("001", future_year), birth_date=f"{future_year}-01-01"), "birth_date"),
        (citizen_body(birth_date="1990-02-30"), "birth_date"),                 # not a date
        (citizen_body(birth_date="15/06/1990"), "birth_date"),
        (citizen_body(sex="other"), "sex"),
        (citizen_body(cccd=None), "cccd"),                                      # citizens need all three
        (citizen_body(birth_date=None), "birth_date"),
        (citizen_body(sex=None), "sex"),
        (citizen_body(username="somebody"), "username"),                        # a citizen's name is the CCCD
        (citizen_body(roles=[{"role": "officer"}]), "roles"),                   # citizens hold no roles
        (citizen_body(unit="99999"), "unit"),                                   # unknown unit
        (citizen_body(unit="002"), "unit"),                                     # a 2024 district: not active
        (official_body(roles=[{"role": "no_such_role"}]), "roles"),             # unknown role
        (official_body(roles=[{"role": "officer", "unit": "99999"}]), "roles"), # role at an unknown unit
        (official_body(roles=[{"unit": "00070"}]), "roles"),
        (official_body(roles=["officer"]), "roles"),
        (official_body(roles={"role": "officer"}), "roles"),
        (official_body(kind="robot"), "kind"),                                  # bad kind
        (official_body(kind=None), "kind"),
        (official_body(kind="client"), "kind"),                                 # clients: POST /clients
        (official_body(kind=7), "kind"),
        (official_body(password="Ngan-1"), "password"),                         # weak passwords
        (official_body(password="12345678901234"), "password"),
        (official_body(username="tran.van.an.2026", password="TRAN.van.an.2026"), "password"),
        (official_body(password=None), "password"),
        (official_body(full_name=None), "full_name"),                           # missing name
        (official_body(full_name="   "), "full_name"),
        (official_body(full_name="Tên\u0007lạ"), "full_name"),
        (official_body(full_name=["Lê"]), "full_name"),
        (official_body(full_name="x" * 201), "full_name"),
        (official_body(username="ab"), "username"),                             # bad user names
        (official_body(username="le van a"), "username"),
        (official_body(username="123456"), "username"),
        (official_body(username=None), "username"),
    ]
    before = counts(server)
    for body, field in cases:
        body = {k: v for k, v in body.items() if v is not None}
        r = admin.post(USERS, json=body)
        err = assert_error(r, 422, "validation_failed")
        assert err.get("field") == field, (body, err)
    # Refused requests write nothing: no account, no role, and no audit entry either
    # (the code audits only what it writes; a refused create never opens a transaction).
    assert counts(server) == before


# --- list and read -------------------------------------------------------------------------

def test_list_pagination_and_filters(server, admin):
    tag = unique("liste")
    made = [create(admin, citizen_body("00070", full_name=f"{tag} Nguyễn Thị Hoà")),
            create(admin, citizen_body("00004", full_name=f"{tag} Đặng Văn Đức")),
            create(admin, official_body("00070", full_name=f"{tag} Nguyễn Văn Lâm"))]
    # GET /api/v1/users?q=<tag> -> all three, total 3, ordered by id
    r = admin.get(f"{USERS}?q={tag}").json()
    assert r["total"] == 3 and [u["id"] for u in r["items"]] == [u["id"] for u in made]
    assert r["limit"] == 50 and r["offset"] == 0
    item = r["items"][0]
    assert set(item) >= {"id", "kind", "username", "full_name", "cccd", "unit", "status", "created_at"}
    # pages
    p1 = admin.get(f"{USERS}?q={tag}&limit=2").json()
    p2 = admin.get(f"{USERS}?q={tag}&limit=2&offset=2").json()
    assert p1["total"] == p2["total"] == 3 and len(p1["items"]) == 2 and len(p2["items"]) == 1
    assert ids(p1) | ids(p2) == {u["id"] for u in made}
    # q ignores diacritics and case: "nguyen" finds "Nguyễn", "DUC" finds "Đức"
    assert ids(admin.get(f"{USERS}?q={tag} nguyen").json()) == {made[0]["id"], made[2]["id"]}
    assert ids(admin.get(f"{USERS}?q={tag} nguyễn thị hòa").json()) == {made[0]["id"]}   # other tone placement
    assert ids(admin.get(f"{USERS}?q={tag.upper()} DANG VAN DUC").json()) == {made[1]["id"]}
    assert ids(admin.get(f"{USERS}?q={made[1]['cccd']}").json()) == {made[1]["id"]}    # by CCCD (user name)
    # by user name, punctuation included ("off-1a2b..." is not folded to "off 1a2b...")
    assert ids(admin.get(f"{USERS}?q={made[2]['username'].upper()}").json()) == {made[2]["id"]}
    assert ids(admin.get(f"{USERS}?q={made[2]['username'][:6]}").json()) >= {made[2]["id"]}
    # and LIKE wildcards in q are literal: "o_f" does not match "off"
    assert made[2]["id"] not in ids(admin.get(f"{USERS}?q=o_f-{made[2]['username'][4:]}").json())
    everyone_nguyen = ids(admin.get(f"{USERS}?q=nguyen&limit=500").json())
    assert {made[0]["id"], made[2]["id"]} <= everyone_nguyen and made[1]["id"] not in everyone_nguyen
    # kind and unit
    assert ids(admin.get(f"{USERS}?q={tag}&kind=citizen").json()) == {made[0]["id"], made[1]["id"]}
    assert ids(admin.get(f"{USERS}?q={tag}&kind=official").json()) == {made[2]["id"]}
    assert ids(admin.get(f"{USERS}?q={tag}&unit=00070").json()) == {made[0]["id"], made[2]["id"]}
    assert ids(admin.get(f"{USERS}?q={tag}&unit=01").json()) == {u["id"] for u in made}  # the city's subtree
    assert ids(admin.get(f"{USERS}?q={tag}&unit=00004&kind=official").json()) == set()
    # bad filters
    assert assert_error(admin.get(f"{USERS}?kind=robot"), 422)["field"] == "kind"
    assert assert_error(admin.get(f"{USERS}?unit=99999"), 422)["field"] == "unit"
    assert assert_error(admin.get(f"{USERS}?q=" + "a" * 101), 422)["field"] == "q"
    assert assert_error(admin.get(f"{USERS}?limit=0"), 400)["field"] == "limit"
    assert assert_error(admin.get(f"{USERS}?limit=501"), 400)["field"] == "limit"
    assert assert_error(admin.get(f"{USERS}?offset=-1"), 400)["field"] == "offset"
    assert assert_error(admin.get(f"{USERS}?limit=abc"), 400)["field"] == "limit"


def test_get_one(admin):
    u = create(admin, citizen_body("00070"))
    r = admin.get(f"{USERS}/{u['id']}")
    assert r.status_code == 200 and r.json() == u
    assert_error(admin.get(f"{USERS}/999999999"), 404, "not_found")
    for bad in ["abc", "0", "-1", "1.5", "1e3", "99999999999999999999999"]:
        assert_error(admin.get(f"{USERS}/{bad}"), 404, "not_found")


def test_patch_name_status_roles(server, admin):
    tag = unique("doi")
    u = create(admin, official_body("00070", [{"role": "officer", "unit": "00070"}], full_name=f"Tên Cũ {tag}"))
    url = f"{USERS}/{u['id']}"
    # name (search follows the new name)
    r = admin.patch(url, json={"full_name": f"Hoàng Thị Mới {tag}"})
    assert r.status_code == 200 and r.json()["full_name"] == f"Hoàng Thị Mới {tag}"
    assert ids(admin.get(f"{USERS}?q=hoang thi moi {tag}").json()) == {u["id"]}
    assert admin.get(f"{USERS}?q=ten cu {tag}").json()["total"] == 0
    # roles replaced as a whole
    r = admin.patch(url, json={"roles": [{"role": "unit_admin", "unit": "00004"}]})
    assert r.status_code == 200
    assert [(x["role"], x["unit"]["code"]) for x in r.json()["roles"]] == [("unit_admin", "00004")]
    r = admin.patch(url, json={"roles": []})
    assert r.status_code == 200 and r.json()["roles"] == []
    # unit
    r = admin.patch(url, json={"unit": "00004"})
    assert r.status_code == 200 and r.json()["unit"]["code"] == "00004"
    # audited with what changed
    e = admin.get(f"/api/v1/audit?action=user.update&record_id={u['id']}").json()["items"]
    assert [x["detail"]["changed"] for x in reversed(e)] == [["full_name"], ["roles"], ["roles"], ["unit"]]

    # validation: 422 with the field, nothing written
    cit = create(admin, citizen_body())
    snapshot = admin.get(url).json()
    before = counts(server)
    for body, field in [({"full_name": ""}, "full_name"), ({"full_name": "   "}, "full_name"),
                        ({"full_name": "a\nb"}, "full_name"), ({"full_name": 5}, "full_name"),
                        ({"status": "gone"}, "status"), ({"status": True}, "status"),
                        ({"unit": "99999"}, "unit"),
                        ({"roles": [{"role": "no_such_role"}]}, "roles"),
                        ({"roles": [{"role": "officer", "unit": "99999"}]}, "roles"),
                        ({"roles": "officer"}, "roles")]:
        err = assert_error(admin.patch(url, json=body), 422, "validation_failed")
        assert err["field"] == field, (body, err)
    assert_error(admin.patch(f"{USERS}/999999999", json={"full_name": "Ai Đó"}), 404, "not_found")
    assert_error(admin.patch(f"{USERS}/abc", json={"full_name": "Ai Đó"}), 404, "not_found")
    r = admin.patch(f"{USERS}/00{u['id']}", json={"full_name": f"Hoàng Thị Mới {tag}"})
    assert r.status_code == 200
    e = admin.get(f"/api/v1/audit?action=user.update&limit=1").json()["items"][0]
    assert e["record_id"] == str(u["id"]) and e["detail"]["changed"] == []
    before = counts(server)
    # a citizen holds no roles
    err = assert_error(admin.patch(f"{USERS}/{cit['id']}", json={"roles": [{"role": "officer"}]}), 422)
    assert err["field"] == "roles"
    # nobody changes their own status or roles
    me = admin.get("/api/v1/me").json()["id"]
    assert_error(admin.patch(f"{USERS}/{me}", json={"status": "disabled"}), 403, "forbidden")
    assert_error(admin.patch(f"{USERS}/{me}", json={"roles": []}), 403, "forbidden")
    assert counts(server) == before
    snapshot.pop("updated_at")
    after = admin.get(url).json()
    after.pop("updated_at")
    assert after == snapshot


# --- unit scope ------------------------------------------------------------------------------

def test_officer_sees_only_own_ward(scope):
    a, X, Y, tag = scope["a"], scope["X"], scope["Y"], scope["tag"]
    assert a.get(f"{USERS}/{X['id']}").status_code == 200
    assert_error(a.get(f"{USERS}/{Y['id']}"), 404, "not_found")         # not 403: existence not revealed
    listing = a.get(f"{USERS}?q={tag}").json()
    assert X["id"] in ids(listing) and Y["id"] not in ids(listing)
    assert listing["total"] == len(listing["items"])
    assert a.get(f"{USERS}?q={tag}&unit=00004").json()["total"] == 0
    assert a.get(f"{USERS}?q={tag}&unit=01").json()["total"] == listing["total"]   # clipped to 00070
    # an officer only reads
    assert_error(a.post(USERS, json=citizen_body("00070")), 403, "forbidden")
    assert_error(a.patch(f"{USERS}/{X['id']}", json={"full_name": "Khác"}), 403, "forbidden")


def test_unit_admin_manages_only_own_ward(server, scope):
    b, X, Y, tag = scope["b"], scope["X"], scope["Y"], scope["tag"]
    assert b.get(f"{USERS}/{X['id']}").status_code == 200
    assert_error(b.get(f"{USERS}/{Y['id']}"), 404, "not_found")
    assert Y["id"] not in ids(b.get(f"{USERS}?q={tag}").json())

    before = counts(server)
    # create inside 00070: yes; in 00004 or without a unit: no
    err = assert_error(b.post(USERS, json=citizen_body("00004")), 403, "forbidden")
    assert err["field"] == "unit"
    assert_error(b.post(USERS, json=citizen_body()), 403, "forbidden")
    # no privilege escalation: admin, or unit_admin above its own unit, cannot be granted
    for roles in ([{"role": "admin"}], [{"role": "admin", "unit": "00070"}],
                  [{"role": "unit_admin", "unit": "01"}], [{"role": "officer"}]):
        err = assert_error(b.post(USERS, json=official_body("00070", roles)), 403, "forbidden")
        assert err["field"] == "roles", roles
    assert counts(server) == before
    # B may grant a role at 00070 when B holds every permission of it there: unit_admin,
    # and officer as long as other modules have not given officers rights B lacks
    made = create(b, official_body("00070", [{"role": "unit_admin", "unit": "00070"}]))
    assert made["unit"]["code"] == "00070"
    roles = {r["name"]: set(r["permissions"]) for r in server.admin.get("/api/v1/roles").json()["items"]}
    officer_body = official_body("00070", [{"role": "officer", "unit": "00070"}])
    if roles["officer"] <= roles["unit_admin"]:
        create(b, officer_body)
    else:
        assert_error(b.post(USERS, json=officer_body), 403, "forbidden")
    create(b, citizen_body("00070"))

    # changes: inside yes, outside 404, no moving out, no granting admin, no touching an admin
    assert b.patch(f"{USERS}/{made['id']}", json={"full_name": "Tên Đã Sửa"}).status_code == 200
    assert_error(b.patch(f"{USERS}/{Y['id']}", json={"full_name": "Khác"}), 404, "not_found")
    assert_error(b.patch(f"{USERS}/{made['id']}", json={"unit": "00004"}), 403, "forbidden")
    assert_error(b.patch(f"{USERS}/{made['id']}", json={"roles": [{"role": "admin"}]}), 403, "forbidden")
    assert_error(b.patch(f"{USERS}/{made['id']}", json={"roles": [{"role": "unit_admin", "unit": "01"}]}),
                 403, "forbidden")
    boss = create(server.admin, official_body("00070", [{"role": "admin"}]))
    assert_error(b.patch(f"{USERS}/{boss['id']}", json={"status": "disabled"}), 403, "forbidden")
    assert server.admin.get(f"{USERS}/{boss['id']}").json()["status"] == "active"
    # API clients are for administrators of everything
    assert_error(b.post("/api/v1/clients", json={"username": unique("cli-"), "name": "X"}), 403, "forbidden")


def test_city_unit_admin_sees_both_wards(scope):
    c, X, Y, tag = scope["c"], scope["X"], scope["Y"], scope["tag"]
    assert c.get(f"{USERS}/{X['id']}").status_code == 200
    assert c.get(f"{USERS}/{Y['id']}").status_code == 200
    assert {X["id"], Y["id"]} <= ids(c.get(f"{USERS}?q={tag}").json())
    assert ids(c.get(f"{USERS}?q={tag}&unit=00004").json()) == {Y["id"]}


def test_reads_are_audited_with_the_reader_as_actor(server, scope):
    a, A, X = scope["a"], scope["A"], scope["X"]
    a.get(f"{USERS}/{X['id']}")
    a.get(f"{USERS}?q={scope['tag']}&kind=citizen")
    e = server.admin.get(f"/api/v1/audit?actor={A['id']}&limit=5").json()["items"]
    assert [x["action"] for x in e[:2]] == ["user.list", "user.read"]
    lst, one = e[0], e[1]
    assert one["actor"] == {"id": A["id"], "kind": "official"}
    assert one["record_type"] == "account" and one["record_id"] == str(X["id"])
    assert one["unit_id"] == X["unit"]["id"]
    assert lst["actor"]["id"] == A["id"] and lst["detail"]["kind"] == "citizen" and lst["detail"]["q"] is True
    assert lst["detail"]["total"] >= 1
    # the path "007" reads account 7: the entry names the account as stored, so a search
    # by record finds every read (leading zeros do not hide a read from the log)
    a.get(f"{USERS}/000{X['id']}")
    e = server.admin.get(f"/api/v1/audit?actor={A['id']}&limit=1").json()["items"][0]
    assert e["action"] == "user.read" and e["record_id"] == str(X["id"])
    # a refused read (outside the unit) is not a read of personal data: not logged as one
    seq = int(server.sql("SELECT seq FROM audit_head")[0][0])
    a.get(f"{USERS}/{scope['Y']['id']}")
    assert int(server.sql("SELECT seq FROM audit_head")[0][0]) == seq


def test_unit_admin_reads_only_own_wards_audit(scope):
    a, A, b, c, X, Y = scope["a"], scope["A"], scope["b"], scope["c"], scope["X"], scope["Y"]
    # the officer's list of accounts (no unit filter) is filed under the officer's ward,
    # so the ward's unit_admin sees who read its accounts
    a.get(f"{USERS}?limit=3")
    seen = b.get(f"/api/v1/audit?actor={A['id']}&action=user.list&limit=1").json()["items"]
    assert len(seen) == 1 and seen[0]["unit_id"] == X["unit"]["id"]
    units = {e["unit_id"] for e in b.get("/api/v1/audit?limit=500").json()["items"]}
    assert units and units <= {X["unit"]["id"]}
    # the city's unit_admin sees entries of both wards (the creation of X and Y at least)
    seen = {e["record_id"] for e in c.get("/api/v1/audit?action=user.create&limit=500").json()["items"]}
    assert {str(X["id"]), str(Y["id"])} <= seen
    seen_b = {e["record_id"] for e in b.get("/api/v1/audit?action=user.create&limit=500").json()["items"]}
    assert str(X["id"]) in seen_b and str(Y["id"]) not in seen_b
    # verifying the whole chain needs audit.read everywhere
    assert_error(b.get("/api/v1/audit/verify"), 403, "forbidden")
    assert_error(c.get("/api/v1/audit/verify"), 403, "forbidden")


# --- API clients -----------------------------------------------------------------------------

def test_api_client_key_once_and_permissions_follow_roles(server, admin, scope):
    username = unique("he-thong-")
    r = admin.post("/api/v1/clients", json={"username": username, "name": "Hệ thống đọc tài khoản",
                                            "roles": [{"role": "officer", "unit": "00070"}]})
    assert r.status_code == 201, r.text
    c = r.json()
    key = c["api_key"]
    assert key.startswith("ck_") and len(key) == 46 and c["api_key_expires_at"] is None
    assert c["kind"] == "client" and c["username"] == username and c["full_name"] == "Hệ thống đọc tài khoản"
    # shown once: not in the account, and only its hash is stored
    again = admin.get(f"{USERS}/{c['id']}").json()
    assert "api_key" not in again
    assert server.sql(f"SELECT COUNT(*) FROM tokens WHERE token_hash = '{key}'")[0][0] == "0"
    assert server.sql(f"SELECT COUNT(*) FROM tokens WHERE account_id = {c['id']} AND kind = 'apikey'")[0][0] == "1"
    # the key authenticates as Bearer
    cl = server.client(key)
    me = cl.get("/api/v1/me").json()
    assert me["kind"] == "client" and me["id"] == c["id"]
    # officer at 00070: reads accounts of 00070 only, writes nothing, no audit
    assert cl.get(f"{USERS}/{scope['X']['id']}").status_code == 200
    assert_error(cl.get(f"{USERS}/{scope['Y']['id']}"), 404, "not_found")
    assert_error(cl.post(USERS, json=citizen_body("00070")), 403, "forbidden")
    assert_error(cl.get("/api/v1/audit"), 403, "forbidden")
    # its creation is audited, without the key
    e = admin.get(f"/api/v1/audit?action=apikey.create").json()["items"]
    assert any(x["detail"] == {"account": c["id"]} for x in e) and key not in repr(e)

    # a client with no roles may do nothing that needs a permission
    bare = admin.post("/api/v1/clients", json={"username": unique("trong-"), "name": "Không quyền"}).json()
    nb = server.client(bare["api_key"])
    assert nb.get("/api/v1/me").status_code == 200
    assert_error(nb.get(USERS), 403, "forbidden")

    # expiry: a key with expires_at stops working after it
    exp = int(time.time() * 1000) + 3600_000
    r = admin.post("/api/v1/clients", json={"username": unique("han-"), "name": "Có hạn", "expires_at": exp,
                                            "roles": [{"role": "officer"}]})
    assert r.status_code == 201 and r.json()["api_key_expires_at"] == exp
    short = server.client(r.json()["api_key"])
    assert short.get(USERS + "?limit=1").status_code == 200
    server.sql(f"UPDATE tokens SET expires_at = 1 WHERE account_id = {r.json()['id']}")
    assert_error(short.get(USERS + "?limit=1"), 401, "unauthenticated")
    # disabling the client kills its key
    admin.patch(f"{USERS}/{c['id']}", json={"status": "disabled"})
    assert_error(cl.get("/api/v1/me"), 401, "unauthenticated")


def test_api_client_validation(server, admin):
    before = counts(server)
    for body, field in [({"name": "X"}, "username"),
                        ({"username": unique("c-")}, "name"),
                        ({"username": unique("c-"), "name": ""}, "name"),
                        ({"username": "ab", "name": "X"}, "username"),
                        ({"username": unique("c-"), "name": "X", "roles": [{"role": "no_such_role"}]}, "roles"),
                        ({"username": unique("c-"), "name": "X", "roles": [{"role": "officer", "unit": "9"}]}, "roles"),
                        ({"username": unique("c-"), "name": "X", "expires_at": 1000}, "expires_at"),
                        ({"username": unique("c-"), "name": "X", "expires_at": "tomorrow"}, "expires_at"),
                        ({"username": unique("c-"), "name": "X", "password": "Mot-mat-khau-dai"}, None)]:
        r = admin.post("/api/v1/clients", json=body)
        if field is None:                       # extra members are ignored: a client never has a password
            assert r.status_code == 201, r.text
            assert server.sql(f"SELECT password_hash IS NULL FROM accounts WHERE id = {r.json()['id']}")[0][0] \
                in ("1", "t", "True")
            before = counts(server)
            continue
        err = assert_error(r, 422, "validation_failed")
        assert err["field"] == field, (body, err)
    assert counts(server) == before
