"""Headless Chromium (Debian's `chromium`) driven through the DevTools protocol, and a small PNG reader.

The dashboard tests load a page, let its scripts poll a few times, then read the DOM and the canvases as the browser
rendered them, collect every JavaScript error the page raised, and take screenshots. The protocol (one WebSocket,
JSON commands) is spoken with `websocket-client` from requirements-test.txt; no browser-automation package.
"""
import base64
import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib

import pytest
import requests
import websocket

WIDTH, HEIGHT = 1400, 1000


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium not found: install Debian's `chromium` package (.ci/run does)")


class Browser:
    """One headless Chromium with one page, the page's errors collected as they come."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="feisty-chromium-")
        self.proc = subprocess.Popen(
            [
                chromium_binary(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--force-color-profile=srgb",
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.next_id = 0
        self.events = []
        # Exceptions thrown by the page and console.error calls: each one fails a test.
        self.js_errors = []
        # Resource loads that failed (a refused /status while feisty is away): expected in some tests, reported apart.
        self.network_errors = []
        self.socket = websocket.create_connection(self._page_socket_url(), timeout=30, suppress_origin=True)
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(method)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )

    def _page_socket_url(self) -> str:
        active = pathlib.Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode(errors="replace")
                pytest.fail(f"chromium exited ({self.proc.returncode}):\n{stderr[-3000:]}")
            try:
                port = int(active.read_text().split()[0])
                targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except (OSError, ValueError, IndexError, requests.RequestException):
                pass
            time.sleep(0.1)
        pytest.fail("chromium's DevTools endpoint did not come up within 30 s")

    # ---- the protocol ----
    def send(self, method, params=None, timeout=30.0):
        self.next_id += 1
        ident = self.next_id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)
            if time.monotonic() > deadline:
                raise TimeoutError(method)

    def _event(self, message):
        method, params = message.get("method"), message.get("params", {})
        self.events.append(message)
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.js_errors.append(f"exception: {text} at line {details.get('lineNumber')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.js_errors.append(f"console.{params.get('type')}: {args}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                line = f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}"
                if entry.get("source") == "network":
                    self.network_errors.append(line)
                else:
                    self.js_errors.append(line)

    def evaluate(self, expression):
        """The JSON value of `expression`, evaluated in the page (one synchronous run: no poll interleaves)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url):
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout=20)

    def wait_for(self, expression, timeout=15.0, what=None):
        """Polls `expression` until it is truthy; fails the test with `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"timed out after {timeout}s waiting for {what or expression} (last: {value!r}); "
                    f"JS errors: {self.js_errors}")

    def screenshot(self, full_page=False, scale=1.0) -> bytes:
        params = {"format": "png"}
        if full_page:
            height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height,
                                                            "scale": scale})
        elif scale != 1.0:
            params["clip"] = {"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT, "scale": scale}
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def close(self):
        try:
            self.socket.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser():
    opened = Browser()
    yield opened
    opened.close()


# What a canvas holds: painted pixels, and how many are close to a given color (a chart's series).
CANVAS_PIXELS_JS = """
((id, rgb) => {
    const canvas = document.getElementById(id);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0, matching = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        painted++;
        if (Math.abs(data[i] - rgb[0]) <= 10 && Math.abs(data[i + 1] - rgb[1]) <= 10 &&
            Math.abs(data[i + 2] - rgb[2]) <= 10) matching++;
    }
    return {painted, matching, width: canvas.width, height: canvas.height};
})(%s, %s)
"""


def canvas_pixels(browser: Browser, canvas_id: str, rgb) -> dict:
    return browser.evaluate(CANVAS_PIXELS_JS % (json.dumps(canvas_id), json.dumps(list(rgb))))


# ---- PNG ----
def png_pixels(data: bytes):
    """(width, height, channels, rows) of an 8-bit RGB/RGBA/gray PNG (what Chromium writes); rows are bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, idat, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    width, height, depth, color_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, color type {color_type}, interlace {interlace}")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous, position = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[position], bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def png_color_stats(data: bytes) -> dict:
    """Distinct colors (to 4 bits a channel) and the share of pixels unlike the most common one (the background)."""
    width, height, channels, rows = png_pixels(data)
    counts = {}
    for row in rows:
        for x in range(0, width * channels, channels):
            key = tuple(v >> 4 for v in row[x:x + min(3, channels)])
            counts[key] = counts.get(key, 0) + 1
    total = width * height
    background = max(counts.values())
    return {"width": width, "height": height, "colors": len(counts), "foreground": 1 - background / total}
