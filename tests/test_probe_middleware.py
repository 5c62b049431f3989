"""WSGI middleware around the app: what Engine.IO's middleware (Flask-SocketIO, python-socketio) serves before
Flask's routing becomes rules of the table; middleware feisty does not know is reported, never guessed at."""
import textwrap

import pytest

from conftest import free_port, run_probe
from test_launch import launches, write_app  # noqa: F401 - `launches` is a fixture

POLLING = ["GET", "HEAD", "OPTIONS", "POST"]
WEBSOCKET = ["GET", "HEAD"]
ADVICE = "paths it serves itself are not in the route table (use --forward-unknown)"


def engineio(prefix):
    """The rules standing for an engineio.WSGIApp serving `prefix` (long-polling and CORS, then WebSocket)."""
    return [
        (prefix, POLLING, "<engineio middleware>", False),
        (prefix + "<path:rest>", POLLING, "<engineio middleware>", False),
        (prefix, WEBSOCKET, "<engineio middleware: websocket>", True),
        (prefix + "<path:rest>", WEBSOCKET, "<engineio middleware: websocket>", True),
    ]


def middleware_rules(table):
    return [(r["rule"], r["methods"], r["endpoint"], r["websocket"]) for r in table["rules"]
            if r["endpoint"].startswith("<")]


def app_rules(table):
    return [r["rule"] for r in table["rules"] if not r["endpoint"].startswith("<")]


HEAD = """
from flask import Flask
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix


class Mine:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

"""
ROUTE = """

@app.route("/")
def index():
    return "ok"
"""

# name -> (the app's body after HEAD, expected middleware rules, note fragments; static: the same unless listed)
CASES = {
    "default": ("app = Flask(__name__)\nsocketio = SocketIO(app)\n", engineio("/socket.io/"), []),
    "custom_path": ('app = Flask(__name__)\nsocketio = SocketIO(app, path="/ws-io")\n', engineio("/ws-io/"), []),
    "factory_init_app": (
        'socketio = SocketIO()\n\n\ndef create_app():\n    app = Flask(__name__)\n'
        '    socketio.init_app(app, path="live/io")\n    return app\n',
        engineio("/live/io/"), []),
    "proxyfix_outside": (
        "app = Flask(__name__)\nsocketio = SocketIO(app)\napp.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)\n",
        engineio("/socket.io/"), []),
    "proxyfix_inside": (
        "app = Flask(__name__)\napp.wsgi_app = ProxyFix(app.wsgi_app)\nsocketio = SocketIO(app)\n",
        engineio("/socket.io/"), []),
    "proxyfix_twice_and_two_servers": (
        'app = Flask(__name__)\napp.wsgi_app = ProxyFix(app.wsgi_app)\nfirst = SocketIO(app, path="one")\n'
        'app.wsgi_app = ProxyFix(app.wsgi_app)\nsecond = SocketIO(app, path="two")\n',
        engineio("/two/") + engineio("/one/"), []),
    "unknown": ("app = Flask(__name__)\napp.wsgi_app = Mine(app.wsgi_app)\n", [],
                [f"app.wsgi_app is wrapped by app.Mine; {ADVICE}"]),
    "unknown_outside_socketio": (
        "app = Flask(__name__)\nsocketio = SocketIO(app)\napp.wsgi_app = Mine(app.wsgi_app)\n",
        engineio("/socket.io/"), [f"app.wsgi_app is wrapped by app.Mine; {ADVICE}"]),
}
# Static extraction names the assignment by its source line.
STATIC_NOTES = {
    name: [f"app.py:{(HEAD + CASES[name][0]).splitlines().index('app.wsgi_app = Mine(app.wsgi_app)') + 1}: "
           f"app.wsgi_app is wrapped by Mine(app.wsgi_app); {ADVICE}"]
    for name in ("unknown", "unknown_outside_socketio")
}


@pytest.mark.parametrize("name", CASES)
def test_runtime_and_static_tables(tmp_path, name):
    body, expected, notes = CASES[name]
    (tmp_path / "app.py").write_text(HEAD + body + (ROUTE if "create_app" not in body else ""))
    runtime = run_probe("routes", "app.py", cwd=tmp_path)
    assert runtime.status == 0, runtime.json
    assert middleware_rules(runtime.json) == expected
    assert runtime.json["unresolved"] == notes
    assert app_rules(runtime.json)[0] == "/static/<path:filename>"
    # The middleware answers first: its rules come first, positions renumbered over the whole table.
    assert [r["registration_index"] for r in runtime.json["rules"]] == list(range(len(runtime.json["rules"])))
    assert all(r["endpoint"].startswith("<") for r in runtime.json["rules"][:len(expected)])

    static = run_probe("routes", "app.py", "--static", cwd=tmp_path)
    assert static.status == 0, static.json
    assert static.json["unresolved"] == STATIC_NOTES.get(name, notes)
    assert static.json["rules"] == runtime.json["rules"]


