"""Device credentials enforced by a real mosquitto: `cityos devices broker-auth` writes the
password file (mosquitto's $7$ PBKDF2-SHA512) and the ACL; a device publishes with its key
and is stored, a wrong password or no credentials are refused, a device cannot publish
into another device's topic; a key rotation reaches the broker by itself
(CITYOS_MQTT_AUTH_DIR + SIGHUP)."""
import os
import secrets
import subprocess
import tempfile
import time

from conftest import BIN, unique
from sensors_helpers import Broker, EnvServer, make_device, obs, wait_for

PORT = 18845


def pub(port, topic, payload, user=None, password=None):
    args = ["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", payload]
    if user:
        args += ["-u", user, "-P", password]
    return subprocess.run(args, capture_output=True, text=True, timeout=20)


def values(srv, dev):
    return [float(r[0]) for r in srv.sql(f"SELECT value FROM sensor_readings WHERE device_id = '{dev}' ORDER BY ts")]


def test_broker_enforces_device_credentials():
    with tempfile.TemporaryDirectory(prefix="cityos-broker-") as tmp:
        auth = os.path.join(tmp, "auth")
        os.mkdir(auth)
        svc, svc_pw = "cityos-svc", secrets.token_hex(12)
        srv = EnvServer(tmp, {})
        broker = node = None
        try:
            a, b = unique("aq-"), unique("aq-")
            ka = make_device(srv.admin, a)["key"]
            kb = make_device(srv.admin, b)["key"]
            env = dict(os.environ, CITYOS_MQTT_USER=svc, CITYOS_MQTT_PASSWORD=svc_pw)
            p = subprocess.run([BIN, "devices", "broker-auth", "--out", auth] + srv.common, env=env,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr
            lines = open(os.path.join(auth, "passwd")).read().splitlines()
            users = sorted(line.split(":", 1)[0] for line in lines)
            assert users == sorted([svc, a, b]) and all(":$7$101$" in line for line in lines), lines
            assert ka not in open(os.path.join(auth, "passwd")).read()
            acl = open(os.path.join(auth, "acl")).read()
            assert "pattern write cityos/v1/devices/%u/readings" in acl and f"user {svc}" in acl
            assert oct(os.stat(os.path.join(auth, "passwd")).st_mode & 0o777) == "0o640"
            # A broker that knows only these credentials; cityos connects as the service account.
            broker = Broker(PORT, auth_dir=auth)
            pidfile = os.path.join(tmp, "mosquitto.pid")
            with open(pidfile, "w") as f:
                f.write(str(broker.proc.pid))
            node_env = {"CITYOS_MQTT": broker.url, "CITYOS_MQTT_CLIENT_ID": "auth-" + secrets.token_hex(3),
                        "CITYOS_MQTT_GROUP": "g-" + secrets.token_hex(3), "CITYOS_MQTT_USER": svc,
                        "CITYOS_MQTT_PASSWORD": svc_pw, "CITYOS_MQTT_AUTH_DIR": auth,
                        "CITYOS_MQTT_BROKER_PIDFILE": pidfile, "CITYOS_SENSORS_SWEEP_S": "1"}
            saved = {k: os.environ.get(k) for k in node_env}
            os.environ.update(node_env)
            try:
                _url, node = srv.start_node()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            log = [os.path.join(tmp, f) for f in os.listdir(tmp) if f.startswith("node-")][0]
            wait_for(lambda: "mqtt subscribed" in open(log).read(), timeout=20)
            t = int(time.time() * 1000)
            # The right key: accepted and stored.
            r = pub(PORT, f"cityos/v1/devices/{a}/readings", obs(t - 5000, pm25=21), a, ka)
            assert r.returncode == 0, r.stderr
            wait_for(lambda: values(srv, a) == [21.0], timeout=20)
            # A wrong password, another device's key, no credentials: refused at CONNECT.
            for user, pw in ((a, "dk_wrong"), (a, kb), (None, None)):
                r = pub(PORT, f"cityos/v1/devices/{a}/readings", obs(t - 4000, pm25=99), user, pw)
                assert r.returncode != 0, (user, r.stdout, r.stderr)
            # Device a publishing into b's topic: the broker drops it (never delivered).
            assert pub(PORT, f"cityos/v1/devices/{b}/readings", obs(t - 3000, pm25=77), a, ka).returncode == 0
            assert pub(PORT, f"cityos/v1/devices/{b}/readings", obs(t - 2000, pm25=11), b, kb).returncode == 0
            wait_for(lambda: 11.0 in values(srv, b), timeout=20)
            time.sleep(0.5)
            assert values(srv, b) == [11.0] and values(srv, a) == [21.0]
            assert srv.sql(f"SELECT COUNT(*) FROM sensor_dead_letters WHERE device_id IN ('{a}', '{b}')") == [("0",)]
            # A rotated key reaches the broker: the node rewrites the files and sends SIGHUP.
            ka2 = srv.admin.post(f"/api/v1/devices/{a}/key").json()["key"]
            wait_for(lambda: pub(PORT, f"cityos/v1/devices/{a}/readings", obs(t - 1000, pm25=33), a, ka2).returncode == 0,
                     timeout=20, interval=0.3)
            assert pub(PORT, f"cityos/v1/devices/{a}/readings", obs(t - 500, pm25=44), a, ka).returncode != 0
            wait_for(lambda: values(srv, a) == [21.0, 33.0], timeout=20)
            assert "broker credentials written" in open(log).read()
        finally:
            if node:
                node.terminate()
                assert node.wait(timeout=20) == 0
            if broker:
                broker.stop()
            rc = srv.stop()
            srv.drop()
            assert rc == 0
