"""`feisty run` answers undeclared URLs and wrong methods itself with the app's OWN error pages (issue 9, "The app's
own error pages"): the launcher renders them once per kind of client before serving, and the proxy replays them
(status, content type, body, CORS and security headers, the refused route's real `Allow`) without the request
ever reaching the app."""
import textwrap
import time
import uuid

import pytest
import requests

APP = """
    from flask import Flask, jsonify, render_template_string, request
    from flask_cors import CORS

    app = Flask(__name__)
    CORS(app)

    @app.before_request
    def log_arrival():
        print("ARRIVED", request.method, request.full_path, flush=True)  # the launcher's renderings too

    @app.after_request
    def security_headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(404)
    def not_found(error):
        if request.accept_mimetypes.accept_json and not request.accept_mimetypes.accept_html:
            return jsonify(error="not found"), 404
        return render_template_string("<html><h1>Page not found</h1></html>"), 404

    @app.errorhandler(405)
    def not_allowed(error):
        return jsonify(error="method not allowed"), 405

    @app.route("/")
    def index():
        return "home"

    @app.route("/items", methods=["GET", "POST"])
    def items():
        return "items"

    if __name__ == "__main__":
        app.run(port=5000)
"""


def test_refused_requests_get_the_apps_own_pages_and_never_reach_it(start_feisty, tmp_path):
    pytest.importorskip("flask_cors")
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    # The route gate alone: with the guard on, a client's first undeclared URL goes to the app (test_run_guard.py).
    feisty = start_feisty(str(app), "--no-guard")
    tag = uuid.uuid4().hex[:12]
    missing = f"{feisty.base}/missing-{tag}"

    api = requests.get(missing, headers={"Accept": "application/json"}, timeout=5)
    assert api.status_code == 404
    assert api.json() == {"error": "not found"}
    assert api.headers["Content-Type"] == "application/json"
    assert api.headers["Access-Control-Allow-Origin"] == "*"
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in api.headers

    browser = requests.get(missing, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=5)
    assert browser.status_code == 404
    assert browser.text == "<html><h1>Page not found</h1></html>"
    assert browser.headers["Content-Type"] == "text/html; charset=utf-8"
    assert browser.headers["Access-Control-Allow-Origin"] == "*"

    wrong = requests.delete(f"{feisty.base}/items?tag={tag}", timeout=5)
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "method not allowed"}
    assert sorted(wrong.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS", "POST"]
    wrong_root = requests.put(f"{feisty.base}/?tag={tag}", timeout=5)
    assert wrong_root.status_code == 405
    assert sorted(wrong_root.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]  # per route, not the probe's

    # A declared route still reaches the app; the refused ones never did.
    assert requests.get(f"{feisty.base}/items?tag={tag}", timeout=5).text == "items"
    assert feisty.wait_for_line(f"ARRIVED GET /items?tag={tag}"), feisty.output
    time.sleep(0.3)
    arrivals = [line for line in feisty.output.splitlines() if "ARRIVED" in line and tag in line]
    assert arrivals == [f"app| ARRIVED GET /items?tag={tag}"], arrivals
