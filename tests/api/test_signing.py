"""Signing end to end: the city PKI through the CLI, `cityos sign` / `cityos verify`,
POST /api/v1/signatures/verify, the CRL and CA endpoints, and the outside verifiers:
poppler's pdfsig (with the city root in an NSS database) and `openssl cms -verify`."""
import base64
import os
import re
import shutil
import subprocess

import pytest

from conftest import assert_error

CA_PASS = "ca-passphrase-123"
PASS_A = "officer-a-pass"
PASS_B = "officer-b-pass"

pytestmark = pytest.mark.skipif(not shutil.which("pdfsig") or not shutil.which("certutil"),
                                reason="needs poppler-utils and libnss3-tools")


def make_pdf(pages):
    """A small valid PDF (classic xref table) with one line of text per page."""
    objs = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs.append(b"<</Type/Catalog/Pages 2 0 R>>")
    objs.append(f"<</Type/Pages/Kids[{kids}]/Count {pages}>>".encode())
    for i in range(pages):
        content = f"BT /F1 14 Tf 72 760 Td (Trang {i + 1} / {pages} - Giay xac nhan) Tj ET".encode()
        objs.append(f"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents {4 + 2 * i} 0 R"
                    "/Resources<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>>>>>>>".encode())
        objs.append(b"<</Length %d>>\nstream\n" % len(content) + content + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for n, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % n + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n\r\n" % o
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


@pytest.fixture(scope="module")
def pki(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("signing")
    p = server.cli("pki", "init", "--key-type", "ec", "--ca-pass", CA_PASS)
    assert p.returncode == 0, p.stderr
    again = server.cli("pki", "init", "--key-type", "ec", "--ca-pass", CA_PASS)
    assert again.returncode != 0 and "already exists" in again.stderr
    a = server.cli("pki", "issue", "--cn", "Nguyễn Văn An", "--title", "Chủ tịch", "--unit", "UBND phường Hoàn Kiếm",
                   "--email", "an@hanoi.example.vn", "--key-type", "rsa", "--pass", PASS_A, "--ca-pass", CA_PASS,
                   "--p12", str(d / "a.p12"), check=True).stdout.strip()
    b = server.cli("pki", "issue", "--cn", "Trần Thị Bình", "--title", "Phó Chủ tịch", "--unit", "UBND phường Ba Đình",
                   "--key-type", "ec", "--pass", PASS_B, "--ca-pass", CA_PASS, check=True).stdout.strip()
    server.cli("pki", "ca", "--out", str(d / "chain.pem"), check=True)
    nss = d / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True)
    root_pem = open(d / "chain.pem").read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    (d / "root.pem").write_text(root_pem)
    subprocess.run(["certutil", "-A", "-n", "cityos-root", "-t", "CT,C,C", "-i", str(d / "root.pem"), "-d", f"sql:{nss}"],
                   check=True, capture_output=True)
    (d / "one.pdf").write_bytes(make_pdf(1))
    (d / "fifty.pdf").write_bytes(make_pdf(50))
    return {"dir": d, "a": a, "b": b, "nss": f"sql:{nss}"}


def pdfsig(pki, path):
    p = subprocess.run(["pdfsig", "-nssdir", pki["nss"], str(path)], capture_output=True, text=True)
    return p.stdout + p.stderr


def sign(server, pki, src, dst, *args):
    p = server.cli("sign", *args, str(src), str(dst))
    assert p.returncode == 0, p.stderr


def extract_cms(data, which=-1):
    m = re.findall(rb"/ByteRange\[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", data)[which]
    a, b, c, n = map(int, m)
    return bytes.fromhex(data[b + 1:c - 1].decode()), data[a:a + b] + data[c:c + n]


def api_verify(anon, path):
    r = anon.post("/api/v1/signatures/verify", json={"pdf_base64": base64.b64encode(open(path, "rb").read()).decode()})
    assert r.status_code == 200, r.text
    return r.json()


def test_sign_accepted_by_pdfsig_and_openssl(server, pki, anon):
    d = pki["dir"]
    for name in ("one", "fifty"):
        sign(server, pki, d / f"{name}.pdf", d / f"{name}-signed.pdf", "--serial", pki["a"], "--pass", PASS_A,
             "--reason", "Phê duyệt kết quả", "--visible")
        out = pdfsig(pki, d / f"{name}-signed.pdf")
        assert "Signature is Valid." in out, out
        assert "Total document signed" in out, out
        assert "Certificate is Trusted." in out, out
        assert "ETSI.CAdES.detached" in out, out
        cms, content = extract_cms(open(d / f"{name}-signed.pdf", "rb").read())
        (d / "cms.der").write_bytes(cms)
        (d / "content.bin").write_bytes(content)
        v = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(d / "cms.der"), "-binary",
                            "-content", str(d / "content.bin"), "-CAfile", str(d / "chain.pem"), "-out", "/dev/null"],
                           capture_output=True, text=True)
        assert v.returncode == 0 and "Verification successful" in v.stderr, v.stderr
        attrs = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(d / "cms.der")],
                               capture_output=True, text=True, check=True).stdout
        assert "signingCertificateV2" in attrs and "messageDigest" in attrs
        assert "signingTime" not in attrs
    res = api_verify(anon, d / "one-signed.pdf")
    [s] = res["signatures"]
    assert s["valid"] and s["intact"] and not s["altered"] and s["chain_trusted"] and not s["revoked"]
    assert s["covers_whole_document"] and s["later_revisions"] == []
    assert s["signer"]["name"] == "Nguyễn Văn An"
    assert s["signer"]["title"] == "Chủ tịch"
    assert s["signer"]["unit"] == "UBND phường Hoàn Kiếm"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$", s["time"])
    cli = server.cli("verify", str(d / "one-signed.pdf"))
    assert cli.returncode == 0 and "Nguyễn Văn An" in cli.stdout, cli.stdout + cli.stderr


