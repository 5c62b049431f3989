#!/usr/bin/env python3
"""Guard benchmark: what turning away banned clients, holding a million bans and striking scanners cost feisty,
beside nginx where nginx has a peer, measured in one run. Run it through bench/guard_bench.sh (builds, bounds the
run, cleans up); directly:

    python3 bench/guard_bench.py --feisty .build/release/feisty --bench-bans .build/release/feisty-bench-bans \
        --flood /tmp/guard_flood --run-dir /tmp/x

Parts (--parts, default refuse,million,strike):

refuse   Banned connections turned away per second. The banned client is 127.0.0.5 (bench/guard_flood.c binds it as
         its source address): THREADS threads, each in a loop: connect, send `GET / HTTP/1.1` (Connection: close),
         read until the server closes or resets, close. Same client, same settings, against, in one run:
           feisty-close   `feisty run` with 127.0.0.5 banned (`feisty bans add`), default --ban-response close:
                          closed with RST right after accept, nothing read
           feisty-close-1loop  the same with --threads 1 (one event loop, like nginx's one worker; the default
                          is one loop per core, and each accepted socket is handed to the next loop's thread)
           nginx-444      nginx http, `geo` marks 127.0.0.5, `if ($banned) { return 444; }`: reads the request
                          head, then closes without answering (the fairest http peer of an RST close)
           nginx-stream   nginx stream (L4) `deny 127.0.0.5;` (when ngx_stream_module is installed): closed right
                          after accept, nothing read (the kernel resets, the request being unread) -- the closest
                          peer of feisty's close
           feisty-403     the same ban, --ban-response 403: reads the request head, answers 403, closes
           nginx-403      nginx http `deny 127.0.0.5;` in the location: reads the request head, answers 403, closes
         ROUNDS rounds of SECONDS each, the order reversed every other round; ratios are medians of per-round pairs.
         Also the server's CPU per refused connection (utime+stime of its processes over the run / cycles).
million  A million bans: feisty-bench-bans writes 1,000,000 bans (half IPv4 /32, half IPv6 /64, 300 CIDRs) into a
         fresh bans.sqlite (BanStore.add(contentsOf:), one transaction; minutes, so it is done once and kept in
         --bans-cache/COUNT, then copied into the run); then feisty starts on a copy and on an empty
         state directory: seconds to the `bans in ...: N in force` line, to the first 200, RSS (VmRSS) when ready
         and its peak (VmHWM). 127.0.0.5 is banned in both, and the refusal rate is measured on each (a lookup in
         1M bans against one in 1). Then `feisty-bench-bans lookup`: BanList build time and ns per lookup.
strike   CPU per request of feisty (utime+stime of the feisty process / requests wrk completed), its upstream
         being a static nginx (not counted): declared `GET /` with the guard on and with --no-guard; undeclared
         distinct paths (`/nope/<n>`, a wrk Lua script) from one client with --max-strikes 1000000 (every request a
         new strike; nobody banned) and with --no-guard (the pre-guard 404). ROUNDS rounds of WRK_SECONDS.

Everything on 127.0.0.1 (ports picked free); every process in its own session, recorded as "PID STARTTIME NAME" in
RUN_DIR/pids (the shell wrapper's EXIT trap kills what is left of those groups) and stopped by its process group.
"""
import argparse
import os
import pathlib
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
# As root, feisty imports the app (for --upstream's routes) as root only when told to.
ROOT_APP = ["--allow-root-app"] if os.geteuid() == 0 else []
BANNED = "127.0.0.5"
BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
HZ = os.sysconf("SC_CLK_TCK")
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


class Failed(Exception):
    pass


def log(message, started=[time.monotonic()]):
    print(f"[{time.monotonic() - started[0]:5.1f}s] {message}", file=sys.stderr, flush=True)


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


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Proc:
    """A process in its own session (its PID is its process group), logged to RUN_DIR/NAME.log."""

    def __init__(self, run_dir, name, argv):
        self.name = name
        self.log_path = run_dir / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        with open(run_dir / "pids", "a") as pids:
            pids.write(f"{self.proc.pid} {starttime(self.proc.pid)} {name}\n")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, wait=5.0):
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=wait)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.log.close()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=8):
        return "\n    ".join(self.log_text().splitlines()[-lines:])

    def tree(self):
        """The PIDs of this process and its descendants."""
        pids, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        return pids

    def cpu_seconds(self):
        """utime+stime of the process tree (every thread), seconds."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / HZ

    def status_kib(self, field):
        try:
            for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0


def get_status(port, path="/", timeout=2.0):
    """One GET from 127.0.0.1: the status code as a string, or an error name."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b"\r\n", 1)[0].split(b" ")
            return parts[1].decode() if data.startswith(b"HTTP/") and len(parts) > 1 else "closed"
    except OSError as error:
        return type(error).__name__


