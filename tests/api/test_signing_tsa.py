"""RFC 3161 timestamps (PAdES B-T): `cityos sign --tsa URL` against a local timestamp
authority (a tiny HTTP server answering with `openssl ts -reply`), then verification."""
import base64
import http.server
import subprocess
import threading

import pytest

from conftest import assert_error  # noqa: F401  (fixtures)
from test_signing import make_pdf

CA_PASS = "ca-passphrase-123"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    d = tmp_path_factory.mktemp("tsa")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=Test TSA Root", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=Test TSA", cwd=d)
    (d / "ext.cnf").write_text("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-out", "tsa.pem",
            "-days", "30", "-extfile", "ext.cnf", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(f"""[ tsa ]
default_tsa = t
[ t ]
serial = {d}/serial
signer_cert = {d}/tsa.pem
certs = {d}/root.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                (d / "q.tsq").write_bytes(body)
                p = subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile", str(d / "q.tsq"),
                                    "-out", str(d / "r.tsr")], capture_output=True)
                answer = (d / "r.tsr").read_bytes() if p.returncode == 0 else b""
            self.send_response(200 if answer else 500)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield {"dir": d, "url": f"http://127.0.0.1:{srv.server_address[1]}/tsa"}
    srv.shutdown()


def test_timestamped_signature(server, anon, tsa):
    d = tsa["dir"]
    init = server.cli("pki", "init", "--key-type", "ec", "--ca-pass", CA_PASS)
    assert init.returncode == 0 or "already exists" in init.stderr, init.stderr
    serial = server.cli("pki", "issue", "--cn", "Đỗ Thị Giang", "--key-type", "ec", "--pass", "giang-pass-1",
                        "--ca-pass", CA_PASS, check=True).stdout.strip()
    (d / "in.pdf").write_bytes(make_pdf(1))
    p = server.cli("sign", "--serial", serial, "--pass", "giang-pass-1", "--tsa", tsa["url"], str(d / "in.pdf"), str(d / "out.pdf"))
    assert p.returncode == 0, p.stderr
    b64 = base64.b64encode((d / "out.pdf").read_bytes()).decode()
    [s] = anon.post("/api/v1/signatures/verify", json={"pdf_base64": b64}).json()["signatures"]
    assert s["valid"] and s["timestamp"]["time"] and s["timestamp"]["valid"] is False   # TSA root not trusted yet
    server.cli("pki", "trust", str(d / "root.pem"), check=True)
    [s] = anon.post("/api/v1/signatures/verify", json={"pdf_base64": b64}).json()["signatures"]
    assert s["valid"] and s["timestamp"]["valid"] is True
    out = server.cli("verify", str(d / "out.pdf"))
    assert out.returncode == 0 and "timestamp (RFC 3161)" in out.stdout, out.stdout
    # without a timestamp authority the signature has no timestamp
    server.cli("sign", "--serial", serial, "--pass", "giang-pass-1", str(d / "in.pdf"), str(d / "plain.pdf"), check=True)
    b64 = base64.b64encode((d / "plain.pdf").read_bytes()).decode()
    assert anon.post("/api/v1/signatures/verify", json={"pdf_base64": b64}).json()["signatures"][0]["timestamp"] is None
    # an authority that does not answer: signing fails, nothing written
    bad = server.cli("sign", "--serial", serial, "--pass", "giang-pass-1", "--tsa", "http://127.0.0.1:9/", str(d / "in.pdf"),
                     str(d / "bad.pdf"))
    assert bad.returncode == 1 and "timestamp authority" in bad.stderr and not (d / "bad.pdf").exists()
