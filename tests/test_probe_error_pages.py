"""`error-pages` (and the launch report's `error_pages`): the app's own 404 and 405, rendered once through Flask's
full request path for each kind of client, so feisty can answer refused requests the way the app would."""
import base64
import textwrap

import pytest


def write_app(directory, body: str):
    path = directory / "app.py"
    path.write_text(textwrap.dedent(body))
    return path


def pages(probe, app) -> dict:
    result = probe("error-pages", app)
    assert result.status == 0, result.stderr
    return result.json


def body(page) -> bytes:
    return base64.b64decode(page["body_base64"])


def header(page, name):
    values = [value for key, value in page["headers"] if key.lower() == name.lower()]
    return values[0] if values else None


KINDS = ("html", "json", "any", "none")


def test_an_app_without_handlers_gets_werkzeugs_standard_pages(probe, tmp_path):
    app = write_app(tmp_path, """
        from flask import Flask
        app = Flask(__name__)
        @app.route("/")
        def index():
            raise AssertionError("no view may run")
    """)
    document = pages(probe, app)
    not_found = document["not_found"]
    assert not_found["rendered"] and not_found["outcome"] == "error"
    for kind in KINDS:
        page = not_found["pages"][kind]
        assert page["status"] == 404 and page["per_request"] == []
        assert page["headers"] == [["Content-Type", "text/html; charset=utf-8"]]
        assert body(page).startswith(b"<!doctype html>") and b"<title>404 Not Found</title>" in body(page)
    refused = document["method_not_allowed"]
    assert refused["rendered"] and refused["probe"] == "DELETE /"
    assert refused["valid_methods"] == ["GET", "HEAD", "OPTIONS"] and refused["allow_separator"] == ", "
    assert sorted(refused["allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]
    page = refused["pages"]["any"]
    assert page["status"] == 405 and b"<title>405 Method Not Allowed</title>" in body(page)
    assert [name for name, _ in page["headers"]] == ["Content-Type"]  # Allow is per route: never in the page


def test_a_json_404_handler_and_an_html_template_per_kind_of_client(probe, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "404.html").write_text("<html><body><h1>Lost in the app</h1></body></html>")
    app = write_app(tmp_path, """
        from flask import Flask, jsonify, render_template, request
        app = Flask(__name__)
        @app.errorhandler(404)
        def not_found(error):
            if request.accept_mimetypes.accept_json and not request.accept_mimetypes.accept_html:
                return jsonify(error="not found"), 404
            return render_template("404.html"), 404
        @app.errorhandler(405)
        def not_allowed(error):
            return jsonify(error="method not allowed"), 405
        @app.route("/items", methods=["GET", "POST"])
        def items():
            raise AssertionError("no view may run")
    """)
    document = pages(probe, app)
    found = document["not_found"]["pages"]
    assert body(found["json"]) == b'{"error":"not found"}\n'
    assert header(found["json"], "content-type") == "application/json"
    for kind in ("html", "any", "none"):
        assert body(found[kind]) == b"<html><body><h1>Lost in the app</h1></body></html>"
        assert header(found[kind], "content-type") == "text/html; charset=utf-8"
    refused = document["method_not_allowed"]
    assert refused["probe"] == "DELETE /items" and refused["valid_methods"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert body(refused["pages"]["json"]) == b'{"error":"method not allowed"}\n'


def test_flask_cors_and_after_request_security_headers_are_on_the_pages(probe, tmp_path):
    pytest.importorskip("flask_cors")
    app = write_app(tmp_path, """
        from flask import Flask, session
        from flask_cors import CORS
        app = Flask(__name__)
        app.secret_key = "x"
        CORS(app)
        @app.before_request
        def remember():
            session["seen"] = True  # a session cookie minted for the probe request
        @app.after_request
        def secure(response):
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Strict-Transport-Security"] = "max-age=63072000"
            return response
        @app.route("/api/things")
        def things():
            return {}
    """)
    document = pages(probe, app)
    for key in ("not_found", "method_not_allowed"):
        for kind in KINDS:
            page = document[key]["pages"][kind]
            assert header(page, "access-control-allow-origin") == "*"
            assert header(page, "x-content-type-options") == "nosniff"
            assert header(page, "strict-transport-security") == "max-age=63072000"
            assert header(page, "set-cookie") is None and header(page, "date") is None
            assert header(page, "content-length") is None


def test_a_404_handler_that_redirects_is_reported_as_a_redirect_without_the_probe_path(probe, tmp_path):
    app = write_app(tmp_path, """
        from flask import Flask, redirect, request, url_for
        app = Flask(__name__)
        @app.errorhandler(404)
        def not_found(error):
            return redirect(url_for("login", next=request.path))
        @app.route("/login")
        def login():
            return "login"
    """)
    document = pages(probe, app)
    not_found = document["not_found"]
    assert not_found["outcome"] == "redirect"
    page = not_found["pages"]["any"]
    assert page["status"] == 302
    assert header(page, "location") is None and page["dropped_headers"] == ["Location"]  # it names the probe path
    assert page["per_request"]  # the redirect body names the probe path too: feisty must not replay it


def test_a_catch_all_app_has_no_404_and_an_app_without_a_refusable_rule_no_405(probe, tmp_path):
    app = write_app(tmp_path, """
        from flask import Flask
        app = Flask(__name__, static_folder=None)
        @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def spa(path):
            return "index.html"
    """)
    document = pages(probe, app)
    assert document["not_found"]["rendered"] is False and "matches any path" in document["not_found"]["reason"]
    assert document["method_not_allowed"] == {
        "rendered": False, "reason": "no declared rule without arguments refuses a method"}


def test_a_page_that_changes_per_request_is_marked(probe, tmp_path):
    app = write_app(tmp_path, """
        import uuid
        from flask import Flask, request
        app = Flask(__name__)
        @app.errorhandler(404)
        def not_found(error):
            return f"nothing at {request.path}", 404, {"X-Request-Id": uuid.uuid4().hex, "X-Kept": "1"}
        @app.route("/")
        def index():
            return "hi"
    """)
    page = pages(probe, app)["not_found"]["pages"]["any"]
    assert page["dropped_headers"] == ["X-Request-Id"] and header(page, "x-kept") == "1"
    assert "the body differs from one request to the next" in page["per_request"]


def test_a_raising_handler_is_reported_not_fatal(probe, tmp_path):
    app = write_app(tmp_path, """
        from flask import Flask
        app = Flask(__name__)
        @app.before_request
        def broken():
            raise RuntimeError("database down")
        @app.route("/")
        def index():
            return "hi"
    """)
    page = pages(probe, app)["not_found"]["pages"]["any"]
    assert page["status"] == 500  # Flask's own 500 page: an error outcome feisty does not use for a 404
