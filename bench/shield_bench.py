#!/usr/bin/env python3
"""Slow-client shield benchmark: a good client's latency and errors while slow clients attack, for feisty and nginx
in front of the same gunicorn app (bench/shield_app.py, 2 sync workers), measured in one run, and for gunicorn
alone. Goal (from the issue): feisty's good client no worse than nginx's. Run it through bench/shield_bench.sh
(builds feisty, bounds the run, cleans up); directly:

    python3 bench/shield_bench.py --feisty .build/release/feisty --run-dir /tmp/x [--duration 20]

Per target (nginx, feisty, gunicorn directly), in this order, each with a freshly started gunicorn:

  alone         the good client for --base-duration seconds, no attack
  under attack  50 slow-body + 50 slow-read clients (a child process: `shield_bench.py attack`), --settle seconds
                to settle, then the good client for --duration seconds; the attackers' state is taken when the
                good client stops

Good client: sequential GET /, a new TCP connection per request (`Connection: close`; gunicorn's sync workers
close every connection anyway, and a fresh connection also exercises the proxy's accept path), a total deadline of
--timeout seconds per request (connect + send + answer). An error is a timeout, a refused or reset connection, a
close without an answer, or a status other than 200; after an error it pauses 10 ms. p50/p99/max are over every
request, a failed one counted at the time it failed (a timeout at --timeout).

Slow-body client: POST /upload with Content-Length: 100000, sends the head, then 1 byte every 2 s; whatever the
server answers (e.g. 408) or a close counts as "cut"; it then reconnects after 0.5 s.
Slow-read client: GET /big (5 MB) with SO_RCVBUF 4 KB (so the kernel cannot swallow the answer), reads the
answer's head as soon as it comes, then 1 KB every 1 s; reconnects after 0.5 s when cut or done.

Everything listens on 127.0.0.1 (ports picked free); every socket operation has a timeout; the attack process has
a hard deadline. Each process is started in its own session, recorded as "PID STARTTIME NAME" in RUN_DIR/pids (the
shell wrapper's EXIT trap kills what is left of those groups) and stopped by its process group here.
"""
import argparse
import asyncio
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import time

BENCH = pathlib.Path(__file__).resolve().parent
APP = BENCH / "shield_app.py"
HOST = "127.0.0.1"
# As root, feisty imports the app (for --upstream's routes) as root only when told to.
ROOT_APP = ["--allow-root-app"] if os.geteuid() == 0 else []

BODY_LENGTH = 100_000
BIG_LENGTH = 5 * 1024 * 1024


# ---- attackers (a child process) --------------------------------------------------------------------------------------

class AttackStats:
    def __init__(self):
        self.connections = 0
        self.connect_failed = {}   # refused / timeout / error
        self.outcomes = {}         # how a connection ended: "408", "closed", "reset", "done", "cut", ...
        self.cut_after = []        # seconds from connect to the server's cut
        self.heads = {}            # slow-read: status of the answer's head
        self.head_after = []       # slow-read: seconds from connect to the head
        self.bytes = 0             # slow-body: bytes of body sent; slow-read: bytes received
        self.open = 0

    def count(self, table, key):
        table[key] = table.get(key, 0) + 1

    def as_dict(self, open_at_end):
        return {"connections": self.connections, "connect_failed": self.connect_failed, "outcomes": self.outcomes,
                "cut_after": self.cut_after, "heads": self.heads, "head_after": self.head_after,
                "bytes": self.bytes, "open_at_end": open_at_end}


def status_of(data: bytes):
    """The status code of an HTTP response starting in `data`, or None."""
    if data.startswith(b"HTTP/"):
        parts = data.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) >= 2 and parts[1].isdigit():
            return parts[1].decode()
    return None


async def connect(loop, stats, port, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), 5)
    except asyncio.TimeoutError:
        stats.count(stats.connect_failed, "timeout")
    except ConnectionRefusedError:
        stats.count(stats.connect_failed, "refused")
    except OSError as error:
        stats.count(stats.connect_failed, type(error).__name__)
    else:
        stats.connections += 1
        return sock
    sock.close()
    return None


