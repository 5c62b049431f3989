"""Nothing a client sends crashes feisty: seeded random, malformed and hostile traffic, then a normal request."""
import os
import random
import socket
import threading
import time

import requests

METHODS = [b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"CONNECT", b"TRACE", b"G ET", b"", b"\x00GET", b"get"]
TARGETS = [b"/", b"/2024", b"/user/bob", b"/wp-login.php", b"//", b"/%00", b"/%zz", b"*", b"http://x/", b"/" + b"a" * 9000,
           b"/\xff\xfe", b"/user/" + b"%2F" * 50, b"/../../etc/passwd", b"/?" + b"x=1&" * 500]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"", b"HTTP/1.x", b"http/1.1"]
NAMES = [b"Content-Length", b"Transfer-Encoding", b"Connection", b"Expect", b"X-Forwarded-For", b"Upgrade", b"TE",
         b"Host", b"Bad Header", b"\x7f", b""]
VALUES = [b"0", b"5", b"-1", b"99999999999999999999", b"chunked", b"gzip, chunked", b"close", b"keep-alive",
          b"100-continue", b"websocket", b"\r\n", b"a\x00b", b" 5", b"5, 5"]


def hostile_request(rnd: random.Random) -> bytes:
    if rnd.random() < 0.1:
        return rnd.randbytes(rnd.randint(1, 3000))
    sep = rnd.choice([b"\r\n", b"\r\n", b"\n", b"\r"])
    headers = [b"Host: localhost"] + [
        rnd.choice(NAMES + [b"X" * rnd.randint(1, 300)]) + b": " + rnd.choice(VALUES + [b"x" * rnd.randint(0, 20000)])
        for _ in range(rnd.randint(0, 8))
    ]
    body = b""
    if rnd.random() < 0.5:
        chunks = [rnd.choice([b"%x" % n, b"zz", b"-1", b"fffffffffffffffff", b"%x;ext=1" % n]) + b"\r\n"
                  + rnd.randbytes(n) + rnd.choice([b"\r\n", b"", b"\n"])
                  for n in (rnd.randint(0, 100) for _ in range(rnd.randint(0, 4)))]
        body = b"".join(chunks) + b"0\r\n\r\n"
    line = rnd.choice(METHODS) + b" " + rnd.choice(TARGETS) + b" " + rnd.choice(VERSIONS)
    return line + sep + b"\r\n".join(headers) + sep + sep + body


def hammer(port: int, seed: int, deadline: float, counts: dict) -> None:
    rnd = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                counts["connections"] += 1
                data = b"".join(hostile_request(rnd) for _ in range(rnd.randint(1, 4)))
                step = rnd.choice([len(data), 1, 7, 50])  # whole, or dribbled in small pieces
                for start in range(0, len(data), step):
                    s.sendall(data[start:start + step])
                if rnd.random() < 0.3:
                    continue  # hang up mid-request
                while s.recv(65536):
                    pass
        except OSError:
            counts["reset"] += 1  # feisty closes after a 400: the rest of what we send meets a reset


def test_hostile_traffic_never_crashes_feisty(start_feisty):
    # Without the guard: it would ban the fuzzer (one client) within a few requests, and the rest would only meet
    # resets at accept instead of the parser and the proxy.
    feisty = start_feisty("examples/seed/app.py", "--header-timeout", "1", "--no-access-log", "--no-guard",
                          ready_path="/2024")
    counts = {"connections": 0, "reset": 0}
    deadline = time.monotonic() + float(os.environ.get("FEISTY_FUZZ_SECONDS", "8"))
    workers = [threading.Thread(target=hammer, args=(feisty.port, seed, deadline, counts)) for seed in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert counts["connections"] > 500, counts
    assert feisty.proc.poll() is None, f"feisty died:\n{feisty.output[-3000:]}"
    response = requests.get(feisty.base + "/2024", timeout=5)
    assert response.status_code == 200 and response.text == "2024"
    assert requests.get(feisty.base + "/wp-login.php", timeout=5).status_code == 404
    assert "Fatal error" not in feisty.output and "Segmentation" not in feisty.output
