"""Clients for the guard's end-to-end tests (test_run_guard.py): requests from a chosen source address (127.0.0.2 is a
different client than 127.0.0.1 to feisty, though both reach 127.0.0.1 over loopback), one-request connections that
tell "answered" from "turned away unread", and a single keep-alive connection that never reconnects behind the
test's back.

Only the standard library and `requests`: the file also runs as a script inside a network namespace
(`ip netns exec NS python3 guard_support.py ask ...`, printing one JSON line), so it imports nothing from conftest.
"""
import http.client
import json
import re
import socket
import sys
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

STRIKE = re.compile(r"strike (\d+)/(\d+) for (\S+): (\S+)")


class SourceAddressAdapter(HTTPAdapter):
    """An adapter whose connections leave from `source` (an address on this host, e.g. 127.0.0.2)."""

    def __init__(self, source: str, **kwargs):
        self._source = (source, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["source_address"] = self._source
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def session_from(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source))
    return session


@dataclass
class Outcome:
    """What became of one request on a fresh connection: `how` is answered, reset, closed (EOF before any byte of
    an answer), refused (connect failed) or timeout."""
    how: str
    status: int = None
    body: bytes = b""

    @property
    def turned_away(self) -> bool:
        """Closed with no answer: the connection was reset or closed before a single byte came back."""
        return self.how in ("reset", "closed")


def ask(host: str, port: int, path: str = "/", source: str = None, headers: dict = None,
        timeout: float = 5.0) -> Outcome:
    """`GET path` on a new connection from `source` (`Connection: close`), read to the end."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            return Outcome("refused")
        except ConnectionResetError:  # the reset came before connect() returned
            return Outcome("reset")
        except socket.timeout:  # no answer to the SYN at all: dropped (by the kernel's ban set)
            return Outcome("timeout")
        head = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        data = b""
        try:
            sock.sendall((head + "\r\n").encode())
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            if not data:
                return Outcome("reset")
        except socket.timeout:
            if not data:
                return Outcome("timeout")
        if not data:
            return Outcome("closed")
        status_line, _, rest = data.partition(b"\r\n")
        _, _, body = rest.partition(b"\r\n\r\n")
        return Outcome("answered", int(status_line.split()[1]), body)
    finally:
        sock.close()


class KeepAlive:
    """One HTTP/1.1 connection, kept open between requests; it never reconnects (http.client's auto_open is off),
    so a request after the server closed it fails instead of silently opening a second connection."""

    def __init__(self, host: str, port: int, source: str = None, timeout: float = 5.0):
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout,
                                                     source_address=(source, 0) if source else None)
        self.connection.connect()
        self.connection.auto_open = 0
        self.local = self.connection.sock.getsockname()

    def get(self, path: str, headers: dict = None):
        """(status, body) of `GET path` on this connection; raises OSError/http.client errors if it was closed."""
        if self.connection.sock is None:
            raise http.client.NotConnected("the server closed the connection after the previous answer")
        self.connection.request("GET", path, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        if response.will_close:
            self.connection.close()
        return response.status, body

    def close(self):
        self.connection.close()


def strikes(output: str, client: str = None) -> list:
    """feisty's `strike N/M for CLIENT: PATH` lines, in order: [(N, M, client, path)]."""
    found = [(int(n), int(m), who, path) for n, m, who, path in STRIKE.findall(output)]
    return [entry for entry in found if client is None or entry[2] == client]


def main(argv):
    """`guard_support.py ask HOST PORT SOURCE PATH...` (SOURCE `-`: any): one request per PATH, each on a new
    connection, in order; prints each outcome as one JSON line."""
    if len(argv) >= 5 and argv[0] == "ask":
        host, port, source = argv[1], int(argv[2]), None if argv[3] == "-" else argv[3]
        for path in argv[4:]:
            outcome = ask(host, port, path, source=source, timeout=3)
            print(json.dumps({"how": outcome.how, "status": outcome.status,
                              "body": outcome.body.decode("utf-8", "replace")}), flush=True)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
