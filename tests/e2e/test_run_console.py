"""What `feisty run` prints: feisty's own lines (the launcher's warnings included) as feisty's, the app's as `app| `
and `app! `, and nothing that points at feisty's private socket."""
import re
import subprocess

import requests

from .conftest import feisty_binary

# ISO 8601 UTC to the millisecond, then `feisty`: every line feisty logs (ConsoleLogHandler).
FEISTY_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z feisty ")


def test_console_lines_are_feistys_or_the_apps(start_feisty, tmp_path):
    app = tmp_path / "debug_app.py"
    app.write_text(
        "from flask import Flask\napp = Flask(__name__)\n"
        "@app.route('/hello')\ndef hello():\n    print('hello from the app')\n    return 'hi'\n"
        "if __name__ == '__main__':\n    app.run(debug=True, port=5124)\n"
    )
    feisty = start_feisty(str(app), ready_path="/hello")
    assert requests.get(feisty.base + "/hello").text == "hi"
    assert feisty.wait_for_line("GET /hello forward 200 2 ")
    feisty.stop()
    lines = feisty.lines
    feistys = [line for line in lines if FEISTY_LINE.match(line)]
    # The launcher's warnings are feisty's lines, with the level word; never relayed as the app's.
    assert any(line.endswith(" feisty warning: the reloader is disabled (it would fork a child feisty cannot "
                             "supervise)") for line in feistys), "\n".join(lines)
    assert any(" feisty warning: the Werkzeug debugger is disabled" in line for line in feistys)
    assert not [line for line in lines if "::feisty::" in line or line.startswith("app! feisty")]
    # The access log keeps its text right after the prefix; no module label anywhere.
    assert any(re.search(r"Z feisty 127\.0\.0\.1 GET /hello forward 200 2 [0-9.]+ms\b", line) for line in feistys)
    assert not [line for line in lines if "[FeistyCore]" in line]
    # The app's own output is the app's; its server's startup lines naming the private socket are gone.
    assert "app| hello from the app" in lines
    assert any(line.startswith("app! WARNING: This is a development server.") for line in lines)
    assert not [line for line in lines if "Running on" in line or "CTRL+C" in line]


def test_a_launcher_error_is_not_relayed_raw(tmp_path):
    result = subprocess.run([feisty_binary(), "run", str(tmp_path / "missing.py")], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert '{"error"' not in result.stdout + result.stderr  # the launcher's JSON report is the supervisor's to tell
    assert "missing.py: no such file" in result.stderr
