"""The admin listener of `feisty run` with real clients: requests over TCP, curl over the Unix socket, and
`feisty status`. Each feisty gets its own admin address (a free port or a socket in tmp_path), never the default.

The app is examples/faults/app.py (its /pid route tells which instance answered). Control is tested for what it
changes: a refused request (401) must leave the bans and the instances as they were.
"""
import json
import os
import socket
import stat
import subprocess
import time

import pytest
import requests

from .conftest import feisty_binary, free_port
from .guard_support import ask

APP = "examples/faults/app.py"
FLAGS = ("--health-path", "/health", "--grace", "2")
TIMEOUT = 5


def tcp_admin(start_feisty, *extra):
    """feisty on the faults app with a TCP admin listener on a free port; returns (feisty, admin base URL)."""
    port = free_port()
    feisty = start_feisty(APP, *FLAGS, "--admin", f"127.0.0.1:{port}", *extra, ready_path="/health")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(base + "/readyz", timeout=TIMEOUT).status_code == 200, what="/readyz")
    return feisty, base


def unix_admin(start_feisty, tmp_path, *extra):
    """feisty with its admin listener on a Unix socket in tmp_path; returns (feisty, socket path)."""
    path = str(tmp_path / "admin.sock")
    feisty = start_feisty(APP, *FLAGS, "--admin", f"unix:{path}", *extra, ready_path="/health")
    wait_until(lambda: os.path.exists(path), what="the admin socket")
    return feisty, path


