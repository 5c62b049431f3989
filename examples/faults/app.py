"""A fault-injection Flask app: the target of feisty's resilience tests (tests/e2e/test_run_resilience.py) and of
the recovery benchmark (bench/recovery_bench.sh). Every route is one failure a real service can show.

    feisty run examples/faults/app.py --health-path /health      (or: PORT=5088 python3 examples/faults/app.py)

| route | what it does |
|---|---|
| `GET /` | fast; JSON `{"version", "pid", "started"}`: which code (VERSION below) and which process answered |
| `GET /health` | `ok`, the route to probe (`--health-path /health`): the others include destructive ones |
| `GET /pid` | the serving process id, as text |
| `POST /crash` | the process exits at once (`os._exit(3)`): no response |
| `POST /kill` | the process sends itself SIGKILL |
| `GET /hang` | the whole instance hangs: this request never answers, and neither does any later one (see below) |
| `GET /freeze` | answers 200, then the instance hangs the same way while idle |
| `GET /sleep/<float:s>` | answers after `s` seconds (at most 60); the other threads keep serving |
| `GET /stream/<int:n>` | streams `n` chunks, one every 0.5 s: a long request that is never silent |
| `GET /leak/<int:mb>` | allocates `mb` MiB (pages touched, so resident) and keeps them |
| `GET /slow` | answers after the current slow delay (0 until `/slow/on`) |
| `GET /slow/on?delay=S&sticky=1` | sets the delay (default 0.25 s); `sticky=1` also writes it to `$FAULTS_SLOW_FILE`, |
| | which a freshly started instance reads, so the replacement is just as slow |
| `GET /slow/off` | delay back to 0 (and removes `$FAULTS_SLOW_FILE`) |
| `POST /echo` | the request body back |
| `POST /slow-echo?seconds=S` | sleeps `S` seconds (default 2), then the body back: a non-idempotent request in flight |

How `/hang` hangs: with Werkzeug's threaded server one blocked request thread does not stop the others (that is
`/sleep`). A hung *instance* is one where nothing answers, as when every request waits for a lock a deadlocked
thread holds. `/hang` sets that lock-like state: a `before_request` hook blocks every later request (a health probe
too) forever, while the process stays alive and its listening socket keeps accepting connections. Its threads only
wait (no CPU), and the launcher's own threads are untouched, so the process still stops on SIGTERM or when feisty
goes away.

VERSION is a plain constant so that a deploy test can rewrite this file and check which code answers.
"""
import os
import signal
import threading
import time

from flask import Flask, Response, jsonify, request

VERSION = "v1"

STARTED = time.time()
MAX_SLEEP = 60.0
MiB = 1 << 20

app = Flask(__name__)

_hung = threading.Event()  # set: the instance answers nothing any more
_leaked = []  # what /leak allocated, kept alive
_slow_file = os.environ.get("FAULTS_SLOW_FILE")
_slow_delay = [0.0]
if _slow_file and os.path.exists(_slow_file):
    with open(_slow_file, encoding="ascii") as handle:
        _slow_delay[0] = float(handle.read().strip() or 0)


def _block_forever():
    threading.Event().wait()


@app.before_request
def hung_instances_answer_nothing():
    if _hung.is_set():
        _block_forever()


@app.route("/")
def index():
    return jsonify(version=VERSION, pid=os.getpid(), started=STARTED)


@app.route("/health")
def health():
    return "ok\n"


@app.route("/pid")
def pid():
    return str(os.getpid())


# POST, not GET: feisty sends an idempotent request that was in flight at a crash once more to a healthy
# instance, and a GET /crash would crash that one too.
@app.post("/crash")
def crash():
    os._exit(3)


@app.post("/kill")
def kill():
    os.kill(os.getpid(), signal.SIGKILL)
    _block_forever()


@app.route("/hang")
def hang():
    _hung.set()
    _block_forever()


@app.route("/freeze")
def freeze():
    """Answers, then hangs the instance: an idle instance that no longer answers (found only by probing)."""
    response = Response(f"frozen {os.getpid()}\n")
    response.call_on_close(_hung.set)
    return response


@app.route("/sleep/<float:seconds>")
def sleep(seconds):
    time.sleep(min(seconds, MAX_SLEEP))
    return jsonify(slept=seconds, pid=os.getpid(), version=VERSION)


@app.route("/stream/<int:n>")
def stream(n):
    def chunks():
        for i in range(n):
            yield f"chunk {i} {os.getpid()}\n"
            time.sleep(0.5)

    return Response(chunks(), mimetype="text/plain")


@app.route("/leak/<int:mb>")
def leak(mb):
    _leaked.append(b"\xa5" * (mb * MiB))  # filled, not calloc'd: every page is resident
    return jsonify(leaked_mb=sum(len(block) for block in _leaked) // MiB, pid=os.getpid())


@app.route("/slow")
def slow():
    delay = _slow_delay[0]
    if delay:
        time.sleep(delay)
    return jsonify(delay=delay, pid=os.getpid(), version=VERSION)


@app.route("/slow/on")
def slow_on():
    _slow_delay[0] = float(request.args.get("delay", "0.25"))
    if request.args.get("sticky") and _slow_file:
        with open(_slow_file, "w", encoding="ascii") as handle:
            handle.write(str(_slow_delay[0]))
    return jsonify(delay=_slow_delay[0], pid=os.getpid())


@app.route("/slow/off")
def slow_off():
    _slow_delay[0] = 0.0
    if _slow_file and os.path.exists(_slow_file):
        os.remove(_slow_file)
    return jsonify(delay=0.0, pid=os.getpid())


@app.post("/echo")
def echo():
    return request.get_data()


@app.post("/slow-echo")
def slow_echo():
    body = request.get_data()
    time.sleep(min(float(request.args.get("seconds", "2")), MAX_SLEEP))
    return body


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5088")))
