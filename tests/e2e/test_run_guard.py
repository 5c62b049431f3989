"""`feisty run` guards the app against clients that probe URLs it never declared (the guard: strikes and bans).

- A request for an undeclared URL is a strike; `--max-strikes` DISTINCT undeclared paths within `--find-time` ban
  the client (IPv4 by address, IPv6 by its /64); a canary path (`/.env`, `/.bash_history`, ...) bans at once.
- A client's first undeclared URL goes to the app (its own answer); later ones, and canaries, are answered by
  feisty with the app's rendered page and never reach the app.
- A ban is on disk (`--state-dir`/bans.sqlite) before it is enforced: a banned client's new connections are closed
  unread, its keep-alive connection at its next request (`--ban-response 403` answers 403 instead); bans survive
  `kill -9`; `feisty bans add/remove` act on a running feisty within a second.
- `--dry-run` only says "would ban"; `--trusted-proxy` bans the client behind the proxy, never the proxy.

Real clients only: dirb, requests, raw sockets from chosen loopback source addresses (127.0.0.1 and 127.0.0.2 are
two clients to feisty), and an IPv6 network namespace (root only). Settings are short so the file runs in under a
minute.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import requests

from .conftest import REPO, RunningFeisty, descendants, feisty_binary, free_port
from .guard_support import KeepAlive, ask, session_from, strikes

SUPPORT = REPO / "tests" / "e2e" / "guard_support.py"

# The app every test but dirb's uses: it prints each request it receives, so "reached the app" is a line in
# feisty's output (each test's probe paths carry a unique tag).
APP = """
    from flask import Flask, request

    app = Flask(__name__)

    @app.before_request
    def arrived():
        print("ARRIVED", request.path, flush=True)

    @app.errorhandler(404)
    def not_found(error):
        return "<h1>the app's own 404</h1>", 404

    @app.route("/")
    def index():
        return "home"

    @app.route("/items/<int:number>")
    def item(number):
        return f"item {number}"
"""
APP_404 = b"<h1>the app's own 404</h1>"


def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(APP))
    return path


def wait_until(predicate, timeout: float, step: float = 0.05):
    """Polls `predicate` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def banned_line(feisty, client: str, timeout: float = 5.0) -> str:
    """feisty's `banned CLIENT for ...` line (fails the test with feisty's output if none comes)."""
    needle = f"banned {client} "
    if not feisty.wait_for_line(needle, timeout=timeout):
        pytest.fail(f"no `{needle}` line within {timeout}s:\n{feisty.output}")
    return next(line for line in feisty.output.splitlines() if needle in line and "would ban" not in line)


