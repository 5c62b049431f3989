"""`feisty run` of apps that start themselves at import time, and of a module found through an import hook
(issue 11: import exactly as `flask --app` does)."""
import textwrap

import requests

from editable_support import EDITABLE_APP, make_editable_venv

from .conftest import descendants, free_port


def test_script_with_unguarded_app_run_is_served_once(start_feisty, tmp_path):
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(f"""\
        import os

        from flask import Flask

        print("IMPORTED", os.getpid(), flush=True)
        app = Flask(__name__)


        @app.get("/")
        def index():
            return f"served by {{os.getpid()}}"


        app.run(host="127.0.0.1", port={port})  # no __main__ guard

        if __name__ == "__main__":
            print("GUARDED BLOCK RAN", flush=True)
            app.run(host="127.0.0.1", port={port})
        """))
    # No --listen: feisty serves where the script's app.run asks, the app itself only on feisty's internal address.
    feisty = start_feisty(str(script), port=port, cwd=tmp_path, listen=False)
    answers = {requests.get(feisty.base + "/", timeout=5).text for _ in range(5)}
    assert len(answers) == 1 and next(iter(answers)).startswith("served by "), answers
    pid = next(iter(answers)).split()[-1]
    assert feisty.wait_for_line(f"app| IMPORTED {pid}")
    assert requests.get(feisty.base + "/wp-login.php", timeout=5).status_code == 404  # the gate knows the routes
    output = feisty.output
    assert output.count("IMPORTED") == 1, output
    assert "GUARDED BLOCK RAN" not in output
    assert "second server" not in output
    pythons = [child for child in descendants(feisty.proc.pid) if _is_python(child)]
    assert [str(child) for child in pythons].count(pid) == 1 and len(pythons) == 1, (pythons, output)


def test_module_from_an_editable_install_is_served(start_feisty, tmp_path):
    python = make_editable_venv(tmp_path)
    feisty = start_feisty(f"{EDITABLE_APP}:app", "--python", str(python), cwd=tmp_path, ready_path="/editable/3")
    assert requests.get(feisty.base + "/editable/3", timeout=5).text == "editable 3"
    assert requests.get(feisty.base + "/editable/x", timeout=5).status_code == 404
    output = feisty.output
    assert output.count("edapp imported") == 1, output
    assert "ignoring app.run() called while" in output


def _is_python(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip().startswith("python")
    except OSError:
        return False
