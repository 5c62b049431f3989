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


class Hammer:
    """A keep-alive client asking `/` in a loop from `source` until stopped; every answer that is not a 200 and
    every connection error is kept."""

    def __init__(self, port, source):
        self.port, self.source = port, source
        self.answers, self.failures = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        client = KeepAlive("127.0.0.1", self.port, source=self.source)
        while not self._stop.is_set():
            try:
                status, _ = client.get("/")
                self.answers += 1
                if status != 200:
                    self.failures.append(status)
            except Exception as error:  # noqa: BLE001 - any failure counts
                self.failures.append(repr(error))
                client = KeepAlive("127.0.0.1", self.port, source=self.source)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)


def reloaded_config(app, port, extra):
    return textwrap.dedent(f"""
        app = "{app}"
        listen = "127.0.0.1:{port}"
        allow = ["127.0.0.2"]
    """).lstrip() + textwrap.dedent(extra)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sighup_applies_the_changed_file_live_dropping_no_request(start_feisty, app, tmp_path):
    port = free_port()
    config = tmp_path / "feisty.toml"
    config.write_text(reloaded_config(app, port, """
        rate = 1000
        burst = 1000
    """))
    feisty = start_feisty("--config", str(config), port=port, listen=False)
    assert ask("127.0.0.1", port, "/", source="127.0.0.3").status == 200
    assert statuses(port, 3, source="127.0.0.5") == [200] * 3
    hammer = Hammer(port, "127.0.0.2")
    try:
        assert wait_until(lambda: hammer.answers > 20), hammer.failures
        config.write_text(reloaded_config(app, port, """
            rate = 1
            burst = 1
            deny = ["127.0.0.3"]
            workers = 2
        """))
        feisty.proc.send_signal(signal.SIGHUP)
        assert feisty.wait_for_line("config reload: " + str(config) + ": applied burst, deny, rate"), feisty.output
        assert "needs a restart: workers" in feisty.output
        # The deny list now holds 127.0.0.3: its connections are closed unanswered.
        assert wait_until(lambda: ask("127.0.0.1", port, "/", source="127.0.0.3").turned_away)
        # The new rate: a second request at once is throttled.
        got = statuses(port, 3, source="127.0.0.6")
        assert got[0] == 200 and 429 in got[1:], got
        # The deploy of the same SIGHUP completes too, and the hammer saw no failure through all of it.
        assert feisty.wait_for_line("deploy complete", timeout=30), feisty.output
        answered = hammer.answers
        assert wait_until(lambda: hammer.answers > answered + 20)
    finally:
        hammer.stop()
    assert hammer.failures == [], hammer.failures
    assert hammer.answers > 40


def test_a_broken_file_on_sighup_changes_nothing_and_the_code_still_deploys(start_feisty, app, tmp_path):
    port = free_port()
    config = tmp_path / "feisty.toml"
    config.write_text(reloaded_config(app, port, 'deny = ["127.0.0.3"]\n'))
    feisty = start_feisty("--config", str(config), port=port, listen=False)
    assert ask("127.0.0.1", port, "/", source="127.0.0.3").turned_away
    # An empty deny list, but a typo on line 5: nothing of the file is applied.
    config.write_text(reloaded_config(app, port, 'deny = []\nrat = 3\n'))
    feisty.proc.send_signal(signal.SIGHUP)
    assert feisty.wait_for_line(f'config reload: {config}:5: unknown key "rat" (did you mean "rate"?)'), feisty.output
    assert feisty.wait_for_line("deploy complete", timeout=30), feisty.output
    assert ask("127.0.0.1", port, "/", source="127.0.0.3").turned_away
    assert ask("127.0.0.1", port, "/", source="127.0.0.4").status == 200


def test_log_format_json_writes_every_line_as_one_json_object(start_feisty, app, tmp_path):
    port = free_port()
    config = write_config(tmp_path / "feisty.toml", f"""
        app = "{app}"
        listen = "127.0.0.1:{port}"
        log-format = "json"
    """)
    feisty = start_feisty("--config", str(config), port=port, listen=False)
    assert statuses(port, 2, source="127.0.0.2") == [200, 200]
    assert ask("127.0.0.1", port, "/nope", source="127.0.0.2").status == 404
    assert wait_until(lambda: feisty.output.count('"message": "access"') >= 3), feisty.output
    feisty.stop()
    records = [json.loads(line) for line in feisty.lines if line.strip()]  # every line parses
    assert all({"time", "level", "message"} <= record.keys() for record in records)
    assert any(record.get("source") == "app" for record in records)  # the app's own output, wrapped
    access = [record for record in records if record["message"] == "access" and record["client"] == "127.0.0.2"]
    assert [(r["method"], r["target"], r["status"], r["verdict"]) for r in access] == [
        ("GET", "/", 200, "forward"), ("GET", "/", 200, "forward"), ("GET", "/nope", 404, "not_found")]
    assert all(isinstance(r["bytes"], int) and isinstance(r["total_ms"], float) for r in access)
    assert access[0]["instance"] == 1 and access[0]["upstream_ms"] >= 0
    assert any(record["message"].startswith("serving ") for record in records)


def test_log_format_text_is_the_default(start_feisty, app):
    feisty = start_feisty(str(app))
    assert feisty.wait_for_line("serving "), feisty.output
    assert not feisty.lines[0].startswith("{")
