"""The admin dashboard (Sources/FeistyCore/Admin/dashboard.html) in a real browser: headless Chromium.

A small in-process server plays the admin listener: `GET /` is the page from the repository (the binary embeds the
same bytes, DashboardPageTests checks), `GET /status` answers a document that changes on every poll, in the shape of
the admin JSON contract (docs: /status): first an idle feisty under --no-guard (guard null, latency null, no
instance), then a busy one (three instances in three states, a crash and a memory recycle among the events, bans,
offenders, routes), then no answer at all, then busy again. The page polls fast here (`?interval=250`); each
check reads the DOM after its scripts ran, in one evaluation so no poll interleaves, and compares it with the exact
document the page last received (found by its uptime). Charts are checked by their pixels, the whole page by a
screenshot, and any JavaScript error fails the test.

`DASHBOARD_SCREENSHOT=PATH` also saves a full-page screenshot of the busy fixture there.
"""
import copy
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .browser_support import browser, canvas_pixels, png_color_stats  # noqa: F401 (browser is a fixture)
from .conftest import REPO

PAGE = REPO / "Sources" / "FeistyCore" / "Admin" / "dashboard.html"
POLL_MS = 250
STARTED_AT = "2026-12-01T05:00:00Z"
FORWARDED_BLUE = (0x3B, 0x82, 0xF6)
P99_RED = (0xEF, 0x44, 0x44)
STRIKES_ORANGE = (0xF9, 0x73, 0x16)

EVENTS = [
    {"at": "2026-12-01T05:00:01Z", "kind": "start", "instance": 1, "cause": "launch"},
    {"at": "2026-12-01T05:00:02Z", "kind": "ready", "instance": 1, "cause": "answered in 0.8 s"},
    {"at": "2026-12-01T05:00:04Z", "kind": "crash", "instance": 1,
     "cause": "exited with status 1: ZeroDivisionError: division by zero"},
    {"at": "2026-12-01T05:00:05Z", "kind": "ready", "instance": 2, "cause": "answered in 0.7 s"},
    {"at": "2026-12-01T05:00:07Z", "kind": "memory", "instance": 2,
     "cause": "RSS 612 MiB over the 512 MiB limit for 30 s"},
    {"at": "2026-12-01T05:00:08Z", "kind": "swap", "instance": 3, "cause": "replaces #2 (memory)"},
]


