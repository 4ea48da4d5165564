"""Official documents: register an outgoing document, sign it in order (each signature a
PAdES incremental update, checked by pdfsig and by cityos' verifier), publish it to the
recipient units' inboxes, mark read, register incoming documents, search, permissions."""
import base64
import shutil
import subprocess

import pytest

from conftest import assert_error, unique
from test_signing import make_pdf

CA_PASS = "ca-passphrase-123"

pytestmark = pytest.mark.skipif(not shutil.which("pdfsig"), reason="needs poppler-utils")


@pytest.fixture(scope="module")
def setup(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("docs")
    init = server.cli("pki", "init", "--key-type", "ec", "--ca-pass", CA_PASS)
    assert init.returncode == 0 or "already exists" in init.stderr, init.stderr
    ward_officer = server.cli("pki", "issue", "--cn", "Phạm Văn Dũng", "--title", "Chánh văn phòng", "--unit", "UBND phường",
                              "--key-type", "ec", "--pass", "dung-pass-12", "--ca-pass", CA_PASS, check=True).stdout.strip()
    chairman = server.cli("pki", "issue", "--cn", "Hoàng Thị Em", "--title", "Chủ tịch", "--unit", "UBND phường",
                          "--key-type", "ec", "--pass", "em-pass-1234", "--ca-pass", CA_PASS, check=True).stdout.strip()
    wards = [r[0] for r in server.sql("SELECT code FROM units WHERE era = '2025' AND level = 'ward' ORDER BY code LIMIT 3")]
    assert len(wards) == 3
    server.cli("pki", "ca", "--out", str(d / "chain.pem"), check=True)
    root = open(d / "chain.pem").read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    (d / "root.pem").write_text(root)
    nss = d / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-n", "root", "-t", "CT,C,C", "-i", str(d / "root.pem"), "-d", f"sql:{nss}"],
                   check=True, capture_output=True)
    return {"dir": d, "signers": [ward_officer, chairman], "wards": wards, "nss": f"sql:{nss}"}


def outgoing(setup, number, **kw):
    body = {"direction": "outgoing", "number": number, "symbol": "QĐ-UBND", "type": "Quyết định",
            "unit": setup["wards"][0], "issued_date": "2026-11-20", "summary": "Về việc phê duyệt kế hoạch chỉnh trang đô thị",
            "signer_name": "Hoàng Thị Em", "recipients": setup["wards"][1:], "signers": setup["signers"],
            "pdf_base64": base64.b64encode(make_pdf(2)).decode()}
    body.update(kw)
    return body


