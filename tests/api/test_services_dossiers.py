"""Dossiers: submission (online and counter), validation naming the field, codes, the
workflow across levels, the deadline clock, lookup, inboxes and unit scoping."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import time

import pytest

from conftest import ROOT, Client, assert_error, make_cccd, unique

CATALOG = os.path.join(ROOT, "data", "procedures", "hanoi.json")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BIRTH_FORM = {"child_name": "Nguyễn Minh An", "child_birth_date": "2026-11-01", "child_sex": "Nam",
              "birth_place": "Bệnh viện Phụ sản Hà Nội", "mother_name": "Trần Thị Bình", "relation": "Mẹ",
              "applicant_name": "Trần Thị Bình", "applicant_cccd": "001190012345"}


@pytest.fixture(scope="module")
def svc(server):
    server.cli("procedures", "import", CATALOG, check=True)
    return server


def citizen(server):
    cccd = make_cccd(female=True)
    pw = "Cong-dan-2026!x"
    r = server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": cccd, "full_name": "Trần Thị Bình",
                                                 "birth_date": "1990-05-01", "sex": "female", "password": pw})
    assert r.status_code == 201, r.text
    return server.login(cccd, pw), cccd


def official(server, unit, *roles):
    name = unique("canbo")
    pw = "Can-bo-2026!xyz"
    r = server.admin.post("/api/v1/users", json={"kind": "official", "username": name, "full_name": "Lê Văn Cán Bộ",
                                                 "password": pw, "unit": unit,
                                                 "roles": [{"role": role, "unit": unit} for role in roles]})
    assert r.status_code == 201, r.text
    return server.login(name, pw)


def pdf_text(data):
    import subprocess
    p = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return p.stdout.decode()


def submit(client, procedure="1.001193", unit="00004", form=None, **extra):
    body = {"procedure": procedure, "unit": unit, "form": dict(BIRTH_FORM) if form is None else form}
    body.update(extra)
    return client.post("/api/v1/dossiers", json=body)


def act(client, code, action, comment=None):
    return client.post(f"/api/v1/dossiers/{code}/actions", json={"action": action, "comment": comment})


def test_submit_online_and_refusals_name_the_field(svc):
    cit, cccd = citizen(svc)
    att = [{"name": "giay-chung-sinh.pdf", "content_type": "application/pdf", "data": base64.b64encode(PDF).decode()}]
    r = submit(cit, attachments=att)
    assert r.status_code == 201, r.text
    d = r.json()
    assert re.fullmatch(r"00004-\d{6}-\d{4}", d["code"])
    assert d["status"] == 1 and d["channel"] == "online" and d["applicant"]["cccd"] == cccd
    assert d["due_at"] and d["timeline"][0]["action"] == "submit"
    # the same file in a second dossier is stored once
    r2 = submit(cit, attachments=att)
    assert r2.status_code == 201
    assert svc.sql("SELECT COUNT(*) FROM attachments")[0][0] == "1"
    assert int(r2.json()["code"][-4:]) == int(d["code"][-4:]) + 1
    got = cit.get(f"/api/v1/dossiers/{d['code']}").json()
    assert got["attachments"][0]["name"] == "giay-chung-sinh.pdf" and len(got["attachments"][0]["sha256"]) == 64
    h = got["attachments"][0]["sha256"]
    r = cit.get(f"/api/v1/dossiers/{d['code']}/attachments/{h}")
    assert r.status_code == 200 and r.content == PDF and r.headers["Content-Type"] == "application/pdf"
    assert_error(cit.get(f"/api/v1/dossiers/{d['code']}/attachments/{'0' * 64}"), 404)
    stranger, _ = citizen(svc)
    assert_error(stranger.get(f"/api/v1/dossiers/{d['code']}/attachments/{h}"), 404)
    # reuse: the warehouse lists the document; a new dossier takes it by hash, with its origin
    docs = cit.get("/api/v1/me/documents").json()["items"]
    assert {"sha256": h, "dossier": d["code"]}.items() <= docs[-1].items()
    r3 = submit(cit, attachments=[{"name": "giay-chung-sinh.pdf", "reuse": h}])
    assert r3.status_code == 201, r3.text
    got3 = cit.get(f"/api/v1/dossiers/{r3.json()['code']}").json()
    assert got3["attachments"][0]["origin"] == f"reuse:{d['code']}" and got3["attachments"][0]["sha256"] == h
    assert got["attachments"][0]["origin"] == "upload"
    e = assert_error(submit(stranger, attachments=[{"name": "x.pdf", "reuse": h}]), 422)
    assert e["field"] == "attachments[0]"
    e = assert_error(submit(cit, attachments=[{"name": "x.pdf", "reuse": "abc"}]), 422)
    assert e["field"] == "attachments[0]"
    assert_error(svc.admin.get("/api/v1/me/documents"), 403)
    cases = [
        ({"form": {k: v for k, v in BIRTH_FORM.items() if k != "child_name"}}, "form.child_name"),
        ({"form": dict(BIRTH_FORM, child_birth_date="01/11/2026")}, "form.child_birth_date"),
        ({"form": dict(BIRTH_FORM, child_sex="X")}, "form.child_sex"),
        ({"form": dict(BIRTH_FORM, nickname="Bin")}, "form.nickname"),
        ({"form": dict(BIRTH_FORM, applicant_cccd="123")}, "form.applicant_cccd"),
        ({"unit": "01"}, "unit"),
        ({"unit": "99999"}, "unit"),
        ({"procedure": "9.999999"}, "procedure"),
        ({"attachments": [{"name": "a.pdf", "content_type": "text/html", "data": "PGh0bWw+"}]}, "attachments[0]"),
        ({"attachments": [{"name": "a.pdf", "content_type": "application/pdf", "data": "bm90IGEgcGRm"}]}, "attachments[0]"),
        ({"channel": "counter"}, "channel"),
    ]
    for extra, field in cases:
        body = {"procedure": "1.001193", "unit": "00004", "form": dict(BIRTH_FORM)}
        body.update(extra)
        e = assert_error(cit.post("/api/v1/dossiers", json=body), 422, "validation_failed")
        assert e["field"] == field, (extra, e)
    assert_error(svc.client().post("/api/v1/dossiers", json={"procedure": "1.001193"}), 401)


def test_workflow_clock_timeline_lookup_and_scope(svc):
    cit, cccd = citizen(svc)
    code = submit(cit).json()["code"]
    officer = official(svc, "00004", "officer")
    leader = official(svc, "00004", "leader")
    other = official(svc, "00008", "officer", "leader")
    # another ward sees nothing and can do nothing
    assert_error(other.get(f"/api/v1/dossiers/{code}"), 404)
    assert_error(act(other, code, "receive"), 404)
    assert_error(other.get("/api/v1/dossiers", params={"unit": "00004"}), 403)
    assert code not in [d["code"] for d in other.get("/api/v1/dossiers", params={"unit": "00008"}).json()["items"]]
    # the citizen cannot receive their own dossier; an officer cannot approve
    assert_error(act(cit, code, "receive"), 403)
    r = act(officer, code, "receive", "Đủ hồ sơ")
    assert r.status_code == 200 and r.json()["status"] == 2
    assert_error(act(officer, code, "receive"), 409)
    assert act(officer, code, "assign").json()["status"] == 4
    assert_error(act(officer, code, "approve"), 403)
    due_before = act(officer, code, "request_supplement", "Thiếu giấy chứng sinh bản chính").json()
    assert due_before["status"] == 5 and due_before["clock_paused"]
    # 14 days in status 5 (10 working days, give or take holidays) move the due date
    svc.sql(f"UPDATE dossiers SET paused_at = paused_at - 14 * 86400000 WHERE code = '{code}'")
    resumed = act(cit, code, "supply", "Đã bổ sung").json()
    assert resumed["status"] == 4 and not resumed["clock_paused"]
    assert resumed["due_at"][:10] > due_before["due_at"][:10]
    done = act(leader, code, "approve").json()
    assert done["status"] == 9 and done["outcome"] in ("early", "on_time", "late") and done["completed_at"]
    final = act(officer, code, "return_result").json()
    assert final["status"] == 10
    tl = final["timeline"]
    assert [e["action"] for e in tl] == ["submit", "receive", "assign", "request_supplement", "supply", "approve",
                                         "return_result"]
    assert tl[1]["from"] == "new" and tl[1]["to"] == "received" and tl[1]["comment"] == "Đủ hồ sơ"
    assert tl[1]["actor"] == "Lê Văn Cán Bộ" and tl[1]["at"]
    rows = svc.sql(f"SELECT COUNT(*) FROM audit_log WHERE action = 'dossier.action' AND record_id = '{code}'")
    assert rows[0][0] == "6"
    # public lookup: right digits only, no personal data
    pub = svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": cccd[-4:]})
    assert pub.status_code == 200 and pub.json()["status"] == 10
    text = pub.text
    assert cccd not in text and "Trần Thị Bình" not in text and "applicant" not in pub.json()
    assert "comment" not in pub.json()["timeline"][1]
    wrong = "0000" if cccd[-4:] != "0000" else "1111"
    assert_error(svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": wrong}), 404)
    assert_error(svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": "12"}), 422)
    # guessing the 4 digits is cut off after 10 wrong tries in an hour, for every node
    for _ in range(9):
        assert_error(svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": wrong}), 404)
    assert_error(svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": cccd[-4:]}), 429)
    # papers as PDF, Vietnamese text extractable with its diacritics
    r = cit.get(f"/api/v1/dossiers/{code}/slips/receipt")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    text = pdf_text(r.content)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text and code in text and "Đăng ký khai sinh" in text
    sup = pdf_text(officer.get(f"/api/v1/dossiers/{code}/slips/supplement").content)
    assert "Thiếu giấy chứng sinh bản chính" in sup
    assert_error(cit.get(f"/api/v1/dossiers/{code}/slips/refusal"), 409)
    assert_error(cit.get(f"/api/v1/dossiers/{code}/slips/fee_receipt"), 409)
    assert_error(other.get(f"/api/v1/dossiers/{code}/slips/receipt"), 404)
    assert_error(cit.get(f"/api/v1/dossiers/{code}/slips/poster"), 404)
    # my dossiers
    mine = cit.get("/api/v1/dossiers/mine").json()
    assert [d["code"] for d in mine["items"]] == [code]
    assert_error(officer.get("/api/v1/dossiers/mine"), 403)
    # a counter submission for a citizen with an account shows in their dossiers too
    counter = official(svc, "00004", "officer")
    c2 = submit(counter, applicant={"cccd": cccd, "name": "Trần Thị Bình"}).json()["code"]
    assert c2 in [d["code"] for d in cit.get("/api/v1/dossiers/mine").json()["items"]]


def test_counter_submission_and_inbox(svc):
    officer = official(svc, "00070", "officer")
    cccd = make_cccd()
    r = submit(officer, unit="00070", applicant={"cccd": cccd, "name": "Phạm Văn Cường"})
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "counter" and r.json()["applicant"]["name"] == "Phạm Văn Cường"
    e = assert_error(submit(officer, unit="00070", applicant={"name": "X"}), 422)
    assert e["field"] == "applicant.cccd"
    assert_error(submit(officer, unit="00004", applicant={"cccd": cccd, "name": "X"}), 403)
    inbox = officer.get("/api/v1/dossiers", params={"unit": "00070", "limit": 5})
    assert inbox.status_code == 200
    assert r.json()["code"] in [d["code"] for d in inbox.json()["items"]]
    assert inbox.json()["items"][0]["applicant_name"]
    f = officer.get("/api/v1/dossiers", params={"unit": "00070", "status": 2}).json()
    assert f["total"] == 0
    assert_error(officer.get("/api/v1/dossiers", params={"unit": "00070", "status": 11}), 422)
    assert_error(officer.get("/api/v1/dossiers", params={"unit": "00070", "due_before": "tomorrow"}), 422)


def test_overdue_first(svc):
    officer = official(svc, "00025", "officer")
    codes = [submit(officer, unit="00025", applicant={"cccd": make_cccd(), "name": "A"}).json()["code"]
             for _ in range(3)]
    svc.sql(f"UPDATE dossiers SET due_at = 1000 WHERE code = '{codes[2]}'")
    items = officer.get("/api/v1/dossiers", params={"unit": "00025"}).json()["items"]
    assert items[0]["code"] == codes[2] and items[0]["overdue"] and not items[1]["overdue"]


def test_forward_ward_to_city_and_back(svc):
    cit, _ = citizen(svc)
    form = {"parcel_address": "Số 1 phố Hàng Bài", "land_parcel": "Thửa 12, tờ 3", "area_m2": 60,
            "applicant_name": "Trần Thị Bình", "applicant_cccd": "001190012345"}
    r = submit(cit, procedure="HN-DD-01", unit="00070", form=form)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    ward = official(svc, "00070", "officer", "leader")
    city = official(svc, "01", "specialist", "leader")
    for a in ("receive", "assign", "forward"):
        assert act(ward, code, a).status_code == 200, a
    d = ward.get(f"/api/v1/dossiers/{code}").json()
    assert d["holder"]["code"] == "01" and d["state"] == "department"
    assert code not in [x["code"] for x in ward.get("/api/v1/dossiers", params={"unit": "00070"}).json()["items"]]
    assert code in [x["code"] for x in city.get("/api/v1/dossiers", params={"unit": "01"}).json()["items"]]
    assert_error(act(ward, code, "approve"), 403)       # the ward no longer holds it
    assert act(city, code, "request_fee").json()["status"] == 6
    assert_error(act(cit, code, "pay"), 403)            # a citizen cannot declare a fee paid
    pay_and_confirm(svc, city, code)
    ref = cit.get(f"/api/v1/dossiers/{code}").json()["payments"][0]["reference"]
    mine = cit.get(f"/api/v1/dossiers/{code}/payments/{ref}").json()    # the applicant follows it too
    assert mine["status"] == "paid" and cit.get(mine["receipt"]).content[:5] == b"%PDF-"
    assert cit.get(mine["qr"]).status_code == 200
    # the e-receipt is kept in the citizen's warehouse
    kept = [x for x in cit.get("/api/v1/me/documents").json()["items"] if x["kind"] == "receipt"]
    assert [(x["dossier"], x["doc_type"], x["name"]) for x in kept] == [(code, "bien-lai-thu-phi", f"bien-lai-{ref}.pdf")]
    pdf = cit.get(kept[0]["download"]).content
    assert pdf[:5] == b"%PDF-" and "BIÊN LAI THU PHÍ" in pdf_text(pdf) and "250000 đồng" in pdf_text(pdf)
    assert city.get(f"/api/v1/dossiers/{code}").json()["state"] == "department"
    assert act(city, code, "approve").json()["holder"]["code"] == "01"
    back = act(city, code, "issue_result").json()
    assert back["holder"]["code"] == "00070" and back["status"] == 9
    assert act(ward, code, "return_result").json()["status"] == 10


KEY = "khoa-bi-mat-chung-voi-cong-thanh-toan"


def sign(body):
    return "sha256=" + hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()


def pay_and_confirm(svc, officer, code):
    r = svc.admin.req("PUT", "/api/v1/payment-accounts/00070",
                      json={"bank_bin": "970436", "account": "0011001234567", "name": "UBND PHUONG HOAN KIEM"})
    assert r.status_code == 200, r.text
    r = officer.post(f"/api/v1/dossiers/{code}/payments", json={"amount": 250000})
    assert r.status_code == 201, r.text
    p = r.json()
    qr = p["vietqr"]
    assert qr.startswith("000201010212") and "5406250000" in qr and "0006970436" in qr and p["reference"] in qr
    # the portal's payment panel: amount, account and transfer content read back from the
    # code, the QR code as an image; nobody else sees it
    path = f"/api/v1/dossiers/{code}/payments/{p['reference']}"
    view = officer.get(path).json()
    assert view["status"] == "pending" and view["amount"] == 250000 and view["receipt"] is None
    assert view["bank_bin"] == "970436" and view["account"] == "0011001234567"
    assert view["account_name"] == "UBND PHUONG HOAN KIEM" and view["purpose"] == f"{p['reference']} {code}"
    img = officer.get(view["qr"])
    assert img.status_code == 200 and img.headers["Content-Type"] == "image/svg+xml"
    assert img.text.startswith("<svg") and img.text.count("h1v1h-1z") > 200
    assert_error(officer.get(f"/api/v1/dossiers/{code}/payments/CT0000000000"), 404)
    outsider = official(svc, "00004", "officer")
    assert_error(outsider.get(path), 404)
    assert_error(outsider.get(view["qr"]), 404)
    assert_error(svc.client().get(path), 401)
    os.environ["CITYOS_PAYMENT_HMAC_KEY"] = KEY
    url2, proc = svc.start_node()
    try:
        cb = Client(url2)
        body = json.dumps({"reference": p["reference"], "amount": 250000, "transaction_id": "FT2611220001"}).encode()
        hdr = {"Content-Type": "application/json"}
        assert_error(cb.req("POST", "/api/v1/payments/callback", data=body, headers=hdr), 401)
        bad = dict(hdr, **{"X-Cityos-Signature": sign(body + b" ")})
        assert_error(cb.req("POST", "/api/v1/payments/callback", data=body, headers=bad), 401)
        wrong = json.dumps({"reference": p["reference"], "amount": 1000, "transaction_id": "FT2611220001"}).encode()
        e = assert_error(cb.req("POST", "/api/v1/payments/callback", data=wrong,
                                headers=dict(hdr, **{"X-Cityos-Signature": sign(wrong)})), 422)
        assert e["field"] == "amount"
        good = dict(hdr, **{"X-Cityos-Signature": sign(body)})
        r1 = cb.req("POST", "/api/v1/payments/callback", data=body, headers=good)
        assert r1.status_code == 200, r1.text
        assert r1.json()["repeat"] is False and r1.json()["dossier_state"]
        r2 = cb.req("POST", "/api/v1/payments/callback", data=body, headers=good)   # the platform retries
        assert r2.status_code == 200 and r2.json()["repeat"] is True
        other = json.dumps({"reference": p["reference"], "amount": 250000, "transaction_id": "FT999"}).encode()
        assert_error(cb.req("POST", "/api/v1/payments/callback", data=other,
                            headers=dict(hdr, **{"X-Cityos-Signature": sign(other)})), 409)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    view = officer.get(path).json()
    assert view["status"] == "paid" and view["paid_at"] and view["transaction_id"] == "FT2611220001"
    assert view["receipt"] == f"/api/v1/dossiers/{code}/slips/fee_receipt"
    d = officer.get(f"/api/v1/dossiers/{code}").json()
    assert [e["action"] for e in d["timeline"]].count("pay") == 1
    assert d["payments"][0]["status"] == "paid" and d["payments"][0]["vietqr"] == qr
    text = pdf_text(officer.get(f"/api/v1/dossiers/{code}/slips/fee_receipt").content)
    assert "BIÊN LAI THU PHÍ" in text and "250000 đồng" in text and "FT2611220001" in text


def test_codes_unique_across_two_nodes(svc):
    """Concurrent submissions from 8 threads against two server processes on one database:
    every code is distinct and the day's numbers run 1..N without gaps."""
    officer = official(svc, "00008", "officer")
    url2, proc = svc.start_node()
    try:
        clients = [officer, Client(url2, officer.token)]
        cccd = make_cccd()

        def one(i):
            r = submit(clients[i % 2], unit="00008", applicant={"cccd": cccd, "name": "Đỗ Thị Hoa"})
            assert r.status_code == 201, r.text
            return r.json()["code"]

        n = 40
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            codes = list(ex.map(one, range(n)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(set(codes)) == n
    days = {c.split("-")[1] for c in codes}
    for day in days:
        nums = sorted(int(c.split("-")[2]) for c in codes if c.split("-")[1] == day)
        assert nums == list(range(nums[0], nums[0] + len(nums)))


def test_rating_and_statistics(svc):
    unit = "00091"
    cit, _ = citizen(svc)
    officer = official(svc, unit, "officer", "leader")
    code = submit(cit, unit=unit).json()["code"]
    assert_error(cit.post(f"/api/v1/dossiers/{code}/rating", json={"score": 5}), 409)   # no result yet
    for a in ("receive", "assign", "approve", "return_result"):
        assert act(officer, code, a).status_code == 200, a
    submit(officer, unit=unit, applicant={"cccd": make_cccd(), "name": "B"})            # counter, still open
    e = assert_error(cit.post(f"/api/v1/dossiers/{code}/rating", json={"score": 6}), 422)
    assert e["field"] == "score"
    assert_error(officer.post(f"/api/v1/dossiers/{code}/rating", json={"score": 5}), 404)
    r = cit.post(f"/api/v1/dossiers/{code}/rating", json={"score": 4, "comment": "Nhanh, chu đáo"})
    assert r.status_code == 201, r.text
    assert_error(cit.post(f"/api/v1/dossiers/{code}/rating", json={"score": 5}), 409)
    s = officer.get("/api/v1/dossier-stats", params={"unit": unit}).json()
    t = s["total"]
    assert t["received"] == 2 and t["completed"] == 1 and t["online"] == 1 and t["ratings"] == 1
    assert t["early"] + t["on_time"] + t["late"] == 1 and t["average_rating"] == 4.0
    assert t["online_share"] == 0.5
    assert s["procedures"][0]["procedure"] == "1.001193"
    assert_error(official(svc, "00004", "officer").get("/api/v1/dossier-stats", params={"unit": unit}), 403)
    assert_error(officer.get("/api/v1/dossier-stats", params={"unit": unit, "from": "x"}), 422)
    empty = officer.get("/api/v1/dossier-stats", params={"unit": unit, "from": "2020-01-01", "to": "2020-12-31"})
    assert empty.json()["total"]["received"] == 0


def test_late_job_and_apology_slip(svc):
    unit = "00097"
    officer = official(svc, unit, "officer", "specialist")
    code = submit(officer, unit=unit, applicant={"cccd": make_cccd(), "name": "Vũ Văn Dũng"}).json()["code"]
    fresh = submit(officer, unit=unit, applicant={"cccd": make_cccd(), "name": "Vũ Thị E"},
                   procedure="1.004873",
                   form={"purpose": "Kết hôn", "marital_status": "Chưa kết hôn", "applicant_name": "Vũ Thị E",
                         "applicant_cccd": "001190012345"}).json()["code"]
    assert act(officer, code, "receive").status_code == 200
    # due in the past: the job (run at a node's start) flags it; the 3-day one is not flagged
    svc.sql(f"UPDATE dossiers SET due_at = 1000 WHERE code = '{code}'")
    url2, proc = svc.start_node()
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not officer.get(f"/api/v1/dossiers/{code}").json()["late_warning"]:
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert officer.get(f"/api/v1/dossiers/{code}").json()["late_warning"]
    assert not officer.get(f"/api/v1/dossiers/{fresh}").json()["late_warning"]
    assert_error(officer.get(f"/api/v1/dossiers/{code}/slips/apology"), 409)
    e = assert_error(officer.post(f"/api/v1/dossiers/{code}/reschedule", json={"new_due": "2099-13-01", "reason": "x"}), 422)
    assert e["field"] == "new_due"
    e = assert_error(officer.post(f"/api/v1/dossiers/{code}/reschedule", json={"new_due": "2030-01-07"}), 422)
    assert e["field"] == "reason"
    r = officer.post(f"/api/v1/dossiers/{code}/reschedule",
                     json={"new_due": "2030-01-07", "reason": "Cần xác minh thêm tại địa phương khác"})
    assert r.status_code == 200, r.text
    assert r.json()["new_due_at"].startswith("2030-01-07T17:00")
    text = pdf_text(officer.get(f"/api/v1/dossiers/{code}/slips/apology").content)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text and "07/01/2030" in text
    assert "Cần xác minh thêm" in text
