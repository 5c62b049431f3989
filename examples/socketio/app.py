"""A Flask-SocketIO echo (threading mode, WebSockets through simple-websocket): the target of feisty's Socket.IO
test (tests/e2e/test_run_shield.py).

    pip install flask-socketio simple-websocket
    feisty run examples/socketio/app.py           (or: PORT=5079 python3 examples/socketio/app.py)

| route | what it does |
|---|---|
| `GET /` | `socketio`: a plain Flask route |
| `/socket.io/` | Socket.IO (Engine.IO long-polling and WebSocket transports); not a Flask rule: Flask-SocketIO wraps |
| | `app.wsgi_app` in Engine.IO's middleware, which answers that path before Flask's routing (feisty's probe finds |
| | the middleware and adds `/socket.io/` and `/socket.io/<path:rest>` rules, endpoint `<engineio middleware>`) |

Events: `echo` answers `echo` to the sender with the same data (text or bytes); a call with an acknowledgement gets the
data back as the acknowledgement too.
"""
import os

from flask import Flask
from flask_socketio import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading")


@app.route("/")
def index():
    return "socketio"


@socketio.on("echo")
def echo(data):
    emit("echo", data)
    return data  # the acknowledgement, when the client asked for one


if __name__ == "__main__":
    # allow_unsafe_werkzeug: without a terminal on stdin Flask-SocketIO refuses Werkzeug's server otherwise.
    socketio.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5079")), allow_unsafe_werkzeug=True)
