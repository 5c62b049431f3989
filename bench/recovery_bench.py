#!/usr/bin/env python3
"""Recovery benchmark: how fast and how cleanly `feisty run` heals examples/faults/app.py, beside the research
post's prototype measured in the same run. Run it through bench/recovery_bench.sh (builds feisty); directly:

    python3 bench/recovery_bench.py --feisty .build-static/release/feisty [--crashes 3] [--deploys 3]

Figures (each scenario under the same load: CLIENTS threads, one requests.Session each, GET / back to back; a
failed request is followed by a 10 ms pause, so a dead server means about 100 failures per client per second):

  crash -> first 2xx   SIGKILL of the serving app process, until the first 2xx answered by another process
                       (median over --crashes kills); feisty, feisty --standby, prototype
  failed per crash     requests that got no 2xx (any status, refused or reset connection) per kill
  hang detection       GET /hang (the whole instance stops answering) until feisty's 504, --hang-timeout 2
  failed per swap      failed requests / swaps during a load with --max-requests 50 (every swap a recycle)
  failed per deploy    failed requests / deploys: VERSION rewritten, SIGHUP, until the new version answers

The prototype is the post's approach without its 1 s polling: `while true; do python3 app.py; done`, the app
serving its port directly (no proxy). It has no hang detection (flasksupervisor kills the app blindly after 300 s
of uptime, hung or not), no swap and no deploy: new code means a restart, measured as "deploy = restart" (SIGTERM,
the loop starts the new file).

Everything listens on 127.0.0.1; every wait is bounded (the whole run takes about 1.5 minutes). Processes are
started here and stopped by PID (the prototype loop by its own process group).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[1]
FAULTS_APP = REPO / "examples" / "faults" / "app.py"
CLIENTS = 4


class Unavailable(Exception):
    """A scenario that cannot run with this binary (e.g. a flag it does not know yet)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_version(app: pathlib.Path, version: str):
    text = re.sub(r'^VERSION = ".*"$', f'VERSION = "{version}"', app.read_text(), count=1, flags=re.M)
    tmp = app.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, app)


# ---- load -----------------------------------------------------------------------------------------------------------

class Load:
    """CLIENTS threads of GET `path`, each outcome kept as (sent, done, ok, pid, version)."""

    def __init__(self, base, path="/", clients=CLIENTS, max_seconds=40.0, total=None):
        self.url = base + path
        self.clients = clients
        self.deadline = time.monotonic() + max_seconds
        self.total = total
        self.outcomes = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.in_flight = 0
        self.workers = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def __enter__(self):
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for worker in self.workers:
            worker.join(timeout=15)

    def claim(self):
        with self.lock:
            if self.total is not None and len(self.outcomes) + self.in_flight >= self.total:
                return False
            self.in_flight += 1
            return True

    def run(self):
        with requests.Session() as session:
            while not self.stop_flag.is_set() and time.monotonic() < self.deadline and self.claim():
                sent = time.monotonic()
                ok, pid, version = False, None, None
                try:
                    response = session.get(self.url, timeout=10)
                    if 200 <= response.status_code < 300:
                        ok = True
                        try:
                            body = response.json()
                            pid, version = body.get("pid"), body.get("version")
                        except ValueError:
                            pass
                except requests.RequestException:
                    pass
                with self.lock:
                    self.in_flight -= 1
                    self.outcomes.append((sent, time.monotonic(), ok, pid, version))
                if not ok:
                    time.sleep(0.01)

    def finished(self):
        return all(not worker.is_alive() for worker in self.workers)

    def snapshot(self):
        with self.lock:
            return list(self.outcomes)

    def failed(self, since=0.0):
        return sum(1 for sent, _, ok, _, _ in self.snapshot() if not ok and sent >= since)

    def first_ok_after(self, instant, not_pid):
        times = [done for _, done, ok, pid, _ in self.snapshot() if ok and done > instant and pid != not_pid]
        return min(times, default=None)