def test_two_and_three_signatures(server, pki, anon):
    d = pki["dir"]
    sign(server, pki, d / "one.pdf", d / "s1.pdf", "--serial", pki["a"], "--pass", PASS_A)
    sign(server, pki, d / "s1.pdf", d / "s2.pdf", "--serial", pki["b"], "--pass", PASS_B, "--visible")
    sign(server, pki, d / "s2.pdf", d / "s3.pdf", "--p12", str(d / "a.p12"), "--pass", PASS_A)
    for path, n in ((d / "s2.pdf", 2), (d / "s3.pdf", 3)):
        out = pdfsig(pki, path)
        assert out.count("Signature is Valid.") == n, out
        assert out.count("Total document signed") == 1, out
        res = api_verify(anon, path)
        assert len(res["signatures"]) == n
        assert all(s["valid"] for s in res["signatures"])
        assert [s["covers_whole_document"] for s in res["signatures"]] == [False] * (n - 1) + [True]
        assert all(s["later_changes_only_signatures"] for s in res["signatures"])
    data = open(d / "s3.pdf", "rb").read()
    for i in range(3):
        cms, content = extract_cms(data, i)
        (d / "cms.der").write_bytes(cms)
        (d / "content.bin").write_bytes(content)
        v = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(d / "cms.der"), "-binary",
                            "-content", str(d / "content.bin"), "-CAfile", str(d / "chain.pem"), "-out", "/dev/null"],
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stderr


def test_one_changed_byte_is_altered(server, pki, anon):
    d = pki["dir"]
    data = bytearray(open(d / "one-signed.pdf", "rb").read())
    i = data.index(b"Giay xac nhan")
    data[i] = ord("X")
    (d / "altered.pdf").write_bytes(bytes(data))
    [s] = api_verify(anon, d / "altered.pdf")["signatures"]
    assert s["altered"] and not s["intact"] and not s["valid"]
    assert "bị sửa" in s["summary_vi"]
    cli = server.cli("verify", str(d / "altered.pdf"))
    assert cli.returncode == 1 and "altered: yes" in cli.stdout
    out = pdfsig(pki, d / "altered.pdf")
    assert "Signature is Valid." not in out and ("Digest Mismatch" in out or "Invalid" in out), out


