"""`feisty run --user`: started as root, feisty binds a privileged port, then it and the app run as the user."""
import importlib.util
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from .conftest import RunningFeisty, ask_in, assert_scanner_dropped_by_nftables, feisty_binary, free_port

APP = '''
import os
from flask import Flask

app = Flask(__name__)

@app.route("/")
def index():
    return "hello"

@app.route("/ids")
def ids():
    return f"{os.getuid()} {os.getgid()} {os.environ.get('HOME')} {os.getpid()}"

@app.route("/crash", methods=["POST"])
def crash():
    os._exit(3)
'''

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (feisty starts as root and drops to --user)")


def free_privileged_port(below: int = 1001) -> int:
    for port in range(below - 1, 900, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail("no free port between 901 and 1000")


@pytest.fixture
def app_for_nobody():
    """The app and Flask where `nobody` can read them (pytest's tmp_path is root's alone), run by the system's
    python3 (root's pyenv is in /root)."""
    shared = pathlib.Path(tempfile.mkdtemp(prefix="feisty-privileges-"))
    packages = shared / "packages"
    packages.mkdir(parents=True)
    for name in ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker"):
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        origin = pathlib.Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, packages / name)
        else:
            shutil.copy(origin, packages / origin.name)
        # Their metadata too: the launcher asks importlib.metadata for versions.
        site = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        for metadata in site.glob("*.dist-info"):
            if metadata.name.lower().startswith(name + "-"):
                shutil.copytree(metadata, packages / metadata.name)
    (shared / "ids.py").write_text(APP)
    for path in [*shared.rglob("*"), shared]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or subprocess.run([python, "-c", "import sys; assert sys.version_info >= (3, 9)"]).returncode:
        pytest.skip("no system python3 (3.9+) readable by nobody in /usr/bin")
    yield shared, python
    shutil.rmtree(shared, ignore_errors=True)


