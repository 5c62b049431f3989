"""The target of feisty's shield tests (tests/e2e/test_run_shield.py): routes that show what a client that is slow,
malformed or never reads does to an app, and a record of every request the app actually saw.

    feisty run examples/shield/app.py                            (or: PORT=5077 python3 examples/shield/app.py)
    cd examples/shield && feisty run app:app --server gunicorn   (gunicorn takes the app as module:name)

| route | what it does |
|---|---|
| `GET /` | `shield`: fast |
| `GET /small` | `ok`: a small answer for "is the app still answering" checks |
| `POST /echo` | the request body back (read whole) |
| `POST /sha256` | reads the body in 64 KiB reads (never whole in memory); JSON `{"size", "sha256"}` |
| `GET /large/<int:size>` | `size` bytes (a repeating pattern, sha256 in `X-Sha256`) in 64 KiB chunks; once the last |
| | chunk is handed to the server it prints `shield: large SIZE finished` and counts it in `/finished` |
| `GET /received` | JSON list of `"METHOD /path?query"` of every request the app saw (this route and `/finished` |
| | excluded): a test tags its request with a unique query (`/echo?id=...`) and looks for it here |
| `GET /finished` | JSON `{"finished": N}`: how many `/large` answers were written to the end |

A request is recorded in `before_request`, i.e. as soon as the server hands the app the request head, before any
body is read: a request a proxy held back (or refused) never shows up in `/received`.
"""
import hashlib
import os
import sys
import threading

from flask import Flask, Response, jsonify, request

CHUNK = 64 * 1024
PATTERN = bytes(range(256)) * (CHUNK // 256)

app = Flask(__name__)

_lock = threading.Lock()
_received = []  # "METHOD /path?query" per request the app saw
_finished = [0]  # /large answers written to the end


@app.before_request
def record():
    if request.path not in ("/received", "/finished"):
        with _lock:
            query = request.query_string.decode("latin-1")
            _received.append(f"{request.method} {request.path}" + (f"?{query}" if query else ""))


@app.route("/")
def index():
    return "shield"


@app.route("/small")
def small():
    return "ok"


@app.post("/echo")
def echo():
    return request.get_data()


@app.post("/sha256")
def sha256():
    digest = hashlib.sha256()
    size = 0
    while chunk := request.stream.read(CHUNK):
        size += len(chunk)
        digest.update(chunk)
    return jsonify(size=size, sha256=digest.hexdigest())


def large_digest(size: int) -> str:
    digest = hashlib.sha256()
    for start in range(0, size, CHUNK):
        digest.update(PATTERN[: min(CHUNK, size - start)])
    return digest.hexdigest()


@app.route("/large/<int:size>")
def large(size):
    def generate():
        for start in range(0, size, CHUNK):
            yield PATTERN[: min(CHUNK, size - start)]
        # Reached only when the server took the last chunk: the worker is about to be free again.
        with _lock:
            _finished[0] += 1
        print(f"shield: large {size} finished", file=sys.stderr, flush=True)

    headers = {"Content-Length": str(size), "X-Sha256": large_digest(size)}
    return Response(generate(), mimetype="application/octet-stream", headers=headers)


@app.route("/received")
def received():
    with _lock:
        return jsonify(list(_received))


@app.route("/finished")
def finished():
    with _lock:
        return jsonify(finished=_finished[0])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5077")), threaded=True)