async def slow_body(port, stats, byte_interval):
    loop = asyncio.get_running_loop()
    head = (f"POST /upload HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {BODY_LENGTH}\r\n\r\n").encode()
    while True:
        sock = await connect(loop, stats, port)
        if sock is None:
            await asyncio.sleep(1.0)
            continue
        stats.open += 1
        started = time.monotonic()
        outcome = None
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, head), 5)
            sent = 0
            while outcome is None and sent < BODY_LENGTH:
                try:  # the pacing: wait one interval for anything the server says (an answer or a close)
                    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), byte_interval)
                except asyncio.TimeoutError:
                    data = None
                if data is not None:
                    outcome = status_of(data) or ("closed" if not data else "garbage")
                    break
                try:
                    await asyncio.wait_for(loop.sock_sendall(sock, b"x"), 5)
                    sent += 1
                    stats.bytes += 1
                except asyncio.TimeoutError:
                    outcome = "send-timeout"
            if outcome is None:
                outcome = "sent-all"  # not reachable in a bench run (100000 bytes at 1 byte / 2 s)
        except (ConnectionResetError, BrokenPipeError):
            outcome = "reset"
        except asyncio.TimeoutError:
            outcome = "send-timeout"
        except OSError as error:
            outcome = type(error).__name__
        finally:
            stats.open -= 1
            sock.close()
        stats.count(stats.outcomes, outcome)
        stats.cut_after.append(round(time.monotonic() - started, 2))
        await asyncio.sleep(0.5)


async def slow_read(port, stats, read_interval):
    loop = asyncio.get_running_loop()
    request = f"GET /big HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    while True:
        sock = await connect(loop, stats, port, rcvbuf=4096)
        if sock is None:
            await asyncio.sleep(1.0)
            continue
        stats.open += 1
        started = time.monotonic()
        outcome = None
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, request), 5)
            head, length, got = b"", None, 0
            while True:
                if head.endswith(b"\r\n\r\n") or length is not None:
                    await asyncio.sleep(read_interval)
                try:  # the head as soon as it comes, then 1 KB per interval; 60 s of silence = stalled
                    data = await asyncio.wait_for(loop.sock_recv(sock, 1024), 60)
                except asyncio.TimeoutError:
                    outcome = "stalled"
                    break
                if not data:
                    outcome = "done" if length is not None and got >= length else "closed"
                    break
                stats.bytes += len(data)
                if length is None:
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    status = status_of(head) or "garbage"
                    stats.count(stats.heads, status)
                    stats.head_after.append(round(time.monotonic() - started, 3))
                    length = BIG_LENGTH if status == "200" else 0
                    for line in head[:end].split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length" and value.strip().isdigit():
                            length = int(value.strip())
                    got = len(head) - end - 4
                    if status != "200":
                        outcome = status
                        break
                else:
                    got += len(data)
                if got >= length:
                    outcome = "done"
                    break
        except (ConnectionResetError, BrokenPipeError):
            outcome = "reset"
        except asyncio.TimeoutError:
            outcome = "send-timeout"
        except OSError as error:
            outcome = type(error).__name__
        finally:
            stats.open -= 1
            sock.close()
        stats.count(stats.outcomes, outcome)
        stats.cut_after.append(round(time.monotonic() - started, 2))
        await asyncio.sleep(0.5)


async def attack(options):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    body, read = AttackStats(), AttackStats()
    tasks = []
    kinds = ["body"] * options.slow_body + ["read"] * options.slow_read
    random.Random(1).shuffle(kinds)
    for kind in kinds:  # staggered over about a second
        if kind == "body":
            tasks.append(asyncio.create_task(slow_body(options.port, body, options.byte_interval)))
        else:
            tasks.append(asyncio.create_task(slow_read(options.port, read, options.read_interval)))
        await asyncio.sleep(1.0 / max(1, len(kinds)))
    try:
        await asyncio.wait_for(stop.wait(), options.max_seconds)
    except asyncio.TimeoutError:
        pass
    result = {"slow_body": body.as_dict(body.open), "slow_read": read.as_dict(read.open)}
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=5)
    print(json.dumps(result), flush=True)


def attack_main(argv):
    parser = argparse.ArgumentParser(prog="shield_bench.py attack")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow-body", type=int, default=50)
    parser.add_argument("--slow-read", type=int, default=50)
    parser.add_argument("--byte-interval", type=float, default=2.0)
    parser.add_argument("--read-interval", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=120)
    asyncio.run(attack(parser.parse_args(argv)))


# ---- the good client --------------------------------------------------------------------------------------------------

def good_request(port, timeout):
    """One GET / on a new connection: (seconds, None or an error name)."""
    started = time.monotonic()
    deadline = started + timeout
    error = None
    sock = None

    def left():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        return remaining

    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
        sock.settimeout(left())
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data, length, end = b"", None, -1
        while True:
            sock.settimeout(left())
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if end < 0:
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    for line in data[:end].split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length" and value.strip().isdigit():
                            length = int(value.strip())
            if length is not None and len(data) - end - 4 >= length:
                break
        status = status_of(data)
        if status is None:
            error = "closed" if not data else "garbage"
        elif status != "200":
            error = f"status {status}"
        elif end < 0 or (length is not None and len(data) - end - 4 < length):
            error = "short"
    except socket.timeout:
        error = "timeout"
    except ConnectionRefusedError:
        error = "refused"
    except (ConnectionResetError, BrokenPipeError):
        error = "reset"
    except OSError as caught:
        error = type(caught).__name__
    finally:
        if sock is not None:
            sock.close()
    return time.monotonic() - started, error


