"""The outbox gateway (src/signup/outbox.c): an SMS or mail gateway, signed in with the
API key of a client holding outbox.send (role outbox_gateway), leases messages of
notification_outbox, reports them sent or failed; two claimers never get the same
message, also through two cityos nodes on one database.
"""
import re
import threading
import time

import requests

from conftest import Client, assert_error, make_cccd, unique

HEADER = "cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id\n"


def gateway(server, roles=({"role": "outbox_gateway", "unit": None},)):
    r = server.admin.post("/api/v1/clients", json={"username": unique("cong-sms-"), "name": "Cổng SMS",
                                                    "roles": list(roles)})
    assert r.status_code == 201, r.text
    return server.client(r.json()["api_key"])


def queue(server, n, channel="sms", tag=None):
    """n messages straight into the outbox (as the sign-up code would); their destinations."""
    tag = tag or unique("")
    dests = []
    for i in range(n):
        d = f"09{abs(hash((tag, i))) % 10**8:08d}" if channel == "sms" else f"{tag}.{i}@example.vn"
        server.sql("INSERT INTO notification_outbox (channel, destination, subject, body, created_at)"
                   f" VALUES ('{channel}', '{d}', 'Thử', 'Mã {tag} {i}', 1)")
        dests.append(d)
    return dests


def drain(gw, **kw):
    """Claims until nothing is left; every claimed message (marked sent)."""
    got = []
    while True:
        r = gw.post("/api/v1/outbox/claim", json=dict({"limit": 100}, **kw))
        assert r.status_code == 200, r.text
        msgs = r.json()["messages"]
        if not msgs:
            return got
        for m in msgs:
            assert gw.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": r.json()["lease"]}).status_code == 200
        got += msgs


def row(server, mid):
    (r,) = server.sql(f"SELECT body, sent_at, attempts, failed_at, last_error FROM notification_outbox WHERE id = {mid}")
    return r


def test_only_a_gateway_claims(server, anon, admin):
    drain(gateway(server))
    assert_error(anon.post("/api/v1/outbox/claim", json={}), 401, "unauthenticated")
    plain = gateway(server, roles=())
    assert_error(plain.post("/api/v1/outbox/claim", json={}), 403, "forbidden")
    assert_error(plain.post("/api/v1/outbox/1/sent", json={"lease": "0" * 32}), 403, "forbidden")


def test_claim_validates_input(server):
    gw = gateway(server)
    for body, field in [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "5"}, "limit"),
                        ({"lease_seconds": 5}, "lease_seconds"), ({"lease_seconds": 3601}, "lease_seconds"),
                        ({"channel": "fax"}, "channel"), ({"channel": 1}, "channel")]:
        assert assert_error(gw.post("/api/v1/outbox/claim", json=body), 422, "validation_failed")["field"] == field
    assert assert_error(gw.post("/api/v1/outbox/1/sent", json={"lease": "xyz"}), 422)["field"] == "lease"
    assert assert_error(gw.post("/api/v1/outbox/1/failed", json={"lease": "a" * 32}), 422)["field"] == "reason"
    assert assert_error(gw.post("/api/v1/outbox/1/failed", json={"lease": "a" * 32, "reason": "x" * 501}),
                        422)["field"] == "reason"
    assert_error(gw.post("/api/v1/outbox/abc/sent", json={"lease": "a" * 32}), 404, "not_found")
    assert_error(gw.post("/api/v1/outbox/999999999/sent", json={"lease": "a" * 32}), 404, "not_found")


