"""`feisty run examples/rich/app.py`: uploads, streaming downloads, a JSON API, limits, with real clients."""
import hashlib
import json
import os
import socket
import subprocess
import time

import requests

from conftest import listening_tcp_sockets

from .guard_support import session_from
from .conftest import descendants, free_port


def test_json_api_through_feisty(start_feisty):
    feisty = start_feisty("examples/rich/app.py")
    created = requests.post(feisty.base + "/api/items", json={"name": "x"})
    assert created.status_code in (200, 201), created.text
    listed = requests.get(feisty.base + "/api/items").json()
    assert "x" in str(listed)
    assert requests.delete(feisty.base + "/api/items/999999").status_code == 404


def test_streaming_upload_and_download_keep_their_bytes(start_feisty):
    feisty = start_feisty("examples/rich/app.py")
    size = 64 * 1024 * 1024

    def body():
        block = os.urandom(1 << 20)
        digest.update(block * (size >> 20))
        for _ in range(size >> 20):
            yield block

    digest = hashlib.sha256()
    r = requests.post(feisty.base + "/upload", data=body())  # chunked transfer encoding
    assert r.status_code == 200, r.text
    assert r.json() == {"size": size, "sha256": digest.hexdigest()}

    r = requests.get(feisty.base + f"/download/{size}", stream=True)
    got = hashlib.sha256()
    total = 0
    for chunk in r.iter_content(1 << 20):
        got.update(chunk)
        total += len(chunk)
    assert total == size and got.hexdigest() == r.headers["X-Sha256"]


def whoami_from(port: int, source: str) -> dict:
    """GET /api/whoami over a connection from `source` (any 127.x address is this machine)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(f"GET /api/whoami HTTP/1.1\r\nHost: shop.test:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


def test_the_app_is_reachable_only_through_feisty_and_sees_the_real_client(start_feisty):
    port = free_port()
    feisty = start_feisty("examples/rich/app.py", "--listen", f"0.0.0.0:{port}", port=port)
    seen = whoami_from(port, "127.0.0.2")
    # As under `python3 app.py`: the client's address, the server's public address.
    assert seen["remote_addr"] == "127.0.0.2"
    assert seen["server"] == ["0.0.0.0", port]
    assert seen["url_root"] == f"http://shop.test:{port}/"
    assert feisty.wait_for_line("127.0.0.2 - - ")  # Werkzeug's own request log names the client too
    # The app listens on no TCP port: only on a Unix socket in a directory only feisty's user may enter.
    apps = descendants(feisty.proc.pid)
    assert apps and all(not listening_tcp_sockets(pid) for pid in apps)
    socket_path = next(line.split("internal=unix:")[1].split()[0] for line in feisty.output.splitlines()
                       if "internal=unix:" in line)
    directory = os.path.dirname(socket_path)
    assert os.stat(directory).st_mode & 0o777 == 0o700
    assert feisty.stop() == 0
    assert not os.path.exists(directory)


def test_internal_tcp_still_serves(start_feisty):
    port = free_port()
    feisty = start_feisty("examples/rich/app.py", "--internal", "tcp", "--listen", f"0.0.0.0:{port}", port=port)
    assert whoami_from(port, "127.0.0.3")["remote_addr"] == "127.0.0.3"
    assert "internal=127.0.0.1:" in feisty.output


def test_curl_head_and_early_413(start_feisty, tmp_path):
    feisty = start_feisty("examples/rich/app.py")
    head = subprocess.run(["curl", "-sS", "-I", feisty.base + "/download/1000"], capture_output=True, text=True)
    assert head.returncode == 0 and "200" in head.stdout.splitlines()[0]
    assert "content-length: 1000" in head.stdout.lower()
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (8 << 20))
    early = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", f"@{big}",
         feisty.base + "/upload/limited"],
        capture_output=True, text=True, timeout=30,
    )
    assert early.stdout == "413", early.stderr


def raw_exchange(port, data: bytes, wait=2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def test_limits_and_bad_requests_get_clear_answers(start_feisty):
    feisty = start_feisty("examples/rich/app.py", "--max-body", "1k", "--header-timeout", "1")
    assert requests.post(feisty.base + "/upload", data=b"y" * 4096).status_code == 413
    assert requests.get(feisty.base + "/", headers={"X-Big": "a" * 70000}).status_code == 431
    smuggle = (b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert raw_exchange(feisty.port, smuggle).startswith(b"HTTP/1.1 400")
    assert raw_exchange(feisty.port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    slowloris = raw_exchange(feisty.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow:", wait=5)
    assert slowloris.startswith(b"HTTP/1.1 408")
    # feisty is still serving after all of that
    assert requests.get(feisty.base + "/").status_code == 200


def test_upstream_mode_guards_a_running_server(start_feisty, tmp_path):
    from .conftest import free_port

    app_port = free_port()
    app = subprocess.Popen(
        ["python3", "-m", "flask", "--app", "examples/seed/app.py", "run", "--port", str(app_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the app must be up first: until then feisty rightly answers 502
            try:
                socket.create_connection(("127.0.0.1", app_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        feisty = start_feisty("examples/seed/app.py", "--upstream", f"127.0.0.1:{app_port}")
        assert requests.get(feisty.base + "/2024").text == "2024"
        assert requests.get(feisty.base + "/.env").status_code == 404
        assert feisty.wait_for_line("banned 127.0.0.1 "), feisty.output  # the guard works in this mode too
    finally:
        app.kill()
        app.wait()
    # The upstream is gone: 502, and feisty keeps running (asked from other addresses: 127.0.0.1 is banned).
    assert session_from("127.0.0.2").get(feisty.base + "/2024").status_code == 502
    assert session_from("127.0.0.3").get(feisty.base + "/.env").status_code == 404