def good_client(port, seconds, timeout):
    results = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        took, error = good_request(port, timeout)
        results.append((took, error))
        if error:
            time.sleep(0.01)
    return results


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def summarize(results):
    latencies = [took for took, _ in results]
    errors = {}
    for _, error in results:
        if error:
            errors[error] = errors.get(error, 0) + 1
    return {"requests": len(results), "errors": sum(errors.values()), "kinds": errors,
            "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
            "max": max(latencies, default=float("nan"))}


# ---- processes --------------------------------------------------------------------------------------------------------

class Failed(Exception):
    pass


def starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Proc:
    """A process in its own session (its PID is its process group), logged to RUN_DIR/NAME.log."""

    def __init__(self, run_dir, name, argv, stop_signal=signal.SIGTERM, **popen):
        self.name, self.stop_signal = name, stop_signal
        self.log_path = run_dir / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=popen.pop("stdout", self.log),
                                     stderr=self.log, start_new_session=True, **popen)
        with open(run_dir / "pids", "a") as pids:
            pids.write(f"{self.proc.pid} {starttime(self.proc.pid)} {name}\n")

    def alive(self):
        return self.proc.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, wait=5.0):
        if self.alive():
            self.signal_group(self.stop_signal)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # the leader and whatever is left of its group
        self.proc.wait()
        self.log.close()

    def log_tail(self, lines=8):
        try:
            return "\n    ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_ready(proc, port, timeout=30.0):
    """Until GET / through `port` answers 200 (or the process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise Failed(f"{proc.name} exited with {proc.proc.returncode}:\n    {proc.log_tail()}")
        if good_request(port, 1.0)[1] is None:
            return
        time.sleep(0.1)
    raise Failed(f"{proc.name} did not answer GET / within {timeout:.0f} s:\n    {proc.log_tail()}")


def start_gunicorn(options, run_dir, label):
    port = free_port()
    proc = Proc(run_dir, f"gunicorn-{label}",
                [options.python, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", f"{HOST}:{port}",
                 "--log-level", "warning", "--chdir", str(BENCH), "shield_app:app"],
                stop_signal=signal.SIGINT)  # quick shutdown (TERM would wait graceful_timeout for stuck workers)
    wait_ready(proc, port)
    return proc, port


NGINX_CONF = """\
# nginx for bench/shield_bench.sh: 1 worker; the defaults that matter against slow clients stated explicitly.
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/nginx.error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {run}/nginx-tmp/body;
    proxy_temp_path       {run}/nginx-tmp/proxy;
    fastcgi_temp_path     {run}/nginx-tmp/fastcgi;
    uwsgi_temp_path       {run}/nginx-tmp/uwsgi;
    scgi_temp_path        {run}/nginx-tmp/scgi;
    client_max_body_size 10m;
    client_body_timeout 30s;    # between two reads of the body, not for the whole body
    client_header_timeout 60s;
    send_timeout 60s;           # between two writes to the client
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://{host}:{upstream};
            proxy_http_version 1.1;
            proxy_request_buffering on;   # the whole body first (memory, then a temp file), then the upstream
            proxy_buffering on;           # the answer into buffers / a temp file (up to 1g), the upstream is free
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def start_nginx(options, run_dir, upstream):
    port = free_port()
    (run_dir / "nginx-tmp").mkdir(exist_ok=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run_dir, host=HOST, port=port, upstream=upstream))
    check = subprocess.run(["nginx", "-t", "-q", "-e", str(run_dir / "nginx.error.log"), "-p", f"{run_dir}/",
                            "-c", str(conf)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise Failed(f"bad nginx config {conf}: {check.stderr.strip()}")
    proc = Proc(run_dir, "nginx",
                ["nginx", "-e", str(run_dir / "nginx.error.log"), "-p", f"{run_dir}/", "-c", str(conf)])
    wait_ready(proc, port)
    return proc, port


def start_feisty(options, run_dir, upstream):
    port = free_port()
    proc = Proc(run_dir, "feisty",
                [options.feisty, "run", str(APP), "--upstream", f"{HOST}:{upstream}", "--listen", f"{HOST}:{port}",
                 "--no-access-log", *ROOT_APP, *options.feisty_flags.split()])
    wait_ready(proc, port)
    return proc, port


# ---- a run ------------------------------------------------------------------------------------------------------------

def log(message, started=[time.monotonic()]):
    print(f"[{time.monotonic() - started[0]:5.1f}s] {message}", file=sys.stderr, flush=True)


def measure_target(options, run_dir, name):
    """Both rows of one target: (alone summary, under-attack summary, attackers' state)."""
    procs = []
    try:
        gunicorn, upstream = start_gunicorn(options, run_dir, name)
        procs.append(gunicorn)
        if name == "nginx":
            proxy, port = start_nginx(options, run_dir, upstream)
            procs.insert(0, proxy)
        elif name == "feisty":
            proxy, port = start_feisty(options, run_dir, upstream)
            procs.insert(0, proxy)
        else:
            port = upstream
        log(f"{name}: good client alone for {options.base_duration:g} s")
        alone = summarize(good_client(port, options.base_duration, options.timeout))
        log(f"{name}: {options.slow_body} slow-body + {options.slow_read} slow-read clients, "
            f"{options.settle:g} s to settle, then the good client for {options.duration:g} s")
        attacker = Proc(run_dir, f"attack-{name}",
                        [sys.executable, __file__, "attack", "--port", str(port), "--slow-body", str(options.slow_body),
                         "--slow-read", str(options.slow_read),
                         "--max-seconds", str(options.settle + options.duration + options.timeout + 30)],
                        stdout=subprocess.PIPE)
        procs.insert(0, attacker)
        time.sleep(options.settle)
        attacked = summarize(good_client(port, options.duration, options.timeout))
        attacker.signal_group(signal.SIGTERM)
        try:
            out, _ = attacker.proc.communicate(timeout=15)
            state = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            state = None
        for proc in procs:
            if proc is not attacker and not proc.alive():
                log(f"{name}: {proc.name} exited during the run ({proc.proc.returncode}): {proc.log_tail(3)}")
        return alone, attacked, state
    finally:
        for proc in procs:  # attackers first, then the proxy, then gunicorn
            proc.stop()


def fmt_ms(seconds):
    if seconds != seconds:
        return "n/a"
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def fmt_kinds(kinds, empty="-"):
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])) or empty


