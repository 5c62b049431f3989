"""`feisty match` against Werkzeug itself on issue 11's three classes, through the real binary and the real probe.

- Which characters are digits: the int and float converters' ``\\d`` is the app's interpreter's (its Unicode
  version); the probe reports it (``digit_ranges``). Kawi digits (U+11F50..U+11F59, Unicode 15) are no digits for
  CPython 3.11 (Unicode 14): Werkzeug answers 404, and so must feisty.
- ``redirect_to`` targets are joined with ``urljoin``, which splits ``;params`` off the last segment (a bare
  trailing ``;`` disappears, dot segments before it are removed) for ``http`` but not for ``ws``.
- A Host that ``Map.bind`` cannot IDNA-encode (``a..b``, a leading dot, a label over 63 characters) is Werkzeug's
  ``BadHost``, a 400 (``bad_host``), whatever the path.

Each case is judged by Werkzeug as the dev server would receive it (werkzeug_oracle.verdict) and by
``feisty match --batch --json``; every case must agree.
"""
import json
import pathlib
import subprocess
import sys
import unicodedata

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import werkzeug_oracle  # noqa: E402

HANDSHAKE = [("Connection", "Upgrade"), ("Upgrade", "websocket")]

APP = r'''
from flask import Flask
from werkzeug.routing import BaseConverter


class RegexConverter(BaseConverter):
    def __init__(self, map, *items):
        super().__init__(map)
        self.regex = items[0]


app = Flask(__name__)
app.url_map.converters["regex"] = RegexConverter


def view(**kwargs):
    return "ok"


app.add_url_rule("/n/<int:n>", "n", view)
app.add_url_rule("/s/<int(signed=True):n>", "s", view)
app.add_url_rule("/m/<int(max=50):n>", "m", view)
app.add_url_rule("/f/<float:x>", "f", view)
app.add_url_rule("/v<int:a>.<int:b>", "ab", view)
app.add_url_rule(r"/r/<regex('\d+'):d>", "r", view)
app.add_url_rule(r"/rn/<regex('[\d_]\D'):d>", "rn", view)
app.add_url_rule(r"/mix/<int:a>-<regex('\d'):b>", "mix", view)
REDIRECTS = ["x;y", "x;", "a/..;", "a/..;p", "./;", ".;x", ";", ";x", "/a/b;", "/a/b;c/d", "a/.;", "x;y/..",
             "//other.test/a;", "/a;?q=1", "../t/<n>;", "t/<n>/..;k", "/a/./b;;"]
for index, target in enumerate(REDIRECTS):
    app.add_url_rule(f"/go{index}/<n>", f"go{index}", view, redirect_to=target)
    app.add_url_rule(f"/ws{index}/<n>", f"ws{index}", view, redirect_to=target, websocket=True)
'''

SUBDOMAINS = '''
from flask import Flask

app = Flask(__name__, subdomain_matching=True)
app.config["SERVER_NAME"] = "example.com"
app.add_url_rule("/", "index", lambda: "ok")
app.add_url_rule("/", "api", lambda: "ok", subdomain="api")
'''

BROKEN_SERVER_NAME = '''
from flask import Flask

app = Flask(__name__)
app.config["SERVER_NAME"] = "a..b"
app.add_url_rule("/", "index", lambda: "ok")
'''

KAWI = [chr(code) for code in range(0x11F50, 0x11F5A)]
# One digit of each kind: ASCII, Arabic-Indic, Devanagari, fullwidth, math bold, Kawi (Unicode 15), Nag Mundari
# (Unicode 15), and Unicode 16 ones (Garay, Outlined).
DIGITS = ["7", "\u0663", "\u096b", "\uff15", "\U0001d7d0", KAWI[0], KAWI[3], KAWI[9], "\U0001e4f5", "\U00010d43",
          "\U0001ccf5"]


def quoted(text):
    return "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


DIGIT_TARGETS = [
    target
    for digit in DIGITS
    for target in (f"/n/{digit}", f"/n/1{digit}", f"/s/-{digit}", f"/m/{digit}", f"/f/1.{digit}", f"/f/{digit}.5",
                   f"/v{digit}.{digit}", f"/r/{digit}", f"/rn/{digit}x", f"/mix/{digit}-{digit}")
]
REDIRECT_TARGETS = [f"/go{i}/7" for i in range(17)] + [f"/go{i}/a;b" for i in (0, 14)]
HOSTS = ["localhost", "a..b", ".a", "a.", "..", ".", "a" * 63, "a" * 64, "x" * 64 + ".com", "a." + "b" * 64,
         "a." + "b" * 63, "a..b:5000", "a..b:80", "[::1]", "[::1]:5000", "bad_host", "a..b:x", "-a.b", "A..B", "a.b..",
         "a.b.", ".example.com", "a..b.example.com", "a..b:", "a_b..c", "..:5000", "a" * 64 + ":80",
         "a" * 64 + ":8080", "api.example.com", "x.api.example.com", "example.com"]


