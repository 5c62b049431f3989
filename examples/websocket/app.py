"""A WebSocket echo with flask-sock: the target of feisty's WebSocket tests (tests/e2e/test_run_shield.py).

    pip install flask-sock
    feisty run examples/websocket/app.py          (or: PORT=5078 python3 examples/websocket/app.py)

| route | what it does |
|---|---|
| `GET /` | `websocket`: a plain HTTP route next to the socket |
| `/ws` (WebSocket only) | echoes each message back as it came (text as text, binary as binary) until it closes |

A plain HTTP GET /ws (no Upgrade) matches a WebSocket-only rule: Werkzeug answers it 400 itself.
"""
import os

from flask import Flask
from flask_sock import Sock

app = Flask(__name__)
sock = Sock(app)


@app.route("/")
def index():
    return "websocket"


@sock.route("/ws")
def echo(ws):
    while True:
        ws.send(ws.receive())  # ConnectionClosed ends the loop; flask-sock closes the socket


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5078")), threaded=True)