def median(values):
    return percentile(values, 0.5) if values else float("nan")


def describe_attack(state):
    if state is None:
        return ["    (no report from the attack process)"]
    body, read = state["slow_body"], state["slow_read"]
    cut_body = {k: v for k, v in body["outcomes"].items()}
    lines = [
        f"    slow-body: {body['connections']} connections, {sum(cut_body.values())} cut ({fmt_kinds(cut_body, 'by nobody')}"
        f"{', median after %.1f s' % median(body['cut_after']) if body['cut_after'] else ''}), "
        f"{body['open_at_end']} still open at the end, {body['bytes']} body bytes sent"
        + (f", connect failures: {fmt_kinds(body['connect_failed'])}" if body["connect_failed"] else ""),
        f"    slow-read: {read['connections']} connections, answer head received by {sum(read['heads'].values())} "
        f"({fmt_kinds(read['heads'])}"
        f"{', median after %s ms' % fmt_ms(median(read['head_after'])) if read['head_after'] else ''}), "
        f"ended: {fmt_kinds(read['outcomes'], 'none')}, {read['open_at_end']} still open at the end, "
        f"{read['bytes'] / 1024:.0f} KB read"
        + (f", connect failures: {fmt_kinds(read['connect_failed'])}" if read["connect_failed"] else ""),
    ]
    return lines


FLASK_VERSION = "import importlib.metadata as m; print(m.version('flask'))"


