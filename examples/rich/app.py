"""A realistic service for `feisty run` end-to-end tests: uploads, streaming downloads, a JSON API
(in a blueprint), a slow route and an early 413.

    feisty run examples/rich/app.py      (or: PORT=5050 python3 examples/rich/app.py)
"""
import hashlib
import os
import threading
import time

from flask import Blueprint, Flask, Response, abort, jsonify, request

CHUNK = 64 * 1024
UPLOAD_LIMIT = 1024 * 1024  # /upload/limited refuses bodies above 1 MiB before reading them

app = Flask(__name__)
api = Blueprint("api", __name__, url_prefix="/api")

_items = {}
_items_lock = threading.Lock()
_next_id = [1]


@app.route("/")
def index():
    return jsonify(service="rich", pid=os.getpid())


@app.post("/upload")
def upload():
    """Reads the body in chunks (never whole in memory) and returns its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = request.stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        digest.update(chunk)
    return jsonify(size=size, sha256=digest.hexdigest())


@app.post("/upload/limited")
def upload_limited():
    """Answers 413 from the Content-Length alone, without reading the body."""
    if request.content_length is None or request.content_length > UPLOAD_LIMIT:
        abort(413)
    data = request.get_data()
    return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.route("/download/<int:size>")
def download(size):
    """Streams `size` bytes (a repeating pattern) in chunks; the sha256 is in a header."""
    pattern = bytes(range(256)) * (CHUNK // 256)
    digest = hashlib.sha256()
    remaining = size
    while remaining > 0:
        digest.update(pattern[: min(CHUNK, remaining)])
        remaining -= CHUNK

    def generate():
        left = size
        while left > 0:
            n = min(CHUNK, left)
            yield pattern[:n]
            left -= n

    headers = {"Content-Length": str(size), "X-Sha256": digest.hexdigest()}
    return Response(generate(), mimetype="application/octet-stream", headers=headers)


@app.route("/slow/<float:seconds>")
def slow(seconds):
    time.sleep(min(seconds, 30.0))
    return jsonify(slept=seconds)


@api.get("/items")
def list_items():
    with _items_lock:
        return jsonify(sorted(_items.values(), key=lambda item: item["id"]))


@api.post("/items")
def create_item():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or "name" not in payload:
        return jsonify(error="expected a JSON object with a name"), 400
    with _items_lock:
        item = {"id": _next_id[0], "name": payload["name"]}
        _items[item["id"]] = item
        _next_id[0] += 1
    return jsonify(item), 201


@api.get("/items/<int:item_id>")
def get_item(item_id):
    with _items_lock:
        item = _items.get(item_id)
    return jsonify(item) if item else (jsonify(error="not found"), 404)


@api.delete("/items/<int:item_id>")
def delete_item(item_id):
    with _items_lock:
        removed = _items.pop(item_id, None)
    return ("", 204) if removed else (jsonify(error="not found"), 404)


@api.get("/whoami")
def whoami():
    """What the request looks like from inside the app: the client address, the server address, the host."""
    return jsonify(
        remote_addr=request.remote_addr,
        server=list(request.server) if request.server else None,
        host=request.host,
        url_root=request.url_root,
        forwarded_for=request.headers.get("X-Forwarded-For"),
    )


app.register_blueprint(api)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5050")))