def load(tmp_path_factory, name, source):
    import importlib.util

    path = tmp_path_factory.mktemp(name) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module.app


def werkzeug_says(flask_app, method, target, host, websocket):
    """Werkzeug's verdict in `feisty match --json`'s shape."""
    expect = werkzeug_oracle.verdict(flask_app, method, target, host, HANDSHAKE if websocket else [])
    kind = expect["kind"]
    if kind == "match":
        converters = {"int": int, "float": float, "str": str}
        return {"outcome": "match", "status": 200, "endpoint": expect["endpoint"],
                "args": {name: converters[tag](text) for name, tag, text in expect["args"]}}
    if kind == "redirect":
        return {"outcome": "redirect", "status": 308, "location": expect["location"]}
    if kind == "405":
        return {"outcome": "method_not_allowed", "status": 405, "allowed": expect["allowed"]}
    if kind == "websocket_mismatch":
        return {"outcome": "websocket_mismatch", "status": 400}
    if kind == "bad_host":
        return {"outcome": "bad_host", "status": 400}
    assert kind == "404", expect
    return {"outcome": "not_found", "status": 404}


def agreement(feisty, app_file, flask_app, requests):
    """Runs the requests through `feisty match --batch --json`; returns (disagreements, outcomes seen)."""
    lines = [{"id": i, "method": m, "path": t, "host": h, "websocket": w} for i, (m, t, h, w) in enumerate(requests)]
    result = subprocess.run([feisty, "match", str(app_file), "--batch", "--json"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, input="".join(json.dumps(line) + "\n" for line in lines))
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(got) == len(requests)
    disagreements = []
    for (method, target, host, websocket), verdict in zip(requests, got):
        verdict.pop("id")
        expected = werkzeug_says(flask_app, method, target, host, websocket)
        if verdict != expected:
            disagreements.append(f"{'ws' if websocket else 'http'} {method} {target} host={host!r}: "
                                 f"{verdict} != {expected}")
    return disagreements, [v["outcome"] for v in got]


def test_the_interpreter_is_the_one_werkzeug_runs_on():
    # The Kawi cases below only prove something where the interpreter's Unicode predates Kawi.
    if unicodedata.unidata_version >= "15":
        pytest.skip(f"this interpreter knows Unicode {unicodedata.unidata_version}: Kawi digits are digits here")
    assert not any(c.isdecimal() for c in KAWI)


def test_digits_are_the_apps_interpreters(feisty, tmp_path_factory):
    app_file, flask_app = load(tmp_path_factory, "digits", APP)
    requests = [("GET", quoted(t), "localhost", False) for t in DIGIT_TARGETS]
    disagreements, outcomes = agreement(feisty, app_file, flask_app, requests)
    assert not disagreements, "\n".join(disagreements)
    assert {"match", "not_found"} <= set(outcomes)
    # Kawi is a digit for Swift's own table: this is what the probe's `digit_ranges` changed.
    kawi = [o for (_, t, _, _), o in zip(requests, outcomes) if t == quoted(f"/n/{KAWI[3]}")]
    assert kawi == ["match" if KAWI[3].isdecimal() else "not_found"]


def test_redirect_to_joins_like_urljoin(feisty, tmp_path_factory):
    app_file, flask_app = load(tmp_path_factory, "redirects", APP)
    requests = [("GET", t, "localhost", False) for t in REDIRECT_TARGETS]
    requests += [("GET", t.replace("/go", "/ws"), "localhost", True) for t in REDIRECT_TARGETS]
    requests += [("GET", t, "api.example.com:5000", False) for t in REDIRECT_TARGETS[:5]]
    disagreements, outcomes = agreement(feisty, app_file, flask_app, requests)
    assert not disagreements, "\n".join(disagreements)
    assert set(outcomes) == {"redirect"}


# With SERVER_NAME configured, Map.bind encodes it, not the Host: a valid one never fails, a broken one always does.
@pytest.mark.parametrize(("source", "outcomes_expected"), [
    ("APP", {"bad_host", "match", "not_found", "method_not_allowed"}),
    ("SUBDOMAINS", {"match", "not_found"}),
    ("BROKEN_SERVER_NAME", {"bad_host"}),
])
def test_hosts_werkzeug_cannot_bind(feisty, tmp_path_factory, source, outcomes_expected):
    app_file, flask_app = load(tmp_path_factory, source.lower(), globals()[source])
    requests = [(method, target, host, False) for host in HOSTS for method, target in
                [("GET", "/"), ("GET", "/n/1"), ("POST", "/n/1"), ("GET", "/nope")]]
    disagreements, outcomes = agreement(feisty, app_file, flask_app, requests)
    assert not disagreements, "\n".join(disagreements)
    assert set(outcomes) == outcomes_expected
