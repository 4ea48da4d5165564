"""Signed results: the approving official signs the result PDF of a dossier with their own
certificate (PAdES, visible stamp); the applicant downloads it; pdfsig and `openssl cms
-verify` accept it; the public lookup shows its verification; refusals."""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, Server, assert_error, make_cccd, unique

pytestmark = pytest.mark.skipif(not shutil.which("pdfsig") or not shutil.which("certutil"),
                                reason="poppler-utils and libnss3-tools are needed")

CATALOG = os.path.join(ROOT, "data", "procedures", "hanoi.json")
CA_PASS = "result-ca-pass-1"
BIRTH_FORM = {"child_name": "Nguyễn Minh An", "child_birth_date": "2026-11-01", "child_sex": "Nam",
              "birth_place": "Bệnh viện Phụ sản Hà Nội", "mother_name": "Trần Thị Bình", "relation": "Mẹ",
              "applicant_name": "Trần Thị Bình", "applicant_cccd": "001190012345"}


def official(server, unit, *roles, name="Lê Văn Cán Bộ"):
    user = unique("canbo")
    pw = "Can-bo-2026!xyz"
    r = server.admin.post("/api/v1/users", json={"kind": "official", "username": user, "full_name": name,
                                                 "password": pw, "unit": unit,
                                                 "roles": [{"role": role, "unit": unit} for role in roles]})
    assert r.status_code == 201, r.text
    return server.login(user, pw), user


def issue_cert(server, cn, email, passphrase):
    args = ["pki", "issue", "--cn", cn, "--title", "Chủ tịch UBND phường", "--unit", "UBND phường Ba Đình",
            "--key-type", "ec", "--pass", passphrase, "--ca-pass", CA_PASS]
    if email:
        args += ["--email", email]
    return server.cli(*args, check=True).stdout.strip()


@pytest.fixture(scope="module")
def server():
    """A server of its own: `pki init` here must not collide with the signing tests' PKI."""
    with tempfile.TemporaryDirectory(prefix="cityos-result-") as tmp:
        s = Server(tmp)
        yield s
        rc = s.stop()
        s.drop()
        log = open(s.log_path).read()
        assert "runtime error" not in log and "Sanitizer" not in log, log[-5000:]
        assert rc == 0, f"server exited with {rc}: {log[-3000:]}"


@pytest.fixture(scope="module")
def anon(server):
    return server.client()


@pytest.fixture(scope="module")
def env(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("result")
    server.cli("procedures", "import", CATALOG, check=True)
    server.cli("pki", "init", "--key-type", "ec", "--ca-pass", CA_PASS, check=True)
    server.cli("pki", "ca", "--out", str(d / "chain.pem"), check=True)
    root = open(d / "chain.pem").read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    (d / "root.pem").write_text(root)
    nss = d / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-n", "cityos-root", "-t", "CT,C,C", "-i", str(d / "root.pem"), "-d", f"sql:{nss}"],
                   check=True, capture_output=True)
    officer, _ = official(server, "00004", "officer")
    leader, luser = official(server, "00004", "leader", name="Nguyễn Văn Chủ Tịch")
    leader2, l2user = official(server, "00004", "leader")
    serial = issue_cert(server, "Nguyễn Văn Chủ Tịch", luser, "leader-pass-1")
    serial2 = issue_cert(server, "Lê Văn Cán Bộ", l2user, "leader2-pass-1")
    cccd = make_cccd(female=True)
    pw = "Cong-dan-2026!x"
    r = server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": cccd, "full_name": "Trần Thị Bình",
                                                 "birth_date": "1990-05-01", "sex": "female", "password": pw})
    assert r.status_code == 201, r.text
    return {"dir": d, "nss": f"sql:{nss}", "officer": officer, "leader": leader, "leader2": leader2,
            "serial": serial, "serial2": serial2, "citizen": server.login(cccd, pw), "cccd": cccd}


def act(client, code, action, comment=None):
    r = client.post(f"/api/v1/dossiers/{code}/actions", json={"action": action, "comment": comment})
    assert r.status_code == 200, r.text
    return r.json()