def test_the_socketio_example(repo):
    table = run_probe("routes", "examples/socketio/app.py").json
    assert middleware_rules(table) == engineio("/socket.io/")
    assert app_rules(table) == ["/static/<path:filename>", "/"]
    assert table["unresolved"] == []
    rest = table["rules"][1]["converters"]
    assert rest == [{"variable": "rest", "converter": "path", "kind": "path", "regex": "[^/].*?", "weight": 200,
                     "part_isolating": False}]
    assert {(r["strict_slashes"], r["merge_slashes"], r["subdomain"], r["host"], r["defaults"], r["alias"])
            for r in table["rules"][:4]} == {(True, True, "", None, None, False)}


def test_werkzeug_matches_the_rules_as_the_middleware_serves(tmp_path):
    """The emitted rules, rebuilt as Werkzeug rules, match every path engineio.WSGIApp takes and no other."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import Map, RequestRedirect, Rule

    (tmp_path / "app.py").write_text(HEAD + 'app = Flask(__name__)\nsocketio = SocketIO(app, path="sio")\n')
    table = run_probe("routes", "app.py", cwd=tmp_path).json
    url_map = Map([Rule(r["rule"], endpoint=r["endpoint"], methods=r["methods"], websocket=r["websocket"])
                   for r in table["rules"] if r["endpoint"].startswith("<")])
    adapter = url_map.bind("localhost")
    for path in ("/sio/", "/sio/x", "/sio/a/b.js", "/sio/%3F"):
        for method in ("GET", "POST", "OPTIONS", "HEAD"):
            assert adapter.match(path, method)[0] == "<engineio middleware>", (method, path)
        assert adapter.match(path, "GET", websocket=True)[0] == "<engineio middleware: websocket>"
        with pytest.raises(MethodNotAllowed):  # engineio answers 405 itself
            adapter.match(path, "PUT")
    for path in ("/", "/si", "/sioo/", "/x/sio/"):
        with pytest.raises(NotFound):
            adapter.match(path, "GET")
    with pytest.raises(RequestRedirect):  # "/sio" is not engineio's; Flask answers it (the gate forwards redirects)
        adapter.match("/sio", "GET")


def test_python_socketio_wsgiapp_with_static_files(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import socketio
        from flask import Flask

        app = Flask(__name__)
        sio = socketio.Server(async_mode="threading")
        app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app, socketio_path="rt",
                                        static_files={"/client": "public/", "/docs/": "docs/", "/x<y": "z"})
    """))
    table = run_probe("routes", "app.py", cwd=tmp_path).json
    assert middleware_rules(table) == engineio("/rt/") + [
        (rule, None, "<engineio static_files>", False)
        for rule in ("/client", "/client/", "/client/<path:rest>", "/docs/", "/docs/<path:rest>")
    ]
    assert table["unresolved"] == ["socketio.middleware.WSGIApp serves static_files['/x<y'], which the route table "
                                   "cannot express; those paths are not in it (use --forward-unknown)"]
    # Static extraction does not follow socketio.WSGIApp(...): it says so and adds nothing.
    static = run_probe("routes", "app.py", "--static", cwd=tmp_path).json
    assert middleware_rules(static) == []
    assert len(static["unresolved"]) == 1 and static["unresolved"][0].startswith(
        "app.py:7: app.wsgi_app is wrapped by socketio.WSGIApp(sio, app.wsgi_app")


@pytest.mark.parametrize("static", [False, True], ids=["runtime", "static"])
def test_host_and_subdomain_matching_apps_get_rules_for_every_host(tmp_path, static):
    (tmp_path / "hosts.py").write_text(HEAD + 'app = Flask(__name__, host_matching=True, static_host="a.test")\n'
                                              'socketio = SocketIO(app)\n')
    (tmp_path / "subs.py").write_text(HEAD + 'app = Flask(__name__, subdomain_matching=True)\n'
                                             'app.config["SERVER_NAME"] = "a.test"\nsocketio = SocketIO(app)\n')
    flags = ["--static"] if static else []
    hosts = run_probe("routes", "hosts.py", *flags, cwd=tmp_path).json
    assert {(r["host"], r["subdomain"]) for r in hosts["rules"][:4]} == {("<wsgi_host>", "")}
    assert hosts["rules"][1]["converters"][0]["variable"] == "wsgi_host"
    subs = run_probe("routes", "subs.py", *flags, cwd=tmp_path).json
    assert [r["subdomain"] for r in subs["rules"][:8]] == ["", "<wsgi_subdomain>"] * 4
    assert middleware_rules(subs)[::2] == engineio("/socket.io/")


