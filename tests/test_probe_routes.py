"""`routes`: runtime extraction of every example, each APP form, and static extraction compared to runtime."""
import json
import shutil
import sys

import pytest

from conftest import EXAMPLES, PROBE, REPO, run_probe

# (APP, cwd relative to the repository): every example app, in the form a user would type.
EXAMPLE_APPS = [
    ("examples/seed/app.py", "."),
    ("examples/blueprints", "."),
    ("examples/classviews/app.py", "."),
    ("examples/converters/app.py", "."),
    ("examples/hosts/host_app.py", "."),
    ("examples/hosts/subdomain_app.py", "."),
    ("examples/rich/app.py", "."),
    ("examples/factory", "."),
    ("examples/socketio/app.py", "."),
]


def rules_by_key(table):
    return [(r["rule"], r["endpoint"], tuple(r["methods"] or ())) for r in table["rules"]]


@pytest.mark.parametrize("app,cwd", EXAMPLE_APPS)
def test_static_extraction_equals_runtime(app, cwd):
    runtime = run_probe("routes", app, cwd=REPO / cwd)
    static = run_probe("routes", app, "--static", cwd=REPO / cwd)
    assert runtime.status == 0, runtime.json
    assert static.status == 0, static.json
    assert runtime.json["source"] == "runtime" and static.json["source"] == "static"
    assert static.json["unresolved"] == [], static.json["unresolved"]
    assert runtime.json["rules"], "an example app without rules"
    # Same rules, in the same (registration) order, down to converters, methods and endpoints; except a custom
    # converter's "overrides" (its class's own to_python/to_url), which only the runtime reports: --static never
    # runs the app, so `feisty match --static` has no interpreter to run them in.
    runtime_rules = json.loads(json.dumps(runtime.json["rules"]))
    for rule in runtime_rules:
        for converter in rule["converters"]:
            converter.pop("overrides", None)
    assert static.json["rules"] == runtime_rules
    for key in ("port", "host", "host_matching", "subdomain_matching", "server_name", "default_subdomain",
                "redirect_defaults"):
        assert static.json[key] == runtime.json[key], key


def test_runtime_reports_which_custom_converters_run_their_own_python():
    """ "overrides": the conversion methods a custom converter's class defines itself (`feisty match` asks the app's
    interpreter about rules with any); a regex-only class (`regex`, `slugpath`) and built-ins have none."""
    table = run_probe("routes", "examples/converters/app.py").json
    overrides = {c["converter"]: c.get("overrides") for r in table["rules"] for c in r["converters"]}
    assert overrides["list"] == ["to_python", "to_url"]
    assert overrides["regex"] is None and overrides["slugpath"] is None
    assert all(v is None for name, v in overrides.items() if name not in ("list",))


def test_seed_runtime_table():
    table = run_probe("routes", "examples/seed/app.py").json
    assert table["port"] == 8080 and table["host"] == "0.0.0.0"
    assert rules_by_key(table) == [
        ("/static/<path:filename>", "static", ("GET", "HEAD", "OPTIONS")),
        ("/", "overview", ("GET", "HEAD", "OPTIONS")),
        ("/user/<username>", "getuser", ("GET", "HEAD", "OPTIONS")),
        ("/<int:year>", "getyear", ("GET", "HEAD", "OPTIONS")),
    ]
    year = table["rules"][3]["converters"][0]
    assert year == {"variable": "year", "converter": "int", "kind": "int", "regex": r"\d+", "weight": 50,
                    "part_isolating": True}