def test_outgoing_sign_publish_read(server, admin, anon, setup):
    number = unique("1")[:8]
    r = admin.post("/api/v1/documents", json=outgoing(setup, number))
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    assert r.json()["status"] == "signing"
    assert_error(admin.post(f"/api/v1/documents/{doc}/publish"), 409, "conflict")   # not signed yet
    e = assert_error(admin.post(f"/api/v1/documents/{doc}/sign", json={"passphrase": "wrong-pass"}), 422)
    assert e["field"] == "passphrase"
    r = admin.post(f"/api/v1/documents/{doc}/sign", json={"passphrase": "dung-pass-12"})
    assert r.status_code == 200 and r.json() == {"id": doc, "step": 1, "status": "signing"}, r.text
    # step 2 is the chairman's certificate: the ward officer's passphrase does not open it
    assert_error(admin.post(f"/api/v1/documents/{doc}/sign", json={"passphrase": "dung-pass-12"}), 422)
    r = admin.post(f"/api/v1/documents/{doc}/sign", json={"passphrase": "em-pass-1234"})
    assert r.status_code == 200 and r.json()["status"] == "signed", r.text
    assert_error(admin.post(f"/api/v1/documents/{doc}/sign", json={"passphrase": "em-pass-1234"}), 409)
    pdf = admin.get(f"/api/v1/documents/{doc}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    path = setup["dir"] / "doc.pdf"
    path.write_bytes(pdf.content)
    out = subprocess.run(["pdfsig", "-nssdir", setup["nss"], str(path)], capture_output=True, text=True).stdout
    assert out.count("Signature is Valid.") == 2 and "Total document signed" in out, out
    v = anon.post("/api/v1/signatures/verify", json={"pdf_base64": base64.b64encode(pdf.content).decode()}).json()
    assert [s["signer"]["name"] for s in v["signatures"]] == ["Phạm Văn Dũng", "Hoàng Thị Em"]
    assert all(s["valid"] for s in v["signatures"])
    r = admin.post(f"/api/v1/documents/{doc}/publish")
    assert r.status_code == 200 and r.json()["recipients"] == 2, r.text
    got = admin.get(f"/api/v1/documents/{doc}").json()
    assert got["status"] == "published" and [s["signed_at"] is not None for s in got["signers"]] == [True, True]
    assert got["signers"][1]["title"] == "Chủ tịch"
    copies = [c["copy_id"] for c in got["recipients"]]
    assert len(copies) == 2 and all(copies)
    inbox = admin.get("/api/v1/documents", params={"direction": "incoming", "unit": setup["wards"][1], "number": number}).json()
    [item] = inbox["items"]
    assert item["status"] == "received" and item["source_id"] == doc and item["summary"].startswith("Về việc")
    r = admin.post(f"/api/v1/documents/{item['id']}/read")
    assert r.status_code == 200 and r.json()["status"] == "read"
    got = admin.get(f"/api/v1/documents/{doc}").json()
    assert sorted(c["status"] for c in got["recipients"]) == ["read", "received"]
    assert_error(admin.post(f"/api/v1/documents/{doc}/read"), 409)   # outgoing
    copy_pdf = admin.get(f"/api/v1/documents/{item['id']}/pdf").content
    assert copy_pdf == pdf.content
    n = server.sql(f"SELECT COUNT(*) FROM audit_log WHERE record_type = 'document' AND record_id = '{doc}'")[0][0]
    assert n == "4"   # create, sign, sign, publish


def test_incoming_and_search(admin, setup):
    r = admin.post("/api/v1/documents", json={
        "direction": "incoming", "number": "45", "symbol": "CV-SXD", "type": "Công văn", "unit": setup["wards"][2],
        "issued_date": "2026-10-05", "summary": "Hướng dẫn cấp phép xây dựng", "issuer_name": "Sở Xây dựng Hà Nội"})
    assert r.status_code == 201 and r.json()["status"] == "received", r.text
    found = admin.get("/api/v1/documents", params={"type": "Công văn", "from": "2026-10-01", "to": "2026-10-31"}).json()["items"]
    assert any(i["number"] == "45" and i["issuer_name"] == "Sở Xây dựng Hà Nội" for i in found)
    assert admin.get("/api/v1/documents", params={"from": "2027-01-01"}).json()["items"] == []
    assert any(i["symbol"] == "CV-SXD" for i in admin.get("/api/v1/documents", params={"q": "cấp phép"}).json()["items"])
    dup = admin.post("/api/v1/documents", json=outgoing(setup, "777"))
    assert dup.status_code == 201
    assert_error(admin.post("/api/v1/documents", json=outgoing(setup, "777")), 409, "conflict")


def test_validation_and_permissions(server, admin, anon, setup):
    for field, value in (("direction", "sideways"), ("issued_date", "20-11-2026"), ("unit", "nope"),
                         ("recipients", []), ("signers", ["DEADBEEF"]), ("pdf_base64", base64.b64encode(b"not a pdf").decode()),
                         ("number", "")):
        body = outgoing(setup, unique("9")[:8])
        body[field] = value
        e = assert_error(admin.post("/api/v1/documents", json=body), 422)
        assert e["field"] == field, (field, e)
    assert_error(admin.get("/api/v1/documents", params={"from": "yesterday"}), 422)
    assert_error(admin.get("/api/v1/documents/999999"), 404)
    assert_error(anon.get("/api/v1/documents"), 401)
    # a clerk of another ward sees nothing of this ward and may not register for it
    user = unique("clerk")
    p = server.cli("user", "add", "--kind", "official", "--username", user, "--name", "Văn thư",
                   "--role", f"document_clerk@{setup['wards'][2]}", "--password", "clerk-password-123")
    assert p.returncode == 0, p.stderr
    clerk = server.login(user, "clerk-password-123")
    assert_error(clerk.post("/api/v1/documents", json=outgoing(setup, unique("8")[:8])), 403)
    items = clerk.get("/api/v1/documents").json()["items"]
    assert items and all(i["unit"]["code"] == setup["wards"][2] for i in items)
    other = admin.get("/api/v1/documents", params={"unit": setup["wards"][0]}).json()["items"][0]["id"]
    assert_error(clerk.get(f"/api/v1/documents/{other}"), 404)
    assert_error(clerk.post(f"/api/v1/documents/{other}/sign", json={"passphrase": "x"}), 403)
