"""`feisty run` as a systemd `Type=notify` service: the sd_notify datagrams it sends, read from a real socket."""
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest
import requests

APP = '''
import os
from flask import Flask

app = Flask(__name__)

@app.route("/")
def index():
    return "hello"

@app.route("/notify-socket")
def notify_socket():
    return os.environ.get("NOTIFY_SOCKET", "-") + " " + os.environ.get("WATCHDOG_USEC", "-")
'''


class NotifySocket:
    """A datagram socket systemd would hold: feisty's messages arrive here in order."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages = []

    def next(self, timeout):
        """The next datagram as a dict (plus `_raw`), or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.split("\n") if line)
        fields["_raw"] = data
        self.messages.append(data)
        return fields

    def wait_for(self, key, timeout=30.0, skip=("WATCHDOG",)):
        """The first message carrying `key`; only messages made of `skip` keys may come before it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next(max(0.05, deadline - time.monotonic()))
            if message is None:
                break
            if key in message:
                return message
            keys = set(message) - {"_raw", "STATUS"}
            assert keys <= set(skip), f"unexpected {message['_raw']!r} before {key} (all: {self.messages})"
        pytest.fail(f"no {key} within {timeout}s; received {self.messages}")


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notifications_follow_the_run(start_feisty, tmp_path, abstract):
    app = tmp_path / "notified.py"
    app.write_text(APP)
    if abstract:
        name = f"feisty-test-{uuid.uuid4().hex}"
        notify = NotifySocket("\0" + name)
        variable = "@" + name
    else:
        variable = str(tmp_path / "notify.sock")
        notify = NotifySocket(variable)
    feisty = start_feisty(str(app), "--grace", "2", wait=False,
                          env={"NOTIFY_SOCKET": variable, "WATCHDOG_USEC": "2000000"})

    ready = notify.wait_for("READY")
    # READY=1 means served: the public port answers right away.
    assert requests.get(feisty.base + "/", timeout=5).text == "hello"
    assert ready["STATUS"].startswith(f"serving {app} on http://127.0.0.1:{feisty.port}/"), ready

    # Half of WATCHDOG_USEC: about one a second.
    started = time.monotonic()
    for _ in range(2):
        assert "WATCHDOG" in notify.wait_for("WATCHDOG", timeout=5)
    assert time.monotonic() - started < 4.5

    # The app does not inherit the service's notification socket or watchdog.
    assert requests.get(feisty.base + "/notify-socket", timeout=5).text == "- -"

    feisty.proc.send_signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING")
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert abs(int(reloading["MONOTONIC_USEC"]) / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 30
    after = notify.wait_for("READY", skip=("WATCHDOG",))
    assert after["STATUS"].startswith("serving"), after
    assert requests.get(feisty.base + "/", timeout=5).text == "hello"

    feisty.proc.send_signal(signal.SIGTERM)
    notify.wait_for("STOPPING", timeout=10)
    assert feisty.proc.wait(timeout=20) == 0, feisty.output


def test_no_notify_socket_means_no_watchdog_needed(start_feisty, tmp_path):
    """A WATCHDOG_PID naming another process: feisty leaves that watchdog alone (and still runs)."""
    app = tmp_path / "notified.py"
    app.write_text(APP)
    path = str(tmp_path / "notify.sock")
    notify = NotifySocket(path)
    feisty = start_feisty(str(app), env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    assert "READY" in notify.wait_for("READY", skip=())
    assert notify.next(timeout=1.0) is None  # no WATCHDOG=1 for someone else's watchdog
    os.kill(feisty.proc.pid, signal.SIGTERM)
    assert "STOPPING" in notify.wait_for("STOPPING", skip=("WATCHDOG",), timeout=10)


def test_the_admin_reload_is_announced_like_sighup(start_feisty, tmp_path):
    """The admin's reload goes through the same ReloadCoordinator as SIGHUP: systemd hears RELOADING=1, READY=1."""
    app = tmp_path / "notified.py"
    app.write_text(APP)
    path = str(tmp_path / "notify.sock")
    notify = NotifySocket(path)
    admin = str(tmp_path / "admin.sock")
    feisty = start_feisty(str(app), "--admin", f"unix:{admin}", env={"NOTIFY_SOCKET": path})
    assert "READY" in notify.wait_for("READY", skip=())
    done = subprocess.run(["curl", "-s", "-m", "10", "--unix-socket", admin, "-X", "POST",
                           "http://feisty/control/reload"], capture_output=True, text=True, timeout=20)
    assert '"ok"' in done.stdout, done
    reloading = notify.wait_for("RELOADING", skip=())
    assert reloading["STATUS"] == "reloading the configuration, deploying the code on disk"
    assert "READY" in notify.wait_for("READY", skip=())
    # The deploy itself goes on after READY=1; its swap shows as STATUS= lines, and the app keeps answering.
    assert requests.get(feisty.base + "/", timeout=5).text == "hello"
    os.kill(feisty.proc.pid, signal.SIGTERM)
    assert "STOPPING" in notify.wait_for("STOPPING", timeout=10)
