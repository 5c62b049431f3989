"""`feisty match` on WebSocket handshakes against Werkzeug itself, through the real binary and the real probe.

The Swift differential test (`swift test --filter DifferentialTests`) covers random apps; this one checks the
command line: `--websocket`, batch lines with "websocket", and the `websocket_mismatch` outcome (Werkzeug's
`WebsocketMismatch`, a 400). Werkzeug judges each request as the dev server would receive it, a handshake
carrying `Connection: Upgrade` and `Upgrade: websocket`.
"""
import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import werkzeug_oracle  # noqa: E402

HANDSHAKE = [("Connection", "Upgrade"), ("Upgrade", "websocket")]

APP = '''
from flask import Flask

app = Flask(__name__)


def view(**kwargs):
    return "ok"


app.add_url_rule("/ws", "ws", view, websocket=True)
app.add_url_rule("/both", "both_ws", view, websocket=True)
app.add_url_rule("/both", "both_http", view)
app.add_url_rule("/mixed", "mixed_ws", view, websocket=True)
app.add_url_rule("/mixed", "mixed_post", view, methods=["POST"])
app.add_url_rule("/plain", "plain", view)
app.add_url_rule("/wsdir/", "wsdir", view, websocket=True)
app.add_url_rule("/wsloose/", "wsloose", view, websocket=True, strict_slashes=False)
app.add_url_rule("/httpdir/", "httpdir", view)
app.add_url_rule("/a/b", "ab", view, websocket=True)
app.add_url_rule("/wsmove/<int:n>", "wsmove", view, websocket=True, redirect_to="/ws")
app.add_url_rule("/wscanon/<int:n>", "wsaliased", view, websocket=True)
app.add_url_rule("/wsold/<int:n>", "wsaliased", view, alias=True)
app.add_url_rule("/v/<int(max=5):n>", "v", view, websocket=True)
'''

REQUESTS = [
    (method, target, websocket)
    for method, target in [
        ("GET", "/ws"), ("POST", "/ws"), ("GET", "/both"), ("GET", "/mixed"), ("POST", "/mixed"), ("GET", "/plain"),
        ("GET", "/wsdir"), ("GET", "/wsdir/?q=1"), ("GET", "/wsloose"), ("GET", "/httpdir"), ("GET", "/httpdir/"),
        ("GET", "/a//b"), ("GET", "/wsmove/3"), ("GET", "/wsold/4"), ("GET", "/wscanon/4"), ("GET", "/v/3"),
        ("GET", "/v/9"), ("GET", "/nope"), ("OPTIONS", "/ws"),
    ]
    for websocket in (False, True)
]


@pytest.fixture(scope="module")
def app_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("wsapp") / "wsapp.py"
    path.write_text(APP)
    return path


@pytest.fixture(scope="module")
def flask_app(app_file):
    spec = importlib.util.spec_from_file_location("wsapp_under_test", app_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def werkzeug_says(flask_app, method, target, websocket):
    """Werkzeug's verdict in `feisty match --json`'s shape."""
    expect = werkzeug_oracle.verdict(flask_app, method, target, "localhost", HANDSHAKE if websocket else [])
    kind = expect["kind"]
    if kind == "match":
        return {"outcome": "match", "status": 200, "endpoint": expect["endpoint"],
                "args": {name: int(text) if tag == "int" else text for name, tag, text in expect["args"]}}
    if kind == "redirect":
        return {"outcome": "redirect", "status": 308, "location": expect["location"]}
    if kind == "405":
        return {"outcome": "method_not_allowed", "status": 405, "allowed": expect["allowed"]}
    if kind == "websocket_mismatch":
        return {"outcome": "websocket_mismatch", "status": 400}
    assert kind == "404", expect
    return {"outcome": "not_found", "status": 404}


def run_feisty(feisty, *args, stdin=None):
    return subprocess.run([feisty, *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120)


def test_batch_verdicts_agree_with_werkzeug(feisty, app_file, flask_app):
    lines = [{"id": i, "method": m, "path": t, "websocket": w} for i, (m, t, w) in enumerate(REQUESTS)]
    result = run_feisty(feisty, "match", str(app_file), "--batch", "--json",
                        stdin="".join(json.dumps(line) + "\n" for line in lines))
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(got) == len(REQUESTS)
    disagreements = []
    for (method, target, websocket), verdict in zip(REQUESTS, got):
        verdict.pop("id")
        expected = werkzeug_says(flask_app, method, target, websocket)
        if verdict != expected:
            disagreements.append(f"{'ws' if websocket else 'http'} {method} {target}: {verdict} != {expected}")
    assert not disagreements, "\n".join(disagreements)
    outcomes = {v["outcome"] for v in got}
    assert {"match", "redirect", "not_found", "method_not_allowed", "websocket_mismatch"} <= outcomes


@pytest.mark.parametrize("websocket", [False, True])
@pytest.mark.parametrize("target", ["/ws", "/plain", "/wsdir"])
def test_the_websocket_flag(feisty, app_file, flask_app, target, websocket):
    flags = ["--websocket"] if websocket else []
    result = run_feisty(feisty, "match", str(app_file), "GET", target, "--json", *flags)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == werkzeug_says(flask_app, "GET", target, websocket)