def test_revoked_certificate(server, pki, anon):
    d = pki["dir"]
    p = server.cli("pki", "issue", "--cn", "Lê Văn Cường", "--key-type", "ec", "--pass", "cuong-pass-1",
                   "--ca-pass", CA_PASS, check=True)
    serial = p.stdout.strip()
    sign(server, pki, d / "one.pdf", d / "rev.pdf", "--serial", serial, "--pass", "cuong-pass-1")
    assert api_verify(anon, d / "rev.pdf")["signatures"][0]["valid"]
    bad = server.cli("pki", "revoke", serial, "--ca-pass", "wrong-passphrase")
    assert bad.returncode != 0 and "passphrase" in bad.stderr
    server.cli("pki", "revoke", serial, "--reason", "keyCompromise", "--ca-pass", CA_PASS, check=True)
    [s] = api_verify(anon, d / "rev.pdf")["signatures"]
    assert s["revoked"] and not s["valid"] and s["intact"] and s["revoked_at"]
    r = anon.get("/api/v1/pki/crl")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pkix-crl"
    (d / "crl.der").write_bytes(r.content)
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(d / "crl.der"), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert serial in text.replace(":", "").upper()
    # offline with only the root and the downloaded CRL
    cli = server.cli("verify", "--no-db", "--trust", str(d / "root.pem"), "--crl", str(d / "crl.der"), str(d / "rev.pdf"))
    assert cli.returncode == 1 and "revoked: yes" in cli.stdout, cli.stdout + cli.stderr
    again = server.cli("sign", "--serial", serial, "--pass", "cuong-pass-1", str(d / "one.pdf"), str(d / "x.pdf"))
    assert again.returncode != 0 and "revoked" in again.stderr


def test_pem_import_and_wrong_passphrase(server, pki):
    d = pki["dir"]
    for args in (["-nocerts", "-nodes", "-out", str(d / "a.key")], ["-nokeys", "-clcerts", "-out", str(d / "a.crt")],
                 ["-nokeys", "-cacerts", "-out", str(d / "a.chain")]):
        subprocess.run(["openssl", "pkcs12", "-in", str(d / "a.p12"), "-passin", f"pass:{PASS_A}", *args],
                       check=True, capture_output=True)
    sign(server, pki, d / "one.pdf", d / "pem.pdf", "--key", str(d / "a.key"), "--cert", str(d / "a.crt"),
         "--chain", str(d / "a.chain"))
    assert "Signature is Valid." in pdfsig(pki, d / "pem.pdf")
    wrong = server.cli("sign", "--serial", pki["a"], "--pass", "not-the-pass", str(d / "one.pdf"), str(d / "w.pdf"))
    assert wrong.returncode == 1 and "passphrase" in wrong.stderr and not os.path.exists(d / "w.pdf")
    dup = server.cli("pki", "import", "--p12", str(d / "a.p12"), "--p12-pass", PASS_A, "--pass", "new-pass-123")
    assert dup.returncode != 0   # already known (issued here)
    lst = server.cli("pki", "list", "--json", check=True).stdout
    assert "Nguyễn Văn An" in lst and '"status": "valid"' in lst and '"status": "revoked"' in lst


def test_api_validation_and_permissions(server, pki, anon, admin):
    assert_error(anon.post("/api/v1/signatures/verify", json={}), 422, "validation_failed")
    assert_error(anon.post("/api/v1/signatures/verify", json={"pdf_base64": "@@@"}), 422, "validation_failed")
    e = assert_error(anon.post("/api/v1/signatures/verify",
                               json={"pdf_base64": base64.b64encode(b"hello").decode()}), 422, "validation_failed")
    assert "PDF" in e["message"]
    res = anon.post("/api/v1/signatures/verify", json={"pdf_base64": base64.b64encode(make_pdf(1)).decode()})
    assert res.status_code == 200 and res.json()["signatures"] == []
    r = anon.get("/api/v1/pki/ca")
    assert r.status_code == 200 and r.text.count("BEGIN CERTIFICATE") == 2
    assert_error(anon.get("/api/v1/pki/certificates"), 401)
    r = admin.get("/api/v1/pki/certificates?warn_days=1000")
    assert r.status_code == 200
    assert any(c["status"] == "expiring" for c in r.json()["items"])
    assert_error(admin.get("/api/v1/pki/certificates?warn_days=x"), 422, "validation_failed")
    assert server.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'pki.list'")[0][0] != "0"