def proc_status(pid: int, field: str, task=None):
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return [int(value, 16) if field.startswith("Cap") else int(value) for value in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def all_threads(pid: int, field: str):
    """`field` of every thread of `pid` (glibc's setuid must have reached each one)."""
    return {task.name: proc_status(pid, field, task=task.name) for task in pathlib.Path(f"/proc/{pid}/task").iterdir()}


def test_the_app_and_feisty_run_as_the_user_after_binding_privileged_ports(app_for_nobody):
    shared, python = app_for_nobody
    nobody = pwd.getpwnam("nobody")
    port = free_privileged_port()
    admin_port = free_privileged_port(below=port)
    state = shared / "state"
    feisty = RunningFeisty(
        ["--user", "nobody", "--python", python, "--listen", f"127.0.0.1:{port}", "--state-dir", str(state),
         "--admin", f"127.0.0.1:{admin_port}", str(shared / "ids.py")],
        port,
        cwd=shared,
        env={"PYTHONPATH": str(shared / "packages")},
    )
    try:
        feisty.wait_ready("/", timeout=30)
        uid, gid, home, app_pid = requests.get(feisty.base + "/ids", timeout=5).text.split(" ")
        assert (int(uid), int(gid)) == (nobody.pw_uid, nobody.pw_gid), feisty.output
        assert home == nobody.pw_dir
        # What the kernel says of the app's process, not only what it reports.
        assert proc_status(int(app_pid), "Uid") == [nobody.pw_uid] * 4
        # feisty itself gave root up, every thread: real, effective, saved and filesystem IDs alike.
        assert set(map(tuple, all_threads(feisty.proc.pid, "Uid").values())) == {(nobody.pw_uid,) * 4}
        assert set(map(tuple, all_threads(feisty.proc.pid, "Gid").values())) == {(nobody.pw_gid,) * 4}
        groups = proc_status(feisty.proc.pid, "Groups")
        assert 0 not in groups and set(groups) <= {nobody.pw_gid, *os.getgrouplist("nobody", nobody.pw_gid)}
        assert proc_status(feisty.proc.pid, "CapEff") == [0]
        assert "feisty and the app run as nobody" in feisty.output
        # The admin listener was bound below 1024 before the drop, and answers after it.
        assert requests.get(f"http://127.0.0.1:{admin_port}/healthz", timeout=5).status_code == 200
        # The state directory, made by root, is the user's now (bans are still written).
        assert state.stat().st_uid == nobody.pw_uid
        assert all(path.stat().st_uid == nobody.pw_uid for path in state.iterdir())

        # A crash after the drop: feisty (no longer root) starts a replacement, again as nobody.
        assert requests.post(feisty.base + "/crash", timeout=10).status_code == 502
        deadline = time.monotonic() + 30
        replacement = None
        while time.monotonic() < deadline:
            try:
                answer = requests.get(feisty.base + "/ids", timeout=2)
                if answer.status_code == 200 and answer.text.split(" ")[3] != app_pid:
                    replacement = answer.text.split(" ")
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        assert replacement is not None, feisty.output
        assert int(replacement[0]) == nobody.pw_uid
        assert proc_status(int(replacement[3]), "Uid") == [nobody.pw_uid] * 4
        assert "event=crash instance=1" in feisty.output
    finally:
        code = feisty.stop()
    assert code == 0, feisty.output


IMPORT_REPORTER = '''
import os
import pathlib
from flask import Flask

# Who imported the app: the route probe, when feisty guards a running server (--upstream).
pathlib.Path(os.environ["FEISTY_TEST_IMPORTED"]).write_text(f"{os.getuid()} {os.getgid()} {os.environ.get('HOME')}")

app = Flask(__name__)

@app.route("/")
def index():
    return "hello"
'''


def test_upstream_imports_the_app_as_the_user_and_feisty_drops_after_binding(app_for_nobody):
    """--upstream launches no app, but the probe imports it for its routes: as the user, never as root; and feisty
    itself gives root up once its ports are bound."""
    shared, python = app_for_nobody
    nobody = pwd.getpwnam("nobody")
    (shared / "reporter.py").write_text(IMPORT_REPORTER)
    (shared / "reporter.py").chmod(0o644)
    reports = shared / "reports"
    reports.mkdir(mode=0o777)
    reports.chmod(0o777)
    imported = reports / "imported-as"
    (shared / "upstream").mkdir(mode=0o755)
    (shared / "upstream" / "index.html").write_text("from the upstream server")
    upstream_port = free_port()
    upstream = subprocess.Popen([python, "-m", "http.server", str(upstream_port), "--bind", "127.0.0.1",
                                 "--directory", str(shared / "upstream")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", upstream_port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and upstream.poll() is None, "the upstream server did not start"
            time.sleep(0.05)
    port = free_privileged_port()
    admin_port = free_privileged_port(below=port)
    state = shared / "state"
    feisty = RunningFeisty(
        ["--user", "nobody", "--python", python, "--upstream", f"127.0.0.1:{upstream_port}",
         "--listen", f"127.0.0.1:{port}", "--state-dir", str(state), "--admin", f"127.0.0.1:{admin_port}",
         str(shared / "reporter.py")],
        port,
        cwd=shared,
        env={"PYTHONPATH": str(shared / "packages"), "FEISTY_TEST_IMPORTED": str(imported)},
    )
    try:
        feisty.wait_ready("/", timeout=30)
        # The probe's Python ran as nobody, with nobody's group and home.
        uid, gid, home = imported.read_text().split(" ")
        assert (int(uid), int(gid), home) == (nobody.pw_uid, nobody.pw_gid, nobody.pw_dir), feisty.output
        # The guard answers through the proxy, as nobody.
        answer = requests.get(feisty.base + "/", timeout=5)
        assert (answer.status_code, answer.text) == (200, "from the upstream server"), feisty.output
        # feisty gave root up on every thread once the ports were bound.
        assert feisty.wait_for_line("feisty runs as nobody", timeout=5), feisty.output
        assert set(map(tuple, all_threads(feisty.proc.pid, "Uid").values())) == {(nobody.pw_uid,) * 4}
        assert set(map(tuple, all_threads(feisty.proc.pid, "Gid").values())) == {(nobody.pw_gid,) * 4}
        assert set(map(tuple, all_threads(feisty.proc.pid, "CapEff").values())) == {(0,)}
        assert set(map(tuple, all_threads(feisty.proc.pid, "CapPrm").values())) == {(0,)}
        assert requests.get(f"http://127.0.0.1:{admin_port}/healthz", timeout=5).status_code == 200
        assert state.stat().st_uid == nobody.pw_uid
    finally:
        code = feisty.stop()
        upstream.terminate()
        upstream.wait(timeout=10)
    assert code == 0, feisty.output


def test_upstream_as_root_without_user_refuses_before_importing_the_app(tmp_path):
    (tmp_path / "reporter.py").write_text(IMPORT_REPORTER)
    imported = tmp_path / "imported-as"
    completed = subprocess.run(
        [feisty_binary(), "run", str(tmp_path / "reporter.py"), "--upstream", f"127.0.0.1:{free_port()}",
         "--listen", f"127.0.0.1:{free_port()}", "--state-dir", str(tmp_path / "state"), "--admin", "off"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL,
        env={**os.environ, "FEISTY_TEST_IMPORTED": str(imported)},
    )
    assert completed.returncode == 1, completed
    assert "import the app as root" in completed.stderr and "--user USER" in completed.stderr, completed.stderr
    assert "--allow-root-app" in completed.stderr, completed.stderr
    assert not imported.exists()


NET_ADMIN = 1 << 12


@pytest.mark.parametrize("mode", ["launch", "upstream"])
def test_nftables_with_user_keeps_cap_net_admin_on_one_thread_alone(app_for_nobody, netns, mode):
    """--ban-action nftables with --user: the kernel still drops a banned scanner (nft runs as nobody with
    CAP_NET_ADMIN), while feisty's threads are nobody and hold nothing else, and the app holds nothing at all."""
    shared, python = app_for_nobody
    nobody = pwd.getpwnam("nobody")
    port = 80
    upstream = None
    extra = []
    if mode == "upstream":
        (shared / "upstream").mkdir(mode=0o755)
        (shared / "upstream" / "index.html").write_text("from the upstream server")
        upstream = subprocess.Popen(["ip", "netns", "exec", netns, python, "-m", "http.server", "8000", "--bind",
                                     "127.0.0.1", "--directory", str(shared / "upstream")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        extra = ["--upstream", "127.0.0.1:8000"]
    feisty = RunningFeisty(
        ["--user", "nobody", "--python", python, "--listen", f"127.0.0.1:{port}", "--state-dir", str(shared / "state"),
         "--ban-action", "nftables", *extra, str(shared / "ids.py")],
        port,
        cwd=shared,
        env={"PYTHONPATH": str(shared / "packages")},
        prefix=("ip", "netns", "exec", netns),
    )
    try:
        deadline = time.monotonic() + 30
        while ask_in(netns, port, "127.0.0.3", "/") != ("answered", "200"):
            assert feisty.proc.poll() is None and time.monotonic() < deadline, feisty.output
            time.sleep(0.2)
        assert feisty.wait_for_line(" as nobody (uid", timeout=5), feisty.output
        # Every thread is nobody; one (the thread nft is started from) keeps CAP_NET_ADMIN and nothing else, in
        # every set (ambient: nft inherits it) and as its bounding set; the others hold nothing.
        assert set(map(tuple, all_threads(feisty.proc.pid, "Uid").values())) == {(nobody.pw_uid,) * 4}
        held = {field: all_threads(feisty.proc.pid, field) for field in ("CapPrm", "CapEff", "CapInh", "CapAmb")}
        keepers = [task for task, (value,) in held["CapPrm"].items() if value]
        assert len(keepers) == 1, held
        for field, threads in held.items():
            assert threads[keepers[0]] == [NET_ADMIN], (field, held)
            if field != "CapInh":
                assert all(value == [0] for task, value in threads.items() if task != keepers[0]), (field, held)
        assert proc_status(feisty.proc.pid, "CapBnd", task=keepers[0]) == [NET_ADMIN]
        # The app (launched from another thread) holds no capability at all (--upstream: nothing is launched).
        for pid in feisty.app_pids():
            for field in ("CapPrm", "CapEff", "CapAmb"):
                assert proc_status(pid, field) == [0], (pid, field)

        # A scanner is banned, and nft (run as nobody) put it in the kernel's set: its connects are dropped.
        assert_scanner_dropped_by_nftables(netns, port, feisty)
        assert "nftables failed" not in feisty.output.lower(), feisty.output
    finally:
        code = feisty.stop(timeout=10)
        if upstream is not None:
            upstream.terminate()
            upstream.wait(timeout=10)
    assert code == 0, feisty.output
    # As nobody with CAP_NET_ADMIN, feisty still took its table with it.
    tables = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"], capture_output=True, text=True)
    assert "feisty" not in tables.stdout


def test_exec_as_runs_a_program_as_the_user_with_its_groups():
    """The hidden `feisty exec-as` the probe goes through: a fresh process becomes the user, then execs."""
    nobody = pwd.getpwnam("nobody")
    ran = subprocess.run([feisty_binary(), "exec-as", "--uid", str(nobody.pw_uid), "--gid", str(nobody.pw_gid),
                          "--groups", str(nobody.pw_gid), "--", "sh", "-c", "id -u; id -g; id -G"],
                         capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, ran
    assert ran.stdout.split("\n")[:3] == [str(nobody.pw_uid), str(nobody.pw_gid), str(nobody.pw_gid)]
    missing = subprocess.run([feisty_binary(), "exec-as", "--uid", str(nobody.pw_uid), "--gid", str(nobody.pw_gid),
                              "--groups", str(nobody.pw_gid), "--", "no-such-program-feisty"],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 126 and "cannot run no-such-program-feisty" in missing.stderr, missing


def run_refused(*args, cwd):
    # A state directory of the test's own: a refusal that came too late would chown it, never /var/lib/feisty.
    completed = subprocess.run([feisty_binary(), "run", *args, "--state-dir", str(cwd / "state"), "--admin", "off"],
                               capture_output=True, text=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)
    assert completed.returncode in (1, 64), completed  # 64: a flag error (ArgumentParser)
    return completed.stderr


def test_root_without_user_is_refused_naming_both_flags(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    error = run_refused(str(app), "--listen", f"127.0.0.1:{free_privileged_port()}", cwd=tmp_path)
    assert "--user USER" in error and "--allow-root-app" in error, error


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--user", "no-such-user-here"], "no such user"),
        (["--user", "nobody", "--group", "no-such-group-here"], "no such group"),
        (["--user", "nobody", "--allow-root-app"], "exclude each other"),
    ],
)
def test_impossible_combinations_are_refused(tmp_path, extra, needle):
    app = tmp_path / "app.py"
    app.write_text(APP)
    error = run_refused(str(app), "--listen", "127.0.0.1:5999", *extra, cwd=tmp_path)
    assert needle in error, error


def test_user_needs_a_known_public_address(app_for_nobody, tmp_path):
    """The port is bound before root is given up, so it must be known before the app starts. The app is where
    nobody can read it: the source is read as the user, and this is about what it says, not about reading it."""
    shared, python = app_for_nobody
    app = shared / "picks_port.py"
    app.write_text(APP + '\ndef pick_port():\n    return 5000\n\nif __name__ == "__main__":\n'
                   '    app.run(port=pick_port())\n')
    app.chmod(0o644)
    error = run_refused(str(app), "--user", "nobody", "--python", python, cwd=tmp_path)
    assert "--listen" in error and "failed" not in error, error
    # Where nobody cannot read the app, the refusal comes after a line saying so.
    hidden = tmp_path / "hidden.py"
    hidden.write_text(app.read_text())
    error = run_refused(str(hidden), "--user", "nobody", "--python", python, cwd=tmp_path)
    assert "--listen" in error and "as nobody to find its port failed" in error, error