def new_dossier(env):
    r = env["citizen"].post("/api/v1/dossiers", json={"procedure": "1.001193", "unit": "00004",
                                                      "form": dict(BIRTH_FORM)})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def sign(client, code, serial, passphrase, comment=None):
    return client.post(f"/api/v1/dossiers/{code}/result",
                       json={"certificate": serial, "passphrase": passphrase, "comment": comment})


def extract_cms(data):
    a, b, c, n = map(int, re.findall(rb"/ByteRange\[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", data)[-1])
    return bytes.fromhex(data[b + 1:c - 1].decode()), data[a:a + b] + data[c:c + n]


def test_signed_result_download_verify_lookup(server, env, anon):
    code = new_dossier(env)
    leader = env["leader"]
    # not approved yet: no result can be signed
    act(env["officer"], code, "receive")
    act(env["officer"], code, "assign")
    assert_error(sign(leader, code, env["serial"], "leader-pass-1"), 409)
    act(leader, code, "approve", "Đồng ý đăng ký khai sinh")
    assert_error(env["citizen"].get(f"/api/v1/dossiers/{code}/result"), 404)   # not signed yet
    # the refusals: wrong passphrase, someone else's certificate, a specialist/officer, another ward
    e = assert_error(sign(leader, code, env["serial"], "not-the-pass"), 422)
    assert e["field"] == "passphrase"
    e = assert_error(sign(leader, code, env["serial2"], "leader2-pass-1"), 403)
    assert "not issued to you" in e["message"]
    e = assert_error(sign(env["leader2"], code, env["serial"], "leader-pass-1"), 403)
    assert_error(sign(env["officer"], code, env["serial"], "leader-pass-1"), 403)
    other, ouser = official(server, "00008", "leader", name="Nguyễn Văn Chủ Tịch")
    assert_error(sign(other, code, env["serial"], "leader-pass-1"), 404)
    e = assert_error(sign(leader, code, "", "x"), 422)
    assert e["field"] == "certificate"
    assert_error(sign(leader, code, "DEADBEEF", "x"), 422)
    # the approving leader signs
    r = sign(leader, code, env["serial"], "leader-pass-1", "Cấp Giấy khai sinh bản chính cho cháu Nguyễn Minh An")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["certificate"] == env["serial"] and len(out["sha256"]) == 64
    assert_error(sign(leader, code, env["serial"], "leader-pass-1"), 409)   # once
    # the applicant downloads it; a stranger and another ward cannot
    pdf = env["citizen"].get(f"/api/v1/dossiers/{code}/result")
    assert pdf.status_code == 200 and pdf.headers["content-type"].startswith("application/pdf")
    data = pdf.content
    assert hashlib.sha256(data).hexdigest() == out["sha256"]
    assert_error(other.get(f"/api/v1/dossiers/{code}/result"), 404)
    assert env["officer"].get(f"/api/v1/dossiers/{code}/result").status_code == 200
    assert int(server.sql(f"SELECT COUNT(*) FROM audit_log WHERE action = 'dossier.result.read' "
                          f"AND record_id = '{code}'")[0][0]) == 2
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH" in text and code in text and "Nguyễn Minh An" in text
    # poppler with the city root trusted
    d = env["dir"]
    path = d / f"{code}.pdf"
    path.write_bytes(data)
    p = subprocess.run(["pdfsig", "-nssdir", env["nss"], str(path)], capture_output=True, text=True)
    assert "Signature is Valid." in p.stdout and "Total document signed" in p.stdout, p.stdout + p.stderr
    assert "Nguyễn Văn Chủ Tịch" in p.stdout
    # openssl on the extracted CMS
    cms, content = extract_cms(data)
    (d / "cms.der").write_bytes(cms)
    (d / "content.bin").write_bytes(content)
    v = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(d / "cms.der"), "-binary",
                        "-content", str(d / "content.bin"), "-CAfile", str(d / "chain.pem"), "-purpose", "any",
                        "-out", "/dev/null"], capture_output=True, text=True)
    assert v.returncode == 0 and "Verification successful" in v.stderr, v.stderr
    # the timeline records the signing; the lookup shows the verification, no personal data
    tl = env["citizen"].get(f"/api/v1/dossiers/{code}").json()["timeline"]
    assert tl[-1]["action"] == "sign_result"
    look = anon.get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": env["cccd"][-4:]})
    assert look.status_code == 200, look.text
    res = look.json()["result"]
    assert res["sha256"] == out["sha256"] and res["verified"]
    sig = res["signatures"][0]
    assert sig["signer"]["name"] == "Nguyễn Văn Chủ Tịch" and sig["signer"]["title"] == "Chủ tịch UBND phường"
    assert sig["intact"] and sig["chain_trusted"] and not sig["revoked"] and sig["covers_whole_document"]
    assert sig["time"]
    body = look.text
    assert env["cccd"] not in body and "Trần Thị Bình" not in body and "@" not in body
    # one changed byte is reported altered
    i = len(data) // 3
    a, b, c, n = map(int, re.findall(rb"/ByteRange\[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", data)[-1])
    assert a <= i < a + b   # inside the signed bytes
    bad = bytearray(data)
    bad[i] ^= 0x01
    r = anon.post("/api/v1/signatures/verify", json={"pdf_base64": base64.b64encode(bytes(bad)).decode()})
    assert r.status_code == 200, r.text
    assert r.json()["signatures"][0]["altered"] is True and r.json()["signatures"][0]["valid"] is False
    # the workflow goes on: the result is returned
    assert act(env["officer"], code, "return_result")["status"] == 10
    assert_error(sign(leader, code, env["serial"], "leader-pass-1"), 409)


