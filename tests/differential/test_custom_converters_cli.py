"""`feisty match` against Werkzeug itself on custom converters whose class defines its own `to_python`/`to_url`
(issue 11): the converted value is the argument (hex text to an int, a comma list to a list), a `ValidationError`
is Werkzeug's `NoMatch` (404, or 405 with the methods the walk saw), `redirect_to` targets are built with `to_url`,
a converter raising something else is the app's 500. The app's interpreter judges those requests
(`feisty_probe.py match-server`); everything else stays native.

Werkzeug 3.1 does not go on to the next rule after a `ValidationError`: `StateMachineMatcher.match` raises
`NoMatch` as soon as the converted rule's `to_python` rejects, even when a heavier rule would match the path. The
cases below pin that down against the real Werkzeug, whatever its version does.
"""
import json
import os
import pathlib
import subprocess
import sys
import uuid
import warnings

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import werkzeug_oracle  # noqa: E402

APP = r'''
import uuid

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError


class HexConverter(BaseConverter):
    regex = r"[0-9a-fA-F]+"

    def to_python(self, value):
        return int(value, 16)

    def to_url(self, value):
        return format(value, "x")


class ListConverter(BaseConverter):
    def to_python(self, value):
        return value.split(",")

    def to_url(self, values):
        return ",".join(values)


class EvenConverter(BaseConverter):
    regex = r"\d+"

    def to_python(self, value):
        if int(value) % 2:
            raise ValidationError()
        return int(value)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class PointConverter(BaseConverter):
    regex = r"-?\d+,-?\d+"

    def to_python(self, value):
        return Point(*map(int, value.split(",")))


class TokenConverter(BaseConverter):
    regex = r"[a-z0-9-]+"

    def to_python(self, value):
        return uuid.uuid5(uuid.NAMESPACE_URL, value)


class StrictConverter(BaseConverter):
    def to_python(self, value):
        if value == "boom":
            raise ValueError("not a valid strict value")
        return {"raw": value, "size": len(value), "ratio": len(value) / 4, "big": 10 ** 30}


class WordConverter(BaseConverter):  # regex only: feisty matches it natively
    regex = r"[a-z]+"


app = Flask(__name__)
app.url_map.converters.update(hex=HexConverter, list=ListConverter, even=EvenConverter, point=PointConverter,
                              token=TokenConverter, strict=StrictConverter, word=WordConverter)


def view(**kwargs):
    return "ok"


app.add_url_rule("/hex/<hex:n>", "hex", view)
app.add_url_rule("/list/<list:items>", "list", view)
# ValidationError with a second rule for the same path: the int rule (weight 50) is tried first and takes POST;
# a GET reaches the even rule, whose rejection is a 405 (the walk saw POST), not a match of anything else.
app.add_url_rule("/even/<even:n>", "even", view)
app.add_url_rule("/even/<int:n>", "any_number", view, methods=["POST"])
# ValidationError with a heavier rule that would match the same path (path, weight 200): still 404.
app.add_url_rule("/v/<even:n>", "v_even", view)
app.add_url_rule("/v/<path:rest>", "v_rest", view)
# ValidationError and nothing else: 404.
app.add_url_rule("/only/<even:n>", "only", view)
app.add_url_rule("/p/<point:at>", "point", view)
app.add_url_rule("/t/<token:t>", "token", view)
app.add_url_rule("/s/<strict:s>", "strict", view)
app.add_url_rule("/w/<word:w>", "word", view)
app.add_url_rule("/old/<hex:n>", "moved", view, redirect_to="/hex/<n>")
app.add_url_rule("/oldlist/<list:items>", "moved_list", view, redirect_to="/list/<items>")
app.add_url_rule("/pages/", "pages", view, defaults={"n": 255})
app.add_url_rule("/pages/<hex:n>", "pages", view)
app.add_url_rule("/mix/<int(max=5):a>/<even:b>", "mix", view)
app.add_url_rule("/ws/<hex:n>", "ws_hex", view, websocket=True)
'''

REQUESTS = [
    ("GET", "/hex/ff"), ("GET", "/hex/0"), ("GET", "/hex/DEADbeef"), ("GET", "/hex/" + "f" * 40), ("GET", "/hex/zz"),
    ("POST", "/hex/ff"), ("GET", "/hex/ff/"), ("GET", "/hex/ff?x=1"),
    ("GET", "/list/a,b,c"), ("GET", "/list/a"), ("GET", "/list/a,,b"), ("GET", "/list/%C3%A9,%2C"),
    ("GET", "/even/4"), ("GET", "/even/3"), ("POST", "/even/3"), ("PUT", "/even/3"), ("HEAD", "/even/8"),
    ("GET", "/v/4"), ("GET", "/v/3"), ("GET", "/v/3/x"), ("GET", "/v/abc"),
    ("GET", "/only/2"), ("GET", "/only/3"), ("GET", "/only/x"), ("POST", "/only/3"),
    ("GET", "/p/1,2"), ("GET", "/p/-3,40"), ("GET", "/t/abc-1"), ("GET", "/s/hello"), ("GET", "/s/boom"),
    ("GET", "/w/abc"), ("GET", "/w/ABC"),
    ("GET", "/old/1f"), ("GET", "/old/1f?q=2"), ("GET", "/oldlist/a,b"), ("GET", "/pages/"), ("GET", "/pages/ff"),
    ("GET", "/mix/9/3"), ("GET", "/mix/9/4"), ("GET", "/mix/3/3"), ("GET", "/mix/3/4"),
    ("GET", "/nope"), ("GET", "//hex/ff"), ("GET", "/hex//ff"),
]
WEBSOCKET_REQUESTS = [("GET", "/ws/ff"), ("GET", "/hex/ff"), ("GET", "/ws/zz")]