def bans_cli(*args, state_dir) -> subprocess.CompletedProcess:
    done = subprocess.run([feisty_binary(), "bans", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"feisty bans {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def arrived(feisty, path: str) -> int:
    """How many times the app printed that `path` reached it."""
    return sum(1 for line in feisty.output.splitlines() if line.endswith(f"ARRIVED {path}"))


def probe(feisty, paths, source=None, **kwargs) -> list:
    return [ask("127.0.0.1", feisty.port, path, source=source, **kwargs) for path in paths]


# ---- 1. dirb against the example app, a good client beside it ------------------------------------------------------

def test_dirb_is_banned_while_a_good_client_is_never_refused(start_feisty):
    if not shutil.which("dirb"):
        pytest.skip("dirb is not installed (apt-get install -y dirb)")
    wordlist = "/usr/share/dirb/wordlists/common.txt"
    feisty = start_feisty("examples/seed/app.py", "--max-strikes", "5")
    ready_at = len(feisty.lines)

    stop = threading.Event()
    results = []

    def good_client():
        with session_from("127.0.0.2") as session:
            while not stop.is_set():
                for path, expected in (("/", '{"status": "ok"}'), ("/2024", "2024")):
                    try:
                        response = session.get(feisty.base + path, timeout=5)
                        results.append(response.status_code if response.text == expected else response.text)
                    except requests.RequestException as error:
                        results.append(type(error).__name__)
                time.sleep(0.01)

    good = threading.Thread(target=good_client)
    good.start()
    try:
        time.sleep(0.3)  # the good client is under way before the scanner starts
        scan = subprocess.run(["timeout", "120", "dirb", feisty.base + "/", wordlist, "-S", "-r"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        time.sleep(0.3)
    finally:
        stop.set()
        good.join(timeout=10)

    assert "URL_BASE" in scan.stdout, f"dirb did not run: {scan.returncode}\n{scan.stdout}{scan.stderr}"
    errors = [outcome for outcome in results if outcome != 200]
    assert results and not errors, f"the good client (127.0.0.2) got errors: {errors[:10]} of {len(results)}"

    line = banned_line(feisty, "127.0.0.1")
    before_ban = feisty.output[: feisty.output.index(line)]
    scanner_strikes = strikes(before_ban, "127.0.0.1")
    assert scanner_strikes and scanner_strikes[-1][0] <= 5, f"banned after more than 5 strikes:\n{feisty.output}"
    # The ban's evidence: at most 5 distinct paths, fewer only if the last is a canary (common.txt starts with
    # /.bash_history, so dirb is banned at its first word after its own two not-found calibration probes).
    evidence = line.split("): ", 1)[1].split()
    assert len(evidence) == 5 or (len(evidence) < 5 and evidence[-1] == "/.bash_history"), line
    assert not strikes(feisty.output, "127.0.0.2") and "ban 127.0.0.2" not in feisty.output.replace("banned", "ban")

    # The app itself answered at most one undeclared URL: its access log (Werkzeug's, relayed by feisty) shows at
    # most one 404 after feisty was ready.
    app_404s = [line for line in feisty.lines[ready_at:]
                if line.startswith("app") and re.search(r'"[A-Z]+ [^"]*" 404 ', line)]
    assert len(app_404s) <= 1, f"undeclared URLs reached the app: {app_404s}\n--- dirb:\n{scan.stdout[-2000:]}"

    # Banned: a new connection from the scanner's address is closed unread; 127.0.0.2 is still served.
    assert ask("127.0.0.1", feisty.port, "/").turned_away
    served = ask("127.0.0.1", feisty.port, "/", source="127.0.0.2")
    assert (served.how, served.status) == ("answered", 200)


# ---- 2. the first undeclared URL goes to the app, the next ones do not --------------------------------------------

def test_first_undeclared_url_reaches_the_app_later_ones_are_answered_by_feisty(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "5")
    t = tag()
    first, second = f"/first-{t}", f"/second-{t}"

    answer = ask("127.0.0.1", feisty.port, first)
    assert (answer.status, answer.body) == (404, APP_404)
    assert feisty.wait_for_line(f"ARRIVED {first}"), feisty.output

    answer = ask("127.0.0.1", feisty.port, second)
    assert (answer.status, answer.body) == (404, APP_404)  # the app's own page, replayed by feisty
    for _ in range(3):  # the same path again is not a new strike
        answer = ask("127.0.0.1", feisty.port, second)
        assert (answer.status, answer.body) == (404, APP_404)
    assert feisty.wait_for_line(f"strike 2/5 for 127.0.0.1: {second}"), feisty.output
    time.sleep(0.5)

    assert arrived(feisty, first) == 1, feisty.output
    assert arrived(feisty, second) == 0, f"the second undeclared URL reached the app:\n{feisty.output}"
    assert [(n, path) for n, _, _, path in strikes(feisty.output, "127.0.0.1")] == [(1, first), (2, second)]
    assert "banned" not in feisty.output
    assert ask("127.0.0.1", feisty.port, "/items/7").status == 200



def test_the_access_log_counts_the_bytes_of_the_page_feisty_answers_with(start_feisty, app):
    feisty = start_feisty(str(app))
    t = tag()
    ask("127.0.0.1", feisty.port, f"/first-{t}")  # the app answers this one
    answer = ask("127.0.0.1", feisty.port, f"/second-{t}")  # feisty answers with the app's page
    assert answer.body == APP_404
    pattern = re.compile(rf"127\.0\.0\.1 GET /second-{t} not_found 404 (\d+) ")
    assert wait_until(lambda: pattern.search(feisty.output), 5.0), feisty.output
    assert int(pattern.search(feisty.output).group(1)) == len(APP_404), pattern.search(feisty.output).group(0)


# ---- 3. a canary bans at once ---------------------------------------------------------------------------------------

def test_one_canary_request_bans_at_once_and_never_reaches_the_app(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "5")
    ask("127.0.0.1", feisty.port, "/.env")
    line = banned_line(feisty, "127.0.0.1")
    assert "/.env" in line
    time.sleep(0.3)  # the app's output is relayed asynchronously: give a (wrong) arrival time to show
    assert arrived(feisty, "/.env") == 0
    assert ask("127.0.0.1", feisty.port, "/").turned_away
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.2").status == 200


# ---- 4. bans survive kill -9 ----------------------------------------------------------------------------------------

def wait_served_from(feisty, source: str, timeout: float = 30.0):
    """Waits until `GET /` from `source` gets 200 (feisty's own readiness probe comes from 127.0.0.1, which a test
    may have banned)."""
    def served():
        if feisty.proc.poll() is not None:
            pytest.fail(f"feisty exited early ({feisty.proc.returncode}):\n{feisty.output}")
        return ask("127.0.0.1", feisty.port, "/", source=source, timeout=2).status == 200
    if not wait_until(served, timeout, step=0.1):
        pytest.fail(f"feisty did not serve {source} within {timeout}s:\n{feisty.output}")


def test_a_ban_survives_kill_9(start_feisty, app, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    feisty = start_feisty(str(app), "--state-dir", str(state), "--max-strikes", "5")
    ask("127.0.0.1", feisty.port, "/.env")
    banned_line(feisty, "127.0.0.1")
    family = descendants(feisty.proc.pid)
    feisty.stop(signal.SIGKILL)
    for pid in family:  # the app feisty launched, orphaned by the SIGKILL
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    again = start_feisty(str(app), "--state-dir", str(state), "--max-strikes", "5", wait=False)
    wait_served_from(again, "127.0.0.2")
    assert again.wait_for_line(f"bans in {state}/bans.sqlite: 1 in force"), again.output
    refused = ask("127.0.0.1", again.port, "/")
    assert refused.turned_away, f"the banned client was not refused after the restart: {refused}"

    listed = json.loads(bans_cli("list", "--json", state_dir=state).stdout)["bans"]
    assert [(ban["key"], ban["source"], ban["repeat_count"], ban["evidence"]) for ban in listed] == [
        ("127.0.0.1", "automatic", 1, "/.env")], listed


# ---- 5. feisty bans add / remove on a running feisty ----------------------------------------------------------------

def turned_away_within(port: int, source: str, timeout: float):
    """Seconds until a new connection from `source` is turned away (None if it never is within `timeout`)."""
    start = time.monotonic()
    if wait_until(lambda: ask("127.0.0.1", port, "/", source=source, timeout=2).turned_away, timeout):
        return time.monotonic() - start
    return None


def served_within(port: int, source: str, timeout: float):
    start = time.monotonic()
    if wait_until(lambda: ask("127.0.0.1", port, "/", source=source, timeout=2).status == 200, timeout):
        return time.monotonic() - start
    return None


def test_bans_add_and_remove_apply_to_a_running_feisty(start_feisty, app, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    feisty = start_feisty(str(app), "--state-dir", str(state))
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.3").status == 200

    bans_cli("add", "127.0.0.3", "--for", "1m", state_dir=state)
    took = turned_away_within(feisty.port, "127.0.0.3", 3.0)
    assert took is not None and took <= 1.5, f"bans add took {took}s to apply:\n{feisty.output}"
    assert feisty.wait_for_line("ban on 127.0.0.3 applied from the state directory"), feisty.output
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.2").status == 200

    bans_cli("remove", "127.0.0.3", state_dir=state)
    took = served_within(feisty.port, "127.0.0.3", 3.0)
    assert took is not None and took <= 1.5, f"bans remove took {took}s to apply:\n{feisty.output}"
    assert feisty.wait_for_line("ban on 127.0.0.3 lifted"), feisty.output

    bans_cli("add", "127.0.0.0/30", "--for", "1m", state_dir=state)  # 127.0.0.0 - 127.0.0.3
    took = turned_away_within(feisty.port, "127.0.0.2", 3.0)
    assert took is not None and took <= 1.5, f"the /30 ban took {took}s to cover 127.0.0.2:\n{feisty.output}"
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.3").turned_away
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.5").status == 200  # outside the /30
    bans_cli("remove", "127.0.0.0/30", state_dir=state)
    assert served_within(feisty.port, "127.0.0.2", 3.0) is not None

    bans_cli("add", "127.0.0.6", "--for", "1s", state_dir=state)  # a manual ban ends by itself
    assert turned_away_within(feisty.port, "127.0.0.6", 3.0) is not None, feisty.output
    assert served_within(feisty.port, "127.0.0.6", 3.0) is not None, f"a 1s manual ban did not end:\n{feisty.output}"


# ---- 6. --ban-response 403 ------------------------------------------------------------------------------------------

def test_ban_response_403_answers_banned_clients(start_feisty, app):
    feisty = start_feisty(str(app), "--ban-response", "403")
    connection = KeepAlive("127.0.0.1", feisty.port)
    try:
        status, _ = connection.get("/.env")
        assert status == 404
        banned_line(feisty, "127.0.0.1")
        status, body = connection.get("/")  # the same connection's next request
        assert status == 403 and body, (status, body)
    finally:
        connection.close()
    answer = ask("127.0.0.1", feisty.port, "/")  # a new connection
    assert (answer.how, answer.status) == ("answered", 403) and answer.body, answer
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.2").status == 200


# ---- 7. a keep-alive connection is closed at its next request after the ban ----------------------------------------

def test_a_keep_alive_connection_is_closed_at_its_next_request_after_the_ban(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "5")
    t = tag()
    connection = KeepAlive("127.0.0.1", feisty.port)
    try:
        before, after = f"/items/{uuid.uuid4().int % 10**9}", f"/items/{uuid.uuid4().int % 10**9 + 10**9}"
        assert connection.get(before)[0] == 200
        for number in range(1, 5):
            assert connection.get(f"/probe{number}-{t}")[0] == 404
        try:
            connection.get(f"/probe5-{t}")  # the fifth strike: answered or closed, either is fine
        except (OSError, http.client.HTTPException):
            pass
        banned_line(feisty, "127.0.0.1")
        with pytest.raises((OSError, http.client.HTTPException)):
            status, body = connection.get(after)
            pytest.fail(f"the banned client's keep-alive connection was served after the ban: {status} {body!r}")
    finally:
        connection.close()
    assert feisty.wait_for_line(f"ARRIVED {before}"), feisty.output
    time.sleep(0.3)
    assert (arrived(feisty, before), arrived(feisty, after)) == (1, 0), feisty.output


def test_requests_pipelined_on_a_connection_opened_before_the_ban_are_not_served(start_feisty, app):
    feisty = start_feisty(str(app))
    first, second = (f"/items/{uuid.uuid4().int % 10**9}" for _ in range(2))
    sock = socket.create_connection(("127.0.0.1", feisty.port), timeout=5)  # open before the ban, idle
    try:
        ask("127.0.0.1", feisty.port, "/.env")  # another connection of the same client earns the ban
        banned_line(feisty, "127.0.0.1")
        pipelined = b"".join(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in (first, second))
        received = b""
        try:
            sock.sendall(pipelined)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert received == b"", f"a banned client's pipelined requests were answered: {received[:300]!r}"
    finally:
        sock.close()
    time.sleep(0.3)
    assert (arrived(feisty, first), arrived(feisty, second)) == (0, 0), feisty.output


# ---- 8. --dry-run ---------------------------------------------------------------------------------------------------

def test_dry_run_says_would_ban_and_refuses_nobody(start_feisty, app, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    feisty = start_feisty(str(app), "--dry-run", "--max-strikes", "5", "--state-dir", str(state))
    t = tag()
    answers = probe(feisty, [f"/dry{number}-{t}" for number in range(10)])
    assert all(answer.status == 404 for answer in answers), answers
    assert feisty.wait_for_line("would ban 127.0.0.1"), feisty.output
    assert ask("127.0.0.1", feisty.port, "/.env").status == 404
    answer = ask("127.0.0.1", feisty.port, "/items/3")
    assert (answer.status, answer.body) == (200, b"item 3")
    assert not re.search(r"^.*\bbanned 127\.0\.0\.1", feisty.output, re.M), feisty.output
    assert json.loads(bans_cli("list", "--json", state_dir=state).stdout) == {"bans": []}, "a dry run wrote a ban"


# ---- 9. exact strike counting under 50 concurrent connections -------------------------------------------------------

def test_strikes_are_counted_exactly_under_50_concurrent_connections(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "60")
    t = tag()
    barrier = threading.Barrier(50)
    outcomes = [None] * 50

    def client(index):
        barrier.wait()
        outcomes[index] = ask("127.0.0.1", feisty.port, f"/many{index}-{t}", timeout=20)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(outcome and outcome.status == 404 for outcome in outcomes), outcomes
    assert wait_until(lambda: len(strikes(feisty.output, "127.0.0.1")) >= 50, 5.0), feisty.output
    time.sleep(0.3)
    counted = strikes(feisty.output, "127.0.0.1")
    assert sorted(n for n, _, _, _ in counted) == list(range(1, 51)), counted
    assert {path for _, _, _, path in counted} == {f"/many{index}-{t}" for index in range(50)}
    assert all(m == 60 for _, m, _, _ in counted)
    assert "banned" not in feisty.output
    assert feisty.wait_for_line("ARRIVED /many"), feisty.output
    time.sleep(0.3)
    assert sum(1 for line in feisty.output.splitlines() if "ARRIVED /many" in line) == 1, feisty.output

    for index in range(50, 60):
        ask("127.0.0.1", feisty.port, f"/many{index}-{t}")
    line = banned_line(feisty, "127.0.0.1")
    assert "60 undeclared paths" in line, line
    # Strikes 51 to 59 are logged as strikes; the 60th is the ban line itself, whose evidence names all 60 paths.
    counted = strikes(feisty.output, "127.0.0.1")
    assert sorted(n for n, _, _, _ in counted) == list(range(1, 60)), counted
    evidence = line.split("): ", 1)[1].split()
    assert sorted(evidence) == sorted(f"/many{index}-{t}" for index in range(60)), line
    assert ask("127.0.0.1", feisty.port, "/").turned_away



def test_concurrent_canaries_earn_one_ban(start_feisty, app, tmp_path):
    """20 different canaries at once from one client: one ban (#1, not a repeat ban per request in flight)."""
    state = tmp_path / "state"
    state.mkdir()
    feisty = start_feisty(str(app), "--state-dir", str(state))
    canaries = ["/.git/config", "/wp-login.php", "/.aws/credentials", "/phpinfo.php", "/.htaccess", "/xmlrpc.php",
                "/.ssh/id_rsa", "/.DS_Store", "/server-status", "/.npmrc", "/adminer.php", "/shell.php", "/setup.php",
                "/info.php", "/config.json", "/backup.sql", "/dump.sql", "/.htpasswd", "/.svn/entries", "/.env"]
    barrier = threading.Barrier(len(canaries))

    def client(path):
        barrier.wait()
        ask("127.0.0.1", feisty.port, path)

    threads = [threading.Thread(target=client, args=(path,)) for path in canaries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert "(ban #1," in banned_line(feisty, "127.0.0.1")
    time.sleep(0.5)
    assert feisty.output.count("banned 127.0.0.1 ") == 1, feisty.output
    assert not any(arrived(feisty, path) for path in canaries), feisty.output
    listed = json.loads(bans_cli("list", "--json", state_dir=state).stdout)["bans"]
    assert [(ban["key"], ban["repeat_count"]) for ban in listed] == [("127.0.0.1", 1)], listed


def test_lifting_a_ban_forgives_the_strikes_but_not_the_repeat_count(start_feisty, app, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    feisty = start_feisty(str(app), "--state-dir", str(state), "--max-strikes", "3")
    t = tag()
    probe(feisty, [f"/earn{number}-{t}" for number in range(3)])
    assert "(ban #1," in banned_line(feisty, "127.0.0.1")
    bans_cli("remove", "127.0.0.1", state_dir=state)
    assert served_within(feisty.port, "127.0.0.1", 3.0) is not None, feisty.output
    assert feisty.wait_for_line("ban on 127.0.0.1 lifted"), feisty.output

    assert ask("127.0.0.1", feisty.port, f"/after-{t}").status == 404
    assert feisty.wait_for_line(f"strike 1/3 for 127.0.0.1: /after-{t}"), feisty.output  # counting starts over
    assert ask("127.0.0.1", feisty.port, "/").status == 200
    probe(feisty, [f"/again{number}-{t}" for number in range(2)])
    assert feisty.wait_for_line("banned 127.0.0.1 for 20m (ban #2,"), feisty.output  # the repeat doubles


# ---- 10. behind a trusted proxy the client is banned, not the proxy ---------------------------------------------

def test_behind_a_trusted_proxy_the_forwarded_client_is_banned_not_the_proxy(start_feisty, app):
    feisty = start_feisty(str(app), "--trusted-proxy", "127.0.0.1/32", "--max-strikes", "5")
    t = tag()
    scanner = {"X-Forwarded-For": "203.0.113.7"}
    for number in range(5):
        ask("127.0.0.1", feisty.port, f"/behind{number}-{t}", headers=scanner)
    banned_line(feisty, "203.0.113.7")
    assert "banned 127.0.0.1" not in feisty.output

    refused = ask("127.0.0.1", feisty.port, "/", headers=scanner)
    assert refused.turned_away, f"the banned forwarded client was served: {refused}"
    other = ask("127.0.0.1", feisty.port, "/", headers={"X-Forwarded-For": "203.0.113.8"})
    assert (other.how, other.status) == ("answered", 200), other
    proxy = ask("127.0.0.1", feisty.port, "/")
    assert (proxy.how, proxy.status) == ("answered", 200), proxy
    # The right-most untrusted address is the client: a chain ending in the banned address is refused.
    chain = ask("127.0.0.1", feisty.port, "/", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert chain.turned_away, f"a chain ending in the banned client was served: {chain}"
    # An untrusted peer's X-Forwarded-For is not believed: 127.0.0.2 claiming to forward 203.0.113.7 is 127.0.0.2.
    spoof = ask("127.0.0.1", feisty.port, "/", source="127.0.0.2", headers=scanner)
    assert (spoof.how, spoof.status) == ("answered", 200), spoof


def test_without_a_trusted_proxy_x_forwarded_for_is_not_believed(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "3")
    t = tag()
    for number in range(3):
        ask("127.0.0.1", feisty.port, f"/spoof{number}-{t}", headers={"X-Forwarded-For": "203.0.113.9"})
    banned_line(feisty, "127.0.0.1")
    assert "203.0.113.9" not in feisty.output
    assert ask("127.0.0.1", feisty.port, "/", headers={"X-Forwarded-For": "203.0.113.10"}).turned_away


# ---- ban length, the strike window, what is never a strike ---------------------------------------------------------

def test_a_ban_lifts_after_ban_time_and_a_repeat_ban_doubles(start_feisty, app):
    feisty = start_feisty(str(app), "--ban-time", "1s")
    ask("127.0.0.1", feisty.port, "/.env")
    assert "for 1s (ban #1," in banned_line(feisty, "127.0.0.1")
    assert ask("127.0.0.1", feisty.port, "/").turned_away
    took = served_within(feisty.port, "127.0.0.1", 4.0)
    assert took is not None, f"the 1s ban did not lift:\n{feisty.output}"

    ask("127.0.0.1", feisty.port, "/.git/config")
    assert feisty.wait_for_line("banned 127.0.0.1 for 2s (ban #2,"), feisty.output
    assert ask("127.0.0.1", feisty.port, "/").turned_away


def test_strikes_older_than_find_time_no_longer_count(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "3", "--find-time", "2s")
    t = tag()
    probe(feisty, [f"/old{number}-{t}" for number in range(2)])
    assert feisty.wait_for_line(f"strike 2/3 for 127.0.0.1: /old1-{t}"), feisty.output
    time.sleep(2.3)
    answers = probe(feisty, [f"/new{number}-{t}" for number in range(2)])
    assert [answer.status for answer in answers] == [404, 404], answers
    assert feisty.wait_for_line(f"strike 2/3 for 127.0.0.1: /new1-{t}"), feisty.output
    assert [(n, path) for n, _, _, path in strikes(feisty.output, "127.0.0.1")] == [
        (1, f"/old0-{t}"), (2, f"/old1-{t}"), (1, f"/new0-{t}"), (2, f"/new1-{t}")], feisty.output
    assert "banned" not in feisty.output, feisty.output
    # A new window: its first undeclared URL goes to the app again.
    assert feisty.wait_for_line(f"ARRIVED /new0-{t}"), feisty.output
    time.sleep(0.3)
    assert (arrived(feisty, f"/old0-{t}"), arrived(feisty, f"/new0-{t}"), arrived(feisty, f"/new1-{t}")) == (1, 1, 0)


EXTRA_ROUTES = """

    @app.route("/docs/")
    def docs():
        return "docs"

    @app.route("/wp-login.php")
    def declared_canary():
        return "a real login page"
"""


def test_browser_paths_redirects_repeats_and_declared_canaries_are_not_strikes(start_feisty, tmp_path):
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(APP) + textwrap.dedent(EXTRA_ROUTES))
    feisty = start_feisty(str(path), "--max-strikes", "2")
    for browser_path in ("/favicon.ico", "/robots.txt", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png",
                         "/.well-known/security.txt", "/favicon.ico", "/robots.txt"):
        assert ask("127.0.0.1", feisty.port, browser_path).status == 404, browser_path
    redirect = ask("127.0.0.1", feisty.port, "/docs")  # Werkzeug's strict-slashes redirect to a declared route
    assert redirect.status in (301, 308), redirect
    assert ask("127.0.0.1", feisty.port, "/docs/").status == 200
    declared = ask("127.0.0.1", feisty.port, "/wp-login.php")
    assert (declared.status, declared.body) == (200, b"a real login page")
    t = tag()
    for query in ("", "?a=1", "?a=2", "?b=3"):  # one path, however queried: one strike
        assert ask("127.0.0.1", feisty.port, f"/same-{t}{query}").status == 404
    time.sleep(0.5)
    assert [path for _, _, _, path in strikes(feisty.output)] == [f"/same-{t}"], feisty.output
    assert "banned" not in feisty.output
    assert ask("127.0.0.1", feisty.port, "/").status == 200


def test_a_wrong_method_is_a_strike(start_feisty, app):
    feisty = start_feisty(str(app), "--max-strikes", "2")
    connection = KeepAlive("127.0.0.1", feisty.port)
    try:
        connection.connection.request("DELETE", "/items/1")
        response = connection.connection.getresponse()
        response.read()
        assert response.status == 405
    finally:
        connection.close()
    assert feisty.wait_for_line("strike 1/2 for 127.0.0.1: /items/1"), feisty.output
    assert ask("127.0.0.1", feisty.port, "/items/1").status == 200


def test_a_dual_stack_listener_bans_an_ipv4_client_by_its_address_not_all_of_ipv4(start_feisty, app):
    """On `[::]` IPv4 clients arrive as ::ffff:a.b.c.d: keyed by the IPv4 address, not by the mapped /64 (which
    would hold every IPv4 client)."""
    port = free_port()
    feisty = start_feisty(str(app), "--listen", f"[::]:{port}", port=port)
    ask("127.0.0.1", port, "/.env")
    banned_line(feisty, "127.0.0.1")
    assert ask("127.0.0.1", port, "/").turned_away
    assert ask("127.0.0.1", port, "/", source="127.0.0.2").status == 200
    assert ask("::1", port, "/").status == 200


# ---- 11. IPv6 clients are banned by their /64 ----------------------------------------------------------------------

NAMESPACE_ADDRESSES = ("fd00:1::2", "fd00:1::3", "fd00:2::2")


@pytest.fixture
def namespace():
    """A fresh network namespace: lo up, with the test's IPv6 addresses on it (nodad: usable at once); deleted
    after."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace (ip netns add) for IPv6 source addresses")
    if not shutil.which("ip"):
        pytest.skip("needs the `ip` command (iproute2) for a network namespace")
    name = f"feisty-guard-{tag()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for address in NAMESPACE_ADDRESSES:
            subprocess.run(["ip", "-n", name, "addr", "add", f"{address}/128", "dev", "lo", "nodad"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def namespaced_feisty(namespace, args, port):
    """`ip netns exec NS feisty run ...` (ip execs feisty: the process is feisty itself)."""
    return RunningFeisty(args, port, prefix=("ip", "netns", "exec", namespace), host="::1")


def ask_in(namespace: str, port: int, source: str, *paths: str) -> list:
    """Requests from `source` inside the namespace to feisty on [::1]: one outcome dict per path."""
    done = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, str(SUPPORT), "ask", "::1", str(port),
                           source, *paths], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_an_ipv6_client_is_banned_with_its_whole_64(namespace, app, tmp_path):
    port = 8080
    feisty = namespaced_feisty(namespace, [str(app), "--listen", f"[::1]:{port}", "--max-strikes", "5",
                                          "--state-dir", str(tmp_path / "state")], port)
    try:
        deadline = time.monotonic() + 30
        while ask_in(namespace, port, "fd00:2::2", "/")[0]["status"] != 200:
            if feisty.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"feisty did not serve [::1]:{port} in the namespace:\n{feisty.output}")
            time.sleep(0.2)

        t = tag()
        probes = ask_in(namespace, port, "fd00:1::2", *[f"/v6probe{number}-{t}" for number in range(5)])
        assert [outcome["status"] for outcome in probes[:4]] == [404] * 4, probes
        line = banned_line(feisty, "fd00:1:0:0:0:0:0:0/64")
        assert "/v6probe4-" in line

        neighbour = ask_in(namespace, port, "fd00:1::3", "/")[0]  # never probed anything, same /64
        assert neighbour["how"] in ("reset", "closed"), f"fd00:1::3 (same /64) was served: {neighbour}"
        other = ask_in(namespace, port, "fd00:2::2", "/")[0]
        assert (other["how"], other["status"]) == ("answered", 200), other
    finally:
        feisty.stop(timeout=10)
