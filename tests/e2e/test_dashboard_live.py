"""The dashboard on a real `feisty run`: the admin listener serves the page at `GET /`, headless Chromium loads it
before the first request and watches while traffic flows, and what it renders is checked against feisty's own /status.

Traffic: one well-behaved client (127.0.0.1) on the app's routes, scanners from other loopback addresses
(127.0.0.2 ... 127.0.0.9) probing undeclared URLs until they are banned (`--max-strikes 3`), a client with two strikes
(an offender, not banned), and one `POST /crash` that kills an instance (`os._exit`), so every section of the page has
something real to show: rates by verdict, latency, instances, the crash and the replacement instance, strikes, bans,
offenders and the routes with their counts. While traffic flows the test reads only the DOM (polled with a deadline);
once it stopped, the page and /status must agree on every counter. About 12 s.

`DASHBOARD_README_SCREENSHOT=PATH` makes a picture worth showing and saves the full page there (docs/dashboard.png,
in the README, comes from this): the traffic runs a minute longer (`DASHBOARD_README_SECONDS`), scanners arrive
slower, and the crash comes half-way.
"""
import os
import textwrap
import threading
import time

import pytest
import requests

from .browser_support import browser, canvas_pixels, png_color_stats  # noqa: F401 (browser is a fixture)
from .conftest import REPO, free_port, start_feisty  # noqa: F401 (start_feisty is a fixture)
from .guard_support import ask

APP = textwrap.dedent("""
    import os
    import time

    from flask import Flask, jsonify

    app = Flask(__name__)


    @app.route("/")
    def index():
        return "hello from the dashboard's app\\n"


    @app.route("/user/<int:id>")
    def user(id):
        time.sleep((id % 5) / 1000)
        return jsonify(id=id, name=f"user {id}")


    @app.route("/search", methods=["GET", "POST"])
    def search():
        return jsonify(results=[])


    @app.route("/crash", methods=["POST"])
    def crash():
        os._exit(1)


    if __name__ == "__main__":
        app.run(host="127.0.0.1", port=5000)
""")

# A visitor with two stale links: two strikes, below --max-strikes, so an offender that is never banned.
CURIOUS, CURIOUS_PATHS = "127.0.0.20", ["/about-us", "/contact.html"]
# The README's screenshot (see the module's doc): a minute of history, scanners spread over it, the crash mid-way.
SCREENSHOT = os.environ.get("DASHBOARD_README_SCREENSHOT")
SCREENSHOT_SECONDS = float(os.environ.get("DASHBOARD_README_SECONDS", "60"))
SCAN_PATHS = ["/backup.zip", "/old-site/", "/config.bak", "/phpinfo.php", "/wp-login.php", "/.env"]


