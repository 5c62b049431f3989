"""Helpers for the resilience end-to-end tests: the faults app, a bounded GET load with exact counts, feisty's
`event=KIND` log lines, and the body of the `run_faults` fixture (`feisty run` on the faults app, cleaned up after).

Everything is bounded: every load has a hard deadline and a request cap, every wait a timeout; only loopback.
"""
import collections
import dataclasses
import functools
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from .conftest import REPO, alive, feisty_binary

FAULTS_APP = REPO / "examples" / "faults" / "app.py"

# The faults app's parameterless GET routes include /crash, /kill, /hang and /freeze: a probe must never land on
# them, so feisty is always told to probe /health (when the binary knows the flag, see `run_faults`).
HEALTH_FLAGS = ("--health-path", "/health")
# Swapped-out or hung instances stop within this; keeps every test's shutdown short.
GRACE_FLAGS = ("--grace", "2")

EVENT = re.compile(r"\bevent=([a-z_]+)")
PAIR = re.compile(r"\b([a-z_]+)=(\S+)")


# ---- the app ------------------------------------------------------------------------------------------------------

def copy_faults(directory: pathlib.Path, version: str = "v1") -> pathlib.Path:
    """A private copy of the faults app (for tests that rewrite it), serving `version`."""
    target = pathlib.Path(directory) / "app.py"
    shutil.copyfile(FAULTS_APP, target)
    set_version(target, version)
    return target


def set_version(app: pathlib.Path, version: str):
    """Rewrites the `VERSION = "..."` line: the code on disk now serves `version`."""
    text = app.read_text()
    new, count = re.subn(r'^VERSION = ".*"$', f'VERSION = "{version}"', text, count=1, flags=re.M)
    assert count == 1, "VERSION line not found in the faults app"
    write_atomically(app, new)


BROKEN = {
    # fails to import
    "syntax_error": "VERSION = (\n",
    # crashes while starting
    "exits_at_import": "import os\nos._exit(1)\n",
    # never gets ready (the import never finishes)
    "hangs_at_import": "import time\ntime.sleep(3600)\n",
}


def break_app(app: pathlib.Path, how: str):
    """Puts a version on disk that cannot serve: `how` is a key of BROKEN, prepended to the app's text."""
    write_atomically(app, BROKEN[how] + app.read_text())


def write_atomically(path: pathlib.Path, text: str):
    """Replaces the file in one rename, as a deploy tool would: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- feisty -------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def run_help() -> str:
    completed = subprocess.run([feisty_binary(), "run", "--help"], capture_output=True, text=True, timeout=30)
    return completed.stdout + completed.stderr


def supports(flag: str) -> bool:
    """Whether the feisty binary under test knows `flag` (the old binary lacks the resilience flags)."""
    return flag in run_help()


def faults_runner(start_feisty):
    """The body of the `run_faults` fixture (tests/e2e/test_run_resilience.py: `yield from faults_runner(...)`).

    `run_faults(*flags, app=FAULTS_APP, env=None)`: `feisty run APP --health-path /health --grace 2 FLAGS`, ready.
    At the end feisty gets SIGTERM (its instances stop within the grace period); any app process still alive after
    that is killed by PID, so a hung or frozen instance never outlives its test."""
    started = []

    def start(*flags, app=FAULTS_APP, env=None, ready_path="/health", wait=True):
        extra = []
        if supports("--health-path"):
            extra += HEALTH_FLAGS
        if "--grace" not in flags:
            extra += GRACE_FLAGS
        feisty = start_feisty(str(app), *extra, *flags, env=env, ready_path=ready_path, wait=wait)
        started.append(feisty)
        return feisty

    yield start
    for feisty in started:
        leftovers = [(pid, start_time(pid)) for pid in feisty.app_pids()]
        feisty.stop(signal.SIGTERM, timeout=8)
        for pid, started_at in leftovers:
            if started_at is not None and start_time(pid) == started_at and alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start_time(pid: int):
    """Field 22 of /proc/PID/stat: tells a process from a later one that reuses its PID."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def events(output: str, kind: str = None):
    """feisty's lifecycle lines (`event=KIND ... instance=N ...`) as dicts of their key=value pairs (plus `line`),
    only those of `kind` when given."""
    found = []
    for line in output.splitlines():
        if line.startswith(("app| ", "app! ")):
            continue  # the app's own output, relayed
        match = EVENT.search(line)
        if not match or (kind and match.group(1) != kind):
            continue
        fields = dict(PAIR.findall(line))
        fields["line"] = line
        found.append(fields)
    return found