def curl_unix(path, method, target, body=None):
    """(status, parsed JSON or text) of one request over the Unix socket, through curl --unix-socket."""
    command = ["curl", "-s", "-m", str(TIMEOUT), "--unix-socket", path, "-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = subprocess.run(command + [f"http://feisty{target}"], capture_output=True, text=True, timeout=TIMEOUT * 2)
    text, _, code = done.stdout.rpartition("\n")
    try:
        return int(code), json.loads(text)
    except ValueError:
        return int(code), text


def wait_until(condition, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (requests.RequestException, OSError, ValueError, KeyError) as error:
            last = error
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} ({last})")


def status_over_unix(path):
    code, body = curl_unix(path, "GET", "/status")
    assert code == 200, body
    return body


def ready_instances(status):
    return [instance for instance in status["instances"] if instance["state"] == "ready"]


# ---- read-only endpoints ----------------------------------------------------------------------------------------

def test_endpoints_answer_over_tcp(start_feisty):
    feisty, base = tcp_admin(start_feisty)
    assert requests.get(feisty.base + "/health", timeout=TIMEOUT).status_code == 200
    assert requests.get(feisty.base + "/no-such-page", timeout=TIMEOUT).status_code == 404

    health = requests.get(base + "/healthz", timeout=TIMEOUT)
    assert (health.status_code, health.text) == (200, "ok\n")
    assert requests.get(base + "/readyz", timeout=TIMEOUT).status_code == 200
    metrics = requests.get(base + "/metrics", timeout=TIMEOUT)
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    page = requests.get(base + "/", timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert requests.get(base + "/nothing", timeout=TIMEOUT).status_code == 404
    assert requests.post(base + "/status", timeout=TIMEOUT).status_code == 405
    assert requests.post(base + "/control/reload", data=b"x" * (65 * 1024), timeout=TIMEOUT).status_code == 413

    answer = requests.get(base + "/status", timeout=TIMEOUT)
    assert answer.headers["Content-Type"] == "application/json"
    status = answer.json()
    assert set(status) == {"feisty", "traffic", "instances", "events", "guard", "routes"}
    me = status["feisty"]
    assert me["pid"] == feisty.proc.pid and me["ready"] is True and me["guard"] is True
    assert me["listen"] == f"127.0.0.1:{feisty.port}" and me["app"] == APP
    assert me["uptime_seconds"] > 0 and me["rss_bytes"] > 0 and me["started_at"].endswith("Z")
    (instance,) = status["instances"]
    assert instance["state"] == "ready" and instance["address"].startswith("unix:")
    assert instance["pid"] == int(requests.get(feisty.base + "/pid", timeout=TIMEOUT).text.strip())
    assert instance["rss_bytes"] > 0 and instance["requests"] >= 1 and instance["age_seconds"] > 0
    assert [event["kind"] for event in status["events"]][:2] == ["start", "ready"]
    assert status["guard"]["strikes_total"] >= 1
    assert {"client": "127.0.0.1", "strikes": 1, "banned": False} in status["guard"]["top_offenders"]
    rules = {route["rule"]: route for route in status["routes"]}
    assert rules["/pid"]["endpoint"] == "pid" and "GET" in rules["/pid"]["methods"]
    assert [route["index"] for route in status["routes"]] == list(range(len(status["routes"])))


def test_no_guard_reports_guard_null(start_feisty):
    _, base = tcp_admin(start_feisty, "--no-guard")
    status = requests.get(base + "/status", timeout=TIMEOUT).json()
    assert status["guard"] is None and status["feisty"]["guard"] is False


def test_upstream_mode_has_no_instances_and_is_ready_when_listening(start_feisty):
    port = free_port()
    nobody = free_port()
    # Nothing listens upstream: the proxy's answers wait for it, so readiness is asked of the admin listener only.
    feisty = start_feisty(APP, "--upstream", f"127.0.0.1:{nobody}", "--admin", f"127.0.0.1:{port}", wait=False)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(base + "/readyz", timeout=TIMEOUT).status_code == 200, what="/readyz")
    status = requests.get(base + "/status", timeout=TIMEOUT).json()
    assert status["instances"] == [] and status["feisty"]["ready"] is True
    assert status["feisty"]["listen"] == f"127.0.0.1:{feisty.port}"
    # Nothing of feisty's own to swap.
    assert requests.post(base + "/control/reload", headers={"Authorization": "Bearer x"}).status_code == 401


# ---- control: access ------------------------------------------------------------------------------------------------

def test_control_over_tcp_without_a_token_is_refused_and_changes_nothing(start_feisty):
    feisty, base = tcp_admin(start_feisty)
    before = requests.get(base + "/status", timeout=TIMEOUT).json()
    for verb, body in [("ban", {"client": "127.0.0.2"}), ("recycle", {"instance": before["instances"][0]["id"]}),
                       ("reload", None)]:
        answer = requests.post(f"{base}/control/{verb}", json=body, timeout=TIMEOUT)
        assert answer.status_code == 401 and "error" in answer.json()
        answer = requests.post(f"{base}/control/{verb}", json=body, timeout=TIMEOUT,
                               headers={"Authorization": "Bearer guess"})
        assert answer.status_code == 401
    time.sleep(1)  # a recycle or reload that slipped through would have started a new instance by now
    after = requests.get(base + "/status", timeout=TIMEOUT).json()
    assert after["guard"]["bans_active"] == 0 and after["guard"]["bans_total"] == 0
    assert [(i["id"], i["pid"]) for i in after["instances"]] == [(i["id"], i["pid"]) for i in before["instances"]]
    assert ask("127.0.0.1", feisty.port, "/health", source="127.0.0.2").status == 200


def test_ban_and_unban_with_the_token(start_feisty, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    feisty, base = tcp_admin(start_feisty, "--admin-token-file", str(token_file))
    wrong = requests.post(base + "/control/ban", json={"client": "127.0.0.2"}, timeout=TIMEOUT,
                          headers={"Authorization": "Bearer s3cret-toke"})
    assert wrong.status_code == 401
    assert ask("127.0.0.1", feisty.port, "/health", source="127.0.0.2").status == 200
    assert requests.get(base + "/status", timeout=TIMEOUT).json()["guard"]["bans_active"] == 0

    good = {"Authorization": "Bearer s3cret-token"}
    answer = requests.post(base + "/control/ban", json={"client": "127.0.0.2", "duration": "1h", "reason": "test"},
                           headers=good, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    # Applied before the answer: the banned client is turned away at once, others are served.
    assert ask("127.0.0.1", feisty.port, "/health", source="127.0.0.2").turned_away
    assert ask("127.0.0.1", feisty.port, "/health", source="127.0.0.3").status == 200
    guard = requests.get(base + "/status", timeout=TIMEOUT).json()["guard"]
    assert guard["bans_active"] == 1 and guard["bans_total"] == 1
    (ban,) = guard["bans"]
    assert ban["client"] == "127.0.0.2" and ban["reason"] == "test" and ban["until"] is not None
    # The ban is the store's, as `feisty bans list` shows it.
    state = feisty.proc.args[feisty.proc.args.index("--state-dir") + 1]
    listed = subprocess.run([feisty_binary(), "bans", "list", "--state-dir", state], capture_output=True, text=True)
    assert "127.0.0.2" in listed.stdout

    assert requests.post(base + "/control/ban", json={"client": "not-an-ip"}, headers=good).status_code == 400
    answer = requests.post(base + "/control/unban", json={"client": "127.0.0.2"}, headers=good, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert ask("127.0.0.1", feisty.port, "/health", source="127.0.0.2").status == 200
    assert requests.post(base + "/control/unban", json={"client": "127.0.0.2"}, headers=good).status_code == 404


# ---- control: the instances -----------------------------------------------------------------------------------------

def test_recycle_over_the_unix_socket_swaps_the_instance(start_feisty, tmp_path):
    feisty, path = unix_admin(start_feisty, tmp_path)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert stat.S_ISSOCK(os.stat(path).st_mode) and mode == 0o600, oct(mode)
    before = wait_until(lambda: ready_instances(status_over_unix(path)), what="a ready instance")[0]
    assert curl_unix(path, "POST", "/control/recycle", {"instance": 99})[0] == 404
    code, body = curl_unix(path, "POST", "/control/recycle", {"instance": before["id"]})
    assert (code, body) == (200, {"ok": True, "instance": before["id"]})

    def swapped():
        instances = status_over_unix(path)["instances"]
        return [i for i in instances if i["state"] == "ready"] if all(i["id"] != before["id"] for i in instances) else None

    (after,) = wait_until(swapped, what="the recycled instance's replacement")
    assert after["pid"] != before["pid"]
    assert int(requests.get(feisty.base + "/pid", timeout=TIMEOUT).text.strip()) == after["pid"]
    kinds = [(event["kind"], event["instance"]) for event in status_over_unix(path)["events"]]
    assert ("recycle", before["id"]) in kinds and ("swap", after["id"]) in kinds
    feisty.stop()
    assert not os.path.exists(path)  # removed at exit


def test_reload_swaps_every_instance(start_feisty, tmp_path):
    feisty, path = unix_admin(start_feisty, tmp_path, "--workers", "2")
    wait_until(lambda: len(ready_instances(status_over_unix(path))) == 2, what="two ready instances")
    before = {i["id"] for i in status_over_unix(path)["instances"]}
    assert curl_unix(path, "POST", "/control/reload") == (200, {"ok": True})

    def deployed():
        status = status_over_unix(path)
        ids = {i["id"] for i in ready_instances(status)}
        done = any(e["kind"] == "deploy" and "complete" in e["cause"] for e in status["events"])
        return done and len(ids) == 2 and not ids & before

    wait_until(deployed, timeout=40, what="the deploy")
    assert requests.get(feisty.base + "/health", timeout=TIMEOUT).status_code == 200


# ---- the listener itself --------------------------------------------------------------------------------------------

def test_a_hang_shows_its_detection_and_recovery(start_feisty):
    """A hung request: /status's hang event says how long it was silent, /metrics times detection and recovery."""
    feisty, base = tcp_admin(start_feisty, "--hang-timeout", "2")
    # The instance hangs in this request; feisty answers 504 once it declares the instance hung.
    assert requests.get(f"http://127.0.0.1:{feisty.port}/hang", timeout=30).status_code == 504

    def recovered():
        text = requests.get(base + "/metrics", timeout=TIMEOUT).text
        return 'feisty_recovery_seconds_count{cause="hang"} 1' in text and text

    text = wait_until(recovered, timeout=30, what="the hang's recovery in /metrics")
    assert 'feisty_detection_seconds_count{cause="hang"} 1' in text
    status = requests.get(base + "/status", timeout=TIMEOUT).json()
    hang = next(event for event in status["events"] if event["kind"] == "hang")
    assert hang["detected_after_seconds"] >= 2
    assert all(event["detected_after_seconds"] is None for event in status["events"] if event["kind"] != "hang")
    assert ready_instances(status)


def test_an_explicit_admin_address_that_is_taken_is_an_error(start_feisty):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        feisty = start_feisty(APP, "--admin", f"127.0.0.1:{port}", wait=False)
        assert feisty.proc.wait(timeout=20) == 1
    assert f"cannot listen for the admin API on 127.0.0.1:{port}" in feisty.output
    assert "serving" not in feisty.output


def test_a_live_unix_socket_is_not_taken_over(start_feisty, tmp_path):
    first, path = unix_admin(start_feisty, tmp_path)
    second = start_feisty(APP, "--admin", f"unix:{path}", wait=False)
    assert second.proc.wait(timeout=20) == 1
    assert "another process listens there" in second.output
    assert curl_unix(path, "GET", "/healthz")[0] == 200


def test_a_stale_unix_socket_is_replaced(start_feisty, tmp_path):
    path = tmp_path / "admin.sock"
    with socket.socket(socket.AF_UNIX) as dead:  # bound and closed: the file stays, nobody listens
        dead.bind(str(path))
    assert path.exists()
    _, _ = unix_admin(start_feisty, tmp_path)
    assert curl_unix(str(path), "GET", "/healthz") == (200, "ok\n")


# ---- feisty status --------------------------------------------------------------------------------------------------

def run_status(*args):
    return subprocess.run([feisty_binary(), "status", *args], capture_output=True, text=True, timeout=20)


def test_feisty_status_prints_the_state(start_feisty, tmp_path):
    feisty, base = tcp_admin(start_feisty)
    requests.get(feisty.base + "/no-such-page", timeout=TIMEOUT)  # one strike
    address = base.removeprefix("http://")
    shown = run_status("--admin", address)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("feisty ") and f"pid {feisty.proc.pid}" in lines[0] and "ready" in lines[0]
    assert f"http://127.0.0.1:{feisty.port}/" in lines[0]
    pid = requests.get(feisty.base + "/pid", timeout=TIMEOUT).text.strip()
    instance_rows = [line.split() for line in lines if line.startswith("  1 ")]
    assert instance_rows and instance_rows[0][1] == pid and instance_rows[0][2] == "ready"
    assert any(line.startswith("last events") for line in lines)
    assert any(line.startswith("guard ") and "strikes" in line for line in lines)
    assert any("127.0.0.1" in line for line in lines)  # a top offender
    assert any(line.startswith("busiest routes") for line in lines) and any("/pid" in line for line in lines)

    raw = run_status("--admin", address, "--json")
    assert raw.returncode == 0 and json.loads(raw.stdout)["feisty"]["pid"] == feisty.proc.pid

    # Over the Unix socket too.
    _, path = unix_admin(start_feisty, tmp_path)
    over_unix = run_status("--admin", f"unix:{path}", "--json")
    assert over_unix.returncode == 0 and json.loads(over_unix.stdout)["instances"]


def test_feisty_status_says_when_nothing_answers(tmp_path):
    port = free_port()
    shown = run_status("--admin", f"127.0.0.1:{port}")
    assert shown.returncode == 1
    assert f"no feisty admin listener on http://127.0.0.1:{port}: is feisty running? (--admin)" in shown.stderr
    shown = run_status("--admin", f"unix:{tmp_path}/none.sock")
    assert shown.returncode == 1 and "is feisty running?" in shown.stderr
