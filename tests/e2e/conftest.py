"""Fixtures for `feisty run` end-to-end tests: feisty started as a user would, real HTTP clients."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feisty_binary() -> str:
    path = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")
    if not os.access(path, os.X_OK):
        pytest.fail(f"feisty binary not found at {path}: run `swift build` first (scripts/test does)")
    return path


class RunningFeisty:
    """`feisty run ...` in the background, its output collected line by line."""

    def __init__(self, args, port, cwd=REPO, env=None, prefix=(), host="127.0.0.1"):
        """`prefix` runs feisty through another command that execs it (`ip netns exec NS`, `unshare ...`)."""
        args = list(args)
        # Every feisty gets its own state directory: a ban one test earns (127.0.0.1 probing undeclared URLs)
        # must not turn away the next test's requests, and tests run as root would share /var/lib/feisty.
        if "--state-dir" not in args and "--no-guard" not in args:
            args += ["--state-dir", tempfile.mkdtemp(prefix="feisty-state-")]
        # The admin listener's default port is one per machine: a test that wants it passes its own --admin.
        if "--admin" not in args:
            args += ["--admin", "off"]
        # Tests run as root, where feisty refuses to run the app as root unless told to, and to import it as root
        # for --upstream's routes (test_run_privileges.py covers --user and the refusals themselves).
        if os.geteuid() == 0 and not {"--user", "--allow-root-app"} & set(args):
            args.append("--allow-root-app")
        self.port = port
        self.base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.lines = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [*prefix, feisty_binary(), "run", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_ready(self, path="/", timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"feisty exited early ({self.proc.returncode}):\n{self.output}")
            try:
                requests.get(self.base + path, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail(f"feisty did not answer on {self.base} within {timeout}s:\n{self.output}")

    def wait_for_line(self, needle, timeout=10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output:
                return True
            time.sleep(0.05)
        return False

    def app_pids(self):
        """PIDs of every descendant of feisty (the launcher/app and anything it spawned)."""
        return descendants(self.proc.pid)

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


def descendants(pid: int):
    found = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in pathlib.Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                frontier.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def start_feisty():
    started = []

    def start(*args, port=None, cwd=REPO, env=None, ready_path="/", wait=True, listen=True):
        port = port or free_port()
        args = list(args)
        if listen and "--listen" not in args:
            args += ["--listen", f"127.0.0.1:{port}"]
        running = RunningFeisty(args, port, cwd=cwd, env=env)
        started.append(running)
        if wait:
            running.wait_ready(ready_path)
        return running

    yield start
    for running in started:
        running.stop(signal.SIGKILL if running.proc.poll() is None else signal.SIGTERM, timeout=5)


# ---- a network namespace of its own (--ban-action nftables) ---------------------------------------------------------


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("needs root, ip and nft: the kernel's ban set is tested in a network namespace")
    name = f"feisty-nft-{os.getpid()}-{time.monotonic_ns() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def ask_in(namespace, port, source, path, timeout=2.0):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from guard_support import ask; "
            f"o = ask('127.0.0.1', {port}, {path!r}, source={source!r}, timeout={timeout}); print(o.how, o.status)")
    done = subprocess.run(["ip", "netns", "exec", namespace, "python3", "-c", code, str(REPO / "tests" / "e2e")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    how, status = done.stdout.split()
    return how, status


def assert_scanner_dropped_by_nftables(namespace, port, feisty):
    """Inside `namespace`: 127.0.0.2 probing `/.env` is banned and its next connects time out (the kernel drops
    them: feisty's own refusal would be a reset), while 127.0.0.3 is still answered; the nft set lists 127.0.0.2."""
    assert ask_in(namespace, port, "127.0.0.2", "/.env") == ("answered", "404")
    assert feisty.wait_for_line("banned 127.0.0.2", timeout=5), feisty.output
    deadline = time.monotonic() + 5
    while ask_in(namespace, port, "127.0.0.2", "/", timeout=1.0)[0] != "timeout":
        assert time.monotonic() < deadline, feisty.output
    assert ask_in(namespace, port, "127.0.0.3", "/") == ("answered", "200")
    listed = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "set", "inet", "feisty",
                             "banned4_addresses"], capture_output=True, text=True)
    assert "127.0.0.2" in listed.stdout, listed
