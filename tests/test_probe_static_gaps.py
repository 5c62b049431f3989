"""Issue 11: where app.run serves (data flow to host/port, a package's __main__.py, no app.run at all) and
decorators between @app.route and the view (the endpoint is the name of the function Flask is handed)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import PROBE, REPO, free_port
from test_launch import launches  # noqa: F401 - `launches` is a fixture

FEISTY = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")


def probe(app, *args, cwd, env=None):
    """`feisty_probe.py routes APP ARGS` in an environment without PORT/HOST unless ``env`` sets them."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "APP_PORT", "SHOP_PORT")}
    environment.update(env or {})
    completed = subprocess.run([sys.executable, str(PROBE), "routes", str(app), *args], cwd=cwd, env=environment,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)


def both(app, cwd, env=None):
    """(runtime, static) tables of the same app."""
    return probe(app, cwd=cwd, env=env), probe(app, "--static", cwd=cwd, env=env)


# --- data flow to app.run(host=..., port=...) ------------------------------------------------------------------

FLOW_CASES = [
    # (source, env, host, port)
    ('PORT = 6001\nHOST = "0.0.0.0"\nif __name__ == "__main__":\n    app.run(host=HOST, port=PORT)\n',
     {}, "0.0.0.0", 6001),
    ('if __name__ == "__main__":\n    port = 6002\n    host = "0.0.0.0"\n    app.run(host=host, port=port)\n',
     {}, "0.0.0.0", 6002),
    ('def main():\n    port = int(os.environ.get("PORT", "5050"))\n    app.run(port=port)\n'
     'if __name__ == "__main__":\n    main()\n', {}, None, 5050),
    ('def main():\n    port = int(os.environ.get("PORT", "5050"))\n    app.run(port=port)\n'
     'if __name__ == "__main__":\n    main()\n', {"PORT": "7123"}, None, 7123),
    ('port = int(os.getenv("APP_PORT", 6003))\nhost = os.getenv("HOST", "0.0.0.0")\n'
     'if __name__ == "__main__":\n    app.run(host, port)\n', {}, "0.0.0.0", 6003),
    ('port = int(os.getenv("APP_PORT", 6003))\nhost = os.getenv("HOST", "0.0.0.0")\n'
     'if __name__ == "__main__":\n    app.run(host, port)\n', {"HOST": "127.0.0.2", "APP_PORT": "6004"},
     "127.0.0.2", 6004),
    ('from os import environ\nDEFAULT = "6005"\nPORT = int(environ.get("PORT", DEFAULT))\n'
     'if __name__ == "__main__":\n    app.run(port=PORT)\n', {}, None, 6005),
    ('PORT = int(os.environ.get("PORT") or 6006)\nif __name__ == "__main__":\n    app.run(port=PORT)\n',
     {}, None, 6006),
    ('if __name__ == "__main__":\n    port = 6007\n    port = 6008\n    app.run(port=port)\n    port = 1\n',
     {}, None, 6008),
    # Not followed: a parameter, a value computed by a call feisty cannot evaluate.
    ('def main(port):\n    app.run(port=port)\nif __name__ == "__main__":\n    main(6009)\n', {}, None, None),
    ('import random\nif __name__ == "__main__":\n    app.run(port=random.randint(6000, 7000))\n', {}, None, None),
]


@pytest.mark.parametrize("source,env,host,port", FLOW_CASES)
def test_app_run_data_flow(tmp_path, source, env, host, port):
    (tmp_path / "app.py").write_text("import os\nfrom flask import Flask\napp = Flask(__name__)\n" + source)
    for table in both("app.py", tmp_path, env):
        assert (table["host"], table["port"]) == (host, port), (table["source"], table["unresolved"])
        assert table["run_call"] is not None and table["run_call"].startswith("app.py:")
        if port is None:
            assert any("port of app.run()" in line for line in table["unresolved"]), table["unresolved"]


@pytest.mark.parametrize("env,port", [({}, 6201), ({"APP_PORT": "6202"}, 6202)])
def test_app_run_port_from_a_constant_of_the_apps_own_module(tmp_path, env, port):
    (tmp_path / "config.py").write_text('import os\nPORT = int(os.environ.get("APP_PORT", 6201))\n'
                                        'HOST = "0.0.0.0"\n')
    (tmp_path / "app.py").write_text("from flask import Flask\nfrom config import PORT, HOST as BIND\n"
                                     "app = Flask(__name__)\nif __name__ == '__main__':\n"
                                     "    app.run(host=BIND, port=PORT)\n")
    for table in both("app.py", tmp_path, env):
        assert (table["host"], table["port"], table["unresolved"]) == ("0.0.0.0", port, [])


def test_no_app_run_reports_null_host_and_port(tmp_path):
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    for table in both("app.py", tmp_path):
        assert (table["host"], table["port"], table["run_call"]) == (None, None, None)


# --- a package run as `python -m pkg` ---------------------------------------------------------------------------