def wait_for_event(feisty, kind: str, timeout: float, count: int = 1) -> list:
    """Waits until feisty logged `count` lines with `event=KIND`; returns them (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = events(feisty.output, kind)
        if len(found) >= count:
            return found
        if feisty.proc.poll() is not None:
            pytest.fail(f"feisty exited ({feisty.proc.returncode}) waiting for event={kind}:\n{tail(feisty.output)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} x event={kind} within {timeout}s:\n{tail(feisty.output)}")
        time.sleep(0.05)


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition", feisty=None):
    """Polls `predicate` until it returns something truthy (returned) or `timeout` seconds pass (test fails; at once
    if `feisty` exits meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        if feisty is not None and feisty.proc.poll() is not None:
            pytest.fail(f"{message}: feisty exited ({feisty.proc.returncode}):\n{tail(feisty.output)}")
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            context = f"\n{tail(feisty.output)}" if feisty is not None else ""
            pytest.fail(f"{message}: not within {timeout}s{context}")
        time.sleep(interval)


ACCESS_LOG = re.compile(r" [A-Z]+ \S+ [a-z_,]+ \d{3} \d+ (?:[0-9.]+m?s|-) (?:i\d+|-)$")


def tail(output: str, lines: int = 40) -> str:
    """feisty's own last lines for a failure message: without the app's relayed output and the access log."""
    own = [line for line in output.splitlines()
           if not line.startswith(("app| ", "app! ")) and not ACCESS_LOG.search(line)]
    return "\n".join(own[-lines:])


def assert_no_failures(load, feisty=None):
    """Every request of `load` got a 2xx answer (no other status, no connection error)."""
    failed = len(load.failures())
    assert failed == 0, f"{failed} failed: {load.summary()}" + (f"\n{tail(feisty.output)}" if feisty else "")


def serving_pid(feisty, timeout: float = 5) -> int:
    """The PID of the app process that answers GET /pid now."""
    return int(requests.get(feisty.base + "/pid", timeout=timeout).text)


def version_of(feisty, timeout: float = 5):
    """The VERSION the answering instance runs, or None if the answer is not the app's JSON."""
    response = requests.get(feisty.base + "/", timeout=timeout)
    if response.status_code != 200:
        return None
    return response.json().get("version")


# ---- load ---------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    """One request of a load: when it was sent and answered (time.monotonic), status or the exception's name."""
    sent: float
    done: float
    status: int = None
    error: str = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def json(self) -> dict:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def pid(self):
        return self.json.get("pid")

    @property
    def version(self):
        return self.json.get("version")


class Load:
    """`threads` clients (one requests.Session each) sending GET `path` back to back, until `stop()`, `total`
    requests, or `max_seconds` (a hard bound). Counts every outcome; a failed request is followed by a 10 ms pause so
    a failure cannot turn into a busy loop.

        with Load(feisty.base, "/", threads=4) as load:
            ...
        assert_no_failures(load, feisty)
    """

    def __init__(self, base, path="/", threads=4, total=None, max_seconds=30.0, timeout=10.0):
        self.url = base + path
        self.threads = threads
        self.total = total
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.outcomes = []
        self._lock = threading.Lock()
        self._claimed = 0
        self._stop = threading.Event()
        self._workers = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._deadline = time.monotonic() + self.max_seconds
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self):
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        return self

    def wait(self, timeout=None):
        """Until every client has finished (a `total` load), bounded by `timeout` or the load's own deadline."""
        end = time.monotonic() + (timeout if timeout is not None else self.max_seconds + self.timeout + 5)
        for worker in self._workers:
            worker.join(timeout=max(0.0, end - time.monotonic()))
        return self

    def _claim(self) -> bool:
        with self._lock:
            if self.total is not None and self._claimed >= self.total:
                return False
            self._claimed += 1
            return True

    def _run(self):
        session = requests.Session()
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline and self._claim():
                sent = time.monotonic()
                try:
                    response = session.get(self.url, timeout=self.timeout)
                    outcome = Outcome(sent, time.monotonic(), status=response.status_code, body=response.text[:500])
                except requests.RequestException as error:
                    outcome = Outcome(sent, time.monotonic(), error=type(error).__name__ + ": " + str(error)[:200])
                with self._lock:
                    self.outcomes.append(outcome)
                if not outcome.ok:
                    time.sleep(0.01)
        finally:
            session.close()

    # -- what happened --

    def snapshot(self):
        with self._lock:
            return list(self.outcomes)

    def failures(self):
        """Every request that did not get a 2xx answer (a status or a connection error)."""
        return [outcome for outcome in self.snapshot() if not outcome.ok]

    def summary(self) -> str:
        outcomes = self.snapshot()
        statuses = collections.Counter(outcome.status for outcome in outcomes if outcome.status is not None)
        errors = collections.Counter(outcome.error.split(":")[0] for outcome in outcomes if outcome.error)
        failed = [outcome for outcome in outcomes if not outcome.ok][:5]
        return (f"{len(outcomes)} requests, statuses {dict(statuses)}, errors {dict(errors)}; first failures: "
                + "; ".join(f"{o.status or o.error} {o.body[:120]!r}" for o in failed))

    def first_ok_after(self, instant: float, not_pid=None):
        """The first 2xx answer (by answer time) after `instant` from a process other than `not_pid`."""
        answers = [outcome for outcome in self.snapshot()
                   if outcome.ok and outcome.done > instant and (not_pid is None or outcome.pid != not_pid)]
        return min(answers, key=lambda outcome: outcome.done, default=None)

    def pids(self, since: float = 0.0):
        return {outcome.pid for outcome in self.snapshot() if outcome.ok and outcome.sent >= since}


def concurrent_answers(base: str, path: str, clients: int, per_client: int, timeout: float = 10.0):
    """`clients` threads each sending `per_client` GETs to `path` at once; returns the JSON answers (failed ones as
    {"status": ...})."""
    answers = []
    lock = threading.Lock()

    def client():
        with requests.Session() as session:
            for _ in range(per_client):
                try:
                    response = session.get(base + path, timeout=timeout)
                    answer = response.json() if response.status_code == 200 else {"status": response.status_code}
                except (requests.RequestException, ValueError) as error:
                    answer = {"status": type(error).__name__}
                with lock:
                    answers.append(answer)

    workers = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout * per_client + 5)
    return answers