def test_a_middleware_walk_ends_on_cycles_and_depth(tmp_path):
    (tmp_path / "app.py").write_text(HEAD + textwrap.dedent("""
        app = Flask(__name__)
        deep = app.wsgi_app
        for _ in range(40):
            deep = ProxyFix(deep)
        app.wsgi_app = deep
    """))
    table = run_probe("routes", "app.py", cwd=tmp_path).json
    assert table["unresolved"] == [
        f"app.wsgi_app is wrapped by more than 16 middleware layers; the walk stopped there ({ADVICE})"]
    (tmp_path / "app.py").write_text(HEAD + textwrap.dedent("""
        app = Flask(__name__)
        loop = Mine(None)
        loop.app = loop
        app.wsgi_app = loop
    """))
    table = run_probe("routes", "app.py", cwd=tmp_path).json
    assert table["unresolved"] == [
        f"app.wsgi_app is wrapped by app.Mine; {ADVICE}",
        "app.wsgi_app is wrapped by app.Mine again (a cycle): the middleware walk stopped there"]


@pytest.mark.parametrize("call,host,port", [
    ('socketio.run(app, "0.0.0.0", 7001)', "0.0.0.0", 7001),
    ("socketio.run(app, port=7002, allow_unsafe_werkzeug=True)", None, 7002),
    ("socketio.run(app)", None, 5000),
    ('app.run("0.0.0.0", 7003)', "0.0.0.0", 7003),
])
def test_socketio_run_takes_the_app_first(tmp_path, call, host, port):
    (tmp_path / "app.py").write_text(HEAD + "app = Flask(__name__)\nsocketio = SocketIO(app)\n"
                                            f"if __name__ == '__main__':\n    {call}\n")
    for extra in ([], ["--static"]):
        table = run_probe("routes", "app.py", *extra, cwd=tmp_path).json
        assert (table["host"], table["port"], table["unresolved"]) == (host, port, []), (call, extra)


# ---- launch: the report, the warning line, and middleware around the served application ------------------------


def test_launch_reports_middleware_and_warns_about_unknown_ones(launches, tmp_path):  # noqa: F811
    write_app(tmp_path, HEAD + "app = Flask(__name__)\nsocketio = SocketIO(app, async_mode='threading')\n"
                              "app.wsgi_app = Mine(app.wsgi_app)\n" + ROUTE
                       + "\nif __name__ == '__main__':\n    socketio.run(app, allow_unsafe_werkzeug=True)\n")
    launch = launches(tmp_path / "app.py", free_port(), tmp_path / "r.json")
    report = launch.wait_report()
    assert middleware_rules(report) == engineio("/socket.io/")
    assert report["unresolved"] == [f"app.wsgi_app is wrapped by __main__.Mine; {ADVICE}"]
    response = launch.wait_http("/socket.io/?EIO=4&transport=polling")
    assert response.status_code == 200 and response.text.startswith("0{"), response.text  # the Engine.IO open packet
    _, stderr = launch.stop()
    assert f"::feisty::warning::app.wsgi_app is wrapped by __main__.Mine; {ADVICE}" in stderr.splitlines()


def test_launch_follows_middleware_around_the_served_application(launches, tmp_path):  # noqa: F811
    write_app(tmp_path, """
        import socketio
        from flask import Flask
        from werkzeug.middleware.proxy_fix import ProxyFix
        from werkzeug.serving import run_simple

        app = Flask(__name__)
        sio = socketio.Server(async_mode="threading")


        class Mine:
            def __init__(self, application):
                self.application = application

            def __call__(self, environ, start_response):
                return self.application(environ, start_response)


        if __name__ == "__main__":
            run_simple("127.0.0.1", 5000, Mine(ProxyFix(socketio.WSGIApp(sio, app, socketio_path="sio"))))
    """)
    launch = launches(tmp_path / "app.py", free_port(), tmp_path / "r.json")
    report = launch.wait_report()
    assert middleware_rules(report) == engineio("/sio/")
    note = f"the app is served wrapped in __main__.Mine; {ADVICE}"
    assert report["unresolved"] == [note]
    response = launch.wait_http("/sio/?EIO=4&transport=polling")
    assert response.status_code == 200 and response.text.startswith("0{"), response.text
    _, stderr = launch.stop()
    assert [line for line in stderr.splitlines() if line.startswith("::feisty::")] == [f"::feisty::warning::{note}"]
