"""`launch`: the app served on feisty's --bind address, the report, liveness, debugger and server choices."""
import http.client
import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from conftest import PROBE, REPO, embedded_command_line, free_port, listening_tcp_sockets

# The launcher's own messages are marked so that feisty prints them as its lines (LauncherLine.swift).
MARKER = "::feisty::"
DEBUGGER_WARNING = (f"{MARKER}warning::the Werkzeug debugger is disabled (it is a remote console); pass "
                    "--allow-debugger to keep it")
DEV_SERVER_WARNING = "WARNING: This is a development server."


def assert_no_internal_banner(stderr):
    """Werkzeug's startup lines name feisty's private address and Ctrl+C: the launcher keeps them out."""
    assert "Running on" not in stderr and "CTRL+C" not in stderr, stderr


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix domain socket (feisty's default way to reach the app)."""

    def __init__(self, path, timeout=2.0):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def unix_get(path, target, headers=None):
    """GET over a Unix socket: (status, body bytes)."""
    connection = UnixHTTPConnection(path)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Launch:
    """`python3 feisty_probe.py launch ...` started the way feisty starts it: own session, stdin a pipe.

    `bind` is a TCP port on 127.0.0.1, or a Unix socket path (a `str` or a path object).
    """

    def __init__(self, app, bind, report, *extra, cwd=REPO, env=None, stdin=subprocess.PIPE):
        self.port = bind if isinstance(bind, int) else None
        self.socket_path = None if isinstance(bind, int) else str(bind)
        self.report = report
        self.base = f"http://127.0.0.1:{self.port}"
        bind_text = f"127.0.0.1:{bind}" if self.port else f"unix:{bind}"
        self.proc = subprocess.Popen(
            [sys.executable, str(PROBE), "launch", str(app), "--bind", bind_text, "--report", str(report), *extra],
            cwd=cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, env={**os.environ, **(env or {})},
        )

    def wait_report(self, timeout=20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.report):
                with open(self.report, encoding="utf-8") as handle:
                    return json.load(handle)
            if self.proc.poll() is not None:
                pytest.fail(f"launcher exited ({self.proc.returncode}) before the report: {self.proc.stderr.read()}")
            time.sleep(0.05)
        pytest.fail("no report")

    def wait_http(self, path="/", timeout=20.0, headers=None):
        """The first answer to GET `path`: a `requests` response, or (status, body) over a Unix socket."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.socket_path:
                    return unix_get(self.socket_path, path, headers)
                return requests.get(self.base + path, timeout=2, headers=headers)
            except (requests.ConnectionError, FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None:
                    pytest.fail(f"launcher exited ({self.proc.returncode}): {self.proc.stderr.read()}")
                time.sleep(0.05)
        pytest.fail(f"nothing answers on {self.base}")

    def close_stdin_and_wait(self, timeout=10.0) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        return self.proc.stdout.read(), self.proc.stderr.read()


@pytest.fixture
def launches():
    started = []

    def start(*args, **kwargs):
        launch = Launch(*args, **kwargs)
        started.append(launch)
        return launch

    yield start
    for launch in started:
        launch.stop()


def write_app(directory, body: str, name="app.py"):
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def test_seed_is_served_on_the_bind_port_and_reported(launches, tmp_path):
    port = free_port()
    launch = launches("examples/seed/app.py", port, tmp_path / "report.json")
    report = launch.wait_report()
    assert report["requested"] == {"host": "0.0.0.0", "port": 8080}
    assert report["bind"] == {"host": "127.0.0.1", "port": port}
    assert report["source"] == "runtime" and report["port"] == 8080
    assert [r["endpoint"] for r in report["rules"]] == ["static", "overview", "getuser", "getyear"]
    assert not os.path.exists(str(tmp_path / "report.json") + ".tmp")
    response = launch.wait_http("/2024")
    assert response.status_code == 200 and response.text == "2024"
    assert launch.proc.poll() is None
    # The app's own 8080 was never bound by this process (something else may own 8080 on this machine).
    listening = subprocess.run(["sh", "-c", f"ls -l /proc/{launch.proc.pid}/fd"], capture_output=True, text=True)
    sockets = listening.stdout.count("socket:")
    assert sockets >= 1
    with socket.socket() as probe_socket:
        probe_socket.settimeout(0.5)
        if probe_socket.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("something else listens on 8080 here: cannot tell it is not the app")
    status = launch.close_stdin_and_wait()
    assert status != 0  # killed by the process-group SIGTERM
    stdout, stderr = launch.stop()
    assert_no_internal_banner(stderr)
    assert DEV_SERVER_WARNING in stderr and " * Serving Flask app 'app'" in stdout  # the rest of the app's output


def test_a_unix_socket_bind_is_served_reported_and_cleaned_up(launches, tmp_path):
    directory = tmp_path / "scratch"
    directory.mkdir(mode=0o700)
    path = directory / "app-1.sock"
    path.write_text("a previous instance's leftover")  # replaced, as Werkzeug replaces a stale socket
    launch = launches("examples/seed/app.py", path, directory / "instance-1.json")
    report = launch.wait_report()
    assert report["bind"] == {"unix": str(path)}
    assert report["requested"] == {"host": "0.0.0.0", "port": 8080}
    assert launch.wait_http("/2024") == (200, b"2024")
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    # Only the socket serves: the launcher listens on no TCP port at all.
    assert listening_tcp_sockets(launch.proc.pid) == set()
    # feisty died (EOF on stdin): the launcher removes its socket and report, then the emptied directory.
    assert launch.close_stdin_and_wait() != 0
    assert not directory.exists()
    _, stderr = launch.stop()
    assert_no_internal_banner(stderr)
    assert DEV_SERVER_WARNING in stderr


def test_the_app_sees_the_client_and_the_public_address(launches, tmp_path):
    """REMOTE_ADDR is the peer feisty saw (the right-most X-Forwarded-For), SERVER_NAME/PORT the public address."""
    launch = launches("examples/rich/app.py", tmp_path / "a.sock", tmp_path / "a.json", "--public", "0.0.0.0:8443")
    status, body = launch.wait_http("/api/whoami", headers={
        "Host": "shop.test:8443", "X-Forwarded-For": "203.0.113.5, 198.51.100.7"})
    seen = json.loads(body)
    assert status == 200
    assert seen["remote_addr"] == "198.51.100.7"
    assert seen["server"] == ["0.0.0.0", 8443]
    assert seen["url_root"] == "http://shop.test:8443/"
    # Without --public: the address the app's app.run asked for. Without X-Forwarded-For the request is feisty's
    # own (its readiness probe), from this machine.
    plain = launches("examples/rich/app.py", tmp_path / "b.sock", tmp_path / "b.json", env={"PORT": "5099"})
    status, body = plain.wait_http("/api/whoami")
    seen = json.loads(body)
    assert seen["remote_addr"] == "127.0.0.1" and seen["server"] == ["127.0.0.1", 5099]
    _, stderr = plain.stop()
    assert '127.0.0.1 - - ' in stderr and "<local>" not in stderr  # Werkzeug's request log shows the client too


def test_closing_stdin_kills_the_app_and_its_children(launches, tmp_path):
    pids = tmp_path / "pids"
    write_app(tmp_path, f"""
        import subprocess, sys
        from flask import Flask
        app = Flask(__name__)
        plain = subprocess.Popen(["sleep", "300"])
        stubborn = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
        open({str(pids)!r}, "w").write(f"{{plain.pid}} {{stubborn.pid}}")

        @app.route("/")
        def index():
            return "up"

        if __name__ == "__main__":
            app.run(port=5999)
    """)
    port = free_port()
    launch = launches(tmp_path / "app.py", port, tmp_path / "report.json")
    launch.wait_report()
    assert launch.wait_http("/").text == "up"
    children = [int(p) for p in pids.read_text().split()]
    launch.close_stdin_and_wait(timeout=5)
    deadline = time.monotonic() + 8
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in children if _alive(pid)]
        time.sleep(0.1)
    assert alive == [], "children survived the launcher"
    with pytest.raises(requests.ConnectionError):
        requests.get(launch.base, timeout=1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stdin_that_is_not_a_pipe_does_not_stop_the_app(launches, tmp_path):
    port = free_port()
    launch = launches("examples/seed/app.py", port, tmp_path / "r.json", stdin=subprocess.DEVNULL)
    launch.wait_report()
    assert launch.wait_http("/2024").status_code == 200
    time.sleep(0.5)
    assert launch.proc.poll() is None


DEBUG_APP = """
    from flask import Flask
    app = Flask(__name__)

    @app.route("/boom")
    def boom():
        raise RuntimeError("kaboom")

    if __name__ == "__main__":
        app.run(host="0.0.0.0", port=5001, debug=True)
"""


def test_debugger_is_disabled_with_a_warning(launches, tmp_path):
    write_app(tmp_path, DEBUG_APP)
    port = free_port()
    launch = launches(tmp_path / "app.py", port, tmp_path / "r.json")
    report = launch.wait_report()
    assert report["requested"] == {"host": "0.0.0.0", "port": 5001}
    response = launch.wait_http("/boom")
    assert response.status_code == 500
    assert "Werkzeug Debugger" not in response.text and "kaboom" not in response.text
    _, stderr = launch.stop()
    assert DEBUGGER_WARNING in stderr.splitlines()
    assert f"{MARKER}warning::the reloader is disabled" in stderr
    assert not [line for line in stderr.splitlines() if line.startswith("feisty")]  # every launcher line is marked
    assert "Restarting with" not in stderr  # no reloader child


def test_allow_debugger_keeps_it(launches, tmp_path):
    write_app(tmp_path, DEBUG_APP)
    port = free_port()
    launch = launches(tmp_path / "app.py", port, tmp_path / "r.json", "--allow-debugger")
    launch.wait_report()
    response = launch.wait_http("/boom")
    assert response.status_code == 500 and "Werkzeug Debugger" in response.text
    _, stderr = launch.stop()
    assert DEBUGGER_WARNING not in stderr and "Restarting with" not in stderr


def load_probe():
    """The probe as a module, for its pure helpers."""
    spec = importlib.util.spec_from_file_location("feisty_probe_under_test", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launcher_messages_are_marked_one_line_each():
    probe = load_probe()
    assert probe.feisty_message("warning", "the reloader is disabled") == f"{MARKER}warning::the reloader is disabled"
    assert probe.feisty_message("error", "two\n  lines") == f"{MARKER}error::two lines"


STYLED_WARNING = "\x1b[1m\x1b[31mWARNING: This is a development server.\x1b[0m"


@pytest.mark.parametrize("logger,message,args,expected", [
    # Werkzeug's startup record: the development-server warning stays, the address lines go.
    ("werkzeug", STYLED_WARNING + "\n * Running on unix:///tmp/f/app-1.sock", (), STYLED_WARNING),
    ("werkzeug", "WARNING: dev\n * Running on http://127.0.0.1:5001", (), "WARNING: dev"),
    ("werkzeug", " * Running on all addresses (0.0.0.0)\n * Running on http://127.0.0.1:8080", (), None),
    ("werkzeug", "\x1b[33mPress CTRL+C to quit\x1b[0m", (), None),
    ("werkzeug", "Press CTRL+C to quit", (), None),
    # Everything else passes untouched, the request log above all.
    ("werkzeug", '127.0.0.1 - - [30/Nov/2026 17:02:09] "%s" %s %s\n', ("GET / HTTP/1.1", "200", "-"),
     '127.0.0.1 - - [30/Nov/2026 17:02:09] "%s" %s %s\n'),
    ("werkzeug", "the app says: Running on empty", (), "the app says: Running on empty"),
    ("gunicorn.error", "Listening at: %s (%s)", ("unix:/tmp/f/app-1.sock", 42), None),
    ("gunicorn.error", "Booting worker with pid: %s", (43,), "Booting worker with pid: %s"),
    ("waitress", "Serving on http://127.0.0.1:5000", (), None),
    ("waitress", "Task queue depth is 1", (), "Task queue depth is 1"),
])
def test_banner_filter_drops_only_the_internal_address_lines(logger, message, args, expected):
    import logging

    probe = load_probe()
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, message, args, None)
    kept = probe.BannerFilter(probe.SERVER_BANNER_LINES[logger]).filter(record)
    assert (record.msg if kept else None) == expected
    assert record.args == args


def test_module_name_is_served_by_run_simple(launches, tmp_path):
    port = free_port()
    launch = launches("app:app", port, tmp_path / "r.json", cwd=REPO / "examples" / "seed")
    report = launch.wait_report()
    assert report["requested"] is None and report["bind"]["port"] == port
    assert launch.wait_http("/1999").text == "1999"
    _, stderr = launch.stop()
    assert_no_internal_banner(stderr)  # run_simple's banner, served without app.run
    assert DEV_SERVER_WARNING in stderr


def test_factory_with_arguments_is_served(launches, tmp_path):
    port = free_port()
    launch = launches('factory:create_app("testing")', port, tmp_path / "r.json", cwd=REPO / "examples")
    report = launch.wait_report()
    assert "auth.login" in [r["endpoint"] for r in report["rules"]]
    assert launch.wait_http("/auth/login").text == "login"


def test_script_without_app_run_is_served_after_it_ends(launches, tmp_path):
    write_app(tmp_path, """
        from flask import Flask
        app = Flask(__name__)
        print("script ran as __main__:", __name__ == "__main__")

        @app.route("/")
        def index():
            return "served"
    """)
    port = free_port()
    launch = launches(tmp_path, port, tmp_path / "r.json")
    report = launch.wait_report()
    assert report["requested"] is None
    assert launch.wait_http("/").text == "served"
    stdout, _ = launch.stop()
    assert "script ran as __main__: True" in stdout


def _exchange(conn, request: bytes) -> bytes:
    """Sends one request and reads exactly one response (Content-Length or chunked body)."""
    conn.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += conn.recv(65536)
    elif b"transfer-encoding: chunked" in lower:
        while not body.endswith(b"0\r\n\r\n"):
            body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_http11_keeps_connections_alive(launches, tmp_path):
    port = free_port()
    launch = launches("examples/rich/app.py", port, tmp_path / "a.json", "--http11")
    launch.wait_http("/")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for _ in range(3):  # several requests on one connection
            first = _exchange(conn, b"GET /download/100000 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert first.startswith(b"HTTP/1.1 200") and b"connection: close" not in first.lower()
            assert len(first.partition(b"\r\n\r\n")[2]) == 100000
        # Answered before the body was read: this one connection closes, as Werkzeug would.
        refused = _exchange(conn, b"POST /upload/limited HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
                            b"\r\n" + b"x" * 5000)
        assert refused.startswith(b"HTTP/1.1 413") and b"connection: close" in refused.lower()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for size in (10, 70000, 0):
            body = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
            answer = _exchange(conn, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
                               + body)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            assert json.loads(answer.partition(b"\r\n\r\n")[2])["size"] == size
        unread = _exchange(conn, b"POST /2024 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nignored")
        assert unread.startswith(b"HTTP/1.1 404")  # /2024 is not in rich; the unread body must not poison the next
        again = _exchange(conn, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert again.startswith(b"HTTP/1.1 200")


def test_without_http11_werkzeug_closes_each_connection(launches, tmp_path):
    port = free_port()
    launch = launches("examples/seed/app.py", port, tmp_path / "b.json")
    launch.wait_http("/2024")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        first = _exchange(conn, b"GET /2024 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"connection: close" in first.lower()
        try:
            second = _exchange(conn, b"GET /2024 HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            second = b""
        assert second == b""


def test_gunicorn_missing_is_a_clear_error(tmp_path):
    shadow = tmp_path / "shadow" / "gunicorn"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'gunicorn'\", name='gunicorn')\n")
    completed = subprocess.run(
        [sys.executable, str(PROBE), "launch", "examples/seed/app.py", "--bind", f"127.0.0.1:{free_port()}",
         "--report", str(tmp_path / "r.json"), "--server", "gunicorn"],
        cwd=REPO, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert completed.returncode == 1
    error = json.loads(completed.stderr.strip().splitlines()[-1])["error"]
    assert error["kind"] == "server_missing" and "gunicorn" in error["message"]


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("server,banner,kept", [("gunicorn", "Listening at", "Booting worker"),
                                               ("waitress", "Serving on", None)])
def test_other_servers(launches, tmp_path, server, banner, kept, transport):
    pytest.importorskip(server)
    bind = free_port() if transport == "tcp" else tmp_path / "app.sock"
    launch = launches("examples/seed/app.py", bind, tmp_path / "r.json", "--server", server)
    report = launch.wait_report()
    assert report["requested"] == {"host": "0.0.0.0", "port": 8080}
    if transport == "tcp":
        assert launch.wait_http("/2024").text == "2024"
    else:
        assert report["bind"] == {"unix": str(bind)}
        assert launch.wait_http("/2024") == (200, b"2024")
        if server == "waitress":
            assert stat.S_IMODE(os.stat(bind).st_mode) == 0o600  # unix_socket_perms="600"
    launch.close_stdin_and_wait(timeout=10)
    _, stderr = launch.stop()
    assert banner not in stderr  # it names the internal address
    assert kept is None or kept in stderr


@pytest.mark.parametrize("app,kind", [("examples/broken/syntax_error.py", "syntax_error"),
                                      ("examples/broken/raises.py", "import_error"),
                                      ("examples/broken/no_app.py", "no_app"),
                                      ("examples/nowhere.py", "not_found")])
def test_launch_errors_are_one_json_line_on_stderr(tmp_path, app, kind):
    completed = subprocess.run(
        [sys.executable, str(PROBE), "launch", app, "--bind", f"127.0.0.1:{free_port()}", "--report",
         str(tmp_path / "r.json")], cwd=REPO, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert completed.returncode == 1
    error = json.loads(completed.stderr.strip().splitlines()[-1])["error"]
    assert error["kind"] == kind and "\n" not in error["message"]
    assert completed.stdout == "" or "raises.py" in completed.stdout


def test_bind_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, str(PROBE), "launch", "examples/seed/app.py", "--bind", f"127.0.0.1:{port}",
             "--report", str(tmp_path / "r.json")], cwd=REPO, capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL)
    assert completed.returncode == 1
    assert json.loads(completed.stderr.strip().splitlines()[-1])["error"]["kind"] == "bind_error"


def test_launch_usage_error():
    completed = subprocess.run([sys.executable, str(PROBE), "launch", "examples/seed/app.py"], cwd=REPO,
                               capture_output=True, text=True, timeout=30)
    assert completed.returncode == 1
    assert json.loads(completed.stderr.strip().splitlines()[-1])["error"]["kind"] == "usage"


def test_embedded_launcher_runs_from_dash_c(launches, tmp_path):
    """feisty runs `python3 -c <source> launch ...`: no __file__, argv[0] == '-c'; the script still sees itself."""
    write_app(tmp_path, """
        import sys
        from flask import Flask
        app = Flask(__name__)

        @app.route("/argv")
        def argv():
            return sys.argv[0]

        if __name__ == "__main__":
            app.run(port=5002, ssl_context="adhoc")
    """)
    port = free_port()
    report = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", embedded_command_line(), "launch", str(tmp_path / "app.py"), "--bind",
         f"127.0.0.1:{port}", "--report", str(report)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        launch = Launch.__new__(Launch)
        launch.proc, launch.port, launch.report, launch.base = proc, port, str(report), f"http://127.0.0.1:{port}"
        launch.socket_path = None
        assert launch.wait_report()["requested"] == {"host": "127.0.0.1", "port": 5002}
        assert launch.wait_http("/argv").text == str(tmp_path / "app.py")  # plain HTTP despite ssl_context
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    assert f"{MARKER}warning::the app's ssl_context is ignored" in proc.stderr.read()