def test_blueprints_prefixes_nesting_and_names():
    table = run_probe("routes", "examples/blueprints", "--static").json
    rules = {r["endpoint"]: r for r in table["rules"]}
    assert rules["admin.user"]["rule"] == "/admin/users/<int:user_id>"
    assert rules["admin.user"]["methods"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert rules["admin.delete_user"]["methods"] == ["DELETE", "OPTIONS"]
    assert rules["api.health"]["rule"] == "/api/health"
    assert rules["api.v1.item"]["rule"] == "/api/v1/items/<uuid:item_id>"
    assert rules["api.v1.item"]["strict_slashes"] is False
    assert rules["api.v1.create_item"]["methods"] == ["OPTIONS", "POST"]
    assert rules["shop.cart"]["rule"] == "/shop/cart" and rules["store.cart"]["rule"] == "/store/cart"
    assert rules["about"]["rule"] == "/about/"


def test_classviews_methods():
    table = run_probe("routes", "examples/classviews/app.py", "--static").json
    rules = {r["endpoint"]: r for r in table["rules"]}
    assert rules["item"]["methods"] == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH"]
    assert rules["items"]["methods"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert rules["audited"]["methods"] == ["GET", "HEAD", "OPTIONS", "POST", "PUT"]
    assert rules["hello"]["methods"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert rules["ping"]["rule"] == "/ping"
    assert rules["legacy"]["redirect_to"] == "/about"


def test_converters_custom_regexes():
    table = run_probe("routes", "examples/converters/app.py", "--static").json
    converters = {c["variable"]: c for r in table["rules"] for c in r["converters"]}
    assert converters["code"] == {"variable": "code", "converter": "regex", "kind": "custom", "regex": "[a-z]{3}",
                                  "weight": 100, "part_isolating": True}
    assert converters["page"]["converter"] == "slugpath" or converters["page"]["kind"] == "any"
    assert converters["tags"]["regex"] == "[a-z]+(?:,[a-z]+)*"
    assert converters["x"]["regex"] == r"-?\d+\.\d+"
    assert converters["lang"]["regex"] == "[^/]{2}"
    slug = [c for r in table["rules"] for c in r["converters"] if c["converter"] == "slugpath"][0]
    assert slug["part_isolating"] is False and slug["weight"] == 150


def test_hosts_tables():
    host = run_probe("routes", "examples/hosts/host_app.py", "--static").json
    assert host["host_matching"] is True
    assert [r["host"] for r in host["rules"]] == ["static.example.com", "example.com",
                                                  "<user>.users.example.com", "api.example.com"]
    assert host["rules"][2]["converters"][0]["variable"] == "user"
    sub = run_probe("routes", "examples/hosts/subdomain_app.py", "--static").json
    assert sub["subdomain_matching"] is True and sub["server_name"] == "example.com:8080"
    assert [r["subdomain"] for r in sub["rules"]] == ["", "", "<tenant>", "api"]


# --- APP forms ------------------------------------------------------------------------------------------------

APP_FORMS = [
    # (APP, cwd, an endpoint that proves the right app was found)
    ("examples/seed/app.py", ".", "getyear"),
    ("examples/seed", ".", "getyear"),  # a folder holding app.py
    ("app.py", "examples/seed", "getyear"),
    ("app", "examples/seed", "getyear"),  # a module name
    ("app:app", "examples/seed", "getyear"),  # module:name
    ("examples/factory", ".", "blog.update"),  # a package folder with a create_app factory
    ("factory", "examples", "blog.update"),
    ("factory:create_app", "examples", "blog.update"),
    ('factory:create_app("testing")', "examples", "blog.update"),  # a factory with literal arguments
    ("factory:create_app(config={'TESTING': True})", "examples", "blog.update"),
    ("views.admin:admin", "examples/blueprints", None),  # not an app: no_app
]


@pytest.mark.parametrize("static", [False, True], ids=["runtime", "static"])
@pytest.mark.parametrize("app,cwd,endpoint", APP_FORMS)
def test_app_forms(app, cwd, endpoint, static):
    args = ["routes", app] + (["--static"] if static else [])
    result = run_probe(*args, cwd=REPO / cwd)
    if endpoint is None:
        assert result.status == 1 and result.error["kind"] == "no_app", result.json
        return
    assert result.status == 0, result.json
    assert endpoint in [r["endpoint"] for r in result.json["rules"]]


def test_wsgi_py_is_preferred_like_flask(tmp_path):
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n@app.route('/from-app')\n"
                                     "def a():\n    return 'a'\n")
    (tmp_path / "wsgi.py").write_text("from flask import Flask\napp = Flask(__name__)\n@app.route('/from-wsgi')\n"
                                      "def w():\n    return 'w'\n")
    for extra in ([], ["--static"]):
        rules = [r["rule"] for r in run_probe("routes", tmp_path, *extra).json["rules"]]
        assert "/from-wsgi" in rules and "/from-app" not in rules


def test_embedded_form_runs_without_file():
    """feisty runs `python3 -c <source>`: no __file__, sys.argv[0] == '-c'."""
    runtime = run_probe("routes", "examples/blueprints", embedded=True)
    static = run_probe("routes", "examples/blueprints", "--static", embedded=True)
    assert runtime.status == 0 and static.status == 0
    assert runtime.json["rules"] == static.json["rules"]
    broken = run_probe("routes", "examples/broken/raises.py", embedded=True)
    assert broken.error["kind"] == "import_error"


def test_static_mode_without_flask(tmp_path):
    """--static never imports the app nor Flask: it works in an interpreter that has no Flask at all."""
    import subprocess

    candidates = ["/root/.pyenv/versions/3.9.18/bin/python", shutil.which("python3.9")]
    python = next((c for c in candidates if c and subprocess.run([c, "-V"], capture_output=True).returncode == 0),
                  None)
    if python is None:
        pytest.skip("no working Python 3.9 interpreter here")
    has_flask = subprocess.run([python, "-c", "import flask"], capture_output=True).returncode == 0
    static = run_probe("routes", "examples/blueprints", "--static", python=python)
    assert static.status == 0, static.json
    runtime = run_probe("routes", "examples/blueprints")
    assert static.json["rules"] == runtime.json["rules"]
    if not has_flask:
        failed = run_probe("routes", "examples/blueprints", python=python)
        assert failed.status == 1 and failed.error["kind"] == "import_error"
        assert "--static" in failed.error["message"]


# --- errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "app,kind,fragment",
    [
        ("examples/broken/syntax_error.py", "syntax_error", "syntax_error.py:7"),
        ("examples/broken/import_error.py", "import_error", "No module named 'feisty_missing_dependency'"),
        ("examples/broken/no_app.py", "no_app", "create_app"),
        ("examples/broken/raises.py", "import_error", "RuntimeError: DATABASE_URL is not set"),
        ("examples/nothing_here.py", "not_found", "nothing_here.py"),
        ("examples/broken", "not_found", "no wsgi.py or app.py"),
        ("no_such_module:app", "not_found", "no_such_module"),
        ("examples/seed/app.py:nope", "no_app", "'nope'"),
        ("examples/seed/app.py:create(", "no_app", "Failed to parse"),
    ],
)
def test_broken_apps(app, kind, fragment):
    result = run_probe("routes", app)
    assert result.status == 1
    assert result.error["kind"] == kind, result.json
    assert fragment in result.error["message"]
    assert "\n" not in result.error["message"]
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize("app,kind", [("examples/broken/syntax_error.py", "syntax_error"),
                                      ("examples/broken/no_app.py", "no_app")])
def test_broken_apps_static(app, kind):
    result = run_probe("routes", app, "--static")
    assert result.status == 1 and result.error["kind"] == kind


def test_factory_error(tmp_path):
    (tmp_path / "fac.py").write_text(
        "from flask import Flask\n\ndef create_app():\n    raise ValueError('no config')\n")
    result = run_probe("routes", "fac:create_app()", cwd=tmp_path)
    assert result.status == 1 and result.error["kind"] == "factory_error"
    assert "ValueError: no config" in result.error["message"]


def test_hanging_import_is_left_to_the_caller_timeout():
    import subprocess

    with pytest.raises(subprocess.TimeoutExpired):
        run_probe("routes", "examples/broken/hangs.py", timeout=2)


@pytest.mark.parametrize("args", [[], ["frob"], ["routes"], ["routes", "a.py", "--bogus"]])
def test_usage_errors(args):
    result = run_probe(*args)
    assert result.status == 1 and result.error["kind"] == "usage"


def test_prints_during_import_do_not_corrupt_the_json(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os, sys\nfrom flask import Flask\nprint('hello from the app')\nsys.stdout.write('{\"not\": 1}\\n')\n"
        "os.write(1, b'raw fd write\\n')\napp = Flask(__name__)\n@app.route('/x')\ndef x():\n    return 'x'\n")
    result = run_probe("routes", tmp_path / "app.py")
    assert result.status == 0
    assert "/x" in [r["rule"] for r in result.json["rules"]]
    assert "hello from the app" in result.stderr and "raw fd write" in result.stderr


def test_non_daemon_threads_do_not_block_exit(tmp_path):
    (tmp_path / "app.py").write_text(
        "import threading\nfrom flask import Flask\nthreading.Thread(target=threading.Event().wait).start()\n"
        "app = Flask(__name__)\n")
    assert run_probe("routes", tmp_path / "app.py", timeout=10).status == 0


# --- app.run detection ----------------------------------------------------------------------------------------

RUN_CASES = [
    ('app.run(host="0.0.0.0", port=8080)', "0.0.0.0", 8080),
    ("app.run('127.0.0.1', 9000)", "127.0.0.1", 9000),
    ('app.run(port=int(os.environ.get("PORT", "5050")))', None, 5050),
    ('app.run(host=os.getenv("HOST", "0.0.0.0"), port=int(os.getenv("PORT", 7000)))', "0.0.0.0", 7000),
    ("app.run(port=PORT)", None, 6000),
    ("app.run()", None, 5000),
    ("pass", None, None),  # no app.run: nothing serves by itself (feisty run falls back to 127.0.0.1:5000)
    ('app.run(port=int(os.environ["PORT"]))', None, None),
]


@pytest.mark.parametrize("call,host,port", RUN_CASES)
def test_app_run_detection(tmp_path, call, host, port):
    (tmp_path / "app.py").write_text(
        "import os\nimport subprocess\nfrom flask import Flask\nPORT = 6000\napp = Flask(__name__)\n"
        "subprocess.run(['true'])\n"
        f"if __name__ == '__main__':\n    {call}\n")
    for extra in ([], ["--static"]):
        table = run_probe("routes", tmp_path / "app.py", *extra).json
        assert (table["host"], table["port"]) == (host, port), (call, extra)
        if port is None and call != "pass":  # a call whose port is unknown says why
            assert any("port" in line for line in table["unresolved"])


# --- what static mode reports as unresolved -------------------------------------------------------------------

def test_static_reports_what_it_cannot_resolve(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os\nfrom flask import Flask\nfrom somewhere import make_prefix\n"
        "app = Flask(__name__)\n"
        "for name in ['a', 'b']:\n    app.add_url_rule('/' + name, name, lambda: name)\n"
        "@app.route(make_prefix() + '/x')\ndef dynamic():\n    return ''\n"
        "if os.environ.get('ADMIN'):\n    @app.route('/admin')\n    def admin():\n        return ''\n"
        "@app.route('/u/<mystery:x>')\ndef mystery(x):\n    return ''\n"
        "@app.route('/ok')\ndef ok():\n    return ''\n")
    table = run_probe("routes", tmp_path / "app.py", "--static").json
    rules = [r["rule"] for r in table["rules"]]
    assert rules == ["/static/<path:filename>", "/admin", "/u/<mystery:x>", "/ok"]
    text = "\n".join(table["unresolved"])
    assert "app.py:5: routes registered in a loop" in text
    assert "app.py:7:" in text and "not a literal" in text
    assert "app.py:11: rule '/admin' is declared under a condition" in text
    assert "'mystery'" in text
    for line in table["unresolved"]:
        assert "\n" not in line and line.startswith("app.py:") or tmp_path.name in line


def test_static_follows_factories_helpers_and_settings(tmp_path):
    pkg = tmp_path / "svc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from flask import Flask\nfrom .routes import register\n\nAPI = '/api'\n\n"
        "def create_app(config=None):\n"
        "    app = Flask(__name__, static_folder=None)\n"
        "    app.url_map.strict_slashes = False\n"
        "    app.config.update(SERVER_NAME='svc.local')\n"
        "    if config == 'full':\n        app.add_url_rule(API + '/full', 'full', lambda: '')\n"
        "    register(app)\n    return app\n")
    (pkg / "routes.py").write_text(
        "def register(app):\n    @app.route(f'/api/v{2}/<path:rest>', defaults={'rest': ''}, methods=['GET', 'OPTIONS'])\n"
        "    def v2(rest):\n        return rest\n")
    for spec, extra_rule in (("svc", False), ("svc:create_app('full')", True)):
        runtime = run_probe("routes", spec, cwd=tmp_path)
        static = run_probe("routes", spec, "--static", cwd=tmp_path)
        assert runtime.status == 0 and static.status == 0, (runtime.json, static.json)
        assert static.json["rules"] == runtime.json["rules"]
        assert static.json["server_name"] == runtime.json["server_name"] == "svc.local"
        assert ("/api/full" in [r["rule"] for r in static.json["rules"]]) is extra_rule
        assert static.json["unresolved"] == []


