"""`feisty run --config FILE` end to end: settings from a TOML file (flags win over it), `--check-config`'s exit
codes and messages with line numbers, SIGHUP reloading the file while a keep-alive client keeps asking, and
`--log-format json`."""
import json
import os
import signal
import subprocess
import textwrap
import threading
import time

import pytest

from .conftest import REPO, feisty_binary, free_port
from .guard_support import KeepAlive, ask, session_from

APP = """
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "home"
"""


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(APP))
    return path


def write_config(path, text):
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def check(*args, cwd=REPO):
    return subprocess.run([feisty_binary(), "run", *args, "--check-config"], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def statuses(port, count, source="127.0.0.1"):
    session = session_from(source)
    return [session.get(f"http://127.0.0.1:{port}/", timeout=5).status_code for _ in range(count)]


def test_a_rate_from_the_file_is_enforced(start_feisty, app, tmp_path):
    config = write_config(tmp_path / "feisty.toml", f"""
        app = "{app}"

        [guard]
        rate = 1
        burst = 2
    """)
    feisty = start_feisty("--config", str(config))
    got = statuses(feisty.port, 6, source="127.0.0.2")  # a client the readiness wait did not count
    assert got[:2] == [200, 200], got
    assert 429 in got[2:], (got, feisty.output)


def test_a_flag_on_the_command_line_wins_over_the_file(start_feisty, app, tmp_path):
    config = write_config(tmp_path / "feisty.toml", f"""
        app = "{app}"
        rate = 1
        burst = 1
        deny = ["127.0.0.3"]
    """)
    # --rate and --burst on the command line replace the file's: 6 quick requests all pass.
    feisty = start_feisty("--config", str(config), "--rate", "1000", "--burst", "1000", "--deny", "127.0.0.4")
    assert statuses(feisty.port, 6) == [200] * 6, feisty.output
    # The command line's --deny list replaces the file's (it is not added to it).
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.3").status == 200
    assert ask("127.0.0.1", feisty.port, "/", source="127.0.0.4").turned_away


@pytest.mark.parametrize("text, expected", [
    ('app = "app.py"\nrate = 5\n\n# typo below\nrat = 3\n', 'feisty.toml:5: unknown key "rat" (did you mean "rate"?)'),
    ('app = "app.py"\n[guard]\nrate = "fast"\n', "feisty.toml:3: guard.rate: The value 'fast' is invalid for '--rate <rate>'"),
    ('app = "app.py"\nrate = -2\n', "feisty.toml:2: rate: --rate must be a positive number of requests per second"),
    ('app = "app.py"\nmax-body = "lots"\n', "feisty.toml:2: max-body: invalid size 'lots'"),
    ('app = "app.py"\ndry-run = "yes"\n', "feisty.toml:2: dry-run: expected true or false, got a string"),
    ('app = "app.py"\nallow = ["not an address!"]\n', "feisty.toml:2: allow: "),
    ('app = "app.py"\nrate = [1\n', "feisty.toml:2: "),
])
def test_check_config_names_the_line_and_key(tmp_path, app, text, expected):
    (tmp_path / "feisty.toml").write_text(text)
    (tmp_path / "app.py").write_text(app.read_text())
    result = check("--config", "feisty.toml", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"feisty: {expected}" in result.stderr, result.stderr


def test_check_config_accepts_a_valid_file_and_starts_nothing(tmp_path, app):
    port = free_port()
    config = write_config(tmp_path / "feisty.toml", f"""
        app = "{app}"
        listen = "127.0.0.1:{port}"
        rate = 5
        allow = ["10.0.0.0/8"]
        access-log = false
    """)
    result = check("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert ask("127.0.0.1", port, "/").how == "refused"


def test_check_config_checks_the_flags_too(tmp_path, app):
    config = write_config(tmp_path / "feisty.toml", f'app = "{app}"\n')
    result = check("--config", str(config), "--max-body", "lots")
    assert result.returncode != 0
    assert "invalid size 'lots'" in result.stderr


def test_the_example_config_is_valid():
    result = check("--config", "examples/feisty.toml")
    assert result.returncode == 0, result.stderr
