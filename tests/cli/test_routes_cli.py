"""`feisty routes` and `feisty match` through the real binary, the real probe and the real Flask."""
import json

import pytest

from .conftest import run_feisty

SEED = "examples/seed/app.py"


def test_routes_json_of_the_seed_app(feisty):
    result = run_feisty(feisty, "routes", SEED, "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert table["port"] == 8080 and table["host"] == "0.0.0.0"
    rules = [(r["rule"], r["endpoint"]) for r in table["rules"]]
    assert rules == [
        ("/static/<path:filename>", "static"),
        ("/", "overview"),
        ("/user/<username>", "getuser"),
        ("/<int:year>", "getyear"),
    ]
    year = table["rules"][3]
    assert year["methods"] == ["GET", "HEAD", "OPTIONS"]
    assert year["converters"][0]["kind"] == "int"
    for key in ("strict_slashes", "merge_slashes", "defaults", "redirect_to", "subdomain", "host", "converters"):
        assert key in year


def test_routes_text_looks_like_flask_routes(feisty):
    result = run_feisty(feisty, "routes", SEED)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Rule"]
    assert any(line.split() == ["getyear", "GET", "/<int:year>"] for line in lines)
    assert "0.0.0.0:8080" in result.stdout


def test_static_and_runtime_agree_on_the_seed_app(feisty):
    runtime = json.loads(run_feisty(feisty, "routes", SEED, "--json").stdout)
    static = json.loads(run_feisty(feisty, "routes", SEED, "--json", "--static").stdout)
    assert static["source"] == "static" and runtime["source"] == "runtime"
    assert [r["rule"] for r in static["rules"]] == [r["rule"] for r in runtime["rules"]]
    assert (static["host"], static["port"]) == ("0.0.0.0", 8080)


@pytest.mark.parametrize(
    "method,target,expected",
    [
        ("GET", "/", {"outcome": "match", "status": 200, "endpoint": "overview", "args": {}}),
        ("GET", "/2024", {"outcome": "match", "status": 200, "endpoint": "getyear", "args": {"year": 2024}}),
        ("GET", "/user/bob", {"outcome": "match", "status": 200, "endpoint": "getuser", "args": {"username": "bob"}}),
        ("GET", "/wp-login.php", {"outcome": "not_found", "status": 404}),
        ("POST", "/", {"outcome": "method_not_allowed", "status": 405, "allowed": ["GET", "HEAD", "OPTIONS"]}),
        ("GET", "/user/bob/", {"outcome": "not_found", "status": 404}),
        ("GET", "/99999999999999999999999", {"outcome": "match", "status": 200, "endpoint": "getyear",
                                             "args": {"year": 99999999999999999999999}}),
    ],
)
def test_match_verdicts_of_the_seed_app(feisty, method, target, expected):
    result = run_feisty(feisty, "match", SEED, method, target, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_match_batch_keeps_order_and_echoes_ids(feisty):
    requests = [{"id": i, "method": "GET", "path": f"/{1990 + i}"} for i in range(3000)]
    requests.insert(5, {"id": "probe", "method": "GET", "path": "/.env", "host": "example.com"})
    stdin = "\n".join(json.dumps(r) for r in requests) + "\n"
    result = run_feisty(feisty, "match", SEED, "--batch", "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["id"] for v in verdicts] == [r["id"] for r in requests]
    assert verdicts[5]["outcome"] == "not_found"
    assert verdicts[0] == {"id": 0, "outcome": "match", "status": 200, "endpoint": "getyear", "args": {"year": 1990}}


@pytest.mark.parametrize(
    "app,needle",
    [
        ("examples/does_not_exist.py", "does_not_exist"),
        ("examples/broken/syntax_error.py", "syntax"),
        ("examples/broken/import_error.py", "No module named"),
        ("examples/broken/no_app.py", "no app"),
        ("examples/broken/raises.py", "Error"),
    ],
)
def test_broken_apps_give_one_clear_line_and_exit_1(feisty, app, needle):
    result = run_feisty(feisty, "routes", app)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("feisty: ") and needle.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in result.stderr and "Fatal error" not in result.stderr


def test_an_import_that_hangs_times_out(feisty):
    result = run_feisty(feisty, "routes", "examples/broken/hangs.py", "--timeout", "2", timeout=30)
    assert result.returncode == 1
    assert "did not finish within 2 s" in result.stderr


def test_a_missing_interpreter_is_a_clear_error(feisty):
    result = run_feisty(feisty, "routes", SEED, "--python", "/nonexistent/python3")
    assert result.returncode == 1
    assert "/nonexistent/python3" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_flags_are_rejected_by_the_parser(feisty):
    result = run_feisty(feisty, "match", SEED, "GET")
    assert result.returncode != 0 and "METHOD and TARGET" in result.stderr
    result = run_feisty(feisty, "routes", SEED, "--timeout", "0")
    assert result.returncode != 0 and "--timeout" in result.stderr


def test_a_virtualenv_python_loads_the_app(feisty, tmp_path):
    import subprocess
    import sys

    venv = tmp_path / "venv"
    # --system-site-packages: the venv sees Flask without a network install; it is still a distinct interpreter.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    marker = tmp_path / "sitecustomize_marker"
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "feisty_venv_marker.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    result = run_feisty(feisty, "routes", SEED, "--json", "--python", str(venv / "bin" / "python"))
    assert result.returncode == 0, result.stderr
    assert [r["endpoint"] for r in json.loads(result.stdout)["rules"]][-1] == "getyear"
    assert marker.exists(), "the probe must run inside the virtualenv's interpreter"


@pytest.mark.parametrize(
    "app,cwd,endpoint",
    [
        ("app:app", "examples/seed", "getyear"),
        ("examples/seed", ".", "getyear"),
        ("factory:create_app()", "examples", None),
    ],
)
def test_flask_app_forms_through_the_cli(feisty, repo, app, cwd, endpoint):
    result = run_feisty(feisty, "routes", app, "--json", cwd=repo / cwd)
    assert result.returncode == 0, result.stderr
    endpoints = [r["endpoint"] for r in json.loads(result.stdout)["rules"]]
    assert len(endpoints) > 1
    if endpoint:
        assert endpoint in endpoints


SOCKETIO = "examples/socketio/app.py"


def test_routes_shows_the_socketio_middleware(feisty):
    result = run_feisty(feisty, "routes", SOCKETIO)
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()[2:6]]
    assert rows == [
        ["<engineio", "middleware>             GET, POST  /socket.io/"],
        ["<engineio", "middleware>             GET, POST  /socket.io/<path:rest>"],
        ["<engineio", "middleware: websocket>  GET        /socket.io/"],
        ["<engineio", "middleware: websocket>  GET        /socket.io/<path:rest>"],
    ]


@pytest.mark.parametrize(
    "method,target,websocket,outcome",
    [
        ("GET", "/socket.io/?EIO=4&transport=polling", False, "match"),
        ("POST", "/socket.io/?EIO=4&transport=polling&sid=abc", False, "match"),
        ("OPTIONS", "/socket.io/?EIO=4&transport=polling", False, "match"),
        ("HEAD", "/socket.io/", False, "match"),
        ("GET", "/socket.io/?EIO=4&transport=websocket", True, "match"),
        ("GET", "/socket.io/deeper/path.js", False, "match"),
        ("PUT", "/socket.io/", False, "method_not_allowed"),  # engineio answers 405 too
        ("GET", "/socket.io", False, "redirect"),  # not engineio's (no trailing slash): Flask answers it
        ("GET", "/socket.iox/", False, "not_found"),
        ("GET", "/engine.io/", False, "not_found"),
    ],
)
def test_the_gate_forwards_what_engineio_serves(feisty, method, target, websocket, outcome):
    line = {"id": 1, "method": method, "path": target, "websocket": websocket}
    result = run_feisty(feisty, "match", SOCKETIO, "--batch", "--json", stdin=json.dumps(line) + "\n")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["outcome"] == outcome, verdict
    if outcome == "match":
        assert verdict["endpoint"].startswith("<engineio middleware"), verdict