def version(argv):
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (completed.stdout + completed.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "attack":
        return attack_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feisty", required=True, help="the feisty binary")
    parser.add_argument("--feisty-flags", default="", help="extra flags for `feisty run` (one string)")
    parser.add_argument("--feisty-commit", default="?")
    parser.add_argument("--run-dir", required=True, help="logs, configs, the pids file")
    parser.add_argument("--python", default=sys.executable, help="the interpreter gunicorn runs in")
    parser.add_argument("--duration", type=float, default=20, help="good client under attack, seconds")
    parser.add_argument("--base-duration", type=float, default=5, help="good client alone, seconds")
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--timeout", type=float, default=5, help="per good request, seconds")
    parser.add_argument("--slow-body", type=int, default=50)
    parser.add_argument("--slow-read", type=int, default=50)
    parser.add_argument("--targets", default="nginx,feisty,gunicorn")
    parser.add_argument("--p99-ratio", type=float, default=1.5, help="verdict: p99 within this factor of nginx's")
    parser.add_argument("--p99-slack-ms", type=float, default=5, help="... or within this many ms of it")
    options = parser.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):  # finally blocks stop what was started
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    run_dir = pathlib.Path(options.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_start = os.getloadavg()[0]

    env = (f"{time.strftime('%Y-%m-%d %H:%M:%S %z')} | nproc {os.cpu_count()} | load {load_start:.2f} | "
           f"{version(['nginx', '-v'])} | {version([options.python, '-m', 'gunicorn', '--version'])} | "
           f"Python {sys.version.split()[0]} | Flask {version([options.python, '-c', FLASK_VERSION])} | "
           f"feisty {options.feisty_commit}" + (f" {options.feisty_flags}" if options.feisty_flags else ""))

    rows, states, notes = {}, {}, []
    for name in [t.strip() for t in options.targets.split(",") if t.strip()]:
        try:
            rows[name + " alone"], rows[name + " attacked"], states[name] = measure_target(options, run_dir, name)
        except Failed as error:
            notes.append(f"{name}: not measured: {error}")
            log(f"{name}: not measured: {error}")

    print()
    print(f"== shield bench | {env}")
    print(f"== gunicorn: 2 sync workers (timeout 30 s), bench/shield_app.py; nginx: 1 worker, request and response "
          f"buffering on; feisty: run --upstream{(' ' + options.feisty_flags) if options.feisty_flags else ''}")
    print(f"== good client: sequential GET /, a new connection each (Connection: close), {options.timeout:g} s "
          f"timeout per request; latency over every request (a failed one at the time it failed)")
    print(f"== attack: {options.slow_body} slow-body (POST /upload, Content-Length {BODY_LENGTH}, 1 byte / 2 s) + "
          f"{options.slow_read} slow-read (GET /big 5 MB, SO_RCVBUF 4 KB, 1 KB / 1 s), {options.settle:g} s to "
          f"settle, then {options.duration:g} s measured")
    print()
    print(f"{'target':<10} {'attack':<8} {'seconds':>7} {'requests':>9} {'errors':>7} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'max ms':>9}  error kinds")
    for key, summary in rows.items():
        name, kind = key.split(" ")
        seconds = options.base_duration if kind == "alone" else options.duration
        print(f"{name:<10} {'none' if kind == 'alone' else '50+50':<8} {seconds:>7g} {summary['requests']:>9} "
              f"{summary['errors']:>7} {fmt_ms(summary['p50']):>9} {fmt_ms(summary['p99']):>9} "
              f"{fmt_ms(summary['max']):>9}  {fmt_kinds(summary['kinds'])}")
    print()
    print("attackers when the good client stopped:")
    for name, state in states.items():
        print(f"  {name}:")
        for line in describe_attack(state):
            print(line)
    for note in notes:
        print(f"note: {note}")

    feisty, nginx = rows.get("feisty attacked"), rows.get("nginx attacked")
    print()
    if feisty and nginx and feisty["requests"] and nginx["requests"]:
        ratio = feisty["p99"] / nginx["p99"] if nginx["p99"] > 0 else float("inf")
        f_rate, n_rate = feisty["errors"] / feisty["requests"], nginx["errors"] / nginx["requests"]
        print(f"RATIO feisty/nginx under attack: p99 {ratio:.2f} (feisty {fmt_ms(feisty['p99'])} ms, nginx "
              f"{fmt_ms(nginx['p99'])} ms) | errors feisty {feisty['errors']}/{feisty['requests']} "
              f"({100 * f_rate:.1f}%), nginx {nginx['errors']}/{nginx['requests']} ({100 * n_rate:.1f}%) | "
              f"requests done {feisty['requests'] / nginx['requests']:.2f}")
        p99_ok = (feisty["p99"] <= nginx["p99"] * options.p99_ratio
                  or feisty["p99"] - nginx["p99"] <= options.p99_slack_ms / 1000)
        verdict = "yes" if f_rate <= n_rate and p99_ok else "no"
        print(f"feisty's good client no worse than nginx's: {verdict} (rule: error rate not above nginx's, and p99 "
              f"at most {options.p99_ratio:g}x nginx's or within {options.p99_slack_ms:g} ms of it)")
    else:
        print("feisty's good client no worse than nginx's: n/a (a target was not measured)")
    print(f"(run took {time.monotonic() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}, at the start "
          f"{load_start:.2f}: other work on this machine distorts every figure)")
    return 0 if not notes else 1


if __name__ == "__main__":
    sys.exit(main())
