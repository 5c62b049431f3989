"""Shared fixtures for the probe and launcher tests: the repository root, free ports, running the probe."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PROBE = REPO / "Sources" / "FeistyCore" / "Python" / "feisty_probe.py"
EXAMPLES = REPO / "examples"

# feisty's route cache (`routes`, `match`, `replay`) lives under XDG_CACHE_HOME: the suite keeps its own, empty at
# the start, away from the developer's home.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="feisty-test-cache-")



@pytest.fixture(scope="session")
def feisty() -> str:
    """Path of the feisty binary (FEISTY_BIN, else the debug build that scripts/test makes)."""
    path = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")
    if not os.access(path, os.X_OK):
        pytest.fail(f"feisty binary not found at {path}: run `swift build` first (scripts/test does)")
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_tcp_sockets(pid) -> set:
    """Inodes of the TCP sockets process `pid` listens on."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    listening.add(fields[9])
    owned = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            owned.add(target[len("socket:["):-1])
    return listening & owned


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


class ProbeResult:
    """One probe run: exit status, the JSON document it printed, and its stderr."""

    def __init__(self, completed: subprocess.CompletedProcess):
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        lines = [line for line in completed.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected exactly one JSON line on stdout, got {completed.stdout!r}"
        self.json = json.loads(lines[0])

    @property
    def error(self):
        return self.json.get("error")


def embedded_command_line() -> str:
    """The `-c` argument feisty runs (EmbeddedPython.commandLine, as scripts/embed-python writes it): the probe
    compressed, because Linux limits one argument to 128 KiB and the probe's text is larger."""
    import base64
    import zlib

    payload = base64.b85encode(zlib.compress(PROBE.read_bytes(), 9)).decode("ascii")
    return ("import base64,zlib;exec(compile(zlib.decompress(base64.b85decode("
            f"'{payload}')).decode('utf-8'),'feisty_probe.py','exec'))")


def run_probe(*args, cwd=REPO, python=sys.executable, timeout=30, embedded=False) -> ProbeResult:
    """Runs `python feisty_probe.py ARGS` (or `python -c SOURCE ARGS`, as feisty does, when embedded)."""
    if embedded:
        command = [python, "-c", embedded_command_line(), *map(str, args)]
    else:
        command = [python, str(PROBE), *map(str, args)]
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return ProbeResult(completed)


@pytest.fixture
def probe():
    return run_probe