def test_rules_are_in_registration_order_not_iter_rules_order(tmp_path):
    """Map.iter_rules() groups by endpoint and sorts by build key; the matcher breaks ties in Map.add order."""
    (tmp_path / "app.py").write_text(
        "from flask import Flask\napp = Flask(__name__, static_folder=None)\n"
        "app.add_url_rule('/b', 'x')\napp.add_url_rule('/c', 'y')\napp.add_url_rule('/d/<int:n>', 'x')\n"
        "@app.route('/e', defaults={'q': 1})\n@app.route('/f')\ndef x2(q=None):\n    return ''\n")
    for extra in ([], ["--static"]):
        assert [r["rule"] for r in run_probe("routes", tmp_path / "app.py", *extra).json["rules"]] == \
            ["/b", "/c", "/d/<int:n>", "/f", "/e"]


TRICKY_VIEWS = '''
from functools import wraps
from flask import Blueprint
from flask.views import MethodView

METHODS = ["GET", "POST"]


def login_required(f):
    @wraps(f)
    def inner(*a, **k):
        return f(*a, **k)
    return inner


bp = Blueprint("bp", __name__, url_prefix="/bp/", url_defaults={"lang": "en"}, subdomain="api")
child = Blueprint("child", __name__, subdomain="v1", static_folder="assets")


class Things(MethodView):
    def get(self):
        return ""

    def options(self):
        return ""


@bp.route("/a", methods=METHODS, defaults={"page": 1})
@bp.route("/b/<int:page>")
@login_required
def a(page, lang):
    return ""


@child.route("")
def root(lang):
    return ""


def plain():
    return ""


bp.add_url_rule("/things", view_func=Things.as_view("things"))
bp.register_blueprint(child, url_prefix="/c")
'''