def test_revoked_certificate_refused(server, env):
    code = new_dossier(env)
    act(env["officer"], code, "receive")
    act(env["officer"], code, "assign")
    act(env["leader2"], code, "approve")
    serial = issue_cert(server, "Lê Văn Cán Bộ", None, "revoked-pass-1")   # no e-mail: bound by CN
    server.cli("pki", "revoke", serial, "--ca-pass", CA_PASS, check=True)
    e = assert_error(sign(env["leader2"], code, serial, "revoked-pass-1"), 403)
    assert "revoked" in e["message"]
    # a CN-bound certificate that is not revoked works for the official with that full name
    ok = issue_cert(server, "Lê Văn Cán Bộ", None, "cn-pass-1234")
    assert_error(sign(env["leader"], code, ok, "cn-pass-1234"), 403)    # another name
    r = sign(env["leader2"], code, ok, "cn-pass-1234")
    assert r.status_code == 201, r.text


def test_ward_to_city_signed_by_the_department(server, env):
    """Approved at the city department, sent back to the ward (issue_result): the department
    leader who may approve signs; a ward leader may not."""
    form = {"parcel_address": "Số 1 phố Hàng Bài", "land_parcel": "Thửa 12, tờ 3", "area_m2": 60,
            "applicant_name": "Trần Thị Bình", "applicant_cccd": "001190012345"}
    r = env["citizen"].post("/api/v1/dossiers", json={"procedure": "HN-DD-01", "unit": "00070", "form": form})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    ward, wuser = official(server, "00070", "officer", "leader", name="Phạm Văn Phường")
    city, cuser = official(server, "01", "specialist", "leader", name="Đỗ Thị Sở")
    for a in ("receive", "assign", "forward"):
        act(ward, code, a)
    act(city, code, "approve", "Cấp giấy chứng nhận")
    assert act(city, code, "issue_result")["holder"]["code"] == "00070"
    ward_serial = issue_cert(server, "Phạm Văn Phường", wuser, "ward-pass-123")
    assert_error(sign(ward, code, ward_serial, "ward-pass-123"), 403)
    city_serial = issue_cert(server, "Đỗ Thị Sở", cuser, "city-pass-123")
    r = sign(city, code, city_serial, "city-pass-123")
    assert r.status_code == 201, r.text
    assert env["citizen"].get(f"/api/v1/dossiers/{code}/result").status_code == 200
    assert ward.get(f"/api/v1/dossiers/{code}/result").status_code == 200