def wait_until(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(interval)
    return None


# ---- the two servers ------------------------------------------------------------------------------------------------

class Server:
    base: str
    proc: subprocess.Popen

    def pid_serving(self) -> int:
        return int(requests.get(self.base + "/pid", timeout=5).text)

    def wait_ready(self, timeout=30):
        def answers():
            if self.proc.poll() is not None:
                raise Unavailable(f"exited with {self.proc.returncode}: {self.log_tail()}")
            return requests.get(self.base + "/health", timeout=1).status_code == 200
        if not wait_until(answers, timeout, interval=0.1):
            raise Unavailable(f"did not answer within {timeout}s: {self.log_tail()}")

    def log_tail(self, lines=5):
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Feisty(Server):
    def __init__(self, binary, app, workdir, flags):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"feisty-{self.port}.log"
        known = run_help(binary)
        extra = ["--health-path", "/health"] if "--health-path" in known else []
        # As root, a feisty that knows --allow-root-app refuses to run the app as root without it.
        extra += ["--allow-root-app"] if "--allow-root-app" in known and os.geteuid() == 0 else []
        for flag in flags:
            if flag.startswith("--") and flag not in known:
                raise Unavailable(f"this feisty has no {flag}")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "run", str(app), "--listen", f"127.0.0.1:{self.port}", "--no-access-log", "--grace", "2",
             *extra, *flags],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def events(self, kind):
        return len(re.findall(rf"\bevent={kind}\b", self.log_path.read_text(errors="replace")))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Prototype(Server):
    """The post's supervisor loop, minus its 1 s polling: bash restarts python3 app.py the moment it exits."""

    def __init__(self, python, app, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"prototype-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["bash", "-c", f'while true; do "{python}" app.py; done'], cwd=app.parent,
            env={**os.environ, "PORT": str(self.port)}, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the loop's own group: bash and the app it runs
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


_help = {}


def run_help(binary):
    if binary not in _help:
        completed = subprocess.run([binary, "run", "--help"], capture_output=True, text=True, timeout=30)
        _help[binary] = completed.stdout + completed.stderr
    return _help[binary]


# ---- scenarios ------------------------------------------------------------------------------------------------------

def crashes(server, count):
    """`count` SIGKILLs of the serving process under load: (median seconds to the first 2xx, failed per crash)."""
    recoveries, failed = [], 0
    for _ in range(count):
        with Load(server.base) as load:
            time.sleep(1.0)
            pid = server.pid_serving()
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            first = wait_until(lambda: load.first_ok_after(killed_at, pid), timeout=10)
            time.sleep(0.5)
        failed += load.failed()
        recoveries.append(first - killed_at if first else float("inf"))
    return statistics.median(recoveries), failed / count


def hang_detection(server, count):
    """GET /hang until the 504: median seconds (inf when no 504 within 15 s)."""
    took = []
    for _ in range(count):
        server.wait_ready()
        sent = time.monotonic()
        try:
            status = requests.get(server.base + "/hang", timeout=15).status_code
        except requests.RequestException:
            status = None
        took.append(time.monotonic() - sent if status == 504 else float("inf"))
        wait_until(lambda: requests.get(server.base + "/health", timeout=1).status_code == 200, timeout=10)
    return statistics.median(took)


def swaps(server, total):
    with Load(server.base, total=total, max_seconds=60) as load:
        wait_until(load.finished, timeout=60, interval=0.1)
    count = server.events("swap")
    return load.failed(), count, len(load.snapshot())


def deploys(server, app, count, trigger):
    """`count` deploys under load: VERSION rewritten, `trigger(server)`, until the new version answers.
    Returns (failed per deploy, median seconds from the trigger to the new version's first answer)."""
    took = []
    with Load(server.base, max_seconds=20 * count + 5) as load:
        time.sleep(0.5)
        for n in range(2, count + 2):
            version = f"v{n}"
            set_version(app, version)
            triggered = time.monotonic()
            trigger(server)

            def served():
                if server.proc.poll() is not None:
                    raise Unavailable(f"exited ({server.proc.returncode}) after the deploy trigger")
                return min((done for _, done, ok, _, v in load.snapshot() if ok and v == version), default=None)

            seen = wait_until(served, timeout=15)
            took.append(seen - triggered if seen else float("inf"))
            time.sleep(0.5)
    return load.failed() / count, statistics.median(took)


# ---- report ---------------------------------------------------------------------------------------------------------

def seconds(value):
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "never (within 15 s)"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def count(value):
    return "n/a" if value is None else (f"{value:.1f}" if value % 1 else f"{value:.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feisty", required=True, help="the feisty binary")
    parser.add_argument("--python", default=sys.executable, help="the interpreter both approaches use")
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--hangs", type=int, default=2)
    parser.add_argument("--deploys", type=int, default=3)
    parser.add_argument("--swap-requests", type=int, default=1000)
    parser.add_argument("--hang-timeout", default="2")
    parser.add_argument("--max-requests", default="50")
    options = parser.parse_args()
    # bench/recovery_bench.sh bounds the run with `timeout`: on its SIGTERM, stop what was started (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = pathlib.Path(tempfile.mkdtemp(prefix="recovery-bench-"))
    app = work / "app.py"
    shutil.copyfile(FAULTS_APP, app)
    results, notes = {}, []
    started = time.monotonic()
    load_before = f"{os.getloadavg()[0]:.2f}"

    def scenario(name, make, measure):
        print(f"[{time.monotonic() - started:5.1f}s] {name} ...", file=sys.stderr, flush=True)
        server = None
        try:
            server = make()
            server.wait_ready()
            results[name] = measure(server)
        except Unavailable as error:
            results[name] = None
            notes.append(f"{name}: not measured ({error})")
        finally:
            if server is not None:
                server.stop()
            set_version(app, "v1")

    def feisty(*flags):
        return lambda: Feisty(options.feisty, app, work, list(flags))

    def prototype():
        return Prototype(options.python, app, work)

    def hup(server):
        server.proc.send_signal(signal.SIGHUP)

    def restart(server):
        os.kill(server.pid_serving(), signal.SIGTERM)

    scenario("crash/prototype", prototype, lambda s: crashes(s, options.crashes))
    scenario("crash/feisty", feisty(), lambda s: crashes(s, options.crashes))
    scenario("crash/standby", feisty("--standby"), lambda s: crashes(s, options.crashes))
    scenario("hang/feisty", feisty("--hang-timeout", options.hang_timeout), lambda s: hang_detection(s, options.hangs))
    scenario("swap/feisty", feisty("--max-requests", options.max_requests),
             lambda s: swaps(s, options.swap_requests))
    scenario("deploy/feisty", feisty(), lambda s: deploys(s, app, options.deploys, hup))
    scenario("deploy/prototype", prototype, lambda s: deploys(s, app, options.deploys, restart))
    shutil.rmtree(work, ignore_errors=True)

    def get(name, index):
        value = results.get(name)
        return None if value is None else value[index]

    swap = results.get("swap/feisty")
    if swap is not None:
        failed, swap_count, sent = swap
        per_swap = f"{count(failed / swap_count)} ({failed} failed of {sent}, {swap_count} swaps)" if swap_count \
            else f"no swap logged ({failed} failed of {sent})"
    else:
        per_swap = "n/a"
    hang = results.get("hang/feisty")
    rows = [
        ("crash -> first 2xx", "< 1 s", seconds(get("crash/feisty", 0)), seconds(get("crash/prototype", 0))),
        ("crash -> first 2xx, --standby", "< 20 ms", seconds(get("crash/standby", 0)), "-"),
        ("failed requests per crash", "0", count(get("crash/feisty", 1)), count(get("crash/prototype", 1))),
        ("failed requests per crash, --standby", "0", count(get("crash/standby", 1)), "-"),
        (f"hang detection (--hang-timeout {options.hang_timeout})", f"<= {float(options.hang_timeout) + 1:g} s",
         seconds(hang) if hang is not None else "n/a", "never (blind kill after 300 s uptime)"),
        (f"failed requests per swap (--max-requests {options.max_requests})", "0", per_swap, "- (no swaps)"),
        ("failed requests per deploy", "0", count(get("deploy/feisty", 0)) + " (SIGHUP)",
         count(get("deploy/prototype", 0)) + " (restart)"),
        ("deploy -> new version answers", "-", seconds(get("deploy/feisty", 1)), seconds(get("deploy/prototype", 1))),
    ]
    header = ("figure", "goal", "feisty", "prototype: while true; do python3 app.py; done")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    print()
    print(f"recovery_bench: {CLIENTS} GET clients, {options.crashes} crashes, {options.deploys} deploys, "
          f"feisty {options.feisty}; load average {load_before} before, {os.getloadavg()[0]:.2f} after "
          "(this box has 2 cores: above ~1 before, other work distorts the times)")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    for note in notes:
        print("note: " + note)
    print(f"total {time.monotonic() - started:.0f} s")
    print("RESULT " + json.dumps({name: value for name, value in results.items()}, default=str))


if __name__ == "__main__":
    main()