def test_signup_code_reaches_the_gateway_and_is_blanked_when_sent(server, anon, tmp_path):
    gw = gateway(server)
    drain(gw)
    cccd = make_cccd(birth_year=1988)
    p = tmp_path / "reg.csv"
    p.write_text(HEADER + f"{cccd},Lê Văn Cổng,1988-03-04,male,2025,00004,,,\n", encoding="utf-8")
    assert server.cli("population", "import", str(p)).returncode == 0
    dest = "0987" + cccd[-6:]
    r = anon.post("/api/v1/signup/start", json={"cccd": cccd, "birth_date": "1988-03-04", "channel": "sms",
                                                "destination": dest})
    assert r.status_code == 202
    r = gw.post("/api/v1/outbox/claim", json={"limit": 10, "lease_seconds": 30, "channel": "sms"})
    assert r.status_code == 200, r.text
    c = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", c["lease"])
    (m,) = [m for m in c["messages"] if m["destination"] == dest]
    assert m["channel"] == "sms" and m["attempt"] == 1 and "cityos" in m["subject"]
    code = re.search(r"\b(\d{6})\b", m["body"]).group(1)
    # the claim is audited: who took which messages
    (detail,) = server.sql(f"SELECT detail FROM audit_log WHERE action = 'outbox.claim'"
                           f" AND record_id = '{c['lease']}'")
    assert str(m["id"]) in detail[0]
    # a second claim does not see a leased message
    assert m["id"] not in [x["id"] for x in gw.post("/api/v1/outbox/claim", json={}).json()["messages"]]
    # sent with a wrong lease: refused; with the right one: sent, body blanked
    assert_error(gw.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": "f" * 32}), 409, "conflict")
    r = gw.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": c["lease"]})
    assert r.status_code == 200 and r.json() == {"id": m["id"], "status": "sent"}
    body, sent_at, attempts, failed_at, _ = row(server, m["id"])
    assert body == "" and sent_at != "" and attempts == "1" and failed_at == ""
    assert_error(gw.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": c["lease"]}), 409, "conflict")
    # the code still works: the gateway delivered it
    r = anon.post("/api/v1/signup/finish", json={"cccd": cccd, "code": code, "password": "Mat-khau-qua-cong-1"})
    assert r.status_code == 201, r.text


def test_channel_filter(server):
    gw = gateway(server)
    drain(gw)
    sms, mail = queue(server, 2, "sms"), queue(server, 2, "email")
    got = drain(gw, channel="email")
    assert sorted(m["destination"] for m in got) == sorted(mail)
    assert sorted(m["destination"] for m in drain(gw)) == sorted(sms)


def test_failure_backs_off_then_gives_up(server):
    gw = gateway(server)
    drain(gw)
    (dest,) = queue(server, 1)
    for attempt in range(1, 6):
        c = gw.post("/api/v1/outbox/claim", json={}).json()
        (m,) = c["messages"]
        assert m["destination"] == dest and m["attempt"] == attempt
        r = gw.post(f"/api/v1/outbox/{m['id']}/failed", json={"lease": c["lease"], "reason": "nhà mạng từ chối"})
        assert r.status_code == 200, r.text
        if attempt < 5:
            assert r.json()["status"] == "retry"
            (stored,) = server.sql(f"SELECT next_at FROM notification_outbox WHERE id = {m['id']}")
            assert int(stored[0]) == r.json()["next_at"]
            # not due yet: the next claim leaves it; then the back-off is waited out
            assert gw.post("/api/v1/outbox/claim", json={}).json()["messages"] == []
            server.sql(f"UPDATE notification_outbox SET next_at = 0 WHERE id = {m['id']}")
        else:
            assert r.json() == {"id": m["id"], "status": "gave_up"}
    body, sent_at, attempts, failed_at, last_error = row(server, m["id"])
    assert body == "" and sent_at == "" and attempts == "5" and failed_at != "" and last_error == "nhà mạng từ chối"
    assert gw.post("/api/v1/outbox/claim", json={}).json()["messages"] == []
    actions = [a for (a,) in server.sql(f"SELECT action FROM audit_log WHERE record_type = 'outbox'"
                                        f" AND record_id = '{m['id']}' ORDER BY seq")]
    assert actions == ["outbox.failed"] * 4 + ["outbox.gave_up"]


def test_backoff_grows(server):
    gw = gateway(server)
    drain(gw)
    queue(server, 1)
    c = gw.post("/api/v1/outbox/claim", json={}).json()
    (m,) = c["messages"]
    r = gw.post(f"/api/v1/outbox/{m['id']}/failed", json={"lease": c["lease"], "reason": "timeout"}).json()
    first = r["next_at"]
    server.sql(f"UPDATE notification_outbox SET next_at = 0 WHERE id = {m['id']}")
    c = gw.post("/api/v1/outbox/claim", json={}).json()
    r = gw.post(f"/api/v1/outbox/{m['id']}/failed", json={"lease": c["lease"], "reason": "timeout"}).json()
    # 30 s after the first failure, 60 s after the second
    now = int(time.time() * 1000)
    assert 25_000 < first - now <= 30_000
    assert 55_000 < r["next_at"] - now <= 60_000


def test_expired_lease_is_claimed_again_and_the_old_lease_is_refused(server):
    gw1, gw2 = gateway(server), gateway(server)
    drain(gw1)
    queue(server, 1)
    c1 = gw1.post("/api/v1/outbox/claim", json={"lease_seconds": 10}).json()
    (m,) = c1["messages"]
    assert gw2.post("/api/v1/outbox/claim", json={}).json()["messages"] == []
    server.sql(f"UPDATE notification_outbox SET lease_until = 1 WHERE id = {m['id']}")   # ten seconds pass
    c2 = gw2.post("/api/v1/outbox/claim", json={}).json()
    assert [x["id"] for x in c2["messages"]] == [m["id"]] and c2["messages"][0]["attempt"] == 2
    assert_error(gw1.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": c1["lease"]}), 409, "conflict")
    assert_error(gw1.post(f"/api/v1/outbox/{m['id']}/failed", json={"lease": c1["lease"], "reason": "x"}), 409)
    assert gw2.post(f"/api/v1/outbox/{m['id']}/sent", json={"lease": c2["lease"]}).status_code == 200


def test_lease_run_out_on_the_last_attempt_gives_up(server):
    gw = gateway(server)
    drain(gw)
    queue(server, 1)
    c = gw.post("/api/v1/outbox/claim", json={}).json()
    (m,) = c["messages"]
    server.sql(f"UPDATE notification_outbox SET attempts = 5, lease_until = 1 WHERE id = {m['id']}")
    assert gw.post("/api/v1/outbox/claim", json={}).json()["messages"] == []
    body, _, _, failed_at, last_error = row(server, m["id"])
    assert body == "" and failed_at != "" and last_error == "lease expired"


def test_two_claimers_on_two_nodes_never_share_a_message(server):
    gw = gateway(server)
    drain(gw)
    key = gw.token
    dests = set(queue(server, 60, "email"))
    url2, node2 = server.start_node()
    try:
        claimers = [Client(server.url, key), Client(url2, key), Client(server.url, key), Client(url2, key)]
        got = [[] for _ in claimers]
        errors = []

        def work(i):
            try:
                while True:
                    r = claimers[i].post("/api/v1/outbox/claim", json={"limit": 3, "lease_seconds": 60})
                    if r.status_code != 200:
                        errors.append(r.text)
                        return
                    msgs = r.json()["messages"]
                    if not msgs:
                        return
                    got[i] += [(m["id"], m["destination"]) for m in msgs]
            except requests.RequestException as e:   # pragma: no cover - reported below
                errors.append(str(e))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(claimers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        node2.terminate()
        node2.wait()
    assert errors == []
    ids = [i for g in got for i, _ in g]
    assert len(ids) == len(set(ids)), "a message was leased twice"
    assert {d for g in got for _, d in g} == dests
    assert sum(1 for g in got if g) >= 2, "only one claimer got work; the test proved nothing"


class FakeRelay:
    """A small SMTP relay on 127.0.0.1 that keeps what it is given; RCPT to an address
    with "reject" in it answers 550."""

    def __init__(self):
        import socketserver
        relay = self
        self.mails = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                w = lambda s: self.wfile.write(s.encode())  # noqa: E731
                w("220 fake relay\r\n")
                rcpt = None
                while True:
                    line = self.rfile.readline().decode()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        w("250-fake\r\n250 8BITMIME\r\n")
                    elif verb == "RCPT":
                        rcpt = line
                        w("550 5.1.1 no such mailbox\r\n" if "reject" in line else "250 ok\r\n")
                    elif verb == "DATA":
                        w("354 go on\r\n")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n"):
                            chunk = self.rfile.readline()
                            if not chunk:
                                return
                            data += chunk
                        relay.mails.append((rcpt, data.decode()))
                        w("250 queued\r\n")
                    elif verb == "QUIT":
                        w("221 bye\r\n")
                        return
                    else:
                        w("250 ok\r\n")

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_cli_sends_the_email_outbox_through_smtp(server):
    import base64
    import email
    import email.header
    gw = gateway(server)
    drain(gw)
    tag = unique("thu")
    good, bad = f"{tag}@example.vn", f"reject.{tag}@example.vn"
    for d in (good, bad):
        server.sql("INSERT INTO notification_outbox (channel, destination, subject, body, created_at) VALUES"
                   f" ('email', '{d}', 'Đăng ký tài khoản cityos', 'Mã xác nhận của bạn là 654321. Hà Nội', 1)")
    (sms,) = queue(server, 1, "sms")
    relay = FakeRelay()
    try:
        out = server.cli("outbox", "send", "--smtp", f"127.0.0.1:{relay.port}", "--from", "cityos@hanoi.gov.vn",
                         "--once")
    finally:
        relay.close()
    assert out.returncode == 0, out.stderr
    assert "1 sent, 1 failed" in out.stdout, out.stdout
    (rcpt, data), = relay.mails
    assert good in rcpt
    msg = email.message_from_string(data.replace("\r\n", "\n"))
    assert msg["To"] == f"<{good}>" and msg["From"] == "<cityos@hanoi.gov.vn>"
    assert str(email.header.make_header(email.header.decode_header(msg["Subject"]))) == "Đăng ký tài khoản cityos"
    assert base64.b64decode(msg.get_payload()).decode() == "Mã xác nhận của bạn là 654321. Hà Nội"
    (g,) = server.sql(f"SELECT body, sent_at, attempts FROM notification_outbox WHERE destination = '{good}'")
    assert g[0] == "" and g[1] != "" and g[2] == "1"
    (b,) = server.sql(f"SELECT body, sent_at, attempts, last_error, next_at FROM notification_outbox"
                      f" WHERE destination = '{bad}'")
    assert b[0] != "" and b[1] == "" and b[2] == "1" and "550" in b[3] and int(b[4]) > 0
    (s,) = server.sql(f"SELECT attempts FROM notification_outbox WHERE destination = '{sms}'")
    assert s[0] == "0"                                         # the SMS channel is left to its gateway
    actors = {r[0] for r in server.sql("SELECT actor_kind FROM audit_log WHERE action = 'outbox.claim'"
                                       " AND detail LIKE '%smtp%'")}
    assert actors == {"system"}