TRICKY_APP = '''
from flask import Flask as F
import flask
from pkg.views import *
from pkg import views as v

app = F(__name__, static_url_path="/s/", subdomain_matching=True)
app.config["SERVER_NAME"] = "ex.com"


@app.route("/x", endpoint="ex", strict_slashes=False, alias=True)
def x():
    return ""


app.url_map.strict_slashes = False
app.url_map.merge_slashes = False


@app.get("/y/")
def y():
    return ""


app.add_url_rule("/plain", view_func=v.plain, provide_automatic_options=False)
app.add_url_rule("/go", "go", redirect_to=lambda **kw: "/x")
app.register_blueprint(v.bp)
app.register_blueprint(bp, name="bp2", url_prefix="/two", subdomain="www")
second = flask.Blueprint("second", __name__)


@second.post("/")
def s():
    return ""


app.register_blueprint(second)
'''


def test_static_equals_runtime_on_a_tricky_app(tmp_path):
    """Star and aliased imports, wrapped views, stacked decorators, url_defaults, nested subdomains, blueprint
    static folders, a blueprint registered twice, map settings changed midway, callable redirect_to."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "views.py").write_text(TRICKY_VIEWS)
    (tmp_path / "app.py").write_text(TRICKY_APP)
    runtime = run_probe("routes", "app.py", cwd=tmp_path).json
    static = run_probe("routes", "app.py", "--static", cwd=tmp_path).json
    assert static["unresolved"] == []
    assert len(runtime["rules"]) == 16
    assert static["rules"] == runtime["rules"]
    subdomains = {r["endpoint"]: r["subdomain"] for r in static["rules"]}
    assert subdomains["bp.child.root"] == "v1.api" and subdomains["bp2.child.static"] == "v1.www"
    methods = {r["endpoint"]: r["methods"] for r in static["rules"]}
    assert methods["plain"] == ["GET", "HEAD"] and methods["bp.things"] == ["GET", "HEAD", "OPTIONS"]


def test_routes_on_unknown_objects_are_reported_but_dict_gets_are_not(tmp_path):
    (tmp_path / "app.py").write_text(
        "from flask import Flask\nfrom flask_restx import Api\nimport settings\n"
        "app = Flask(__name__)\napi = Api(app)\nport = settings.CONFIG.get('PORT')\n"
        "@api.route('/things')\nclass Things:\n    pass\n"
        "@app.route('/ok')\ndef ok():\n    return ''\n")
    table = run_probe("routes", tmp_path / "app.py", "--static").json
    assert len(table["unresolved"]) == 1  # the dict .get is not a route; the flask-restx class route is reported
    assert "app.py:7: class Things is routed by @api.route(...)" in table["unresolved"][0]
    (tmp_path / "app.py").write_text(
        "from flask import Flask\nfrom somewhere import registry\napp = Flask(__name__)\n"
        "@registry.app.route('/hidden')\ndef hidden():\n    return ''\n")
    table = run_probe("routes", tmp_path / "app.py", "--static").json
    assert len(table["unresolved"]) == 1 and "app.py:4: @registry.app.route(...)" in table["unresolved"][0]