def write_package(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text(textwrap.dedent("""\
        from flask import Flask
        app = Flask(__name__)

        @app.route("/")
        def index():
            import sys
            return "served by " + getattr(sys.modules.get("__main__"), "__spec__", None).name
    """))
    (tmp_path / "shop" / "settings.py").write_text("DEFAULT_PORT = '5077'\n")
    (tmp_path / "shop" / "__main__.py").write_text(textwrap.dedent("""\
        import os
        from shop import app
        from .settings import DEFAULT_PORT

        def main():
            port = int(os.environ.get("SHOP_PORT", DEFAULT_PORT))
            app.run(host="0.0.0.0", port=port)

        if __name__ == "__main__":
            main()
    """))


def test_package_main_reports_its_app_run(tmp_path):
    write_package(tmp_path)
    for app in ("shop", "shop/"):
        runtime, static = both(app, tmp_path)
        for table in (runtime, static):
            assert (table["host"], table["port"], table["run_call"]) == ("0.0.0.0", 5077, "shop/__main__.py:7")
        assert static["rules"] == runtime["rules"]


def test_package_main_is_launched_as_python_dash_m(launches, tmp_path):  # noqa: F811
    write_package(tmp_path)
    port = free_port()
    launch = launches("shop/", port, tmp_path / "report.json", cwd=tmp_path)
    report = launch.wait_report()
    assert report["requested"] == {"host": "0.0.0.0", "port": 5077}  # __main__.py's app.run ran
    assert report["run_call"] == "shop/__main__.py:7"
    response = launch.wait_http("/")
    assert response.status_code == 200 and response.text == "served by shop.__main__"


# --- feisty routes: the binary prints null host/port and says where feisty run listens ---------------------------

def run_feisty(*args, cwd):
    if not os.access(FEISTY, os.X_OK):
        pytest.fail(f"feisty binary not found at {FEISTY}: run `swift build` first")
    return subprocess.run([FEISTY, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("extra", [[], ["--static"]])
def test_feisty_routes_without_app_run(tmp_path, extra):
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n"
                                     "@app.route('/')\ndef index():\n    return 'x'\n")
    result = run_feisty("routes", "app.py", "--json", *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert "port" in table and "host" in table and "run_call" in table
    assert (table["port"], table["host"], table["run_call"]) == (None, None, None)
    text = run_feisty("routes", "app.py", *extra, cwd=tmp_path)
    assert "app.run: not found (feisty run listens on 127.0.0.1:5000)" in text.stdout, text.stdout


def test_feisty_routes_text_names_the_app_run_call(tmp_path):
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\nPORT = 6111\n"
                                     "if __name__ == '__main__':\n    app.run(port=PORT)\n")
    text = run_feisty("routes", "app.py", "--static", cwd=tmp_path)
    assert "app.run serves on 127.0.0.1:6111 (app.py:5)" in text.stdout, text.stdout


# --- decorators between @app.route and the view ------------------------------------------------------------------

DECORATED = """\
import functools
from functools import wraps
from flask import Flask
from helpers import from_helper

app = Flask(__name__)

def plain(f):
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper

def kept(f):
    @wraps(f)
    def inner(*a, **k):
        return f(*a, **k)
    return inner

def kept_by_functools(f):
    @functools.wraps(f)
    def inner2(*a, **k):
        return f(*a, **k)
    return inner2

def updated(f):
    def w(*a, **k):
        return f(*a, **k)
    functools.update_wrapper(w, f)
    return w

def role(name):
    def decorator(f):
        def guarded(*a, **k):
            return f(*a, **k)
        return guarded
    return decorator

def identity(f):
    return f

@app.route("/a")
@plain
def a():
    return "a"

@app.route("/b")
@kept
def b():
    return "b"

@app.route("/c")
@role("admin")
def c():
    return "c"

@app.route("/d")
@updated
def d():
    return "d"

@app.route("/e")
@identity
@kept_by_functools
def e():
    return "e"

@app.route("/f")
@from_helper
def f():
    return "f"

@plain
@app.route("/g")
def g():
    return "g"
"""

HELPERS = """\
def from_helper(view):
    def helper_wrapper(*a, **k):
        return view(*a, **k)
    return helper_wrapper
"""


def test_decorators_name_the_endpoint_as_flask_does(tmp_path):
    (tmp_path / "app.py").write_text(DECORATED)
    (tmp_path / "helpers.py").write_text(HELPERS)
    runtime, static = both("app.py", tmp_path)
    endpoints = [(r["rule"], r["endpoint"]) for r in runtime["rules"]]
    assert endpoints == [("/static/<path:filename>", "static"), ("/a", "wrapper"), ("/b", "b"), ("/c", "guarded"),
                         ("/d", "d"), ("/e", "e"), ("/f", "helper_wrapper"), ("/g", "g")]
    assert static["rules"] == runtime["rules"]
    assert static["unresolved"] == []


def test_a_decorator_feisty_cannot_follow_is_unresolved(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent("""\
        from flask import Flask
        from not_installed_anywhere import mystery
        import somelib

        app = Flask(__name__)

        def opaque(f):
            return somelib.wrap(f)

        @app.route("/x")
        @mystery
        def x():
            return "x"

        @app.route("/y")
        @opaque
        def y():
            return "y"

        @mystery
        @app.route("/z")
        def z():
            return "z"
    """))
    static = probe("app.py", "--static", cwd=tmp_path)
    assert [(r["rule"], r["endpoint"]) for r in static["rules"][1:]] == [("/x", "x"), ("/y", "y"), ("/z", "z")]
    unresolved = static["unresolved"]
    assert any(line.startswith("app.py:11: @mystery") and "'x'" in line for line in unresolved), unresolved
    assert any(line.startswith("app.py:16: @opaque") and "'y'" in line for line in unresolved), unresolved
    assert len(unresolved) == 2, unresolved  # @mystery above the route does not change the endpoint