def wait_ready(proc, port, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise Failed(f"{proc.name} exited with {proc.proc.returncode}:\n    {proc.log_tail()}")
        if get_status(port, timeout=1.0) == "200":
            return time.monotonic() - proc.started
        time.sleep(0.02)
    raise Failed(f"{proc.name} did not answer GET / with 200 within {timeout:.0f} s:\n    {proc.log_tail()}")


# ---- nginx ----------------------------------------------------------------------------------------------------------

NGINX_CONF = """\
# nginx for bench/guard_bench.sh: 1 worker, access log off.
{load_stream}
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
    geo $banned {{ default 0; {banned} 1; }}
    # The static upstream of feisty (and the readiness check): 200 "ok".
    server {{ listen {host}:{upstream}; location / {{ return 200 "ok\\n"; }} }}
    # deny -> 403 (the access phase: after the request head is read; `return` would run before it, so a file).
    server {{ listen {host}:{deny}; root {run}/www; location / {{ deny {banned}; allow all; }} }}
    # 444: close without an answer (the rewrite phase: after the request head is read).
    server {{ listen {host}:{close}; if ($banned) {{ return 444; }} location / {{ return 200 "ok\\n"; }} }}
}}
{stream}
"""

STREAM_CONF = """\
stream {{
    # L4 deny: closed right after accept, before a byte is read.
    server {{ listen {host}:{stream_port}; deny {banned}; allow all; proxy_pass {host}:{upstream}; }}
}}
"""


def start_nginx(run_dir):
    ports = {"upstream": free_port(), "deny": free_port(), "close": free_port(),
             "stream": free_port() if os.path.exists(STREAM_MODULE) else None}
    (run_dir / "nginx-tmp").mkdir(exist_ok=True)
    (run_dir / "www").mkdir(exist_ok=True)
    (run_dir / "www" / "index.html").write_text("ok\n")
    stream = (STREAM_CONF.format(host=HOST, banned=BANNED, stream_port=ports["stream"], upstream=ports["upstream"])
              if ports["stream"] else "")
    conf = run_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run_dir, host=HOST, banned=BANNED, stream=stream,
                                      load_stream=f"load_module {STREAM_MODULE};" if stream else "",
                                      upstream=ports["upstream"], deny=ports["deny"], close=ports["close"]))
    argv = ["nginx", "-e", str(run_dir / "nginx.error.log"), "-p", f"{run_dir}/", "-c", str(conf)]
    check = subprocess.run(argv[:1] + ["-t", "-q"] + argv[1:], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise Failed(f"bad nginx config {conf}: {check.stderr.strip()}")
    proc = Proc(run_dir, "nginx", argv)
    for port in [p for p in ports.values() if p]:
        wait_ready(proc, port)
    return proc, ports


# ---- feisty ---------------------------------------------------------------------------------------------------------

APP = BENCH / "guard_app.py"
BANS_LINE = re.compile(r"bans in \S+: (\d+) in force")


def feisty_bans_add(options, state_dir, address):
    result = subprocess.run([options.feisty, "bans", "add", address, "--state-dir", str(state_dir)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise Failed(f"feisty bans add {address}: {result.stderr.strip()}")


def start_feisty(options, run_dir, name, upstream, flags, ban=True):
    """feisty run on the static upstream, with its own state directory (127.0.0.5 banned unless ban=False)."""
    state = run_dir / f"state-{name}"
    if ban and "--no-guard" not in flags:
        feisty_bans_add(options, state, BANNED)
    port = free_port()
    state_flags = [] if "--no-guard" in flags else ["--state-dir", str(state)]
    proc = Proc(run_dir, name, [options.feisty, "run", str(APP), "--upstream", f"{HOST}:{upstream}",
                                "--listen", f"{HOST}:{port}", "--no-access-log", *ROOT_APP, *state_flags, *flags])
    wait_ready(proc, port)
    return proc, port


# ---- measurements ---------------------------------------------------------------------------------------------------

def flood(options, proc, port, seconds):
    """The connect flood from 127.0.0.5 against `port`: a dict of the FLOOD line plus the server's CPU."""
    cpu = proc.cpu_seconds()
    result = subprocess.run([options.flood, BANNED, HOST, str(port), str(seconds), str(options.threads)],
                            capture_output=True, text=True, timeout=seconds + 60)
    cpu = proc.cpu_seconds() - cpu
    line = next((l for l in result.stdout.splitlines() if l.startswith("FLOOD ")), None)
    if line is None:
        raise Failed(f"guard_flood printed no result: {result.stdout} {result.stderr}")
    values = {k: float(v) for k, v in (field.split("=") for field in line.split()[1:])}
    values["cpu_us"] = cpu * 1e6 / values["cycles"] if values["cycles"] else float("nan")
    return values


def outcomes(v):
    kinds = [k for k in ("reset", "eof", "s403", "other", "timeout", "connect_err") if v.get(k)]
    return " ".join(f"{k}={int(v[k])}" for k in kinds)


def wrk(options, proc, port, script, seconds):
    cpu = proc.cpu_seconds()
    result = subprocess.run(["wrk", "-t1", f"-c{options.wrk_conns}", f"-d{seconds}s", "--timeout", "5s",
                             "-s", str(script), f"http://{HOST}:{port}/"],
                            capture_output=True, text=True, timeout=seconds + 60)
    cpu = proc.cpu_seconds() - cpu
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", result.stdout)
    if not match:
        raise Failed(f"wrk output not understood:\n{result.stdout}\n{result.stderr}")
    requests = int(match.group(1))
    elapsed = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    errors = re.search(r"Socket errors: (.*)", result.stdout)
    return {"requests": requests, "rps": requests / elapsed, "cpu_us": cpu * 1e6 / requests if requests else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": errors.group(1) if errors else ""}


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def fmt(x, digits=0):
    return "-" if x != x else f"{x:,.{digits}f}"


# ---- parts ----------------------------------------------------------------------------------------------------------

def part_refuse(options, run_dir, nginx, ports, procs):
    print(f"\n## Refusal rate: banned connections turned away per second ({options.threads} client threads from "
          f"{BANNED}, {options.seconds} s x {options.rounds} rounds; load average {loadavg()})\n", flush=True)
    close, port_close = start_feisty(options, run_dir, "feisty-close", ports["upstream"], [])
    procs.append(close)
    deny, port_deny = start_feisty(options, run_dir, "feisty-403", ports["upstream"], ["--ban-response", "403"])
    procs.append(deny)
    # One event loop, like nginx's one worker: no hand-off of each accepted socket to another loop's thread.
    single, port_single = start_feisty(options, run_dir, "feisty-close-1loop", ports["upstream"], ["--threads", "1"])
    procs.append(single)
    targets = [("feisty-close", close, port_close), ("feisty-close-1loop", single, port_single),
               ("nginx-444", nginx, ports["close"])]
    if ports["stream"]:
        targets.append(("nginx-stream", nginx, ports["stream"]))
    targets += [("feisty-403", deny, port_deny), ("nginx-403", nginx, ports["deny"])]
    results = {name: [] for name, _, _ in targets}
    for round_index in range(options.rounds):
        order = targets if round_index % 2 == 0 else list(reversed(targets))
        for name, proc, port in order:
            v = flood(options, proc, port, options.seconds)
            results[name].append(v)
            log(f"round {round_index + 1} {name}: {v['rate']:.0f} conn/s, {v['cpu_us']:.1f} us CPU each, {outcomes(v)}")
    print("| target | what the banned client sees | conn/s per round | conn/s median | server CPU us/conn (median) |")
    print("|---|---|---|---:|---:|")
    for name, _, _ in targets:
        rows = results[name]
        print(f"| {name} | {outcomes(rows[-1])} | {' / '.join(fmt(r['rate']) for r in rows)} "
              f"| {fmt(median([r['rate'] for r in rows]))} | {fmt(median([r['cpu_us'] for r in rows]), 1)} |")
    print()
    pairs = [("feisty-close", "nginx-444"), ("feisty-close", "nginx-stream"), ("feisty-403", "nginx-403"),
             ("feisty-close-1loop", "nginx-444"), ("feisty-close-1loop", "feisty-close")]
    for a, b in pairs:
        if a not in results or b not in results:
            continue
        rate = median([x["rate"] / y["rate"] for x, y in zip(results[a], results[b])])
        cpu = median([x["cpu_us"] / y["cpu_us"] for x, y in zip(results[a], results[b])])
        verdict = (("goal met (at least nginx's rate)" if rate >= 1 else "GOAL NOT MET (below nginx's rate)")
                   if b.startswith("nginx") else "(feisty's two configurations)")
        print(f"RATIO {a}/{b}: conn/s {rate:.2f}, server CPU per conn {cpu:.2f} -- {verdict}")
    for proc in (close, deny, single):
        proc.stop()
        procs.remove(proc)


def part_million(options, run_dir, nginx, ports, procs):
    print(f"\n## A million bans (load average {loadavg()})\n", flush=True)
    # Writing a million bans takes minutes (see the RESULT line): the file is kept in --bans-cache and copied into
    # the run directory (the bans are forever, so a cached file stays valid).
    cache = pathlib.Path(options.bans_cache) / str(options.bans)
    marker = cache / "RESULT"
    if not marker.exists():
        log(f"writing {options.bans:,} bans into {cache} (once; later runs reuse it)")
        shutil.rmtree(cache, ignore_errors=True)
        result = subprocess.run([options.bench_bans, "store", str(cache), str(options.bans)],
                                capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise Failed(f"feisty-bench-bans store: {result.stdout}{result.stderr}")
        with sqlite3.connect(cache / "bans.sqlite") as db:  # fold the WAL into the file before it is copied
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        marker.write_text(result.stdout.strip() + f" (written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    else:
        log(f"reusing the {options.bans:,} bans in {cache}")
    print("    " + marker.read_text().strip().replace("\n", "\n    "))
    big = run_dir / "state-million"
    big.mkdir()
    shutil.copy(cache / "bans.sqlite", big / "bans.sqlite")
    os.chmod(big, 0o700)
    size = sum(f.stat().st_size for f in big.glob("bans.sqlite*"))
    print(f"    bans.sqlite (+ WAL): {size / 2**20:.0f} MiB")
    rows, procs_started = [], []
    for name, state in (("feisty-1ban", run_dir / "state-one"), ("feisty-1Mbans", big)):
        feisty_bans_add(options, state, BANNED)
        port = free_port()
        proc = Proc(run_dir, name, [options.feisty, "run", str(APP), "--upstream", f"{HOST}:{ports['upstream']}",
                                    "--listen", f"{HOST}:{port}", "--no-access-log", *ROOT_APP,
                                    "--state-dir", str(state)])
        procs.append(proc)
        procs_started.append(proc)
        loaded_at, count = None, None
        deadline = time.monotonic() + 120
        while loaded_at is None and time.monotonic() < deadline:
            match = BANS_LINE.search(proc.log_text())
            if match:
                loaded_at, count = time.monotonic() - proc.started, int(match.group(1))
            elif not proc.alive():
                raise Failed(f"{name} exited:\n    {proc.log_tail()}")
            else:
                time.sleep(0.01)
        ready = wait_ready(proc, port, timeout=120)
        rss_ready = proc.status_kib("VmRSS")
        time.sleep(2)
        rows.append({"name": name, "count": count, "loaded": loaded_at, "ready": ready, "rss_ready": rss_ready,
                     "rss": proc.status_kib("VmRSS"), "hwm": proc.status_kib("VmHWM"), "proc": proc, "port": port})
    print("\n| feisty | bans in force | s to the `bans in` line | s to the first 200 | RSS when ready MiB "
          "| RSS 2 s later MiB | peak RSS (VmHWM) MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['count']:,} | {r['loaded']:.2f} | {r['ready']:.2f} | {r['rss_ready'] / 1024:.1f} "
              f"| {r['rss'] / 1024:.1f} | {r['hwm'] / 1024:.1f} |")
    small, large = rows
    print(f"\nRATIO 1M bans / 1 ban: RSS {large['rss'] / small['rss']:.2f} "
          f"(+{(large['rss'] - small['rss']) / 1024:.0f} MiB, {(large['rss'] - small['rss']) * 1024 / options.bans:.0f}"
          f" bytes per ban), peak {large['hwm'] / small['hwm']:.2f}, start to `bans in` line "
          f"+{large['loaded'] - small['loaded']:.2f} s")
    # The refusal rate with the lookup in a million bans against one in a single ban.
    rates = {r["name"]: [] for r in rows}
    for round_index in range(options.rounds):
        for r in (rows if round_index % 2 == 0 else list(reversed(rows))):
            v = flood(options, r["proc"], r["port"], options.seconds)
            rates[r["name"]].append(v)
            log(f"round {round_index + 1} {r['name']}: {v['rate']:.0f} conn/s, {outcomes(v)}")
    ratio = median([x["rate"] / y["rate"] for x, y in zip(rates["feisty-1Mbans"], rates["feisty-1ban"])])
    print(f"RATIO refusals/s with 1M bans / with 1 ban: {ratio:.2f} "
          f"({fmt(median([v['rate'] for v in rates['feisty-1Mbans']]))} vs "
          f"{fmt(median([v['rate'] for v in rates['feisty-1ban']]))} conn/s)")
    for proc in procs_started:
        proc.stop()
        procs.remove(proc)
    log("feisty-bench-bans lookup")
    result = subprocess.run([options.bench_bans, "lookup", str(options.bans), str(options.lookups)],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise Failed(f"feisty-bench-bans lookup: {result.stdout}{result.stderr}")
    print("\nBanList micro-benchmark (feisty-bench-bans lookup, one thread):")
    print("    " + result.stdout.strip().replace("\n", "\n    "))
    result = subprocess.run([options.bench_bans, "check"], capture_output=True, text=True, timeout=300)
    print("    " + (result.stdout.strip().splitlines() or ["check printed nothing"])[-1]
          + ("" if result.returncode == 0 else "  <-- BanList DISAGREES with a brute-force scan"))


WRK_DECLARED = 'request = function() return wrk.format("GET", "/") end\n'
WRK_UNDECLARED = ('local n = 0\nrequest = function()\n    n = n + 1\n'
                  '    return wrk.format("GET", "/nope/" .. n)\nend\n')


def part_strike(options, run_dir, nginx, ports, procs):
    print(f"\n## Strike path: feisty's CPU per request (wrk -t1 -c{options.wrk_conns}, {options.wrk_seconds} s x "
          f"{options.rounds} rounds; the upstream is a static nginx, not counted; load average {loadavg()})\n",
          flush=True)
    declared = run_dir / "declared.lua"
    declared.write_text(WRK_DECLARED)
    undeclared = run_dir / "undeclared.lua"
    undeclared.write_text(WRK_UNDECLARED)
    guard, port_guard = start_feisty(options, run_dir, "feisty-strikes", ports["upstream"],
                                     ["--max-strikes", "1000000"], ban=False)
    procs.append(guard)
    plain, port_plain = start_feisty(options, run_dir, "feisty-noguard", ports["upstream"], ["--no-guard"])
    procs.append(plain)
    runs = [("(a) declared, guard on", guard, port_guard, declared),
            ("(a') declared, --no-guard", plain, port_plain, declared),
            ("(b) undeclared, strikes", guard, port_guard, undeclared),
            ("(c) undeclared, --no-guard", plain, port_plain, undeclared)]
    results = {name: [] for name, *_ in runs}
    for round_index in range(options.rounds):
        for name, proc, port, script in (runs if round_index % 2 == 0 else list(reversed(runs))):
            v = wrk(options, proc, port, script, options.wrk_seconds)
            results[name].append(v)
            log(f"round {round_index + 1} {name}: {v['rps']:.0f} req/s, {v['cpu_us']:.1f} us CPU/req, "
                f"non-2xx {v['non2xx']} {v['errors']}")
    print("| load | req/s median | feisty CPU us/req per round | median | non-2xx (last round) |")
    print("|---|---:|---|---:|---:|")
    for name, *_ in runs:
        rows = results[name]
        print(f"| {name} | {fmt(median([r['rps'] for r in rows]))} | {' / '.join(fmt(r['cpu_us'], 1) for r in rows)} "
              f"| {fmt(median([r['cpu_us'] for r in rows]), 1)} | {rows[-1]['non2xx']} |")
    print()
    for a, b in [("(b) undeclared, strikes", "(c) undeclared, --no-guard"),
                 ("(b) undeclared, strikes", "(a) declared, guard on"),
                 ("(a) declared, guard on", "(a') declared, --no-guard")]:
        cpu = median([x["cpu_us"] / y["cpu_us"] for x, y in zip(results[a], results[b])])
        print(f"RATIO CPU/req {a.split()[0]}/{b.split()[0]}: {cpu:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feisty", required=True)
    parser.add_argument("--bench-bans", required=True)
    parser.add_argument("--flood", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--parts", default="refuse,million,strike")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bans", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000_000)
    parser.add_argument("--bans-cache", default="/tmp/guard-bench-bans", help="where the million-ban file is kept")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--wrk-conns", type=int, default=10)
    parser.add_argument("--commit", default="?")
    options = parser.parse_args()
    run_dir = pathlib.Path(options.run_dir)
    parts = options.parts.split(",")
    print(f"# guard bench: feisty {options.commit}, {os.cpu_count()} CPUs, load average {loadavg()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    procs = []
    try:
        nginx, ports = start_nginx(run_dir)
        procs.append(nginx)
        if "refuse" in parts:
            part_refuse(options, run_dir, nginx, ports, procs)
        if "million" in parts:
            part_million(options, run_dir, nginx, ports, procs)
        if "strike" in parts:
            part_strike(options, run_dir, nginx, ports, procs)
        print(f"\n(load average at the end: {loadavg()})")
    except Failed as error:
        print(f"guard_bench: {error}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