class StatusFixture:
    """The admin listener's /status as a scripted feisty: one step per poll, counters that only grow."""

    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "idle"
        self.step = 0
        self.busy_steps = 0
        self.requests_at = []  # monotonic time of every /status request
        self.served = {}  # uptime_seconds → the document served
        self.verdicts = {}
        self.strikes = 0
        self.bans = 0

    def set_phase(self, phase):
        with self.lock:
            self.phase = phase

    def next_document(self):
        """The next /status body, or None to fail this poll."""
        with self.lock:
            self.requests_at.append(time.monotonic())
            if self.phase == "down":
                return None
            self.step += 1
            document = self._busy() if self.phase == "busy" else self._idle()
            self.served[document["feisty"]["uptime_seconds"]] = copy.deepcopy(document)
            return document

    def _feisty(self, guard):
        return {"version": "0.1.0", "pid": 4242, "started_at": STARTED_AT, "uptime_seconds": self.step * 2.0,
                "rss_bytes": 31457280 + self.step * 4096, "open_connections": 12 if self.phase == "busy" else 0,
                "app": "app.py", "listen": "127.0.0.1:5000", "ready": True, "guard": guard}

    def _idle(self):
        return {
            "feisty": self._feisty(False),
            "traffic": {"requests": 0, "in_flight": 0, "queue_depth": 0, "by_verdict": {}, "by_status": {},
                        "latency_ms": None, "upstream_latency_ms": {"p50": None, "p99": None}},
            "instances": [],
            "events": [],
            "guard": None,
            "routes": [],
        }

    def _busy(self):
        self.busy_steps += 1
        k = self.busy_steps
        growth = {"forwarded": 100 + 20 * (k % 5), "redirect": 4, "not_found": 8 + 4 * (k % 3),
                  "method_not_allowed": 1 if k % 3 == 0 else 0, "bad_request": 0,
                  "refused_undeclared": 3, "throttled": 2 if k % 2 else 0, "banned": 6 + k % 4,
                  "app_busy": 0, "upstream_failed": 0}
        for key, add in growth.items():
            self.verdicts[key] = self.verdicts.get(key, 0) + add
        self.strikes += 3 + k % 2
        self.bans += 1 if k % 5 == 0 else 0
        v = self.verdicts
        forwarded = v["forwarded"]
        return {
            "feisty": self._feisty(True),
            "traffic": {
                "requests": sum(v.values()),
                "in_flight": 3,
                "queue_depth": k % 2,
                "by_verdict": dict(v),
                "by_status": {"200": forwarded, "308": v["redirect"], "403": v["banned"],
                              "404": v["not_found"] + v["refused_undeclared"], "405": v["method_not_allowed"],
                              "429": v["throttled"]},
                "latency_ms": {"p50": 1.0 + 0.25 * (k % 4), "p99": 12.0 + 4 * (k % 5)},
                "upstream_latency_ms": {"p50": 0.75 + 0.25 * (k % 4), "p99": 10.5 + 4 * (k % 5)},
            },
            "instances": [
                {"id": 3, "pid": 5153, "state": "ready", "address": "unix:/tmp/feisty-x/3.sock",
                 "age_seconds": 52.5 + 2 * k, "rss_bytes": 41943040, "requests": forwarded - 400},
                {"id": 4, "pid": 5154, "state": "starting", "address": "unix:/tmp/feisty-x/4.sock",
                 "age_seconds": 1.5, "rss_bytes": None, "requests": 0},
                {"id": 2, "pid": 5152, "state": "draining", "address": "unix:/tmp/feisty-x/2.sock",
                 "age_seconds": 330.0, "rss_bytes": 641728512, "requests": 400},
            ],
            "events": copy.deepcopy(EVENTS),
            "guard": {
                "strikes_total": self.strikes,
                "bans_active": 2,
                "bans_total": 5 + self.bans,
                "refused_total": v["refused_undeclared"],
                "throttled_total": v["throttled"],
                "bans": [
                    {"client": "203.0.113.7", "reason": "3 strikes: /.env /wp-login.php /phpmyadmin/",
                     "since": "2026-12-01T05:00:03Z", "until": "2026-12-01T06:00:03Z", "count": 2},
                    {"client": "2001:db8:1::/64", "reason": "canary /.git/config", "since": "2026-12-01T05:00:06Z",
                     "until": None, "count": 4},
                ],
                "top_offenders": [
                    {"client": "203.0.113.7", "strikes": 9, "banned": True},
                    {"client": "2001:db8:1::/64", "strikes": 6, "banned": True},
                    {"client": "198.51.100.23", "strikes": 2, "banned": False},
                ],
            },
            "routes": [
                {"index": 0, "rule": "/", "methods": ["GET", "HEAD", "OPTIONS"], "endpoint": "index",
                 "requests": forwarded * 6 // 10, "latency_ms": {"p50": 0.8, "p99": 4.25}},
                {"index": 1, "rule": "/user/<int:id>", "methods": ["GET", "HEAD", "OPTIONS"], "endpoint": "user",
                 "requests": forwarded - forwarded * 6 // 10, "latency_ms": {"p50": 1.5, "p99": 23.5}},
                {"index": 2, "rule": "/static/<path:filename>", "methods": ["GET", "HEAD", "OPTIONS"],
                 "endpoint": "static", "requests": 0, "latency_ms": {"p50": None, "p99": None}},
            ],
        }


def serve_fixture(fixture):
    page = PAGE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._answer(200, "text/html; charset=utf-8", page)
            elif path == "/status":
                document = fixture.next_document()
                if document is None:
                    self._answer(503, "application/json", b'{"error": "feisty is away"}')
                else:
                    self._answer(200, "application/json", json.dumps(document).encode())
            else:
                self._answer(404, "text/plain", b"not found")

        def _answer(self, status, content_type, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fixture_server():
    fixture = StatusFixture()
    server = serve_fixture(fixture)
    yield fixture, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


# Everything the tests compare, read in one evaluation (a poll cannot land halfway through).
SNAPSHOT_JS = """
(() => {
    const text = (sel) => { const el = document.querySelector(sel); return el ? el.textContent.trim() : null; };
    const value = (sel) => { const el = document.querySelector(sel); return el ? el.getAttribute('data-value') : null; };
    const hidden = (sel) => document.querySelector(sel).classList.contains('hidden');
    const rows = (sel, read) => Array.from(document.querySelectorAll(sel)).map(read);
    const field = (tr, name) => { const td = tr.querySelector('[data-field="' + name + '"]'); return td ? td.textContent.trim() : null; };
    const pill = document.getElementById('connection');
    return {
        connection: pill.getAttribute('data-connection'), polls: +pill.getAttribute('data-polls'),
        stale: document.body.classList.contains('stale'),
        errors: Array.from(document.body.attributes).filter((a) => a.name.startsWith('data-error')).map((a) => a.name + ': ' + a.value),
        uptime: value('#uptime'), ready: text('#feisty-ready'), app: text('#app-name'), listen: text('#listen'), pid: text('#feisty-pid'),
        requestsText: text('#requests-total'), requests: value('#requests-total'),
        rate: value('#request-rate'), inFlight: text('#in-flight'), queue: text('#queue-depth'),
        p50: text('#latency-p50'), p99: text('#latency-p99'), p50Value: value('#latency-p50'),
        instancesReady: text('#instances-ready'), strikes: text('#strikes-total'), strikesValue: value('#strikes-total'),
        bansActive: text('#bans-active'), rss: text('#feisty-rss'),
        guard: document.getElementById('guard').getAttribute('data-guard'), guardOffShown: !hidden('#guard-off'),
        instancesEmptyShown: !hidden('#instances-empty'), eventsEmptyShown: !hidden('#events-empty'),
        routesEmptyShown: !hidden('#routes-empty'),
        readyRows: document.querySelectorAll('#instances tbody tr[data-state="ready"]').length,
        instances: rows('#instances tbody tr', (tr) => ({
            id: tr.getAttribute('data-instance-id'), state: tr.getAttribute('data-state'),
            badge: field(tr, 'state'), pid: field(tr, 'pid'), rss: field(tr, 'rss'), age: field(tr, 'age'),
            requests: tr.querySelector('[data-field="requests"]').getAttribute('data-value'),
            color: getComputedStyle(tr.querySelector('.badge')).backgroundColor })),
        events: rows('#event-list li', (li) => ({ kind: li.getAttribute('data-kind'), instance: li.getAttribute('data-instance'),
            cause: li.querySelector('.cause').textContent })),
        marks: rows('#event-strip circle.event-mark', (c) => c.getAttribute('data-kind')),
        verdicts: rows('#rate-legend [data-series]', (s) => ({ key: s.getAttribute('data-series'),
            rate: s.querySelector('.v').getAttribute('data-value'), total: s.querySelector('.total').getAttribute('data-value') })),
        codes: rows('#status-codes [data-status]', (s) => [s.getAttribute('data-status'), s.getAttribute('data-value')]),
        latencyLegend: rows('#latency-legend [data-series]', (s) => [s.getAttribute('data-series'), s.querySelector('.v').textContent]),
        guardLegend: rows('#guard-legend [data-series]', (s) => [s.getAttribute('data-series'), s.querySelector('.v').getAttribute('data-value')]),
        bansTotal: value('#guard-bans-total'),
        offenders: rows('#offenders tbody tr', (tr) => [tr.getAttribute('data-client'), tr.getAttribute('data-banned'),
            tr.querySelector('[data-value]').getAttribute('data-value')]),
        bans: rows('#bans tbody tr', (tr) => [tr.getAttribute('data-client'), field(tr, 'until')]),
        routes: rows('#routes tbody tr', (tr) => ({ index: tr.getAttribute('data-route-index'), rule: field(tr, 'rule'),
            endpoint: tr.getAttribute('data-endpoint'), requests: tr.querySelector('[data-field="requests"]').getAttribute('data-value'),
            p50: field(tr, 'p50'), p99: field(tr, 'p99'), bar: tr.querySelector('.bar span').style.width })),
        charts: Object.fromEntries(['rate-chart', 'latency-chart', 'guard-chart'].map((id) => [id,
            +document.getElementById(id).getAttribute('data-points')])),
    };
})()
"""


def snapshot(browser):
    return browser.evaluate(SNAPSHOT_JS)


def fmt_ms(v):
    """The page's latency format."""
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else str(round(v))


def wait_polls(browser, more, timeout=15.0):
    """Waits until the page has rendered `more` further successful polls; returns the new count."""
    start = snapshot(browser)["polls"]
    browser.wait_for(f"+document.getElementById('connection').getAttribute('data-polls') >= {start + more}",
                     timeout=timeout, what=f"{more} more polls after {start}")
    return start + more


def test_dashboard_renders_idle_busy_and_disconnected_status(browser, fixture_server, tmp_path):
    fixture, base = fixture_server
    browser.navigate(base + f"?interval={POLL_MS}")

    # 1. Idle, under --no-guard: nulls everywhere, no instance; nothing throws, every section says so.
    wait_polls(browser, 2)
    idle = snapshot(browser)
    assert idle["connection"] == "connected" and not idle["errors"], idle
    assert idle["requestsText"] == "0" and idle["requests"] == "0"
    assert idle["p50"] == "—" and idle["p99"] == "—" and idle["p50Value"] is None
    assert idle["guard"] == "off" and idle["guardOffShown"] and idle["strikes"] == "off"
    assert idle["instances"] == [] and idle["instancesEmptyShown"] and idle["instancesReady"] == "0"
    assert idle["events"] == [] and idle["eventsEmptyShown"] and idle["marks"] == []
    assert idle["routes"] == [] and idle["routesEmptyShown"]
    assert idle["offenders"] == [] and idle["bans"] == [] and idle["verdicts"] == []
    assert idle["charts"] == {"rate-chart": idle["charts"]["rate-chart"], "latency-chart": 0, "guard-chart": 0}
    assert idle["app"] == "app.py" and idle["listen"] == "127.0.0.1:5000" and idle["pid"] == "4242"
    assert idle["ready"] == "ready"

    # 2. Busy: every number shown is the one in the document the page last received.
    fixture.set_phase("busy")
    wait_polls(browser, 2)
    # While feisty is younger than the 30 s window, its counters hold everything since it started: the rate is
    # their mean over the whole window, not over the few seconds polled (the first burst is no spike).
    early = snapshot(browser)
    early_uptime = float(early["uptime"])
    assert early_uptime <= 30, early
    early_strikes = fixture.served[early_uptime]["guard"]["strikes_total"]
    assert early_strikes > 0
    assert float(dict(early["guardLegend"])["strikes"]) == pytest.approx(early_strikes / 30 * 60)
    wait_polls(browser, 10)
    busy = snapshot(browser)
    assert busy["connection"] == "connected" and not busy["errors"], busy
    uptime = float(busy["uptime"])
    document, before = fixture.served[uptime], fixture.served[uptime - 2.0]
    traffic, guard = document["traffic"], document["guard"]
    assert busy["requests"] == str(traffic["requests"]) and busy["requestsText"] == f"{traffic['requests']:,}"
    assert float(busy["rate"]) == pytest.approx((traffic["requests"] - before["traffic"]["requests"]) / 2.0)
    assert busy["inFlight"] == "3" and busy["queue"] == str(traffic["queue_depth"])
    assert busy["p50"] == fmt_ms(traffic["latency_ms"]["p50"]) and busy["p99"] == fmt_ms(traffic["latency_ms"]["p99"])
    assert busy["rss"] == f"{document['feisty']['rss_bytes'] / 1048576:.1f} MiB"

    # Verdicts: the legend names each verdict seen, its total and its rate between the last two polls.
    shown = {v["key"]: v for v in busy["verdicts"]}
    seen = {k: n for k, n in traffic["by_verdict"].items() if n > 0}
    assert set(shown) == set(seen)
    for key, total in seen.items():
        assert shown[key]["total"] == str(total)
        expected = (total - before["traffic"]["by_verdict"][key]) / 2.0
        assert float(shown[key]["rate"]) == pytest.approx(expected), key
    assert dict(busy["codes"]) == {code: str(n) for code, n in traffic["by_status"].items()}
    assert dict(busy["latencyLegend"]) == {
        "p50": fmt_ms(traffic["latency_ms"]["p50"]), "p99": fmt_ms(traffic["latency_ms"]["p99"]),
        "up50": fmt_ms(traffic["upstream_latency_ms"]["p50"]), "up99": fmt_ms(traffic["upstream_latency_ms"]["p99"])}

    # Instances: one row each, in order, state as data-state and as a colored badge (a color per state).
    assert [(i["id"], i["state"], i["pid"], i["requests"]) for i in busy["instances"]] == [
        (str(i["id"]), i["state"], str(i["pid"]), str(i["requests"])) for i in document["instances"]]
    assert [i["badge"] for i in busy["instances"]] == ["ready", "starting", "draining"]
    assert len({i["color"] for i in busy["instances"]}) == 3, busy["instances"]
    assert busy["readyRows"] == 1 and busy["instancesReady"] == "1 / 3"
    assert busy["instances"][1]["rss"] == "—" and busy["instances"][2]["rss"] == "612.0 MiB"
    assert busy["instances"][2]["age"] == "5m 30s"

    # Events: newest first, with cause; one mark each on the timeline strip.
    assert [(e["kind"], e["instance"], e["cause"]) for e in busy["events"]] == [
        (e["kind"], str(e["instance"]), e["cause"]) for e in reversed(EVENTS)]
    assert sorted(busy["marks"]) == sorted(e["kind"] for e in EVENTS) and "crash" in busy["marks"]
    assert not busy["eventsEmptyShown"]

    # Guard: totals, per-minute rates, offenders, bans in force (a ban without end is "forever").
    assert busy["guard"] == "on" and not busy["guardOffShown"]
    assert busy["strikesValue"] == str(guard["strikes_total"]) and busy["bansActive"] == "2"
    assert busy["bansTotal"] == str(guard["bans_total"])
    # Strikes per minute over the last 30 s of feisty's time (from the oldest document in it with the guard on;
    # younger than 30 s, everything since the start over the whole window).
    if uptime <= 30:
        expected = guard["strikes_total"] / 30 * 60
    else:
        since = min(u for u, d in fixture.served.items() if d["guard"] and uptime - 30 <= u < uptime)
        expected = (guard["strikes_total"] - fixture.served[since]["guard"]["strikes_total"]) / (uptime - since) * 60
    assert float(dict(busy["guardLegend"])["strikes"]) == pytest.approx(expected)
    assert busy["offenders"] == [[o["client"], "true" if o["banned"] else "false", str(o["strikes"])]
                                 for o in guard["top_offenders"]]
    assert busy["bans"] == [["203.0.113.7", "06:00:03"], ["2001:db8:1::/64", "forever"]]

    # Routes: rule text (escaped, not parsed as HTML), requests, p50/p99 (null as —), share bar.
    assert [(r["index"], r["rule"], r["endpoint"], r["requests"], r["p50"], r["p99"]) for r in busy["routes"]] == [
        (str(r["index"]), r["rule"], r["endpoint"], str(r["requests"]), fmt_ms(r["latency_ms"]["p50"]),
         fmt_ms(r["latency_ms"]["p99"])) for r in document["routes"]]
    shares = [float(r["bar"].rstrip("%")) for r in busy["routes"]]
    most = max(r["requests"] for r in document["routes"])
    assert shares == [pytest.approx(r["requests"] / most * 100, abs=0.05) for r in document["routes"]]

    # Charts: drawn from several samples, their series' colors on the canvas.
    assert all(points >= 10 for points in busy["charts"].values()), busy["charts"]
    assert canvas_pixels(browser, "rate-chart", FORWARDED_BLUE)["matching"] > 500
    assert canvas_pixels(browser, "latency-chart", P99_RED)["matching"] > 100
    assert canvas_pixels(browser, "guard-chart", STRIKES_ORANGE)["matching"] > 100

    # The page as a person sees it: not blank, many colors.
    shot = browser.screenshot(scale=0.5)
    (tmp_path / "dashboard.png").write_bytes(shot)
    stats = png_color_stats(shot)
    assert stats["width"] == 700 and stats["colors"] > 40 and stats["foreground"] > 0.04, stats
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        with open(os.environ["DASHBOARD_SCREENSHOT"], "wb") as handle:
            handle.write(browser.screenshot(full_page=True))

    # 3. feisty away: "disconnected", the last numbers stay, polling goes on.
    fixture.set_phase("down")
    down = browser.wait_for(
        "document.getElementById('connection').getAttribute('data-connection') === 'disconnected'",
        timeout=10, what="the disconnected state")
    assert down
    away = snapshot(browser)
    assert away["stale"], away
    assert away["requests"] == str(fixture.served[float(away["uptime"])]["traffic"]["requests"])
    failures_before = len(fixture.requests_at)
    deadline = time.monotonic() + 10
    while len(fixture.requests_at) < failures_before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fixture.requests_at) >= failures_before + 3, "the page stopped retrying"
    assert browser.network_errors, "the failed polls were not seen by the browser"

    # 4. Back: connected again, numbers move on.
    fixture.set_phase("busy")
    wait_polls(browser, 2)
    back = snapshot(browser)
    assert back["connection"] == "connected" and not back["stale"] and not back["errors"]
    assert int(back["requests"]) > int(busy["requests"])

    assert browser.js_errors == [], browser.js_errors


def test_dashboard_polls_every_two_seconds_by_default(browser, fixture_server):
    fixture, base = fixture_server
    fixture.set_phase("busy")
    browser.navigate(base)
    deadline = time.monotonic() + 20
    while len(fixture.requests_at) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    times = fixture.requests_at[:3]
    assert len(times) == 3, "the page did not poll three times in 20 s"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(1.5 <= gap <= 5.0 for gap in gaps), gaps
    assert browser.js_errors == [], browser.js_errors


def test_dashboard_survives_a_status_it_does_not_expect(browser, fixture_server):
    """Odd JSON (missing sections, wrong types) renders as far as it goes, throws nothing, stays connected."""
    fixture, base = fixture_server
    odd = [
        {},
        {"feisty": None, "traffic": None, "instances": None, "events": None, "guard": None, "routes": None},
        {"feisty": {"uptime_seconds": "soon"}, "traffic": {"by_verdict": None, "latency_ms": {"p50": "x"}},
         "instances": [{"id": 1}], "events": [{"kind": "crash"}], "routes": [{"index": 0}],
         "guard": {"bans": None, "top_offenders": [{}]}},
    ]
    documents = iter(odd * 3)
    fixture.next_document = lambda: (fixture.requests_at.append(time.monotonic()), next(documents, odd[0]))[1]
    browser.navigate(base + f"?interval={POLL_MS}")
    wait_polls(browser, 7)
    state = snapshot(browser)
    assert state["connection"] == "connected" and not state["errors"], state
    assert browser.js_errors == [], browser.js_errors


def test_dashboard_follows_dark_mode_and_fits_a_phone(browser, fixture_server):
    fixture, base = fixture_server
    fixture.set_phase("busy")
    browser.navigate(base + f"?interval={POLL_MS}")
    wait_polls(browser, 3)
    background = "getComputedStyle(document.body).backgroundColor"
    light = browser.evaluate(background)
    browser.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    dark = browser.evaluate(background)
    assert light != dark, (light, dark)
    rgb = [int(v) for v in dark[dark.index("(") + 1:dark.index(")")].split(",")[:3]]
    assert sum(rgb) < 150, dark
    # A phone's width: everything reflows into one column, nothing wider than the screen but the tables' own
    # scrolling boxes.
    browser.send("Emulation.setDeviceMetricsOverride", {"width": 400, "height": 800, "deviceScaleFactor": 1,
                                                        "mobile": True})
    wait_polls(browser, 2)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 400
    assert browser.evaluate("document.getElementById('rate-chart').getBoundingClientRect().width") <= 400
    assert browser.js_errors == [], browser.js_errors
