"""`feisty systemd APP`: the printed unit is one systemd itself accepts (`systemd-analyze verify`)."""
import pathlib
import shutil
import subprocess

import pytest

from .conftest import feisty_binary

APP = '''
from flask import Flask

app = Flask(__name__)

@app.route("/")
def index():
    return "hello"
'''

ANALYZE = shutil.which("systemd-analyze")


def unit_for(tmp_path, *flags) -> str:
    (tmp_path / "app.py").write_text(APP)
    completed = subprocess.run([feisty_binary(), "systemd", "app.py", *flags], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed
    return completed.stdout


def directives(unit: str) -> dict:
    return dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)")
@pytest.mark.parametrize(
    "flags",
    [
        ["--user", "daemon", "--listen", "0.0.0.0:80", "--workers", "2"],
        ["--listen", "127.0.0.1:8080", "--ban-action", "nftables", "--rate", "5"],
        ["--user", "daemon", "--group", "daemon", "--state-dir", "/srv/feisty state"],
    ],
    ids=["user-port-80", "dynamic-user-nftables", "group-and-state-dir"],
)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path, flags):
    unit = unit_for(tmp_path, *flags)
    path = tmp_path / "feisty-e2e.service"
    path.write_text(unit)
    verified = subprocess.run([ANALYZE, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and not (verified.stdout + verified.stderr).strip(), (verified, unit)


def test_the_unit_runs_feisty_as_the_user_with_only_the_capabilities_it_needs(tmp_path):
    unit = unit_for(tmp_path, "--user", "daemon", "--listen", "0.0.0.0:80")
    fields = directives(unit)
    assert fields["Type"] == "notify" and fields["User"] == "daemon"
    # systemd starts feisty as the user already: `feisty run` gets no --user (it would need root) and binds port 80
    # with the one ambient capability.
    assert "--user" not in fields["ExecStart"] and "--allow-root-app" not in fields["ExecStart"]
    assert fields["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert fields["ExecStart"].split()[0] == str(pathlib.Path(feisty_binary()).resolve())
    assert fields["ExecStart"].endswith(str(tmp_path / "app.py"))
    unprivileged = directives(unit_for(tmp_path, "--user", "daemon", "--listen", "127.0.0.1:8080"))
    assert unprivileged["CapabilityBoundingSet"] == "" and "AmbientCapabilities" not in unprivileged
