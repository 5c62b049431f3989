"""The probe imports the app exactly as `flask --app` does (issue 11): an unguarded `app.run()` at import is a no-op,
the app's prints never reach the JSON, `sys.argv` is flask's, `sys.exit()` at import is a clear error, and modules
are found as Python finds them (import hooks of editable installs, not only paths)."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import PROBE, REPO, free_port, run_probe
from editable_support import EDITABLE_APP, make_editable_venv
from test_launch import launches  # noqa: F401 - the fixture


def write(directory, name, body):
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def rules_of(table):
    return [rule["rule"] for rule in table["rules"]]


UNGUARDED = """\
    from flask import Flask

    app = Flask(__name__)


    @app.get("/hello/<name>")
    def hello(name):
        return name


    app.run(host="127.0.0.1", port={port})  # no __main__ guard: `flask --app` ignores it
    """


# --- app.run() and run_simple() at import time -------------------------------------------------------------------


def test_unguarded_app_run_at_import_lists_routes_at_once(tmp_path, port):
    write(tmp_path, "app.py", UNGUARDED.format(port=port))
    started = time.monotonic()
    result = run_probe("routes", "app.py", cwd=tmp_path, timeout=20)
    assert result.status == 0, result.stderr
    assert time.monotonic() - started < 15
    assert rules_of(result.json) == ["/static/<path:filename>", "/hello/<name>"]
    assert result.json["port"] == port and result.json["host"] == "127.0.0.1"
    assert "Ignoring a call to 'app.run()'" in result.stderr  # Flask's own warning, on stderr
    assert "Running on" not in result.stderr


@pytest.mark.parametrize("app", ["app.py", "app:app", "app:create_app()"])
def test_app_run_in_module_or_factory_starts_no_server(tmp_path, port, app):
    write(tmp_path, "app.py", f"""\
        from flask import Flask


        def create_app():
            made = Flask(__name__)
            made.add_url_rule("/made", "made", lambda: "made")
            made.run(port={port})
            return made


        app = create_app()
        app.run(port={port})
        """)
    result = run_probe("routes", app, cwd=tmp_path, timeout=20)
    assert result.status == 0, result.stderr
    assert "/made" in rules_of(result.json)


def test_error_pages_of_an_app_that_runs_itself_at_import(tmp_path, port):
    write(tmp_path, "app.py", UNGUARDED.format(port=port))
    result = run_probe("error-pages", "app.py", cwd=tmp_path, timeout=20)
    assert result.status == 0, result.stderr
    assert result.json["not_found"]["pages"]["html"]["status"] == 404


def test_run_simple_at_import_does_not_block_routes(tmp_path, port):
    write(tmp_path, "app.py", f"""\
        from flask import Flask
        from werkzeug.serving import run_simple

        app = Flask(__name__)
        app.add_url_rule("/x", "x", lambda: "x")
        run_simple("127.0.0.1", {port}, app)
        """)
    result = run_probe("routes", "app.py", cwd=tmp_path, timeout=20)
    assert result.status == 0, result.stderr
    assert "/x" in rules_of(result.json)
    assert "ignoring a call to werkzeug's run_simple()" in result.stderr


# --- output, sys.argv, sys.exit ---------------------------------------------------------------------------------


def test_prints_at_import_do_not_corrupt_the_json(tmp_path):
    write(tmp_path, "app.py", """\
        import os
        import sys

        from flask import Flask

        print("{not json")
        sys.stdout.write("no newline, no flush")
        sys.__stdout__.write("[1, 2")
        os.write(1, b"raw fd 1\\n")
        app = Flask(__name__)
        app.add_url_rule("/p", "p", lambda: "p")
        print("at exit", end="")
        """)
    result = run_probe("routes", "app.py", cwd=tmp_path)  # exactly one JSON line on stdout, or it fails
    assert result.status == 0
    assert "/p" in rules_of(result.json)
    for text in ("{not json", "no newline, no flush", "[1, 2", "raw fd 1", "at exit"):
        assert text in result.stderr


ARGV_APP = """\
    import json
    import sys

    from flask import Flask

    sys.stderr.write("ARGV " + json.dumps(sys.argv) + "\\n")
    app = Flask(__name__)
    if len(sys.argv) > 1 and sys.argv[1] == "--app":  # what an app may test for "imported by the flask command"
        app.add_url_rule("/cli", "cli", lambda: "cli")
    """


def argv_line(stderr):
    return json.loads(next(line for line in stderr.splitlines() if line.startswith("ARGV "))[5:])


@pytest.mark.parametrize("command", ["routes", "error-pages"])
def test_sys_argv_is_flasks(tmp_path, command):
    write(tmp_path, "app.py", ARGV_APP)
    result = run_probe(command, "app:app", cwd=tmp_path)
    assert result.status == 0, result.stderr
    argv = argv_line(result.stderr)
    assert argv[1:] == ["--app", "app:app", "routes" if command == "routes" else "error-pages"]
    assert os.path.basename(argv[0]) == "flask"
    if command == "routes":
        assert "/cli" in rules_of(result.json)


def test_sys_argv_matches_the_real_flask_command(tmp_path):
    flask_script = pathlib.Path(sys.executable).parent / "flask"
    if not flask_script.exists():
        pytest.skip(f"no flask script next to {sys.executable}")
    write(tmp_path, "app.py", ARGV_APP)
    real = subprocess.run([str(flask_script), "--app", "app.py", "routes"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert real.returncode == 0, real.stderr
    ours = run_probe("routes", "app.py", cwd=tmp_path)
    assert argv_line(ours.stderr)[1:] == argv_line(real.stderr)[1:]
    assert "/cli" in rules_of(ours.json) and "/cli" in real.stdout


def test_sys_exit_in_a_main_guard_never_runs_on_import(tmp_path):
    write(tmp_path, "app.py", """\
        import sys

        from flask import Flask

        app = Flask(__name__)
        app.add_url_rule("/g", "g", lambda: "g")

        if __name__ == "__main__":
            app.run()
            sys.exit(3)
        """)
    result = run_probe("routes", "app.py", cwd=tmp_path)
    assert result.status == 0, result.stderr
    assert "/g" in rules_of(result.json)


@pytest.mark.parametrize("call, shown", [("sys.exit('run me with python3')", "sys.exit('run me with python3')"),
                                         ("sys.exit()", "sys.exit()"), ("sys.exit(0)", "sys.exit(0)")])
def test_sys_exit_at_import_is_a_clear_error(tmp_path, call, shown):
    write(tmp_path, "app.py", f"""\
        import sys

        from flask import Flask

        app = Flask(__name__)
        if __name__ != "__main__":
            {call}
        """)
    started = time.monotonic()
    result = run_probe("routes", "app.py", cwd=tmp_path, timeout=20)
    assert time.monotonic() - started < 15
    assert result.status == 1
    assert result.error["kind"] == "import_error"
    assert f"importing 'app' called {shown}" in result.error["message"]
    assert "(at app.py:7)" in result.error["message"]


def test_argparse_at_import_names_the_apps_line(tmp_path):
    write(tmp_path, "app.py", """\
        import argparse

        from flask import Flask

        app = Flask(__name__)
        options = argparse.ArgumentParser().parse_args()
        """)
    result = run_probe("routes", "app.py", cwd=tmp_path)
    assert result.status == 1
    assert result.error["kind"] == "import_error"
    assert "called sys.exit(2) (at app.py:6)" in result.error["message"], result.error


# --- modules found as Python finds them ---------------------------------------------------------------------------


def write_import_hook(tmp_path):
    """A .pth file that installs a MetaPathFinder serving package `hooked` from a folder that is on no path."""
    hidden = tmp_path / "elsewhere" / "hooked_source"
    hidden.mkdir(parents=True)
    write(hidden, "__init__.py", """\
        from flask import Flask

        app = Flask(__name__)
        app.add_url_rule("/hooked", "hooked", lambda: "hooked")
        """)
    write(hidden, "views.py", """\
        from flask import Flask

        app = Flask(__name__)
        app.add_url_rule("/hooked/views", "views", lambda: "views")
        """)
    site = tmp_path / "site"
    site.mkdir()
    write(site, "hook_finder.py", f"""\
        import importlib.machinery
        import importlib.util
        import sys


        class Finder:
            @classmethod
            def find_spec(cls, fullname, path=None, target=None):
                if fullname == "hooked":
                    return importlib.util.spec_from_file_location(
                        fullname, {str(hidden / "__init__.py")!r},
                        submodule_search_locations=[{str(hidden)!r}])
                return None


        def install():
            sys.meta_path.append(Finder)
        """)
    (site / "hook.pth").write_text("import hook_finder; hook_finder.install()\n")
    return site


def run_with_site(site, *args, cwd):
    """The probe run by an interpreter whose site-packages hold `site` (as a venv's .pth files would be)."""
    bootstrap = (f"import site, sys; site.addsitedir({str(site)!r}); sys.argv[0] = {str(PROBE)!r}; "
                 f"exec(compile(open({str(PROBE)!r}).read(), {str(PROBE)!r}, 'exec'))")
    completed = subprocess.run([sys.executable, "-c", bootstrap, *args], cwd=cwd, capture_output=True, text=True,
                               timeout=30)
    return completed


@pytest.mark.parametrize("app, rule", [("hooked:app", "/hooked"), ("hooked", "/hooked"),
                                       ("hooked.views:app", "/hooked/views")])
def test_a_module_served_by_an_import_hook_is_found(tmp_path, app, rule):
    site = write_import_hook(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    completed = run_with_site(site, "routes", app, cwd=work)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    table = json.loads(completed.stdout)
    assert rule in rules_of(table)
    static = json.loads(run_with_site(site, "routes", app, "--static", cwd=work).stdout)
    assert "error" not in static, static


def test_a_missing_module_is_still_not_found(tmp_path):
    result = run_probe("routes", "no_such_module_anywhere:app", cwd=tmp_path)
    assert result.error["kind"] == "not_found"
    result = run_probe("routes", "json.no_such_submodule:app", cwd=tmp_path)
    assert result.error["kind"] == "not_found"


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory):
    return make_editable_venv(tmp_path_factory.mktemp("editable"))


def test_pip_editable_install_is_found(editable_python, tmp_path):
    result = run_probe("routes", f"{EDITABLE_APP}:app", cwd=tmp_path, python=str(editable_python), timeout=30)
    assert result.status == 0, result.stderr
    assert "/editable/<int:n>" in rules_of(result.json)
    assert result.json["port"] == 5099
    assert "edapp imported" in result.stderr
    bare = run_probe("routes", EDITABLE_APP, cwd=tmp_path, python=str(editable_python), timeout=30)
    assert "/editable/<int:n>" in rules_of(bare.json), bare.stderr


def test_feisty_routes_finds_an_editable_install(editable_python, tmp_path):
    feisty = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")
    if not os.access(feisty, os.X_OK):
        pytest.fail(f"feisty binary not found at {feisty}: run `swift build` first (scripts/test does)")
    completed = subprocess.run([feisty, "routes", f"{EDITABLE_APP}:app", "--json", "--python", str(editable_python)],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "/editable/<int:n>" in rules_of(json.loads(completed.stdout))


# --- launch of module:name ----------------------------------------------------------------------------------------


def test_launch_module_ignores_app_run_at_import_and_serves_once(tmp_path, launches):
    requested = free_port()
    write(tmp_path, "app.py", """\
        import sys

        from flask import Flask

        print("IMPORTED")
        sys.stderr.write("ARGV " + __import__("json").dumps(sys.argv) + "\\n")
        app = Flask(__name__)


        @app.get("/")
        def index():
            return "served"


        app.run(port=%d)
        """ % requested)
    bind = free_port()
    launch = launches("app:app", bind, tmp_path / "report.json", cwd=tmp_path)
    report = launch.wait_report()
    assert launch.wait_http("/").text == "served"
    assert report["requested"] == {"host": "127.0.0.1", "port": requested}
    assert report["bind"] == {"host": "127.0.0.1", "port": bind}
    stdout, stderr = launch.stop()
    assert stdout.count("IMPORTED") == 1
    assert argv_line(stderr)[1:] == ["--app", "app:app", "run"]
    assert "ignoring app.run() called while app:app was loaded" in stderr
    assert "second server" not in stderr