@pytest.fixture(scope="module")
def app_under_test(tmp_path_factory):
    import importlib.util

    path = tmp_path_factory.mktemp("converters") / "converters_app.py"
    path.write_text(APP)
    spec = importlib.util.spec_from_file_location("converters_app_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module.app


def json_value(value):
    """What feisty prints for a converted value: JSON types as they are, a UUID as its str, anything else as repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return repr(value)


def werkzeug_says(flask_app, method, target, host="localhost", websocket=False):
    """Werkzeug's verdict (as the dev server routes the request) in `feisty match --json`'s shape."""
    from werkzeug.exceptions import BadHost, MethodNotAllowed, NotFound
    from werkzeug.routing import RequestRedirect, WebsocketMismatch

    fields = [("Connection", "Upgrade"), ("Upgrade", "websocket")] if websocket else []
    environ = werkzeug_oracle.request_environ(method, target, host, fields)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            adapter = flask_app.create_url_adapter(flask_app.request_class(environ))
            endpoint, args = adapter.match()
        except RequestRedirect as e:
            return {"outcome": "redirect", "status": 308, "location": e.new_url}
        except MethodNotAllowed as e:
            return {"outcome": "method_not_allowed", "status": 405, "allowed": sorted(e.valid_methods)}
        except WebsocketMismatch:
            return {"outcome": "websocket_mismatch", "status": 400}
        except BadHost:
            return {"outcome": "bad_host", "status": 400}
        except NotFound:
            return {"outcome": "not_found", "status": 404}
        except Exception:  # noqa: BLE001 - the converter raised: the app answers 500
            return {"outcome": "error", "status": 500}
    return {"outcome": "match", "status": 200, "endpoint": endpoint,
            "args": {name: json_value(value) for name, value in args.items()}}


def feisty_batch(feisty, app_file, requests):
    lines = [{"id": i, "method": m, "path": t, "host": "localhost", "websocket": w}
             for i, (m, t, w) in enumerate(requests)]
    result = subprocess.run([feisty, "match", str(app_file), "--batch", "--json"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, input="".join(json.dumps(line) + "\n" for line in lines))
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(got) == len(requests)
    for verdict in got:
        verdict.pop("id")
        if verdict["outcome"] == "error":
            assert verdict.pop("error")  # the converter's exception, for people
    return got


def test_custom_converters_agree_with_werkzeug(feisty, app_under_test):
    app_file, flask_app = app_under_test
    requests = [(m, t, False) for m, t in REQUESTS] + [(m, t, True) for m, t in WEBSOCKET_REQUESTS]
    got = feisty_batch(feisty, app_file, requests)
    disagreements = [
        f"{'ws' if w else 'http'} {m} {t}: feisty {verdict} != werkzeug {expected}"
        for (m, t, w), verdict in zip(requests, got)
        if verdict != (expected := werkzeug_says(flask_app, m, t, websocket=w))
    ]
    assert not disagreements, "\n".join(disagreements)
    outcomes = {v["outcome"] for v in got}
    assert outcomes == {"match", "not_found", "method_not_allowed", "redirect", "error", "websocket_mismatch"}


def test_values_are_what_to_python_returned(feisty, app_under_test):
    app_file, _ = app_under_test
    got = feisty_batch(feisty, app_file, [("GET", "/hex/ff", False), ("GET", "/list/a,b", False),
                                          ("GET", "/even/3", False), ("GET", "/only/3", False),
                                          ("GET", "/v/3", False), ("GET", "/p/1,2", False),
                                          ("GET", "/s/abc", False), ("GET", "/old/1f", False)])
    assert got[0]["args"] == {"n": 255}
    assert got[1]["args"] == {"items": ["a", "b"]}
    assert got[2] == {"outcome": "method_not_allowed", "status": 405, "allowed": ["OPTIONS", "POST"]}
    assert got[3] == {"outcome": "not_found", "status": 404}
    assert got[4] == {"outcome": "not_found", "status": 404}  # the path rule would match: Werkzeug does not try it
    assert got[5]["args"] == {"at": "Point(1, 2)"}
    assert got[6]["args"] == {"s": {"big": 10 ** 30, "ratio": 0.75, "raw": "abc", "size": 3}}
    assert got[7] == {"outcome": "redirect", "status": 308, "location": "http://localhost/hex/1f"}


def test_a_single_request_is_judged_by_the_app_too(feisty, app_under_test):
    app_file, _ = app_under_test
    for target, expected in [("/hex/ff", {"outcome": "match", "status": 200, "endpoint": "hex", "args": {"n": 255}}),
                             ("/only/3", {"outcome": "not_found", "status": 404})]:
        result = subprocess.run([feisty, "match", str(app_file), "GET", target, "--json"], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == expected
    text = subprocess.run([feisty, "match", str(app_file), "GET", "/s/boom"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert text.stdout.startswith("500 error ") and "not a valid strict value" in text.stdout


@pytest.mark.parametrize("method,target", [
    ("GET", "/list/a,b,c"), ("GET", "/even/3"), ("PUT", "/even/3"), ("GET", "/v/3"), ("GET", "/old/1f?q=2"),
    ("GET", "/oldlist/a,b"), ("GET", "/pages/"), ("GET", "/mix/3/4"), ("GET", "/w/abc"),
])
def test_a_single_request_agrees_with_werkzeug(feisty, app_under_test, method, target):
    """One `feisty match APP METHOD TARGET --json` per case (its own interpreter each time), against Werkzeug."""
    app_file, flask_app = app_under_test
    result = subprocess.run([feisty, "match", str(app_file), method, target, "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == werkzeug_says(flask_app, method, target)


def test_static_tables_and_plain_apps_never_start_the_interpreter(feisty, app_under_test, tmp_path):
    """--static has no `overrides`: the regex decides, the text is the argument (the documented limit)."""
    app_file, _ = app_under_test
    result = subprocess.run([feisty, "match", str(app_file), "--static", "GET", "/only/3", "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["outcome"] in ("match", "not_found")  # what the static reading makes of it, never Python's


SPY_APP = r'''
import os

from flask import Flask
from werkzeug.routing import BaseConverter, MapAdapter

LOG = os.environ["FEISTY_TEST_SPY_LOG"]
with open(LOG, "a") as log:
    log.write(f"load {os.getpid()}\n")
_match = MapAdapter.match


def spied_match(self, *args, **kwargs):
    with open(LOG, "a") as log:
        log.write(f"match {os.getpid()} {self.path_info}\n")
    return _match(self, *args, **kwargs)


MapAdapter.match = spied_match


class HexConverter(BaseConverter):
    regex = r"[0-9a-f]+"

    def to_python(self, value):
        return int(value, 16)


class WordConverter(BaseConverter):  # regex only
    regex = r"[a-z]+"


app = Flask(__name__)
app.url_map.converters.update(hex=HexConverter, word=WordConverter)
app.add_url_rule("/w/<word:w>", "word", lambda w: "ok")
app.add_url_rule("/plain", "plain", lambda: "ok")
app.add_url_rule("/u/<int:x>", "number", lambda x: "ok")
'''


@pytest.mark.parametrize("with_hex_rule", [True, False])
def test_one_interpreter_for_the_batch_asked_only_about_converter_rules(feisty, tmp_path, with_hex_rule):
    """The app's interpreter starts once per batch (none without such rules) and judges only the lines that reach
    a rule with a converter's own `to_python`: the app's spied `MapAdapter.match` logs every question it gets."""
    source = SPY_APP + ('app.add_url_rule("/hex/<hex:n>", "hex", lambda n: "ok")\n' if with_hex_rule else "")
    app_file = tmp_path / "spy_app.py"
    app_file.write_text(source)
    log = tmp_path / "spy.log"
    targets = ["/hex/ff", "/w/abc", "/plain", "/u/3", "/hex/zz", "/hex/1", "/nope", "/hex/ff", "/static/x.css"]
    lines = "".join(json.dumps({"id": i, "method": "GET", "path": t}) + "\n" for i, t in enumerate(targets))
    result = subprocess.run([feisty, "match", str(app_file), "--batch", "--json"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, input=lines, env={**os.environ, "FEISTY_TEST_SPY_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["outcome"] for v in verdicts] == (
        ["match", "match", "match", "match", "not_found", "match", "not_found", "match", "match"] if with_hex_rule
        else ["not_found", "match", "match", "match", "not_found", "not_found", "not_found", "not_found", "match"])
    events = [line.split(" ", 2) for line in log.read_text().splitlines()]
    loads = [pid for kind, pid, *_ in events if kind == "load"]
    asked = [(pid, rest[0]) for kind, pid, *rest in events if kind == "match"]
    if not with_hex_rule:
        assert len(loads) == 1 and asked == []  # the route extraction only
        return
    assert len(loads) == 2  # the route extraction, then one interpreter for the whole batch
    assert [path for _, path in asked] == ["/hex/ff", "/hex/1", "/hex/ff"]  # `/hex/zz` fails the regex natively
    assert {pid for pid, _ in asked} == {loads[1]}
    assert verdicts[0]["args"] == {"n": 255} and verdicts[5]["args"] == {"n": 1}
