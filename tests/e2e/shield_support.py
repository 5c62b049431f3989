"""Helpers for the shield end-to-end tests (tests/e2e/test_run_shield.py): a raw HTTP/1.1 client that sends exactly
the bytes a test wants and parses what comes back, what the app saw, feisty's memory, the state of one TCP
connection as the kernel sees it, and the app started alone (as the reference a proxied answer is compared to).

Everything is bounded: every socket has a timeout, every read a deadline.
"""
import contextlib
import dataclasses
import os
import pathlib
import re
import select
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from .conftest import REPO, free_port

SHIELD_APP = REPO / "examples" / "shield" / "app.py"
WEBSOCKET_APP = REPO / "examples" / "websocket" / "app.py"
SOCKETIO_APP = REPO / "examples" / "socketio" / "app.py"

KiB = 1 << 10
MiB = 1 << 20


def tag() -> str:
    """A unique query value: the test's request is the one `/received` lists with it."""
    return uuid.uuid4().hex[:12]


# ---- a raw HTTP/1.1 client ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class RawResponse:
    status: int
    reason: str
    version: str
    headers: list  # [(lower-case name, value)]
    body: bytes

    def header(self, name: str):
        values = [value for key, value in self.headers if key == name.lower()]
        return ", ".join(values) if values else None

    @property
    def closes(self) -> bool:
        return "close" in (self.header("connection") or "").lower()


class Closed(Exception):
    """The peer closed (FIN or reset) before a complete response."""


