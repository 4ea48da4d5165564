"""Street-light commands over a real mosquitto: published to the light, acknowledged by it,
retried without an answer and reported failed after the last attempt; scheduled commands
wait for their time."""
import json
import secrets
import subprocess
import tempfile
import time

import pytest

from conftest import assert_error, unique
from sensors_helpers import Broker, EnvServer, make_device, mqtt_env, wait_for

PORT = 18833


@pytest.fixture(scope="module")
def broker():
    b = Broker(PORT)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def srv(broker):
    with tempfile.TemporaryDirectory(prefix="cityos-cmd-") as tmp:
        s = EnvServer(tmp, mqtt_env(broker, "cityos-cmd-" + secrets.token_hex(3),
                                    CITYOS_SENSORS_CMD_RETRY_MS="400", CITYOS_SENSORS_CMD_ATTEMPTS="3"))
        s.wait_subscribed()
        yield s
        rc = s.stop()
        s.drop()
        assert rc == 0, open(s.log_path).read()[-3000:]


def listen(broker, dev, count, timeout=10):
    """A street light: subscribes to its command topic and collects `count` messages."""
    return subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-q", "1", "-C", str(count), "-W", str(timeout),
                             "-t", f"cityos/v1/devices/{dev}/commands"], stdout=subprocess.PIPE, text=True)


def commands(admin, dev):
    return admin.get(f"/api/v1/sensors/commands?device={dev}").json()["items"]


def test_command_acknowledged(srv, broker):
    admin = srv.admin
    lights = [unique("sl-") for _ in range(2)]
    for d in lights:
        make_device(admin, d, "Streetlight", 105.85, 21.03)
    subs = [listen(broker, d, 1) for d in lights]
    time.sleep(0.3)
    r = admin.post("/api/v1/sensors/commands", json={"devices": lights, "action": "dim", "level": 0.4})
    assert r.status_code == 202, r.text
    ids = {c["device"]: c["id"] for c in r.json()["commands"]}
    for d, p in zip(lights, subs):
        out, _ = p.communicate(timeout=15)
        msg = json.loads(out.strip().splitlines()[0])
        assert msg == {"id": ids[d], "action": "dim", "level": 0.4}
        broker.publish(f"cityos/v1/devices/{d}/acks", json.dumps({"id": msg["id"], "status": "ok"}))
    for d in lights:
        c = wait_for(lambda: (lambda x: x if x["state"] == "acked" else None)(commands(admin, d)[0]))
        assert c["attempts"] == 1 and c["acked_at"] and c["level"] == 0.4
    # A repeated acknowledgement changes nothing and is no dead letter.
    broker.publish(f"cityos/v1/devices/{lights[0]}/acks", json.dumps({"id": ids[lights[0]], "status": "ok"}))
    broker.publish(f"cityos/v1/devices/{lights[0]}/acks", json.dumps({"id": 999999, "status": "ok"}))
    dl = wait_for(lambda: admin.get(f"/api/v1/sensors/dead-letters?device={lights[0]}").json()["items"])
    assert [x["reason"] for x in dl] == ["unknown_command"]


def test_command_retried_then_failed(srv, broker):
    admin = srv.admin
    d = unique("sl-")
    make_device(admin, d, "Streetlight", 105.85, 21.03)
    sub = listen(broker, d, 3, timeout=15)
    time.sleep(0.3)
    r = admin.post("/api/v1/sensors/commands", json={"devices": [d], "action": "on"})
    assert r.status_code == 202, r.text
    out, _ = sub.communicate(timeout=20)
    assert len(out.strip().splitlines()) == 3                      # three attempts reached the light
    c = wait_for(lambda: (lambda x: x if x["state"] == "failed" else None)(commands(admin, d)[0]), timeout=10)
    assert c["attempts"] == 3 and c["error"] == "no acknowledgement"


def test_scheduled_and_validation(srv, broker):
    admin = srv.admin
    d = unique("sl-")
    make_device(admin, d, "Streetlight", 105.85, 21.03)
    at = int(time.time() * 1000) + 1500
    r = admin.post("/api/v1/sensors/commands", json={"devices": [d], "action": "off", "at": at})
    assert r.status_code == 202, r.text
    time.sleep(0.8)
    assert commands(admin, d)[0]["state"] == "pending"
    wait_for(lambda: commands(admin, d)[0]["state"] == "sent", timeout=10)
    aq = unique("aq-")
    make_device(admin, aq)
    e = assert_error(admin.post("/api/v1/sensors/commands", json={"devices": [d, aq], "action": "on"}), 422)
    assert e["field"] == "devices" and e["index"] == 1
    assert len(commands(admin, d)) == 1                             # all or nothing
    assert_error(admin.post("/api/v1/sensors/commands", json={"devices": [d], "action": "blink"}), 422)
    assert_error(admin.post("/api/v1/sensors/commands", json={"devices": [d], "action": "dim"}), 422)
    assert_error(admin.post("/api/v1/sensors/commands", json={"devices": [], "action": "on"}), 422)
    assert_error(srv.client().post("/api/v1/sensors/commands", json={"devices": [d], "action": "on"}), 401)
