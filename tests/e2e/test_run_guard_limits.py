"""feisty's per-client limits and lists with real clients: `--rate` (429 with Retry-After), `--max-conns-per-client`,
`--app-concurrency` with `--priority` under a flood (and 503 when the wait runs out), `--allow`/`--deny` by host name
(names from a private /etc/hosts in a mount namespace), and `--ban-action nftables` (the kernel drops a banned
client, in a network namespace)."""
import os
import shutil
import subprocess
import textwrap
import threading
import time

import pytest

from .conftest import RunningFeisty, ask_in, assert_scanner_dropped_by_nftables, free_port
from .guard_support import KeepAlive, ask, session_from

APP = """
    import time
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "home"

    @app.route("/slow/<float:seconds>")
    def slow(seconds):
        time.sleep(seconds)
        return "slow"
"""


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(APP))
    return path


def test_rate_answers_429_with_retry_after_per_client(start_feisty, app):
    feisty = start_feisty(str(app), "--rate", "1", "--burst", "2")
    fast = session_from("127.0.0.2")
    statuses = [fast.get(f"{feisty.base}/", timeout=5) for _ in range(4)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    throttled = [r for r in statuses[2:] if r.status_code == 429]
    assert throttled, [r.status_code for r in statuses]
    assert int(throttled[0].headers["Retry-After"]) >= 1
    # Another client has its own bucket.
    assert session_from("127.0.0.3").get(f"{feisty.base}/", timeout=5).status_code == 200
    time.sleep(1.1)  # a token came back
    assert fast.get(f"{feisty.base}/", timeout=5).status_code == 200


def test_max_conns_per_client_turns_the_excess_connection_away(start_feisty, app):
    feisty = start_feisty(str(app), "--max-conns-per-client", "2")
    first, second = KeepAlive("127.0.0.1", feisty.port, source="127.0.0.2"), KeepAlive(
        "127.0.0.1", feisty.port, source="127.0.0.2")
    try:
        assert first.get("/")[0] == 200 and second.get("/")[0] == 200
        assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.2").turned_away
        assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.3").status == 200  # another client
        second.close()
        deadline = time.monotonic() + 5
        while ask("127.0.0.1", feisty.port, "/", source="127.0.0.2").status != 200:
            assert time.monotonic() < deadline, "a closed connection still counts against the client"
            time.sleep(0.1)
    finally:
        first.close()


def test_a_priority_peer_passes_a_flood_waiting_for_the_app(start_feisty, app):
    # One request in the app at a time, each 0.2 s: a flood of 8 threads from one client keeps the queue full.
    feisty = start_feisty(str(app), "--app-concurrency", "1", "--queue-timeout", "20", "--priority", "127.0.0.3")
    stop = threading.Event()
    flood_latencies = []

    def flood():
        session = session_from("127.0.0.2")
        while not stop.is_set():
            started = time.monotonic()
            response = session.get(f"{feisty.base}/slow/0.2", timeout=30)
            assert response.status_code == 200
            flood_latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # the queue is full of the flood's requests
        peer = session_from("127.0.0.3")
        peer_latencies = []
        for _ in range(3):
            started = time.monotonic()
            assert peer.get(f"{feisty.base}/slow/0.2", timeout=30).status_code == 200
            peer_latencies.append(time.monotonic() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    flood_typical = sorted(flood_latencies)[len(flood_latencies) // 2]
    # The flood waits for ~7 others ahead of it (about 1.4 s); the peer only for the request in the app.
    assert max(peer_latencies) < flood_typical, (peer_latencies, flood_typical)
    assert "app_busy" not in feisty.output


def test_a_new_client_is_not_starved_by_one_clients_flood(start_feisty, app):
    """Without --priority: a client with a request already waiting queues after clients with none, so a flood from
    one client (served before, no strikes) does not crowd a newcomer out."""
    feisty = start_feisty(str(app), "--app-concurrency", "1", "--queue-timeout", "20")
    stop = threading.Event()
    flood_latencies = []

    def flood():
        session = session_from("127.0.0.2")
        while not stop.is_set():
            started = time.monotonic()
            assert session.get(f"{feisty.base}/slow/0.2", timeout=30).status_code == 200
            flood_latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        started = time.monotonic()
        assert session_from("127.0.0.4").get(f"{feisty.base}/slow/0.2", timeout=30).status_code == 200
        newcomer = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    flood_typical = sorted(flood_latencies)[len(flood_latencies) // 2]
    assert newcomer < flood_typical, (newcomer, flood_typical)


def test_a_request_that_waits_longer_than_the_queue_timeout_gets_503(start_feisty, app):
    feisty = start_feisty(str(app), "--app-concurrency", "1", "--queue-timeout", "0.5")
    results = {}

    def slow():
        results["slow"] = session_from("127.0.0.2").get(f"{feisty.base}/slow/2.0", timeout=10)

    holder = threading.Thread(target=slow)
    holder.start()
    time.sleep(0.5)
    waited = session_from("127.0.0.3").get(f"{feisty.base}/", timeout=10)
    holder.join()
    assert results["slow"].status_code == 200
    assert waited.status_code == 503 and waited.headers["Retry-After"] == "1"
    assert "app_busy" in feisty.output


def test_a_first_undeclared_url_that_waited_for_a_slot_still_reaches_the_app(start_feisty, app):
    """A head that waited in the admission queue was judged before it waited: it keeps that verdict (its client's
    first undeclared URL goes to the app) instead of being judged again (a second strike, refused by feisty)."""
    feisty = start_feisty(str(app), "--app-concurrency", "1", "--queue-timeout", "10")
    holder = threading.Thread(target=lambda: session_from("127.0.0.2").get(f"{feisty.base}/slow/1.5", timeout=10))
    holder.start()
    time.sleep(0.5)  # the slot is taken
    started = time.monotonic()
    answer = session_from("127.0.0.3").get(f"{feisty.base}/typo-first", timeout=10)
    waited = time.monotonic() - started
    holder.join()
    assert answer.status_code == 404
    assert waited > 0.5, "the request did not wait for the slot"
    assert feisty.wait_for_line('"GET /typo-first HTTP/1.1" 404', timeout=5), feisty.output  # the app's own log


# ---- host names from a private /etc/hosts ---------------------------------------------------------------------------


def with_hosts_file(hosts_file, args, port):
    """feisty in a mount namespace of its own, where /etc/hosts is the test's file (the network is the host's)."""
    prefix = ("unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
              str(hosts_file))
    return RunningFeisty(args, port, prefix=prefix)


def test_allow_and_deny_by_host_name(app, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare: bind-mounts a private /etc/hosts in a mount namespace")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.2 scanner.feisty.test\n127.0.0.3 friend.feisty.test\n")
    port = free_port()
    feisty = with_hosts_file(hosts, [str(app), "--listen", f"127.0.0.1:{port}", "--state-dir",
                                           str(tmp_path / "state"), "--max-strikes", "2",
                                           "--deny", "scanner.feisty.test", "--allow", "friend.feisty.test"], port)
    try:
        feisty.wait_ready("/")
        assert ask("127.0.0.1", port, "/", source="127.0.0.2").turned_away  # denied by name
        # The allowed client probes as much as it likes: never struck, never banned.
        for number in range(6):
            assert ask("127.0.0.1", port, f"/probe{number}", source="127.0.0.3").status == 404
        assert ask("127.0.0.1", port, "/.env", source="127.0.0.3").status == 404
        assert ask("127.0.0.1", port, "/", source="127.0.0.3").status == 200
        assert " strike 1/" not in feisty.output and "banned" not in feisty.output
        assert ask("127.0.0.1", port, "/", source="127.0.0.4").status == 200  # neither listed
    finally:
        feisty.stop(timeout=10)


# ---- --ban-action nftables in a network namespace -------------------------------------------------------------------


def test_ban_action_nftables_makes_the_kernel_drop_a_banned_client(netns, app, tmp_path):
    port = 8080
    feisty = RunningFeisty([str(app), "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "state"),
                            "--ban-action", "nftables"], port, prefix=("ip", "netns", "exec", netns))
    try:
        deadline = time.monotonic() + 30
        while ask_in(netns, port, "127.0.0.3", "/") != ("answered", "200"):
            assert feisty.proc.poll() is None and time.monotonic() < deadline, feisty.output
            time.sleep(0.2)
        assert_scanner_dropped_by_nftables(netns, port, feisty)
    finally:
        feisty.stop(timeout=10)
    # feisty took its table with it.
    tables = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"], capture_output=True, text=True)
    assert "feisty" not in tables.stdout