def test_signed_result_in_my_documents_and_reused(server, env):
    """Dossier A's signed result (a marital status certificate) lands in the citizen's
    warehouse, is offered when the marriage registration asks for that document type, is
    accepted for dossier B by its hash, and the officer of B sees where it came from."""
    cit, leader, officer = env["citizen"], env["leader"], env["officer"]
    r = cit.post("/api/v1/dossiers", json={"procedure": "1.004873", "unit": "00004", "form": {
        "purpose": "Đăng ký kết hôn", "marital_status": "Chưa kết hôn", "applicant_name": "Trần Thị Bình",
        "applicant_cccd": env["cccd"]}})
    assert r.status_code == 201, r.text
    a = r.json()["code"]
    for step, who in (("receive", officer), ("assign", officer), ("approve", leader)):
        act(who, a, step)
    assert not [d for d in cit.get("/api/v1/me/documents").json()["items"] if d["dossier"] == a]
    signed = sign(leader, a, env["serial"], "leader-pass-1", "Xác nhận chưa đăng ký kết hôn với ai")
    assert signed.status_code == 201, signed.text
    sha = signed.json()["sha256"]
    docs = cit.get("/api/v1/me/documents").json()["items"]
    mine = [d for d in docs if d["sha256"] == sha]
    assert len(mine) == 1 and mine[0]["kind"] == "result" and mine[0]["dossier"] == a
    assert mine[0]["doc_type"] == "giay-xac-nhan-tinh-trang-hon-nhan" and mine[0]["size"] == signed.json()["size"]
    assert cit.get(f"/api/v1/dossiers/{a}").json()["result"]["sha256"] == sha
    got = cit.get(mine[0]["download"])
    assert got.status_code == 200 and got.content == cit.get(f"/api/v1/dossiers/{a}/result").content
    assert hashlib.sha256(got.content).hexdigest() == sha
    # offered where a procedure needs that document type, not elsewhere
    offers = cit.get("/api/v1/me/documents", params={"procedure": "1.000894"}).json()["offers"]
    offer = [o for o in offers if o["type"] == "giay-xac-nhan-tinh-trang-hon-nhan"]
    assert len(offer) == 1 and offer[0]["document"].startswith("Giấy xác nhận tình trạng hôn nhân")
    assert [c["sha256"] for c in offer[0]["candidates"]] == [sha]
    assert cit.get("/api/v1/me/documents", params={"procedure": "1.001193"}).json()["offers"][0]["candidates"] == []
    assert assert_error(cit.get("/api/v1/me/documents", params={"procedure": "9.999999"}), 422)["field"] == "procedure"
    # dossier B takes it instead of an upload; its officer sees the origin and the bytes
    r = cit.post("/api/v1/dossiers", json={"procedure": "1.000894", "unit": "00004", "form": {
        "partner1_name": "Nguyễn Văn Nam", "partner1_cccd": "001090012345", "partner2_name": "Trần Thị Bình",
        "partner2_cccd": env["cccd"], "applicant_name": "Trần Thị Bình", "applicant_cccd": env["cccd"]},
        "attachments": [{"name": "xac-nhan-tinh-trang-hon-nhan.pdf", "reuse": sha}]})
    assert r.status_code == 201, r.text
    b = r.json()["code"]
    seen = officer.get(f"/api/v1/dossiers/{b}").json()["attachments"]
    assert seen == [{"name": "xac-nhan-tinh-trang-hon-nhan.pdf", "sha256": sha, "size": len(got.content),
                     "content_type": "application/pdf", "origin": f"result:{a}"}]
    assert officer.get(f"/api/v1/dossiers/{b}/attachments/{sha}").content == got.content
    # the result is reused, not listed again as an upload of B
    assert [d["kind"] for d in cit.get("/api/v1/me/documents").json()["items"] if d["sha256"] == sha] == ["result"]
    # nobody else can take or read it
    pw = "Cong-dan-2026!y"
    other_cccd = make_cccd(female=True)
    assert server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": other_cccd, "full_name": "Lạ Mặt",
                                                    "birth_date": "1990-01-01", "sex": "female",
                                                    "password": pw}).status_code == 201
    other = server.login(other_cccd, pw)
    assert_error(other.get(mine[0]["download"]), 404)
    e = assert_error(other.post("/api/v1/dossiers", json={"procedure": "1.000894", "unit": "00004", "form": {
        "partner1_name": "A", "partner1_cccd": "001090012345", "partner2_name": "B", "partner2_cccd": other_cccd,
        "applicant_name": "B", "applicant_cccd": other_cccd},
        "attachments": [{"name": "x.pdf", "reuse": sha}]}), 422)
    assert e["field"] == "attachments[0]"
    assert_error(officer.get(mine[0]["download"]), 403)