class Traffic:
    """Requests in the background until stopped: a steady good client, a scanner every few seconds (each banned
    in turn) and one client with two strikes."""

    def __init__(self, port, scanner_pause=1.0):
        self.port = port
        self.scanner_pause = scanner_pause
        self.stop = threading.Event()
        self.sent = 0
        self.threads = [threading.Thread(target=self._good, daemon=True),
                        threading.Thread(target=self._scanners, daemon=True)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _good(self):
        session = requests.Session()
        base = f"http://127.0.0.1:{self.port}"
        n = 0
        while not self.stop.is_set():
            n += 1
            path = "/" if n % 3 else f"/user/{n}"
            try:
                if n % 17 == 0:
                    session.post(base + "/", timeout=5)  # 405: a declared URL, a wrong method
                else:
                    session.get(base + path, timeout=5)
                self.sent += 1
            except requests.RequestException:
                pass
            self.stop.wait(0.02)

    def _scanners(self):
        for path in CURIOUS_PATHS:
            ask("127.0.0.1", self.port, path, source=CURIOUS, timeout=3)
        source = 2
        while not self.stop.is_set():
            for path in SCAN_PATHS:
                if self.stop.is_set():
                    return
                ask("127.0.0.1", self.port, path, source=f"127.0.0.{source}", timeout=3)
                self.stop.wait(0.15)
            source = source + 1 if source < 9 else 2
            self.stop.wait(self.scanner_pause)


def wait_status(admin, predicate, timeout=30.0, what="the status"):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            status = requests.get(admin + "/status", timeout=3).json()
            if predicate(status):
                return status
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last /status: {status}")


SHOWN_JS = """(() => {
    const value = (sel) => document.querySelector(sel).getAttribute('data-value');
    const field = (tr, name) => tr.querySelector('[data-field="' + name + '"]');
    return {
        connection: document.getElementById('connection').getAttribute('data-connection'),
        requests: value('#requests-total'), requestsText: document.getElementById('requests-total').textContent,
        strikes: value('#strikes-total'), bansActive: value('#bans-active'),
        app: document.getElementById('app-name').textContent,
        pid: document.getElementById('feisty-pid').textContent,
        instances: Array.from(document.querySelectorAll('#instances tbody tr')).map((tr) =>
            [tr.getAttribute('data-instance-id'), tr.getAttribute('data-state'), field(tr, 'pid').textContent]),
        events: Array.from(document.querySelectorAll('#event-list li')).map((li) => li.getAttribute('data-kind')),
        marks: document.querySelectorAll('#event-strip circle.event-mark').length,
        routes: Array.from(document.querySelectorAll('#routes tbody tr')).map((tr) =>
            [field(tr, 'rule').textContent, field(tr, 'requests').getAttribute('data-value')]),
        verdicts: Object.fromEntries(Array.from(document.querySelectorAll('#rate-legend [data-series]')).map((s) =>
            [s.getAttribute('data-series'), s.querySelector('.total').getAttribute('data-value')])),
        bans: Array.from(document.querySelectorAll('#bans tbody tr')).map((tr) => tr.getAttribute('data-client')),
        offenders: Array.from(document.querySelectorAll('#offenders tbody tr')).map((tr) => tr.getAttribute('data-client')),
        ratePoints: +document.getElementById('rate-chart').getAttribute('data-points'),
        guardPoints: +document.getElementById('guard-chart').getAttribute('data-points'),
    };
})()"""


def polls(browser):
    return browser.evaluate("+document.getElementById('connection').getAttribute('data-polls')")


# What the page shows while traffic flows: the current rates (the legend's value is the rate, `.total` the count).
LIVE_JS = """(() => {
    const num = (el) => el && el.getAttribute('data-value') !== null ? +el.getAttribute('data-value') : null;
    return {
        rate: num(document.getElementById('request-rate')),
        rates: Object.fromEntries(Array.from(document.querySelectorAll('#rate-legend [data-series]')).map((s) =>
            [s.getAttribute('data-series'), num(s.querySelector('.v'))])),
        bansActive: num(document.getElementById('bans-active')),
        bans: Array.from(document.querySelectorAll('#bans tbody tr')).map((tr) => tr.getAttribute('data-client')),
        pids: Object.fromEntries(Array.from(document.querySelectorAll('#instances tbody tr')).map((tr) =>
            [tr.getAttribute('data-instance-id'),
             [tr.getAttribute('data-state'), tr.querySelector('[data-field="pid"]').textContent]])),
        crashes: Array.from(document.querySelectorAll('#event-list li[data-kind="crash"]')).map((li) =>
            [li.getAttribute('data-instance'), li.querySelector('.cause').textContent]),
    };
})()"""


def wait_shown(browser, predicate, timeout, what):
    """Reads LIVE_JS until `predicate` holds on it (the page polls /status every 0.5 s here)."""
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = browser.evaluate(LIVE_JS)
        if predicate(shown):
            return shown
        time.sleep(0.1)
    pytest.fail(f"the page did not show {what} within {timeout}s; it shows {shown}; JS errors: {browser.js_errors}")


def test_dashboard_shows_a_running_feisty(browser, start_feisty, tmp_path):
    started = time.monotonic()
    app = tmp_path / "app.py"
    app.write_text(APP)
    admin_port = free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    feisty = start_feisty(str(app), "--admin", f"127.0.0.1:{admin_port}", "--max-strikes", "3",
                          "--ban-time", "5m", "--strike-405", "0", "--workers", "2")
    page = requests.get(admin + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text == (REPO / "Sources" / "FeistyCore" / "Admin" / "dashboard.html").read_text()
    # The browser watches from before the first request: what it shows is what it measured between its polls.
    browser.navigate(admin + "/?interval=500")
    with Traffic(feisty.port, scanner_pause=SCREENSHOT_SECONDS / 10 if SCREENSHOT else 1.0) as traffic:
        # Requests flowing, counted by verdict, and the scanners banned: all read from the DOM, no /status here.
        live = wait_shown(browser, lambda s: (s["rate"] or 0) > 0 and (s["rates"].get("forwarded") or 0) > 0
                          and "refused_undeclared" in s["rates"] and (s["bansActive"] or 0) >= 2
                          and "127.0.0.2" in s["bans"] and len(s["pids"]) == 2
                          and all(state == "ready" for state, _ in s["pids"].values()),
                          timeout=30, what="a request rate by verdict, two bans and two ready instances")
        if SCREENSHOT:
            time.sleep(SCREENSHOT_SECONDS / 2)
        # An instance crashes (the app's os._exit); the supervisor starts another in its place.
        try:
            # POST: feisty sends a GET whose instance died to another one (idempotent), which would crash it too.
            requests.post(f"http://127.0.0.1:{feisty.port}/crash", timeout=5)
        except requests.RequestException:
            pass  # the instance died mid-answer: what the test wants
        # The supervisor replaces the dead instance with a new one (a new id, a new process).
        after = wait_shown(browser, lambda s: len(s["crashes"]) == 1 and s["crashes"][0][0] in live["pids"]
                           and s["crashes"][0][0] not in s["pids"] and len(s["pids"]) == 2
                           and all(state == "ready" for state, _ in s["pids"].values()),
                           timeout=30, what="the crash on the timeline and a new instance ready in its place")
        crashed, cause = after["crashes"][0]
        [replacement] = set(after["pids"]) - set(live["pids"])
        assert after["pids"][replacement][1] not in {pid for _, pid in live["pids"].values()}, (live, after)
        browser.wait_for("+document.getElementById('guard-chart').getAttribute('data-points') >= 8", timeout=30,
                         what="eight samples")
        assert traffic.sent > 0
        if SCREENSHOT:
            time.sleep(SCREENSHOT_SECONDS / 2)
            with open(SCREENSHOT, "wb") as handle:
                handle.write(browser.screenshot(full_page=True))
        live_strikes = canvas_pixels(browser, "guard-chart", (0xF9, 0x73, 0x16))
        live_rate = canvas_pixels(browser, "rate-chart", (0x3B, 0x82, 0xF6))
        live_latency = canvas_pixels(browser, "latency-chart", (0xEF, 0x44, 0x44))
    # Traffic stopped and the instances settled: the page and /status must agree on every counter.
    wait_status(admin, lambda s: all(i["state"] == "ready" for i in s["instances"]) and (
        s["traffic"] is None or s["traffic"]["in_flight"] == 0), what="a quiet feisty")
    for _ in range(3):  # a state that holds over two polls (an instance may still change state)
        status = requests.get(admin + "/status", timeout=3).json()
        seen = polls(browser)
        browser.wait_for(f"+document.getElementById('connection').getAttribute('data-polls') >= {seen + 2}",
                         timeout=15)
        shown = browser.evaluate(SHOWN_JS)
        again = requests.get(admin + "/status", timeout=3).json()
        if again["instances"] == status["instances"] and again["events"] == status["events"]:
            break
    status = again
    assert shown["connection"] == "connected", shown
    assert shown["app"].endswith("app.py") and shown["pid"] == str(feisty.proc.pid), shown

    # Instances: the live pool, the pids of the app processes feisty runs.
    assert shown["instances"] == [[str(i["id"]), i["state"], str(i["pid"])] for i in status["instances"]]
    assert len(shown["instances"]) == 2 and all(state == "ready" for _, state, _ in shown["instances"])
    app_pids = {str(pid) for pid in feisty.app_pids()}
    assert all(pid in app_pids for _, _, pid in shown["instances"]), (shown["instances"], app_pids)
    assert live["pids"][crashed][1] not in app_pids, "the crashed instance's process still runs"

    # Events: newest first; the crash with feisty's cause, then the instance started and ready again.
    assert shown["events"] == [e["kind"] for e in reversed(status["events"])][:100]
    assert shown["marks"] == len(status["events"])
    crash_events = [i for i, e in enumerate(status["events"]) if e["kind"] == "crash"]
    assert len(crash_events) == 1, status["events"]
    crash = status["events"][crash_events[0]]
    assert str(crash["instance"]) == crashed and crash["cause"] and cause == crash["cause"], (crash, cause)
    later = [e["kind"] for e in status["events"][crash_events[0] + 1:] if str(e["instance"]) == replacement]
    assert later[:2] == ["start", "ready"], status["events"]
    assert [str(i["id"]) for i in status["instances"]].count(replacement) == 1

    # Guard: the scanners' strikes and bans, the offenders.
    guard = status["guard"]
    assert shown["strikes"] == str(guard["strikes_total"]) and guard["strikes_total"] > 0
    assert shown["bansActive"] == str(guard["bans_active"]) and guard["bans_active"] >= 2
    assert shown["bans"] == [b["client"] for b in guard["bans"]] and "127.0.0.2" in shown["bans"]
    assert shown["offenders"] == [o["client"] for o in guard["top_offenders"]] and CURIOUS in shown["offenders"]
    assert CURIOUS not in shown["bans"], "two strikes banned a client (--max-strikes 3)"
    assert "127.0.0.1" not in shown["bans"], "the good client was banned"
    assert shown["guardPoints"] >= 8 and live_strikes["matching"] > 0, (shown, live_strikes)

    # Routes: the app's table as feisty knows it.
    assert [rule for rule, _ in shown["routes"]] == [r["rule"] for r in status["routes"]]
    assert {"/", "/user/<int:id>", "/search", "/crash"} <= {rule for rule, _ in shown["routes"]}

    # Traffic: the counters, by verdict and per route, and their charts.
    traffic = status["traffic"]
    assert traffic is not None, "feisty run measures no traffic"
    assert shown["requests"] == str(traffic["requests"]) and int(shown["requests"]) > 50
    assert shown["requestsText"] == f"{traffic['requests']:,}"
    assert shown["routes"] == [[r["rule"], None if r["requests"] is None else str(r["requests"])]
                               for r in status["routes"]]
    per_route = dict(shown["routes"])
    assert per_route["/user/<int:id>"] not in (None, "0") and per_route["/"] not in (None, "0"), per_route
    assert per_route["/crash"] == "1", per_route
    assert shown["verdicts"] == {k: str(n) for k, n in traffic["by_verdict"].items() if n > 0}
    assert "forwarded" in shown["verdicts"] and "refused_undeclared" in shown["verdicts"]
    assert shown["ratePoints"] >= 8 and live_rate["matching"] > 200, live_rate
    assert live_latency["matching"] > 50, live_latency

    stats = png_color_stats(browser.screenshot(scale=0.5))
    assert stats["colors"] > 40 and stats["foreground"] > 0.04, stats
    assert browser.js_errors == [], browser.js_errors
    assert browser.network_errors == [], browser.network_errors  # every poll of a running feisty answered
    if not SCREENSHOT:
        assert time.monotonic() - started < 60, "the live dashboard test is meant to take well under a minute"