class RawClient:
    """One TCP connection to 127.0.0.1:port; responses are parsed from a buffer, so pipelined answers are read in
    order. `rcvbuf` shrinks the receive buffer (set before connecting, so the window is small from the start)."""

    def __init__(self, port: int, timeout: float = 5.0, rcvbuf: int = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout
        self.buffer = b""
        self.eof = False

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, data: bytes):
        self.sock.sendall(data)

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, deadline: float) -> bool:
        """Reads once more into the buffer; False at EOF or reset. socket.timeout past `deadline`."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"no complete answer in time; received so far: {self.buffer[:300]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(256 * KiB)
        except socket.timeout:
            raise socket.timeout(f"no complete answer in time; received so far: {self.buffer[:300]!r}") from None
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _take_line(self, deadline: float) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill(deadline):
                raise Closed(f"closed in a line; got {self.buffer[:200]!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _take(self, n: int, deadline: float) -> bytes:
        while len(self.buffer) < n:
            if not self._fill(deadline):
                raise Closed(f"closed after {len(self.buffer)} of {n} body bytes")
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_response(self, timeout: float = None, method: str = "GET") -> RawResponse:
        """The next complete response (1xx interim answers included: the caller sees them as they come)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(deadline):
                raise Closed(f"closed before a response head; got {self.buffer[:200]!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = RawResponse(int(status), reason, version, headers, b"")
        code = response.status
        if method == "HEAD" or 100 <= code < 200 or code in (204, 304):
            return response
        try:
            response.body = self._read_body(response, deadline)
        except socket.timeout as error:
            raise socket.timeout(f"head {head[:300]!r}, then {error}") from None
        return response

    def _read_body(self, response: RawResponse, deadline: float) -> bytes:
        if "chunked" in (response.header("transfer-encoding") or "").lower():
            body = b""
            while True:
                size = int(self._take_line(deadline).split(b";")[0], 16)
                if size == 0:
                    while self._take_line(deadline):  # trailers, then the empty line
                        pass
                    break
                body += self._take(size, deadline)
                self._take_line(deadline)
            return body
        if response.header("content-length") is not None:
            return self._take(int(response.header("content-length")), deadline)
        while self._fill(deadline):  # no framing: the body ends with the connection
            pass
        body, self.buffer = self.buffer, b""
        return body

    def closed_within(self, timeout: float) -> bool:
        """Whether the peer closes (FIN or reset) within `timeout`, discarding anything else that arrives."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            return False
        return True


def exchange(port: int, data: bytes, timeout: float = 5.0, method: str = "GET") -> RawResponse:
    """Sends `data` on a new connection and returns the first response."""
    with RawClient(port, timeout=timeout) as client:
        client.send(data)
        return client.read_response(method=method)


# ---- the app's view -----------------------------------------------------------------------------------------------

def received(base: str) -> list:
    """`"METHOD /path?query"` of every request the shield app saw."""
    return requests.get(base + "/received", timeout=5).json()


def saw(base: str, needle: str) -> bool:
    """Whether the app saw a request whose line contains `needle` (a tag)."""
    return any(needle in line for line in received(base))


def finished(base: str) -> int:
    return requests.get(base + "/finished", timeout=5).json()["finished"]


# ---- feisty's process and connections -----------------------------------------------------------------------------

def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` (that process alone, not its children)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KiB
    raise AssertionError(f"no VmRSS for {pid}")


def server_side_held(server_port: int, client_port: int) -> bool:
    """Whether a process still holds the server end of the TCP connection 127.0.0.1:client_port ->
    127.0.0.1:server_port: /proc/net/tcp lists it with a nonzero inode until the server closes its descriptor (an
    orphaned socket still flushing or closing has inode 0). Tells "feisty closed the connection" without reading
    from it (a read would be progress)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                if inode != "0":
                    return True
    return False


ACCESS_LINE = r"^(?!app[|!] ).* {method} {target} \S+ (\d{{3}}) (\d+) \S+ \S+$"


def access_lines(output: str, method: str, target: str) -> list:
    """feisty's access-log lines for `method target`: [(status, response bytes)]."""
    pattern = re.compile(ACCESS_LINE.format(method=re.escape(method), target=re.escape(target)), re.M)
    return [(int(status), int(size)) for status, size in pattern.findall(output)]


# ---- the app alone, as the reference ------------------------------------------------------------------------------

@contextlib.contextmanager
def app_alone(app: pathlib.Path, timeout: float = 20.0):
    """`PORT=N python3 APP` (its own app.run, Werkzeug): yields its base URL; stopped after."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(app)], cwd=app.parent, env={**os.environ, "PORT": str(port)},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/", proc, timeout)
        yield base
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def gunicorn_alone(directory: pathlib.Path, module: str, *args: str, timeout: float = 20.0):
    """`gunicorn ARGS -b 127.0.0.1:N MODULE` run in `directory`: yields its port; stopped after."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *args, "-b", f"127.0.0.1:{port}", module],
                            cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, timeout)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def wait_http(url: str, proc, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited ({proc.returncode})")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout}s")


# ---- slow readers -------------------------------------------------------------------------------------------------

def stalled_downloads(port: int, path: str, count: int) -> list:
    """`count` connections that each send `GET path` and then read nothing (a 4 KiB receive buffer, so the kernel
    takes almost nothing off the server either). Close them with `close_all`."""
    clients = []
    for _ in range(count):
        client = RawClient(port, timeout=5, rcvbuf=4 * KiB)
        client.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        clients.append(client)
    return clients


def close_all(clients):
    for client in clients:
        client.close()


def good_client(base: str, path: str, requests_count: int, timeout: float, max_errors: int = 2) -> list:
    """`requests_count` sequential GETs of `path` (one session), stopping after `max_errors` failures (a starved
    client fails fast); [(seconds, status or exception name)]."""
    results = []
    with requests.Session() as session:
        for _ in range(requests_count):
            if sum(outcome != 200 for _, outcome in results) >= max_errors:
                break
            sent = time.monotonic()
            try:
                outcome = session.get(base + path, timeout=timeout).status_code
            except requests.RequestException as error:
                outcome = type(error).__name__
            results.append((time.monotonic() - sent, outcome))
    return results


def readable(sock: socket.socket, timeout: float) -> bool:
    return bool(select.select([sock], [], [], timeout)[0])


def writable(sock: socket.socket, timeout: float) -> bool:
    return bool(select.select([], [sock], [], timeout)[1])
