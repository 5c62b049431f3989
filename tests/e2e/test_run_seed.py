"""`feisty run examples/seed/app.py`: the research post's app, unmodified, behind feisty."""
import os
import pathlib
import subprocess
import time

import pytest
import requests

from .conftest import alive, feisty_binary


def test_seed_app_is_served_and_guarded(start_feisty):
    feisty = start_feisty("examples/seed/app.py")
    r = requests.get(feisty.base + "/")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(feisty.base + "/2024")
    assert r.status_code == 200 and r.text == "2024"
    # getuser(user) does not take <username>: the app's own 500, passed through.
    r = requests.get(feisty.base + "/user/bob")
    assert r.status_code == 500
    # A client's first undeclared request still goes to the app (here: a wrong method, answered by Werkzeug).
    r = requests.post(feisty.base + "/2024")
    assert r.status_code == 405 and set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert feisty.wait_for_line('"POST /2024 HTTP/1.1" 405'), feisty.output
    # A canary is answered by feisty itself (the app never sees it) and bans the client at once: the research
    # post's proxy, which banned an IP after two requests to undeclared URLs.
    r = requests.get(feisty.base + "/wp-login.php")
    assert r.status_code == 404
    assert feisty.wait_for_line("banned 127.0.0.1 "), feisty.output
    with pytest.raises(requests.ConnectionError):
        requests.get(feisty.base + "/2024", timeout=5)
    time.sleep(0.3)
    assert '"GET /wp-login.php' not in feisty.output
    # feisty's own access log names the refused request and its verdict.
    assert any("/wp-login.php" in line and "not_found" in line for line in feisty.output.splitlines())


def test_default_listen_address_is_the_one_app_run_asks_for(start_feisty):
    # The seed app calls app.run(host="0.0.0.0", port=8080): without --listen, the same URL as before.
    feisty = start_feisty("examples/seed/app.py", port=8080, listen=False)
    r = requests.get("http://127.0.0.1:8080/2024", timeout=5)
    assert r.text == "2024"


def test_debugger_is_switched_off_with_a_warning(start_feisty, tmp_path):
    app = tmp_path / "debug_app.py"
    app.write_text(
        "from flask import Flask\napp = Flask(__name__)\n"
        "@app.route('/boom')\ndef boom():\n    raise RuntimeError('x')\n"
        "if __name__ == '__main__':\n    app.run(debug=True, port=5123)\n"
    )
    feisty = start_feisty(str(app), ready_path="/boom")
    r = requests.get(feisty.base + "/boom")
    assert r.status_code == 500
    assert "Werkzeug Debugger" not in r.text and "console" not in r.text.lower()
    assert "debugger" in feisty.output.lower()


def test_sigterm_finishes_in_flight_requests_and_stops_the_app(start_feisty):
    feisty = start_feisty("examples/rich/app.py")
    app_pids = feisty.app_pids()
    assert app_pids, "the app should run as feisty's child"
    result = {}

    def slow_request():
        result["response"] = requests.get(feisty.base + "/slow/1.5", timeout=10)

    import threading

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    code = feisty.stop()
    thread.join(timeout=10)
    assert result["response"].status_code == 200 and result["response"].json() == {"slept": 1.5}
    assert code == 0, feisty.output
    time.sleep(0.2)
    assert not [pid for pid in app_pids if alive(pid)]


def test_sigkill_of_feisty_leaves_no_python_behind(start_feisty):
    import signal

    feisty = start_feisty("examples/rich/app.py")
    app_pids = feisty.app_pids()
    assert app_pids
    feisty.proc.send_signal(signal.SIGKILL)
    feisty.proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [pid for pid in app_pids if alive(pid)]:
        time.sleep(0.1)
    assert not [pid for pid in app_pids if alive(pid)]


def test_threads_flag_sets_the_proxy_loops_and_rejects_nonsense(start_feisty):
    feisty = start_feisty("examples/seed/app.py", "--threads", "1")
    assert requests.get(feisty.base + "/2024", timeout=5).text == "2024"
    # NIO names a group's loop threads NIO-ELT-<group>-#<n> (its shared one-per-core group: NIO-SGLTN-...).
    names = [(task / "comm").read_text().strip() for task in pathlib.Path(f"/proc/{feisty.proc.pid}/task").glob("*")]
    prefix = "NIO-SGLTN-" if os.cpu_count() == 1 else "NIO-ELT-"  # one loop per core is the shared group itself
    assert len([name for name in names if name.startswith(prefix)]) == 1, names
    bad = subprocess.run(
        [feisty_binary(), "run", "examples/seed/app.py", "--threads", "0"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode != 0 and "invalid thread count 0" in bad.stderr
