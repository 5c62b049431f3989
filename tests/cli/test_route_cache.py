"""The route cache of `feisty routes`/`match`: a table is reused only while nothing its import read has changed.

Each test gives feisty its own cache folder (XDG_CACHE_HOME) and an app that appends a line to a counter file every
time it is imported, so a test sees whether feisty imported the app or answered from the cache.
"""
import json
import os
import stat
import subprocess
import time

import pytest

APP = '''
import json, os, pathlib
from flask import Flask

pathlib.Path(os.environ["IMPORTS"]).open("a").write("imported\\n")
app = Flask(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "extra.json")) as handle:
    for rule in json.load(handle):
        app.add_url_rule(rule, endpoint=rule, view_func=lambda: "x")
if os.environ.get("WITH_ADMIN"):
    app.add_url_rule("/admin", endpoint="admin", view_func=lambda: "x")
try:
    import helpers  # a module that may appear beside the app later
    app.add_url_rule("/helpers", endpoint="helpers", view_func=lambda: "x")
except ImportError:
    pass


@app.get("/")
def index():
    return "hi"
'''


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text(APP)
    (root / "extra.json").write_text('["/a", "/b"]')
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), IMPORTS=str(tmp_path / "imports.log"))
    return root, env, tmp_path / "imports.log", tmp_path / "cache" / "feisty" / "routes"


def routes(feisty, root, env, *extra):
    result = subprocess.run(
        [feisty, "routes", "app.py", "--json", *extra], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [rule["rule"] for rule in json.loads(result.stdout)["rules"]]


def imports(log) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def rewrite(path, text):
    """Writes `text` and makes sure the file's stamp moves even on a coarse clock (the same size, the same tick)."""
    before = os.stat(path).st_mtime_ns if path.exists() else None
    while True:
        path.write_text(text)
        if os.stat(path).st_mtime_ns != before:
            return
        time.sleep(0.01)


def test_a_second_call_reuses_the_table_without_importing(feisty, project):
    root, env, log, cache = project
    first = routes(feisty, root, env)
    assert imports(log) == 1
    assert routes(feisty, root, env) == first == ["/static/<path:filename>", "/a", "/b", "/"]
    assert imports(log) == 1
    entries = os.listdir(cache)
    assert len(entries) == 1
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache / entries[0]).st_mode) == 0o600
    # The environment's values are never written, only their digest.
    assert env["IMPORTS"] not in (cache / entries[0]).read_text()


def test_editing_the_app_imports_it_again(feisty, project):
    root, env, log, _ = project
    routes(feisty, root, env)
    rewrite(root / "app.py", APP.replace('"/"', '"/home"'))
    assert routes(feisty, root, env)[-1] == "/home"
    assert imports(log) == 2


def test_a_file_the_import_read_changing_imports_it_again(feisty, project):
    root, env, log, _ = project
    routes(feisty, root, env)
    rewrite(root / "extra.json", '["/a", "/c"]')  # the same size
    assert routes(feisty, root, env) == ["/static/<path:filename>", "/a", "/c", "/"]
    assert imports(log) == 2


def test_a_module_appearing_beside_the_app_imports_it_again(feisty, project):
    root, env, log, _ = project
    assert "/helpers" not in routes(feisty, root, env)
    (root / "helpers.py").write_text("")
    assert "/helpers" in routes(feisty, root, env)
    assert imports(log) == 2


def test_another_environment_imports_it_again(feisty, project):
    root, env, log, _ = project
    assert "/admin" not in routes(feisty, root, env)
    assert "/admin" in routes(feisty, root, dict(env, WITH_ADMIN="1"))
    assert imports(log) == 2
    assert "/admin" not in routes(feisty, root, env)  # each environment keeps its own entry
    assert imports(log) == 2


def test_no_cache_always_imports_and_writes_nothing(feisty, project):
    root, env, log, cache = project
    routes(feisty, root, env, "--no-cache")
    routes(feisty, root, env, "--no-cache")
    assert imports(log) == 2
    assert not cache.exists()


def test_an_import_that_starts_a_process_is_never_cached(feisty, project):
    root, env, log, cache = project
    rewrite(root / "app.py", APP + "\nimport subprocess\nsubprocess.run(['true'])\n")
    routes(feisty, root, env)
    routes(feisty, root, env)
    assert imports(log) == 2
    assert not cache.exists() or os.listdir(cache) == []


def test_a_cache_folder_others_can_write_is_not_used(feisty, project):
    root, env, log, cache = project
    routes(feisty, root, env)
    os.chmod(cache, 0o777)
    routes(feisty, root, env)
    assert imports(log) == 2


def test_a_broken_entry_means_a_fresh_import(feisty, project):
    root, env, log, cache = project
    routes(feisty, root, env)
    (entry,) = os.listdir(cache)
    (cache / entry).write_text("{not json")
    assert routes(feisty, root, env)[-1] == "/"
    assert imports(log) == 2
    assert routes(feisty, root, env)[-1] == "/"  # and the fresh table was kept again
    assert imports(log) == 2


def test_match_batch_uses_the_cache_and_judges_the_same(feisty, project):
    root, env, log, _ = project
    lines = "".join(json.dumps({"id": i, "method": "GET", "path": p}) + "\n" for i, p in enumerate(["/a", "/x", "/"]))

    def batch():
        result = subprocess.run(
            [feisty, "match", "app.py", "--batch", "--json"], cwd=root, env=env, input=lines, capture_output=True,
            text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return [json.loads(line)["outcome"] for line in result.stdout.splitlines()]

    assert batch() == ["match", "not_found", "match"]
    assert batch() == ["match", "not_found", "match"]
    assert imports(log) == 1

