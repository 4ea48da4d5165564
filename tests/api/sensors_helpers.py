"""Helpers for the sensors API tests: a real mosquitto broker and cityos servers wired to it."""
import json
import os
import re
import socket
import subprocess
import tempfile
import time

from conftest import ADMIN_PASSWORD, BIN, Server


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


class Broker:
    """mosquitto on 127.0.0.1:port, no persistence, anonymous (tests only); with auth_dir,
    no anonymous clients and the password and ACL files `cityos devices broker-auth` wrote."""

    def __init__(self, port, auth_dir=None):
        self.port = port
        self.dir = tempfile.TemporaryDirectory(prefix="cityos-mqtt-")
        conf = os.path.join(self.dir.name, "mosquitto.conf")
        # (`user root`: run as root, mosquitto would switch to its own user and could not
        # read the test's private temporary folder.)
        auth = (f"allow_anonymous false\npassword_file {auth_dir}/passwd\nacl_file {auth_dir}/acl\n"
                + ("user root\n" if os.geteuid() == 0 else "") if auth_dir else "allow_anonymous true\n")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\n{auth}persistence false\n"
                    "max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n")
        self.log = open(os.path.join(self.dir.name, "broker.log"), "w")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=self.log, stderr=self.log)
        wait_port(port)
        self.url = f"mqtt://127.0.0.1:{port}"

    def publish(self, topic, payload, qos=1):
        subprocess.run(["mosquitto_pub", "-p", str(self.port), "-h", "127.0.0.1", "-q", str(qos),
                        "-t", topic, "-m", payload], check=True, timeout=20)

    def publish_lines(self, topic, lines, qos=1, wait=True):
        """One message per line through a single mosquitto_pub (-l)."""
        p = subprocess.Popen(["mosquitto_pub", "-p", str(self.port), "-h", "127.0.0.1", "-q", str(qos),
                              "-t", topic, "-l"], stdin=subprocess.PIPE, text=True)
        p.stdin.write("".join(line + "\n" for line in lines))
        p.stdin.close()
        if wait:
            assert p.wait(timeout=60) == 0
        return p

    def stop(self):
        """Stops the broker; fails when it had died on its own meanwhile."""
        died = self.proc.poll()
        if died is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()
        log = open(os.path.join(self.dir.name, "broker.log")).read()
        self.dir.cleanup()
        assert died is None, f"mosquitto on port {self.port} exited by itself ({died}): {log[-2000:]}"


def mqtt_env(broker, client_id, **extra):
    """Each test server gets its own shared-subscription group (unless extra names one):
    members of one group split the messages between them."""
    env = {"CITYOS_MQTT": broker.url, "CITYOS_MQTT_CLIENT_ID": client_id, "CITYOS_MQTT_GROUP": "g-" + client_id}
    env.update(extra)
    return env


class EnvServer(Server):
    """conftest.Server started with extra environment variables (it inherits os.environ)."""

    def __init__(self, tmp, env, extra_args=()):
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            super().__init__(tmp, extra_args)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.env = env

    def wait_subscribed(self, count=1, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path) as f:
                if f.read().count("mqtt subscribed") >= count:
                    return
            time.sleep(0.05)
        raise RuntimeError("cityos did not subscribe: " + open(self.log_path).read()[-2000:])

    def restart(self, env):
        """Starts `cityos serve` again on the same database (after a crash or a stop)."""
        full = dict(os.environ)
        full.update(env)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"] + self.common,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=full)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server did not restart: " + open(self.log_path).read()[-2000:])
            m = re.search(r"listening on (http://[0-9.]+:\d+)/", line)
            if m:
                self.url = m.group(1)
                break
        self.admin = self.login("admin", ADMIN_PASSWORD)


def make_device(admin, dev_id, dtype="AirQualityObserved", lon=105.8522, lat=21.0287):
    r = admin.post("/api/v1/devices", json={"id": dev_id, "type": dtype, "name": "Trạm " + dev_id,
                                            "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(fn, timeout=20, interval=0.05):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


def obs(ts, **values):
    return json.dumps({"ts": ts, "values": values})
