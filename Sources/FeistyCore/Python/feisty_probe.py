"""feisty's probe: the Python that runs inside the app's own interpreter.

Embedded in the feisty binary (scripts/embed-python regenerates EmbeddedPython.swift from this file) and run
as ``PYTHON -c <this source> <command> <args...>``; tests run it as ``python3 feisty_probe.py <command> ...``.
This file is the single home of every line of Python feisty runs. It needs Python 3.9+ and nothing but the
app's own dependencies (Flask 3.x); ``routes --static`` works even when Flask is not importable.

Protocol
--------
``routes APP [--static] [--dependencies]``
    Prints ONE JSON document on the original stdout: the RouteTable (see RouteTable.swift)::

        {"port": 8080, "host": "0.0.0.0", "rules": [...], "host_matching": false, "subdomain_matching": false,
         "server_name": null, "default_subdomain": "", "redirect_defaults": true,
         "source": "runtime" | "static", "unresolved": ["file:line: why", ...], "digit_ranges": "30-39,660-669,..."}

    ``digit_ranges``: where this interpreter's ``re`` ``\\d`` holds (its Unicode version's decimal digits), the
    characters Werkzeug's int and float converters accept: inclusive code point ranges in hex.

    ``--dependencies`` adds a second line, ``{"dependencies": {"stamps": [...], "uncacheable": null | "why"}}``:
    every file, folder and module the work read, stamped before it was read (see ``DependencyWatch``), for feisty's
    route cache.

    Anything the app prints while it is imported goes to stderr (fd 1 is pointed at fd 2 during the work and
    the JSON is written to the saved original fd). Exit status 0.

    ``rules`` also stands for what WSGI middleware around the app serves before Flask's routing: Engine.IO's
    ``WSGIApp`` (Flask-SocketIO, python-socketio) gets rules for its path (``/socket.io/`` and
    ``/socket.io/<path:rest>``, plain and ``websocket``) and its ``static_files``, first in the list, endpoints
    ``<engineio middleware>``, ``<engineio middleware: websocket>``, ``<engineio static_files>``. Middleware the
    probe does not know is one ``unresolved`` line ("app.wsgi_app is wrapped by X; ..."); ``launch`` also prints
    it as a warning.

``launch APP --bind HOST:PORT --report PATH [--server werkzeug|gunicorn|waitress] [--allow-debugger] [--http11]``
    Runs the app (a script exactly as ``python3 app.py`` would, with ``app.run``/``run_simple`` rebound to
    --bind; any other spec is loaded like ``routes`` and served) and writes, right before binding, the route
    table plus ``"requested": {"host", "port"} | null`` and ``"bind": {"host", "port"}`` to PATH (atomically:
    PATH.tmp then rename). The app's own output stays on stdout/stderr, line-buffered, except the server's startup
    lines naming the internal address (Werkzeug's ``Running on ...`` and ``Press CTRL+C to quit``, gunicorn's
    ``Listening at:``, waitress's ``Serving on``). The launcher's own messages are stderr lines
    ``::feisty::LEVEL::TEXT`` (LEVEL a swift-log level: ``warning``, ...), which feisty prints as its own. When stdin
    is a pipe (feisty holds its write end), EOF on it kills the whole process group: feisty died, so must the app.

    The report also carries ``"error_pages"``: the app's own answers to what feisty refuses itself (see
    ``error-pages``), rendered after the import and before serving.

``error-pages APP``
    Prints the app's own responses to an undeclared URL and to a declared URL with a wrong method, rendered
    through Flask's full request path (error handlers, ``after_request`` hooks, extensions such as flask-cors; no
    view runs) for each kind of client (``Accept`` of a browser, of an API client, ``*/*``, none)::

        {"not_found": {"rendered": true, "probe": "GET /feisty-.../....html", "outcome": "error",
                       "pages": {"html": PAGE, "json": PAGE, "any": PAGE, "none": PAGE}},
         "method_not_allowed": {... the same, "allow": "GET, HEAD, OPTIONS", "allow_separator": ", ",
                                "valid_methods": [...]}}
        PAGE = {"status": 404, "headers": [[name, value], ...], "body_base64": "...",
                "dropped_headers": [names], "per_request": [why feisty must not replay it, ...]}

    ``{"rendered": false, "reason": "..."}`` when there is nothing to render (a catch-all rule, no rule refusing a
    method) or the rendering raised. ``outcome`` is ``error``, ``redirect`` (3xx) or ``success`` (2xx).

``match-server APP``
    Loads the app like ``routes``, prints ``{"ready": true}`` on the original stdout, then answers one request per
    stdin line with one verdict line, until EOF: for ``feisty match`` on rules whose custom converters have their own
    ``to_python``/``to_url`` (``"overrides"`` in the table), which only the app's interpreter can run. A request
    ``{"method": "GET", "target": "/raw/target?q", "host": "localhost", "websocket": false}`` is judged exactly as
    the Werkzeug dev server would route it (its request parsing, Flask's ``create_url_adapter``,
    ``MapAdapter.match``)::

        {"outcome": "match", "endpoint": "e", "args": [["name", VALUE], ...]}
        {"outcome": "redirect", "location": "http://..."}  {"outcome": "not_found"}  {"outcome": "bad_host"}
        {"outcome": "method_not_allowed", "allowed": ["GET", ...]}  {"outcome": "websocket_mismatch"}
        {"outcome": "error", "message": "ValueError('...')"}  (the app would answer 500)
        {"outcome": "unparsed"}  (the dev server rejects the request line itself)

    VALUE is tagged so that every Python value comes back exactly: ``["null"]``, ``["bool", true]``,
    ``["int", "123"]`` (any size), ``["float", "1.5"]`` (``repr``), ``["str", "x"]``, ``["list", [VALUE, ...]]``,
    ``["dict", [["key", VALUE], ...]]``; a UUID is its ``str`` and any other object its ``repr`` (as ``str``).
    A failure to load the app is the usual error line instead of ``{"ready": true}``.

Failure (all commands)
    Exit status 1 and one line of JSON ``{"error": {"kind": KIND, "message": "one line"}}``: on the original
    stdout for ``routes``, on stderr for ``launch``. KIND is one of ``not_found`` (missing file, folder or
    module), ``syntax_error`` (message has file:line), ``import_error`` (the exception raised while importing,
    ``Type: message``), ``no_app`` (no Flask app where Flask looked), ``factory_error`` (the app factory raised),
    ``usage`` (bad command line), and for ``launch`` also ``server_missing``, ``bind_error``, ``app_error``
    (the script raised after importing). ``internal_error`` is a bug of this probe.

APP forms (Flask's own rules, as ``flask --app``)
    ``path/app.py``, a folder holding ``wsgi.py`` or ``app.py`` (in that order, as Flask), a package folder,
    ``module``, ``module:name``, ``module:create_app("dev", debug=True)`` (literal arguments only).

Importing (as ``flask --app APP COMMAND``; see prepare_flask_cli)
    A module is found as Python finds it, with the APP's folder (the cwd for a module name) first on sys.path:
    every ``sys.meta_path`` finder is asked, so editable installs' import hooks work. ``FLASK_RUN_FROM_CLI=true``
    makes an ``app.run()`` at import (or in a factory) a no-op, ``sys.argv`` is ``[.../flask, --app, APP,
    COMMAND]`` (COMMAND ``routes``, ``error-pages``, ``run`` for ``launch`` of a module), ``run_simple`` is a no-op
    for ``routes``/``error-pages``, and a ``sys.exit()`` at import is an ``import_error`` naming the app's line.
    ``launch`` of a script runs it as ``python3 SCRIPT`` (``__main__``, ``sys.argv == [SCRIPT]``) instead.
"""
from __future__ import annotations

import ast
import json
import os
import re
import stat
import sys



# Exact classes only: a subclass may override to_python, so it is matched through its regex instead.
_BUILTIN_KINDS = {
    "UnicodeConverter": "string",
    "PathConverter": "path",
    "AnyConverter": "any",
    "IntegerConverter": "int",
    "FloatConverter": "float",
    "UUIDConverter": "uuid",
}


def _converter_kind(conv) -> str:
    cls = type(conv)
    if cls.__module__ == "werkzeug.routing.converters" and cls.__name__ in _BUILTIN_KINDS:
        return _BUILTIN_KINDS[cls.__name__]
    return "custom"


def _json_safe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def _converter_overrides(conv) -> list:
    """The conversion methods (``to_python``, ``to_url``) a custom converter's class does not inherit from
    ``BaseConverter``: only the app's interpreter can run them (``match-server``)."""
    from werkzeug.routing import BaseConverter

    if _converter_kind(conv) != "custom":
        return []
    cls = type(conv)
    return [name for name in ("to_python", "to_url") if getattr(cls, name, None) is not getattr(BaseConverter, name)]


def describe_rule(rule) -> dict:
    """One werkzeug Rule as the RouteRule JSON object of the RouteTable contract."""
    converters = []
    for variable, conv in rule._converters.items():
        described = {
            "variable": variable,
            "converter": _converter_name(rule, variable),
            "kind": _converter_kind(conv),
            "regex": conv.regex,
            "weight": conv.weight,
            "part_isolating": bool(conv.part_isolating),
        }
        overrides = _converter_overrides(conv)
        if overrides:
            described["overrides"] = overrides
        converters.append(described)
    return {
        "rule": rule.rule,
        "methods": sorted(rule.methods) if rule.methods is not None else None,
        "endpoint": str(rule.endpoint),
        "strict_slashes": bool(rule.strict_slashes),
        "merge_slashes": bool(rule.merge_slashes if rule.merge_slashes is not None else True),
        "defaults": _json_safe(rule.defaults) if rule.defaults else None,
        "redirect_to": rule.redirect_to if isinstance(rule.redirect_to, str) else None,
        "subdomain": rule.subdomain,
        "host": rule.host,
        "converters": converters,
        "alias": bool(rule.alias),
        "websocket": bool(rule.websocket),
        "registration_index": getattr(rule, "_feisty_registration_index", None),
    }


def record_registration_order() -> None:
    """Stamp every Rule bound to a Map from now on with its registration position.

    Werkzeug breaks ties by registration order, which ``Map.iter_rules`` (grouped by endpoint) loses;
    call this before the app creates its rules so ``describe_rule`` can report ``registration_index``.
    """
    from itertools import count

    from werkzeug.routing import Rule

    if getattr(Rule.bind, "_feisty_recording", False):
        return
    counter = count()
    original = Rule.bind

    def bind(self, map, rebind=False):
        if not rebind:
            self._feisty_registration_index = next(counter)
        return original(self, map, rebind)

    bind._feisty_recording = True
    Rule.bind = bind


def _converter_name(rule, variable: str) -> str:
    """The converter name written in the rule (or host/subdomain) string for `variable`.

    Scans variable by variable like Werkzeug's parser: one regex search could span two ``<...>`` parts.
    """
    for text in (rule.rule, rule.host or "", rule.subdomain or ""):
        for name, converter, _ in rule_variables(text):
            if name == variable:
                return converter or "default"
    return "default"


def registered_rules(url_map) -> list:
    """The map's rules in Map.add order when it was recorded (``record_registration_order``), else
    ``iter_rules()`` order (grouped by endpoint, sorted by build key: not the order ties are broken in)."""
    rules = list(url_map.iter_rules())
    if all(hasattr(r, "_feisty_registration_index") for r in rules):
        rules.sort(key=lambda r: r._feisty_registration_index)
    return rules


def _positioned(rules: list) -> list:
    """Numbers ``registration_index`` 0, 1, ... in the table's (registration) order, when every rule has one:
    the recorded counter is process-wide, the table only needs the map's own order."""
    if rules and all(r.get("registration_index") is not None for r in rules):
        for position, rule in enumerate(rules):
            rule["registration_index"] = position
    return rules


_DIGIT_RANGES = None


def digit_ranges() -> str:
    """Where this interpreter's ``re`` ``\\d`` holds (its Unicode version's decimal digits): inclusive code point
    ranges in hex, ``"30-39,660-669,..."``; the int and float converters' ``\\d+`` matches exactly these."""
    global _DIGIT_RANGES
    if _DIGIT_RANGES is None:
        # Decimal digits come in runs of ten (a Unicode stability policy), so every tenth code point meets each
        # run; each one met is widened character by character with `re` itself (a tenth of the work).
        digit = re.compile(r"\d").match
        tenths = "".join(map(chr, range(0, 0x110000, 10)))
        ranges = []
        last_found = -1
        for hit in re.finditer(r"\d", tenths):
            found = hit.start() * 10
            if found <= last_found:
                continue
            first = last = found
            while first > 0 and digit(chr(first - 1)):
                first -= 1
            while last < 0x10FFFF and digit(chr(last + 1)):
                last += 1
            last_found = last
            ranges.append(f"{first:X}-{last:X}")
        _DIGIT_RANGES = ",".join(ranges)
    return _DIGIT_RANGES


def describe_url_map(url_map, app=None) -> dict:
    """The whole RouteTable contract for a werkzeug Map (and the Flask app owning it, if any)."""
    config = getattr(app, "config", {}) if app is not None else {}
    return {
        "rules": _positioned([describe_rule(r) for r in registered_rules(url_map)]),
        "host_matching": bool(url_map.host_matching),
        "subdomain_matching": bool(getattr(app, "subdomain_matching", False)),
        "server_name": config.get("SERVER_NAME") if config else None,
        "default_subdomain": url_map.default_subdomain or "",
        "redirect_defaults": bool(url_map.redirect_defaults),
        "merge_slashes": bool(url_map.merge_slashes),
        "source": "runtime",
        "unresolved": [],
        "digit_ranges": digit_ranges(),
    }


# ---------------------------------------------------------------------------------------------------------------
# WSGI middleware around the app: paths served before Flask's routing (Socket.IO), added to the table as rules
# ---------------------------------------------------------------------------------------------------------------

# Endpoints of the rules standing for what a middleware serves itself: `feisty routes` shows where they come from.
ENGINEIO_ENDPOINT = "<engineio middleware>"
ENGINEIO_WEBSOCKET_ENDPOINT = "<engineio middleware: websocket>"
ENGINEIO_STATIC_ENDPOINT = "<engineio static_files>"
# engineio.WSGIApp answers its own 405 to other methods; HEAD is implied by GET (Werkzeug adds it).
ENGINEIO_METHODS = ["GET", "OPTIONS", "POST"]
MIDDLEWARE_DEPTH = 16
# Middleware that serves no path itself and passes every request on: class -> the attribute holding the next app.
TRANSPARENT_MIDDLEWARE = {
    "werkzeug.middleware.proxy_fix.ProxyFix": "app",
    "werkzeug.middleware.lint.LintMiddleware": "app",
    "werkzeug.middleware.profiler.ProfilerMiddleware": "_app",
}
# Where an unknown middleware is looked into for the app it wraps (it is reported, never guessed at).
WRAPPED_APP_ATTRIBUTES = ("wsgi_app", "app", "application")
UNKNOWN_MIDDLEWARE_ADVICE = "paths it serves itself are not in the route table (use --forward-unknown)"


class MiddlewareRoute:
    """One rule standing for paths a known middleware serves: Werkzeug rule syntax, methods (None: any)."""

    def __init__(self, rule: str, methods, websocket: bool, endpoint: str) -> None:
        self.rule = rule
        self.methods = methods
        self.websocket = websocket
        self.endpoint = endpoint


def _rule_text_ok(text: str) -> bool:
    """Whether a literal path can be written as a Werkzeug rule (``<``/``>`` would start a variable)."""
    return text.startswith("/") and "<" not in text and ">" not in text


def engineio_routes(engineio_path: str, static_files, what: str):
    """(routes, notes) for ``engineio.WSGIApp``: everything under its path (long-polling GET/POST, CORS OPTIONS,
    and WebSocket handshakes), then its ``static_files`` (any method: it does not look at it).

    ``engineio_path`` is normalized as ``engineio.WSGIApp.__init__`` does (a leading and trailing ``/``); the
    middleware then serves every PATH_INFO starting with it."""
    routes, notes = [], []
    prefix = engineio_path if engineio_path.startswith("/") else "/" + engineio_path
    if not prefix.endswith("/"):
        prefix += "/"
    if _rule_text_ok(prefix):
        for websocket in (False, True):
            methods = ["GET"] if websocket else list(ENGINEIO_METHODS)
            endpoint = ENGINEIO_WEBSOCKET_ENDPOINT if websocket else ENGINEIO_ENDPOINT
            routes.append(MiddlewareRoute(prefix, methods, websocket, endpoint))
            routes.append(MiddlewareRoute(prefix + "<path:rest>", methods, websocket, endpoint))
    else:
        notes.append(f"{what} serves {prefix!r}, which a Werkzeug rule cannot express; it is not in the route table "
                     "(use --forward-unknown)")
    for key in (static_files or {}):
        # engineio.static_files.get_static_file: the key itself, and what is under it (a key without a trailing
        # slash also covers key + "/..."); "" is a default file name, which makes every path a candidate.
        if not isinstance(key, str) or (key and not key.startswith("/")):
            continue  # never equal to, nor a prefix of, a PATH_INFO
        if key == "" or not _rule_text_ok(key):
            notes.append(f"{what} serves static_files[{key!r}], which the route table cannot express; "
                         "those paths are not in it (use --forward-unknown)")
            continue
        base = key.rstrip("/")
        texts = [key] if key.endswith("/") else [key, key + "/"]
        texts.append(base + "/<path:rest>")
        for text in texts:
            routes.append(MiddlewareRoute(text, None, False, ENGINEIO_STATIC_ENDPOINT))
    return routes, notes


def middleware_domains(host_matching: bool, subdomain_matching: bool) -> list:
    """The host/subdomain options that make a middleware's rules match on every host, as the middleware does."""
    if host_matching:
        return [{"host": "<wsgi_host>"}]
    if subdomain_matching:
        return [{"subdomain": ""}, {"subdomain": "<wsgi_subdomain>"}]
    return [{}]


def _wsgi_name(obj) -> str:
    """``module.Class`` of a WSGI callable (the class of an instance; a function's or method's own name)."""
    import types

    if isinstance(obj, types.MethodType):
        return f"{_wsgi_name(obj.__self__)}.{obj.__func__.__name__}"
    target = obj if isinstance(obj, (types.FunctionType, type)) else type(obj)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', getattr(target, '__name__', '?'))}"


def _is_engineio_app(obj) -> bool:
    """An ``engineio.WSGIApp`` (``socketio.WSGIApp`` and Flask-SocketIO's ``_SocketIOMiddleware`` subclass it;
    ``Middleware`` is its older name)."""
    return any(
        (getattr(cls, "__module__", "") or "").split(".")[0] == "engineio" and cls.__name__ in ("WSGIApp", "Middleware")
        for cls in type(obj).__mro__
    )


def _safe_getattr(obj, name):
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a property of the app's own middleware
        return None


def _is_app_itself(obj, app) -> bool:
    """The Flask app, or one of its own bound methods (``Flask.wsgi_app`` or a subclass's override)."""
    return obj is app or (_safe_getattr(obj, "__self__") is app and callable(obj))


def find_wsgi_middleware(app, served=None):
    """(routes, notes): the rules standing for paths the known middleware around ``app`` serves, and one line
    per middleware feisty does not know.

    The walk starts at ``served`` (the WSGI application handed to the server, when it is not the app) or at the
    app, goes into ``app.wsgi_app`` when it is an instance attribute (middleware replaced Flask's method), and
    follows each layer to the app it wraps, until it reaches the app's own bound method."""
    routes, notes = [], []
    where = "app.wsgi_app is wrapped by"
    current = app
    if served is not None and served is not app:
        current, where = served, "the app is served wrapped in"
    seen = set()
    for _ in range(MIDDLEWARE_DEPTH):
        if current is app:
            current = vars(app).get("wsgi_app") if hasattr(app, "__dict__") else None
            where = "app.wsgi_app is wrapped by"
            if current is None:
                return routes, notes  # Flask's own wsgi_app: no middleware
            continue
        if current is None or _is_app_itself(current, app):
            return routes, notes
        if id(current) in seen:
            notes.append(f"{where} {_wsgi_name(current)} again (a cycle): the middleware walk stopped there")
            return routes, notes
        seen.add(id(current))
        name = _wsgi_name(current)
        if _is_engineio_app(current):
            path = next((p for p in (_safe_getattr(current, "engineio_path"), _safe_getattr(current, "socketio_path"))
                         if isinstance(p, str)), None)
            if path is None:
                notes.append(f"{where} {name}, an engineio middleware without the engineio_path feisty reads; "
                             f"{UNKNOWN_MIDDLEWARE_ADVICE}")
            else:
                found, problems = engineio_routes(path, _safe_getattr(current, "static_files"), name)
                routes.extend(found)
                notes.extend(problems)
            current = _safe_getattr(current, "wsgi_app")
        elif name in TRANSPARENT_MIDDLEWARE:
            current = _safe_getattr(current, TRANSPARENT_MIDDLEWARE[name])
        else:
            notes.append(f"{where} {name}; {UNKNOWN_MIDDLEWARE_ADVICE}")
            # Not guessed at; but what it wraps (a known attribute) may be middleware feisty knows: Socket.IO's.
            current = next((inner for inner in (_safe_getattr(current, a) for a in WRAPPED_APP_ATTRIBUTES)
                            if inner is not None and callable(inner)), None)
            if current is None:
                return routes, notes
    notes.append(f"{where} more than {MIDDLEWARE_DEPTH} middleware layers; the walk stopped there "
                 f"({UNKNOWN_MIDDLEWARE_ADVICE})")
    return routes, notes


def describe_middleware_routes(url_map, subdomain_matching: bool, routes: list):
    """(rule dicts, notes): ``routes`` as Werkzeug Rules on a Map with the app's settings, described like the app's
    own (Werkzeug validates the syntax and computes the converters)."""
    from werkzeug.routing import Map, Rule

    private = Map(default_subdomain=url_map.default_subdomain, strict_slashes=url_map.strict_slashes,
                  merge_slashes=url_map.merge_slashes, redirect_defaults=url_map.redirect_defaults,
                  host_matching=url_map.host_matching)
    described, notes = [], []
    for route in routes:
        for domain in middleware_domains(url_map.host_matching, subdomain_matching):
            try:
                rule = Rule(route.rule, endpoint=route.endpoint, methods=route.methods, websocket=route.websocket,
                            **domain)
                private.add(rule)
            except Exception as error:  # noqa: BLE001 - Werkzeug refused what we wrote: say so, never crash
                notes.append(f"{route.endpoint} {route.rule!r}: Werkzeug refuses the rule ({error}); not included")
                continue
            described.append(describe_rule(rule))
    return described, notes


def with_middleware_rules(middleware: list, rules: list) -> list:
    """The middleware's rules first (it answers before Flask routes), positions renumbered when all are known."""
    combined = middleware + rules
    if combined and all(r.get("registration_index") is not None for r in rules):
        for position, rule in enumerate(combined):
            rule["registration_index"] = position
    else:
        for rule in middleware:
            rule["registration_index"] = None
    return combined




# ---------------------------------------------------------------------------------------------------------------
# Errors and APP specs
# ---------------------------------------------------------------------------------------------------------------


class ProbeError(Exception):
    """A failure reported to feisty as ``{"error": {"kind", "message"}}``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = " ".join(str(message).split())  # one line, whatever the Python error looked like

    def as_json(self) -> dict:
        return {"error": {"kind": self.kind, "message": self.message}}


class AppSpec:
    """A resolved APP argument: what to import (as ``flask --app`` would) and, for scripts, what to run.

    ``import_name`` is the module Flask would import, ``root`` the sys.path entry that makes it importable,
    ``app_name`` the text after ``:`` (None: let Flask find the app), ``script`` the file ``python3 FILE`` would
    run (None for module specs and package folders) and ``file`` the module's source file, when known.
    """

    def __init__(self, text: str, import_name: str, root: str, app_name, script, file) -> None:
        self.text = text
        self.import_name = import_name
        self.root = root
        self.app_name = app_name
        self.script = script
        self.file = file


def _prepare_import(path: str):
    """flask.cli.prepare_import without the sys.path side effect: (module name, sys.path entry)."""
    path = os.path.realpath(path)
    fname, ext = os.path.splitext(path)
    if ext == ".py":
        path = fname
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    module_name = []
    while True:
        path, name = os.path.split(path)
        module_name.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    return ".".join(module_name[::-1]), path


def _find_module_spec(import_name: str, root: str):
    """The ModuleSpec Python's import system would find for ``import_name`` with ``root`` first on sys.path (as
    ``flask --app`` puts it), without importing anything: every finder on ``sys.meta_path`` is asked, so import
    hooks (setuptools' ``__editable__`` finder of a ``pip install -e``, zip imports, ...) are found, not only paths.
    None when no finder knows the module (or a parent package)."""
    parts = import_name.split(".")
    saved = list(sys.path)
    if root not in sys.path[:1]:
        sys.path.insert(0, root)
    try:
        search, spec = None, None
        for index in range(len(parts)):
            name = ".".join(parts[: index + 1])
            spec = sys.modules[name].__spec__ if name in sys.modules and index < len(parts) - 1 else None
            if spec is None:
                for finder in list(sys.meta_path):
                    find_spec = getattr(finder, "find_spec", None)
                    if find_spec is None:
                        continue
                    try:
                        spec = find_spec(name, search)
                    except Exception:  # noqa: BLE001 - a broken finder is one that does not know the module
                        spec = None
                    if spec is not None:
                        break
            if spec is None:
                return None
            search = spec.submodule_search_locations
            if index < len(parts) - 1 and search is None:
                return None  # a module, not a package: it has no submodules
        return spec
    finally:
        sys.path[:] = saved


def _module_file(import_name: str, root: str):
    """The source file of ``import_name`` under ``root`` (or wherever Python's finders find it), without importing
    it."""
    parts = import_name.split(".")
    base = os.path.join(root, *parts)
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    spec = _find_module_spec(import_name, root)
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        return spec.origin
    return None


def resolve_spec(text: str) -> AppSpec:
    """Parses an APP argument with Flask's rules (``flask.cli.ScriptInfo.load_app``); raises not_found."""
    if not text or not text.strip():
        raise ProbeError("usage", "empty APP")
    path, app_name = (re.split(r":(?![\\/])", text, maxsplit=1) + [None])[:2]
    if app_name is not None and not app_name.strip():
        raise ProbeError("usage", f"nothing after ':' in {text!r}")
    script = None
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "__init__.py")):
            for name in ("wsgi.py", "app.py"):
                if os.path.isfile(os.path.join(path, name)):
                    script = path = os.path.join(path, name)
                    break
            else:
                raise ProbeError("not_found", f"{path}: no wsgi.py or app.py in this folder (and it is not a package)")
    elif path.endswith(".py"):
        if not os.path.isfile(path):
            raise ProbeError("not_found", f"{path}: no such file")
        script = path
    elif os.sep in path or "/" in path:
        raise ProbeError("not_found", f"{path}: no such file or folder")
    import_name, root = _prepare_import(path)
    file = _module_file(import_name, root)
    if script is None and file is None and not os.path.isdir(path) and _find_module_spec(import_name, root) is None:
        raise ProbeError("not_found", f"Could not import {import_name!r}: no module named {import_name!r} in {root}")
    return AppSpec(text, import_name, root, app_name, os.path.abspath(script) if script else None, file)


# ---------------------------------------------------------------------------------------------------------------
# Runtime: import the app like `flask --app` and read app.url_map
# ---------------------------------------------------------------------------------------------------------------


def _innermost_location(tb) -> str:
    """``file:line`` of the innermost traceback frame that is not this probe's own code."""
    import traceback

    location = ""
    for frame in traceback.extract_tb(tb):
        if frame.filename in ("<string>", __file__ if "__file__" in globals() else "") or frame.filename.startswith("<"):
            continue
        location = f"{_display_path(frame.filename)}:{frame.lineno}"
    return location


def _display_path(path: str) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative


def _describe_exception(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    location = _innermost_location(error.__traceback__)
    return f"{text} (at {location})" if location else text


def import_flask():
    """Imports Flask (the app's, from its interpreter) or raises import_error."""
    try:
        import flask  # noqa: F401
        from flask import cli  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any failure here means no runtime extraction
        raise ProbeError(
            "import_error",
            f"Flask is not importable in this interpreter ({type(error).__name__}: {error}); "
            "install the app's dependencies or use --static",
        ) from None
    return flask


def flask_cli_argv(spec: AppSpec, command: str) -> list:
    """``sys.argv`` as the app sees it under ``flask --app APP COMMAND`` (the ``flask`` script of this interpreter)."""
    return [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", spec.text, command]


def _ignored_run_simple(hostname, port, application, *args, **kwargs) -> None:
    sys.stderr.write(" * feisty: ignoring a call to werkzeug's run_simple() made while the app was loaded: it would "
                     "start a server and block this command. Only start a server in an "
                     "'if __name__ == \"__main__\"' guard.\n")
    sys.stderr.flush()


def prepare_flask_cli(spec: AppSpec, command: str) -> None:
    """Sets up what ``flask --app APP COMMAND`` sets up before it imports the app: ``FLASK_RUN_FROM_CLI=true`` (makes
    ``app.run()`` a no-op that only prints Flask's own warning, so an unguarded ``app.run()`` at import time starts no
    server) and ``sys.argv``. For commands that never serve (``routes``, ``error-pages``) werkzeug's ``run_simple``
    is made a no-op too: under ``flask routes`` it would block the command forever, here it must not."""
    os.environ["FLASK_RUN_FROM_CLI"] = "true"
    sys.argv = flask_cli_argv(spec, command)
    if command != "run":
        try:
            import werkzeug.serving
        except Exception:  # noqa: BLE001 - import_flask reports a missing Flask/Werkzeug
            return
        werkzeug.serving.run_simple = _ignored_run_simple


def _app_frame_location(tb) -> str:
    """``file:line`` of the innermost frame in the app's own code (not the standard library, not an installed
    package such as argparse or click that called ``sys.exit``); the innermost frame when there is none."""
    import sysconfig
    import traceback

    library = tuple(os.path.realpath(path) + os.sep for key, path in sysconfig.get_paths().items()
                    if key in ("stdlib", "platstdlib", "purelib", "platlib") and path)
    location = ""
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith("<") or os.path.realpath(frame.filename).startswith(library):
            continue
        location = f"{_display_path(frame.filename)}:{frame.lineno}"
    return location or _innermost_location(tb)


def _describe_exit(spec: AppSpec, error: BaseException) -> str:
    """A SystemExit or KeyboardInterrupt raised while the app module was imported, as one clear sentence."""
    if isinstance(error, SystemExit):
        code = error.code
        what = "sys.exit()" if code is None else f"sys.exit({code!r})"
        text = f"importing {spec.import_name!r} called {what}"
    else:
        text = f"importing {spec.import_name!r} raised {type(error).__name__}"
    location = _app_frame_location(error.__traceback__)
    if location:
        text += f" (at {location})"
    return text + ": the module must be importable as `flask --app` imports it (__name__ is not \"__main__\")"


def import_app_module(spec: AppSpec):
    """Imports the module as ``flask --app`` does (``__name__`` is the module name: no __main__ block)."""
    import importlib

    if spec.root not in sys.path[:1]:
        sys.path.insert(0, spec.root)
    try:
        return importlib.import_module(spec.import_name)
    except SyntaxError as error:
        where = f"{_display_path(error.filename or '?')}:{error.lineno}"
        raise ProbeError("syntax_error", f"{where}: {error.msg} (SyntaxError)") from None
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (spec.import_name == missing or spec.import_name.startswith(missing + ".")):
            raise ProbeError("not_found", f"Could not import {spec.import_name!r}: {error}") from None
        raise ProbeError("import_error", _describe_exception(error)) from None
    except (SystemExit, KeyboardInterrupt) as error:  # flask --app fails the same way; never a silent exit
        raise ProbeError("import_error", _describe_exit(spec, error)) from None
    except BaseException as error:  # noqa: BLE001 - any exception at import is an app error
        raise ProbeError("import_error", _describe_exception(error)) from None


def find_flask_app(module, app_name):
    """flask.cli.find_best_app / find_app_by_string, with their failures mapped to no_app / factory_error."""
    from flask.cli import NoAppException, find_app_by_string, find_best_app

    try:
        if app_name is None:
            return find_best_app(module)
        return find_app_by_string(module, app_name)
    except NoAppException as error:
        message = str(error)
        if app_name is None and "Failed to find" in message:
            message += " (looked for a Flask instance named 'app' or 'application', a single Flask instance, " \
                       "or a 'create_app'/'make_app' factory callable without arguments)"
        raise ProbeError("no_app", message) from None
    except BaseException as error:  # noqa: BLE001 - the factory ran app code
        raise ProbeError("factory_error", _describe_exception(error)) from None


def load_app(spec: AppSpec, command: str = "routes"):
    """The Flask app object for ``spec``, imported as ``flask --app APP COMMAND`` would (see prepare_flask_cli)."""
    import_flask()
    record_registration_order()
    prepare_flask_cli(spec, command)
    module = import_app_module(spec)
    return find_flask_app(module, spec.app_name)


# ---------------------------------------------------------------------------------------------------------------
# Static mode, part 1: Werkzeug's rule syntax and built-in converters, re-implemented (no werkzeug import)
# ---------------------------------------------------------------------------------------------------------------

# werkzeug.routing.rules._part_re, restricted to what locates variables.
_VARIABLE_RE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<arguments>.*?)\))?:)?(?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
# werkzeug.routing.rules._converter_args_re
_CONVERTER_ARGS_RE = re.compile(
    r"""
    \s*
    ((?P<name>\w+)\s*=\s*)?
    (?P<value>
        True|False|
        \d+.\d+|
        \d+.|
        \d+|
        [\w\d_.]+|
        [urUR]?(?P<stringval>"[^"]*?"|'[^']*')
    )\s*,
    """,
    re.VERBOSE,
)
_PYTHON_CONSTANTS = {"None": None, "True": True, "False": False}


def _pythonize(value: str):
    if value in _PYTHON_CONSTANTS:
        return _PYTHON_CONSTANTS[value]
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    if value[:1] == value[-1:] and value[0] in "\"'":
        value = value[1:-1]
    return str(value)


def parse_converter_args(argstr: str):
    """werkzeug.routing.rules.parse_converter_args."""
    argstr += ","
    args, kwargs, position = [], {}, 0
    for item in _CONVERTER_ARGS_RE.finditer(argstr):
        if item.start() != position:
            raise ValueError(f"Cannot parse converter argument '{argstr[position:item.start()]}'")
        value = item.group("stringval")
        if value is None:
            value = item.group("value")
        value = _pythonize(value)
        if not item.group("name"):
            args.append(value)
        else:
            kwargs[item.group("name")] = value
        position = item.end()
    return tuple(args), kwargs


_UUID_REGEX = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
# name -> (kind, class regex, weight, part_isolating) of werkzeug.routing.converters
_BUILTIN_CONVERTERS = {
    "default": ("string", "[^/]+", 100, True),
    "string": ("string", "[^/]+", 100, True),
    "any": ("any", "[^/]+", 100, True),
    "path": ("path", "[^/].*?", 200, False),
    "int": ("int", r"\d+", 50, True),
    "float": ("float", r"\d+\.\d+", 50, True),
    "uuid": ("uuid", _UUID_REGEX, 100, True),
}
_BUILTIN_CLASS_NAMES = {
    "UnicodeConverter": "string",
    "AnyConverter": "any",
    "PathConverter": "path",
    "IntegerConverter": "int",
    "FloatConverter": "float",
    "UUIDConverter": "uuid",
    "NumberConverter": "int",
}


def builtin_converter_regex(kind: str, class_regex: str, args, kwargs) -> str:
    """The instance regex a built-in converter gets from its arguments (TypeError on bad arguments)."""
    if kind == "string":

        def unicode(minlength=1, maxlength=None, length=None):
            if length is not None:
                return f"[^/]{{{int(length)}}}"
            maximum = "" if maxlength is None else str(int(maxlength))
            return f"[^/]{{{int(minlength)},{maximum}}}"

        return unicode(*args, **kwargs)
    if kind == "any":
        if kwargs:
            raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
        return "(?:" + "|".join(re.escape(x) for x in args) + ")"
    if kind in ("int", "float"):

        def number(fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
            return signed

        def floating(min=None, max=None, signed=False):  # noqa: A002
            return signed

        signed = (number if kind == "int" else floating)(*args, **kwargs)
        return f"-?{class_regex}" if signed else class_regex
    if args or kwargs:
        raise TypeError("this converter takes no arguments")
    return class_regex


def rule_variables(text: str):
    """(variable, converter name or None, argument string or None) for each ``<...>`` in a rule string."""
    return [(m.group("variable"), m.group("converter"), m.group("arguments")) for m in _VARIABLE_RE.finditer(text)]


# ---------------------------------------------------------------------------------------------------------------
# Static mode, part 2: a small abstract interpreter over the app's source (never imports or runs it)
# ---------------------------------------------------------------------------------------------------------------


class _Unknown:
    """A value static analysis cannot know."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
_ROUTE_SHORTCUTS = {"route": None, "get": "GET", "post": "POST", "put": "PUT", "delete": "DELETE", "patch": "PATCH"}
_HTTP_METHOD_FUNCS = ("get", "post", "head", "options", "delete", "put", "trace", "patch")
_FLASK_NAMES = {"flask.Flask", "flask.app.Flask", "flask.sansio.app.App"}
_BLUEPRINT_NAMES = {"flask.Blueprint", "flask.blueprints.Blueprint"}
_METHODVIEW_NAMES = {"flask.views.MethodView", "flask.MethodView"}
_VIEW_NAMES = {"flask.views.View", "flask.View"}
_SOCKETIO_NAMES = {"flask_socketio.SocketIO"}
# app.wsgi_app = X(app.wsgi_app) with one of these serves no path itself.
_TRANSPARENT_MIDDLEWARE_NAMES = {"werkzeug.middleware.proxy_fix.ProxyFix", "werkzeug.middleware.lint.LintMiddleware",
                                 "werkzeug.middleware.profiler.ProfilerMiddleware"}
_FLASK_MAP_DEFAULTS = {"strict_slashes": True, "merge_slashes": True, "redirect_defaults": True, "default_subdomain": ""}


class External:
    """Something imported from outside the app (``flask.Flask``, ``os.environ``): known by its dotted name."""

    def __init__(self, name: str) -> None:
        self.name = name


class ModuleValue:
    """An analysed module of the app: its (possibly still being built) namespace."""

    def __init__(self, name: str, file: str, is_package: bool) -> None:
        self.name = name
        self.file = file
        self.is_package = is_package
        self.env: dict = {}
        self.done = False

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


class FunctionValue:
    """A function defined in the app's source (a view, a factory, a route-registering helper)."""

    def __init__(self, node, module: ModuleValue, closure: dict) -> None:
        self.node = node
        self.name = node.name
        self.module = module
        self.closure = closure


class ClassValue:
    """A class defined in the app's source: class views and converters."""

    def __init__(self, node, module: ModuleValue, bases: list, attrs: dict, functions: dict) -> None:
        self.node = node
        self.name = node.name
        self.module = module
        self.bases = bases
        self.attrs = attrs  # literal class attributes
        self.functions = functions  # name -> FunctionDef node

    def lineage(self):
        """This class and its app-defined ancestors (single inheritance path first), then the external roots."""
        seen, order, externals = set(), [], []
        pending = [self]
        while pending:
            cls = pending.pop(0)
            if isinstance(cls, ClassValue):
                if id(cls) in seen:
                    continue
                seen.add(id(cls))
                order.append(cls)
                pending.extend(cls.bases)
            else:
                externals.append(cls)
        return order, externals


class ViewFunction:
    """``SomeView.as_view("name")``."""

    def __init__(self, name, cls) -> None:
        self.name = name
        self.cls = cls


class RouteSpec:
    """One route declaration as written (before any blueprint prefixes)."""

    def __init__(self, rule, endpoint, view, options: dict, location: str, conditional: bool) -> None:
        self.rule = rule
        self.endpoint = endpoint
        self.view = view
        self.options = options
        self.location = location
        self.conditional = conditional


class AppValue:
    """A ``Flask(...)`` object: its URL map as the rules are added in order."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.rules: list = []
        self.map_settings = dict(_FLASK_MAP_DEFAULTS)
        self.host_matching = False
        self.subdomain_matching = False
        self.server_name = None
        self.converters: dict = {}
        self.blueprints: dict = {}
        self.middleware: list = []  # MiddlewareRoute: what WSGI middleware on app.wsgi_app serves itself


class SocketIOValue:
    """A Flask-SocketIO ``SocketIO(...)``: the options kept for ``init_app`` (``path``/``resource``)."""

    def __init__(self, options: dict) -> None:
        self.options = options


class BlueprintValue:
    """A ``Blueprint(...)``: its deferred rules and nested blueprints, replayed at registration."""

    def __init__(self, name, url_prefix, subdomain, url_defaults, static_folder, static_url_path, location) -> None:
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.url_defaults = url_defaults or {}
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.location = location
        self.deferred: list = []
        self.children: list = []


class _Facet:
    """``app.config``, ``app.url_map`` or ``app.url_map.converters``: the parts of an app static code can set."""

    def __init__(self, app: AppValue, facet: str) -> None:
        self.app = app
        self.facet = facet


class _RouteDecorator:
    """``app.route(...)`` waiting for its function."""

    def __init__(self, owner, shortcut: str, call, location: str) -> None:
        self.owner = owner
        self.shortcut = shortcut
        self.call = call
        self.location = location


class _Return(Exception):
    pass


def _static_url_path(static_folder, static_url_path):
    """flask.sansio.scaffold.Scaffold.static_url_path."""
    if static_url_path is not None:
        return static_url_path.rstrip("/")
    if static_folder is not None:
        return f"/{os.path.basename(str(static_folder).rstrip(os.sep))}".rstrip("/")
    return None


def _literal(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


class StaticAnalyzer:
    """Reads an app's source the way Flask would execute it, without executing it.

    It follows the statements in order (imports of the app's own modules included, like Python would), builds
    Flask and Blueprint objects, and replays Flask's registration logic (endpoint names, implied methods,
    blueprint prefixes, the static route). Whatever depends on values it cannot know is reported in
    ``unresolved`` as ``file:line: why``.
    """

    MAX_CALL_DEPTH = 12

    def __init__(self, root: str) -> None:
        self.root = root
        self.modules: dict = {}
        self.unresolved: list = []
        self.call_depth = 0
        self.conditional = 0

    # --- reporting ---------------------------------------------------------------------------------------------

    def note(self, location: str, why: str) -> None:
        line = f"{location}: {why}"
        if line not in self.unresolved:
            self.unresolved.append(line)

    @staticmethod
    def where(module: ModuleValue, node) -> str:
        return f"{_display_path(module.file)}:{getattr(node, 'lineno', 0)}"

    @staticmethod
    def source(node) -> str:
        try:
            text = ast.unparse(node)
        except Exception:  # noqa: BLE001 - only used in messages
            text = type(node).__name__
        return text if len(text) <= 80 else text[:77] + "..."

    # --- modules -----------------------------------------------------------------------------------------------

    def load_module(self, name: str, file: str) -> ModuleValue:
        key = os.path.realpath(file)
        if key in self.modules:
            return self.modules[key]  # possibly still being analysed: a circular import sees a partial namespace
        module = ModuleValue(name, file, os.path.basename(file) == "__init__.py")
        self.modules[key] = module
        module.env["__name__"] = name
        try:
            with open(file, "rb") as handle:
                tree = ast.parse(handle.read(), filename=file)
        except SyntaxError as error:
            raise ProbeError(
                "syntax_error", f"{_display_path(error.filename or file)}:{error.lineno}: {error.msg} (SyntaxError)"
            ) from None
        except OSError as error:
            raise ProbeError("not_found", f"{file}: {error.strerror}") from None
        saved = self.conditional
        self.conditional = 0
        try:
            self.exec_block(tree.body, module.env, module)
        except _Return:
            pass
        finally:
            self.conditional = saved
        module.done = True
        return module

    def find_local_module(self, name: str):
        """The app-local module ``name`` (files under the app root), analysing its packages first; or None."""
        parts = name.split(".")
        parent = None
        for index in range(1, len(parts) + 1):
            dotted = ".".join(parts[:index])
            file = None
            base = os.path.join(self.root, *parts[:index])
            for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
                if os.path.isfile(candidate):
                    file = candidate
                    break
            if file is None:
                return None
            module = self.load_module(dotted, file)
            if parent is not None:
                parent.env.setdefault(parts[index - 1], module)
            parent = module
        return parent

    def absolute_name(self, module: ModuleValue, node) -> str:
        if not node.level:
            return node.module or ""
        package = module.package.split(".") if module.package else []
        if node.level > 1:
            package = package[: len(package) - (node.level - 1)]
        base = ".".join(package)
        return f"{base}.{node.module}" if node.module and base else (node.module or base)

    def do_import(self, node, env: dict, module: ModuleValue) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = self.find_local_module(alias.name)
                if alias.asname:
                    env[alias.asname] = local if local is not None else External(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    env[top] = self.find_local_module(top) if local is not None else External(top)
            return
        base = self.absolute_name(module, node)
        source = self.find_local_module(base) if base else None
        for alias in node.names:
            target = alias.asname or alias.name
            if alias.name == "*":
                if source is not None:
                    env.update({k: v for k, v in source.env.items() if not k.startswith("_")})
                continue
            if source is None:
                env[target] = External(f"{base}.{alias.name}") if node.level == 0 else UNKNOWN
                continue
            value = source.env.get(alias.name, None)
            if value is None:
                sub = self.find_local_module(f"{base}.{alias.name}")
                value = sub if sub is not None else UNKNOWN
                if sub is None:
                    self.note(self.where(module, node), f"cannot find {alias.name!r} in {base!r}")
            env[target] = value

    # --- statements --------------------------------------------------------------------------------------------

    def exec_block(self, statements, env: dict, module: ModuleValue) -> None:
        for statement in statements:
            self.exec_statement(statement, env, module)

    def exec_statement(self, node, env: dict, module: ModuleValue) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.do_import(node, env, module)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = [self.eval(d, env, module) for d in node.decorator_list]
            for expression, decorator in zip(node.decorator_list, decorators):
                if (isinstance(decorator, _Unknown) and isinstance(expression, ast.Call)
                        and isinstance(expression.func, ast.Attribute) and expression.func.attr == "route"):
                    self.note(self.where(module, expression),
                              f"@{self.source(expression.func)}(...) on an object feisty cannot resolve: not included")
            function = FunctionValue(node, module, env)
            routed_above = [isinstance(d, _RouteDecorator) for d in decorators]
            pairs = list(zip(node.decorator_list, decorators, range(len(decorators))))
            for expression, decorator, index in reversed(pairs):  # the decorator nearest the def applies first
                if isinstance(decorator, _RouteDecorator):
                    self.route_decorator(decorator, function, env, module)
                else:
                    function = self.apply_decorator(expression, decorator, function, env, module,
                                                    matters=any(routed_above[:index]))
            env[node.name] = function
        elif isinstance(node, ast.ClassDef):
            for expression in node.decorator_list:
                if (isinstance(expression, ast.Call) and isinstance(expression.func, ast.Attribute)
                        and expression.func.attr == "route"):
                    self.note(self.where(module, expression), f"class {node.name} is routed by "
                              f"@{self.source(expression.func)}(...) (an extension such as flask-restx): not included")
            env[node.name] = self.make_class(node, env, module)
        elif isinstance(node, ast.Assign):
            value = self.eval(node.value, env, module)
            for target in node.targets:
                self.check_wsgi_app_assignment(target, node.value, env, module)
                self.assign(target, value, env, module)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.eval(node.value, env, module), env, module)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                env[node.target.id] = UNKNOWN
        elif isinstance(node, ast.Expr):
            value = node.value
            if (isinstance(value, ast.Call) and len(value.args) >= 2 and isinstance(value.args[0], ast.Name)
                    and self._wraps_target(self.eval(value.func, env, module))):
                wrapped = self.eval(value.args[1], env, module)  # update_wrapper(wrapper, f): wrapper is named f
                if isinstance(wrapped, (FunctionValue, ViewFunction, External)):
                    env[value.args[0].id] = wrapped
                return
            self.eval(node.value, env, module)
        elif isinstance(node, ast.If):
            self.exec_if(node, env, module)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            if self.registers_routes(node):
                self.note(self.where(module, node), "routes registered in a loop: not resolved statically")
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.exec_block(node.body, env, module)
            self.exec_block(node.orelse, env, module)
            self.exec_block(node.finalbody, env, module)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            self.exec_block(node.body, env, module)
        elif isinstance(node, ast.Return):
            raise _Return(self.eval(node.value, env, module) if node.value is not None else None)

    @staticmethod
    def _wraps_target(decorator):
        """Whether ``decorator`` is ``functools.wraps`` / ``functools.update_wrapper`` (by its External name)."""
        return isinstance(decorator, External) and decorator.name in ("functools.wraps", "functools.update_wrapper")

    def apply_decorator(self, expression, decorator, function, env: dict, module: ModuleValue, matters: bool):
        """What a decorator makes of ``function`` as far as Flask's endpoint name goes (Flask names an endpoint
        after the ``__name__`` of the function it is handed): ``functools.wraps(f)`` gives ``f``'s identity, a
        decorator defined in the app is run on the function (what it returns is the view: a wrapper without
        ``wraps`` keeps its own name), anything else is assumed to keep the name (reported when a route decorator
        sits above it, ``matters``)."""
        where = self.where(module, expression)
        if isinstance(expression, ast.Call):
            callee = self.eval(expression.func, env, module)
            if self._wraps_target(callee) and expression.args:
                wrapped = self.eval(expression.args[0], env, module)
                if isinstance(wrapped, (FunctionValue, ViewFunction, External)):
                    return wrapped
                return function
        if isinstance(decorator, FunctionValue):
            result = self.call_function(decorator, None, env, module, args=[function], kwargs={})
            if isinstance(result, (FunctionValue, ViewFunction, External)):
                return result
            if matters:
                self.note(where, f"@{self.source(expression)}: cannot tell what this decorator returns: "
                                 f"endpoint assumed to be {getattr(function, 'name', '?')!r}")
            return function
        if matters:
            if isinstance(decorator, External):
                if not decorator.name.startswith(("flask", "functools")):
                    self.note(where, f"@{self.source(expression)} ({decorator.name}) is not defined in the app: "
                                     f"endpoint assumed to be {getattr(function, 'name', '?')!r} (functools.wraps)")
            else:
                self.note(where, f"@{self.source(expression)}: a decorator feisty cannot follow: endpoint assumed "
                                 f"to be {getattr(function, 'name', '?')!r}")
        return function

    def exec_if(self, node, env: dict, module: ModuleValue) -> None:
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == "__name__"
            and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__"
        ):
            self.exec_block(node.orelse, env, module)  # imported by Flask: __name__ is never "__main__"
            return
        value = self.eval(test, env, module)
        if isinstance(value, (bool, int, str, type(None))) and not isinstance(value, _Unknown):
            self.exec_block(node.body if value else node.orelse, env, module)
            return
        self.conditional += 1
        try:
            self.exec_block(node.body, env, module)
            self.exec_block(node.orelse, env, module)
        finally:
            self.conditional -= 1

    @staticmethod
    def registers_routes(node) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr in (*_ROUTE_SHORTCUTS, "add_url_rule", "register_blueprint"):
                return True
        return False

    def assign(self, target, value, env: dict, module: ModuleValue) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value if isinstance(value, (list, tuple)) and len(value) == len(target.elts) else None
            for index, element in enumerate(target.elts):
                self.assign(element, values[index] if values else UNKNOWN, env, module)
        elif isinstance(target, ast.Subscript):
            owner = self.eval(target.value, env, module)
            key = self.eval(target.slice, env, module)
            if isinstance(owner, _Facet) and owner.facet == "converters":
                if isinstance(key, str):
                    owner.app.converters[key] = (value, self.where(module, target))
                else:
                    self.note(self.where(module, target), "converter registered under a non-literal name")
            elif isinstance(owner, _Facet) and owner.facet == "config" and key == "SERVER_NAME":
                self.set_server_name(owner.app, value, module, target)
            elif isinstance(owner, dict) and _literal(key):
                owner[key] = value
        elif isinstance(target, ast.Attribute):
            owner = self.eval(target.value, env, module)
            if isinstance(owner, _Facet) and owner.facet == "url_map":
                if target.attr in owner.app.map_settings or target.attr == "host_matching":
                    if isinstance(value, _Unknown):
                        self.note(self.where(module, target), f"url_map.{target.attr} is not a literal")
                    elif target.attr == "host_matching":
                        owner.app.host_matching = bool(value)
                    else:
                        owner.app.map_settings[target.attr] = value
            elif isinstance(owner, AppValue) and target.attr == "subdomain_matching":
                owner.subdomain_matching = bool(value) if not isinstance(value, _Unknown) else False
            elif isinstance(owner, ModuleValue):
                owner.env[target.attr] = value

    def check_wsgi_app_assignment(self, target, value_node, env: dict, module: ModuleValue) -> None:
        """``app.wsgi_app = X(...)``: middleware. Known pass-through middleware (ProxyFix) is fine; anything else is
        reported (what it serves itself is not in the table), as at runtime."""
        if not (isinstance(target, ast.Attribute) and target.attr == "wsgi_app"):
            return
        if not isinstance(self.eval(target.value, env, module), AppValue):
            return
        if isinstance(value_node, ast.Call):
            callee = self.eval(value_node.func, env, module)
            if isinstance(callee, External) and callee.name in _TRANSPARENT_MIDDLEWARE_NAMES:
                return
        self.note(self.where(module, target), f"app.wsgi_app is wrapped by {self.source(value_node)}; "
                                              f"{UNKNOWN_MIDDLEWARE_ADVICE}")

    def set_server_name(self, app: AppValue, value, module, node) -> None:
        if isinstance(value, _Unknown):
            self.note(self.where(module, node), "SERVER_NAME is not a literal")
            app.server_name = None
        else:
            app.server_name = value

    def make_class(self, node, env: dict, module: ModuleValue) -> ClassValue:
        bases = [self.eval(base, env, module) for base in node.bases]
        attrs, functions = {}, {}
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[statement.name] = statement
            elif isinstance(statement, ast.Assign):
                value = self.eval(statement.value, env, module)
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        attrs[target.id] = value
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                if statement.value is not None:
                    attrs[statement.target.id] = self.eval(statement.value, env, module)
        return ClassValue(node, module, bases, attrs, functions)

    # --- expressions -------------------------------------------------------------------------------------------

    def eval(self, node, env: dict, module: ModuleValue):
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in module.env:
                return module.env[node.id]
            return {"True": True, "False": False, "None": None}.get(node.id, UNKNOWN)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = [self.eval(e, env, module) for e in node.elts]
            return UNKNOWN if any(isinstance(v, _Unknown) for v in values) else values
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                return UNKNOWN
            keys = [self.eval(k, env, module) for k in node.keys]
            values = [self.eval(v, env, module) for v in node.values]
            if any(isinstance(x, _Unknown) or not _literal(x) for x in keys):
                return UNKNOWN
            return dict(zip(keys, values))
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value))
                elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                    inner = self.eval(value.value, env, module)
                    if not isinstance(inner, (str, int)) or isinstance(inner, bool):
                        return UNKNOWN
                    parts.append(str(inner))
                else:
                    return UNKNOWN
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left, env, module), self.eval(node.right, env, module)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return UNKNOWN
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self.eval(node.left, env, module), self.eval(node.comparators[0], env, module)
            if not (_literal(left) and _literal(right)):
                return UNKNOWN
            op = node.ops[0]
            if isinstance(op, (ast.Eq, ast.Is)):
                return left == right
            if isinstance(op, (ast.NotEq, ast.IsNot)):
                return left != right
            return UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value = self.eval(node.operand, env, module)
            return (not value) if _literal(value) else UNKNOWN
        if isinstance(node, ast.Attribute):
            return self.eval_attribute(node, env, module)
        if isinstance(node, ast.Subscript):
            owner = self.eval(node.value, env, module)
            key = self.eval(node.slice, env, module)
            if isinstance(owner, dict) and _literal(key) and key in owner:
                return owner[key]
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self.eval_call(node, env, module)
        return UNKNOWN

    def eval_attribute(self, node, env: dict, module: ModuleValue):
        owner = self.eval(node.value, env, module)
        attr = node.attr
        if isinstance(owner, External):
            return External(f"{owner.name}.{attr}")
        if isinstance(owner, ModuleValue):
            if attr in owner.env:
                return owner.env[attr]
            sub = self.find_local_module(f"{owner.name}.{attr}")
            return sub if sub is not None else UNKNOWN
        if isinstance(owner, AppValue):
            if attr in ("config", "url_map"):
                return _Facet(owner, attr)
            if attr in _ROUTE_SHORTCUTS or attr in ("add_url_rule", "register_blueprint"):
                return ("method", owner, attr)
            return UNKNOWN
        if isinstance(owner, _Facet) and owner.facet == "url_map":
            if attr == "converters":
                return _Facet(owner.app, "converters")
            if attr in owner.app.map_settings:
                return owner.app.map_settings[attr]
            return UNKNOWN
        if isinstance(owner, BlueprintValue):
            if attr in _ROUTE_SHORTCUTS or attr in ("add_url_rule", "register_blueprint"):
                return ("method", owner, attr)
            return UNKNOWN
        if isinstance(owner, SocketIOValue):
            return ("method", owner, attr) if attr == "init_app" else UNKNOWN
        if isinstance(owner, ClassValue):
            if attr == "as_view":
                return ("method", owner, attr)
            return owner.attrs.get(attr, UNKNOWN)
        return UNKNOWN

    def call_arguments(self, node, env: dict, module: ModuleValue):
        """(positional values, keyword values, whether a */** argument made them incomplete)."""
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
        args = [self.eval(a, env, module) for a in node.args if not isinstance(a, ast.Starred)]
        kwargs = {k.arg: self.eval(k.value, env, module) for k in node.keywords if k.arg is not None}
        return args, kwargs, starred

    def eval_call(self, node, env: dict, module: ModuleValue):
        func = node.func
        callee = self.eval(func, env, module)
        location = self.where(module, node)
        if isinstance(callee, tuple) and len(callee) == 3 and callee[0] == "method":
            _, owner, attr = callee
            if attr in _ROUTE_SHORTCUTS:
                return _RouteDecorator(owner, attr, node, location)
            if attr == "add_url_rule":
                self.add_url_rule_call(owner, node, env, module)
                return None
            if attr == "register_blueprint":
                self.register_blueprint_call(owner, node, env, module)
                return None
            if attr == "as_view":
                args, _, _ = self.call_arguments(node, env, module)
                name = args[0] if args else UNKNOWN
                return ViewFunction(name, owner)
            if attr == "init_app":
                self.socketio_init_app(owner, node, env, module)
                return None
        if isinstance(func, ast.Attribute) and func.attr in ("update", "from_mapping"):
            owner = self.eval(func.value, env, module)
            if isinstance(owner, _Facet) and owner.facet == "config":
                args, kwargs, _ = self.call_arguments(node, env, module)
                mapping = dict(args[0]) if args and isinstance(args[0], dict) else {}
                mapping.update(kwargs)
                if "SERVER_NAME" in mapping:
                    self.set_server_name(owner.app, mapping["SERVER_NAME"], module, node)
                return None
        if isinstance(callee, External):
            if callee.name in _FLASK_NAMES:
                return self.make_app(node, env, module)
            if callee.name in _BLUEPRINT_NAMES:
                return self.make_blueprint(node, env, module)
            if callee.name in _SOCKETIO_NAMES:
                return self.make_socketio(node, env, module)
            if callee.name in ("str",):
                return UNKNOWN
            return UNKNOWN
        if isinstance(callee, FunctionValue):
            return self.call_function(callee, node, env, module)
        if isinstance(func, ast.Name) and func.id in ("str", "int") and node.args and func.id not in env:
            value = self.eval(node.args[0], env, module)
            try:
                return {"str": str, "int": int}[func.id](value) if _literal(value) and value is not None else UNKNOWN
            except (TypeError, ValueError):
                return UNKNOWN
        return UNKNOWN

    def call_function(self, function: FunctionValue, node, env: dict, module: ModuleValue, args=None, kwargs=None):
        """Runs an app-defined function on known arguments (factories, ``register_routes(app)`` helpers)."""
        if self.call_depth >= self.MAX_CALL_DEPTH:
            return UNKNOWN
        if args is None:
            args, kwargs, _ = self.call_arguments(node, env, module)
        local = dict(function.closure)
        parameters = function.node.args
        positional = list(getattr(parameters, "posonlyargs", [])) + list(parameters.args)
        defaults = [None] * (len(positional) - len(parameters.defaults)) + list(parameters.defaults)
        for index, parameter in enumerate(positional):
            if index < len(args):
                local[parameter.arg] = args[index]
            elif parameter.arg in kwargs:
                local[parameter.arg] = kwargs[parameter.arg]
            elif defaults[index] is not None:
                local[parameter.arg] = self.eval(defaults[index], function.closure, function.module)
            else:
                local[parameter.arg] = UNKNOWN
        for parameter, default in zip(parameters.kwonlyargs, parameters.kw_defaults):
            if parameter.arg in kwargs:
                local[parameter.arg] = kwargs[parameter.arg]
            else:
                local[parameter.arg] = self.eval(default, function.closure, function.module) if default else UNKNOWN
        if parameters.vararg:
            local[parameters.vararg.arg] = UNKNOWN
        if parameters.kwarg:
            local[parameters.kwarg.arg] = UNKNOWN
        self.call_depth += 1
        try:
            self.exec_block(function.node.body, local, function.module)
        except _Return as result:
            return result.args[0]
        finally:
            self.call_depth -= 1
        return None

    # --- Flask objects -----------------------------------------------------------------------------------------

    def make_app(self, node, env: dict, module: ModuleValue) -> AppValue:
        location = self.where(module, node)
        args, kwargs, starred = self.call_arguments(node, env, module)
        names = ["import_name", "static_url_path", "static_folder", "static_host", "host_matching",
                 "subdomain_matching", "template_folder", "instance_path", "instance_relative_config", "root_path"]
        params = {"static_url_path": None, "static_folder": "static", "static_host": None,
                  "host_matching": False, "subdomain_matching": False}
        params.update({names[i]: v for i, v in enumerate(args) if i < len(names)})
        params.update(kwargs)
        if starred:
            self.note(location, "Flask(...) called with */** arguments: settings assumed to be Flask's defaults")
        app = AppValue(location)
        for key in ("static_url_path", "static_folder", "static_host", "host_matching", "subdomain_matching"):
            if isinstance(params[key], _Unknown):
                self.note(location, f"Flask({key}=...) is not a literal: assumed Flask's default")
                params[key] = {"static_folder": "static", "host_matching": False,
                               "subdomain_matching": False}.get(key)
        app.host_matching = bool(params["host_matching"])
        app.subdomain_matching = bool(params["subdomain_matching"])
        if params["static_folder"] is not None:
            url_path = _static_url_path(params["static_folder"], params["static_url_path"])
            spec = RouteSpec(f"{url_path}/<path:filename>", "static", None,
                             {"host": params["static_host"]}, location, self.conditional > 0)
            self.add_rule(app, spec, "static", None)
        return app

    def make_socketio(self, node, env: dict, module: ModuleValue) -> SocketIOValue:
        """``SocketIO(app=None, **kwargs)``: with an app, ``init_app`` runs right away (flask_socketio.SocketIO)."""
        args, kwargs, starred = self.call_arguments(node, env, module)
        app = args[0] if args else kwargs.pop("app", None)
        socketio = SocketIOValue({} if starred else kwargs)
        if starred:
            socketio.options = UNKNOWN
        if app is not None or "message_queue" in kwargs:
            self.install_socketio(socketio, app, {}, node, module)
        return socketio

    def socketio_init_app(self, socketio: SocketIOValue, node, env: dict, module: ModuleValue) -> None:
        args, kwargs, starred = self.call_arguments(node, env, module)
        app = args[0] if args else kwargs.pop("app", UNKNOWN)
        self.install_socketio(socketio, app, UNKNOWN if starred else kwargs, node, module)

    def install_socketio(self, socketio: SocketIOValue, app, kwargs, node, module: ModuleValue) -> None:
        """flask_socketio.SocketIO.init_app: wraps app.wsgi_app in engineio's middleware at ``path``."""
        location = self.where(module, node)
        if isinstance(socketio.options, dict) and isinstance(kwargs, dict):
            socketio.options.update(kwargs)
            options = socketio.options
            path = options.pop("path", None) or options.pop("resource", None) or "socket.io"
        else:
            socketio.options = UNKNOWN
            path = UNKNOWN
        if app is None:
            return  # an auxiliary process (message_queue only): no middleware
        if not isinstance(app, AppValue):
            self.note(location, f"{self.source(node)}: the app cannot be resolved: the Socket.IO paths it serves are "
                                "not included")
            return
        if not isinstance(path, str):
            self.note(location, f"{self.source(node)}: the Socket.IO path is not a literal: its paths are not "
                                "included")
            return
        routes, notes = engineio_routes(path[1:] if path.startswith("/") else path, None, "flask_socketio.SocketIO")
        for line in notes:
            self.note(location, line)
        app.middleware[:0] = routes  # a later init_app wraps the earlier middleware: it answers first

    def middleware_rules(self, app: AppValue) -> list:
        """The rule dicts of ``app.middleware``, as ``describe_middleware_routes`` makes them at runtime."""
        rules = []
        settings = app.map_settings
        for route in app.middleware:
            for domain in middleware_domains(app.host_matching, app.subdomain_matching):
                host = domain.get("host")
                subdomain = domain.get("subdomain", settings["default_subdomain"])
                methods = None
                if route.methods is not None:
                    methods = set(route.methods)
                    if "GET" in methods:
                        methods.add("HEAD")
                    methods = sorted(methods)
                domain_rule = (host if app.host_matching else subdomain) or ""
                rules.append({
                    "rule": route.rule,
                    "methods": methods,
                    "endpoint": route.endpoint,
                    "strict_slashes": bool(settings["strict_slashes"]),
                    "merge_slashes": bool(settings["merge_slashes"]),
                    "defaults": None,
                    "redirect_to": None,
                    "subdomain": subdomain,
                    "host": host,
                    "converters": self.describe_converters(AppValue(""), domain_rule, route.rule, app.location),
                    "alias": False,
                    "websocket": route.websocket,
                    "registration_index": None,
                })
        return rules

    def make_blueprint(self, node, env: dict, module: ModuleValue) -> BlueprintValue:
        location = self.where(module, node)
        args, kwargs, starred = self.call_arguments(node, env, module)
        names = ["name", "import_name", "static_folder", "static_url_path", "template_folder", "url_prefix",
                 "subdomain", "url_defaults", "root_path", "cli_group"]
        params = {"name": UNKNOWN, "static_folder": None, "static_url_path": None, "url_prefix": None,
                  "subdomain": None, "url_defaults": None}
        params.update({names[i]: v for i, v in enumerate(args) if i < len(names)})
        params.update(kwargs)
        if starred:
            self.note(location, "Blueprint(...) called with */** arguments: not resolved")
        for key in ("name", "url_prefix", "subdomain", "url_defaults", "static_folder", "static_url_path"):
            if isinstance(params[key], _Unknown):
                self.note(location, f"Blueprint {key} is not a literal: its rules are not resolved")
                params["name"] = UNKNOWN
        return BlueprintValue(params["name"], params["url_prefix"], params["subdomain"], params["url_defaults"],
                              params["static_folder"], params["static_url_path"], location)

    def route_options(self, kwargs: dict, location: str, what: str):
        """Keyword options of a route, or None (reported) when one of them cannot be known."""
        for key, value in kwargs.items():
            if isinstance(value, _Unknown) or (isinstance(value, (list, dict)) and _contains_unknown(value)):
                if key in ("redirect_to",):
                    continue  # a callable redirect_to: Werkzeug keeps it out of the table too
                self.note(location, f"{what}: {key}= is not a literal: rule not included")
                return None
        return kwargs

    def route_decorator(self, decorator: _RouteDecorator, function: FunctionValue, env, module) -> None:
        node = decorator.call
        args, kwargs, starred = self.call_arguments(node, env, module)
        what = f"@{self.source(node.func)}"
        if starred:
            self.note(decorator.location, f"{what} uses */** arguments: rule not included")
            return
        rule = args[0] if args else kwargs.pop("rule", UNKNOWN)
        if not isinstance(rule, str):
            self.note(decorator.location, f"{what}: the rule {self.source(node.args[0]) if node.args else '?'} "
                                          "is not a literal string: rule not included")
            return
        options = self.route_options(kwargs, decorator.location, what)
        if options is None:
            return
        method = _ROUTE_SHORTCUTS[decorator.shortcut]
        if method is not None:
            options["methods"] = [method]
        endpoint = options.pop("endpoint", None)
        spec = RouteSpec(rule, endpoint, function, options, decorator.location, self.conditional > 0)
        self.declare(decorator.owner, spec)

    def add_url_rule_call(self, owner, node, env: dict, module: ModuleValue) -> None:
        location = self.where(module, node)
        args, kwargs, starred = self.call_arguments(node, env, module)
        what = f"{self.source(node.func)}()"
        if starred:
            self.note(location, f"{what} uses */** arguments: rule not included")
            return
        names = ["rule", "endpoint", "view_func", "provide_automatic_options"]
        params = {"rule": UNKNOWN, "endpoint": None, "view_func": None}
        params.update({names[i]: v for i, v in enumerate(args) if i < len(names)})
        params.update(kwargs)
        rule = params.pop("rule")
        if not isinstance(rule, str):
            self.note(location, f"{what}: the rule is not a literal string: rule not included")
            return
        endpoint = params.pop("endpoint")
        view = params.pop("view_func")
        if isinstance(endpoint, _Unknown):
            self.note(location, f"{what}: the endpoint is not a literal: rule not included")
            return
        options = self.route_options(params, location, what)
        if options is None:
            return
        self.declare(owner, RouteSpec(rule, endpoint, view, options, location, self.conditional > 0))

    def declare(self, owner, spec: RouteSpec) -> None:
        if isinstance(owner, AppValue):
            self.add_rule(owner, spec, spec.endpoint, spec.view)
        else:
            owner.deferred.append(spec)

    def register_blueprint_call(self, owner, node, env: dict, module: ModuleValue) -> None:
        location = self.where(module, node)
        args, kwargs, starred = self.call_arguments(node, env, module)
        blueprint = args[0] if args else kwargs.pop("blueprint", UNKNOWN)
        if not isinstance(blueprint, BlueprintValue):
            self.note(location, f"{self.source(node)}: the blueprint cannot be resolved: its rules are not included")
            return
        if starred or any(isinstance(v, _Unknown) for v in kwargs.values()):
            self.note(location, f"{self.source(node)}: options are not literals: its rules are not included")
            return
        if isinstance(blueprint.name, _Unknown):
            return  # already reported where the blueprint was created
        if self.conditional > 0:
            self.note(location, f"blueprint {blueprint.name!r} is registered under a condition feisty cannot "
                                "evaluate: its rules are included")
        if isinstance(owner, AppValue):
            self.register_blueprint(blueprint, owner, dict(kwargs))
        else:
            owner.children.append((blueprint, dict(kwargs)))

    def register_blueprint(self, blueprint: BlueprintValue, app: AppValue, options: dict) -> None:
        """flask.sansio.blueprints.Blueprint.register."""
        name_prefix = options.get("name_prefix", "")
        self_name = options.get("name", blueprint.name)
        name = f"{name_prefix}.{self_name}".lstrip(".")
        app.blueprints[name] = blueprint
        subdomain = options.get("subdomain")
        if subdomain is None:
            subdomain = blueprint.subdomain
        url_prefix = options.get("url_prefix")
        if url_prefix is None:
            url_prefix = blueprint.url_prefix
        url_defaults = dict(blueprint.url_defaults)
        url_defaults.update(options.get("url_defaults", ()) or ())
        state = {"subdomain": subdomain, "url_prefix": url_prefix, "name": self_name, "name_prefix": name_prefix,
                 "url_defaults": url_defaults}
        if blueprint.static_folder is not None:
            url_path = _static_url_path(blueprint.static_folder, blueprint.static_url_path)
            self.state_add_rule(app, state, RouteSpec(f"{url_path}/<path:filename>", "static", None, {},
                                                      blueprint.location, False))
        for spec in blueprint.deferred:
            self.state_add_rule(app, state, spec)
        for child, child_options in blueprint.children:
            child_options = dict(child_options)
            bp_url_prefix = child_options.get("url_prefix")
            bp_subdomain = child_options.get("subdomain")
            if bp_subdomain is None:
                bp_subdomain = child.subdomain
            if subdomain is not None and bp_subdomain is not None:
                child_options["subdomain"] = bp_subdomain + "." + subdomain
            elif bp_subdomain is not None:
                child_options["subdomain"] = bp_subdomain
            elif subdomain is not None:
                child_options["subdomain"] = subdomain
            if bp_url_prefix is None:
                bp_url_prefix = child.url_prefix
            if url_prefix is not None and bp_url_prefix is not None:
                child_options["url_prefix"] = url_prefix.rstrip("/") + "/" + bp_url_prefix.lstrip("/")
            elif bp_url_prefix is not None:
                child_options["url_prefix"] = bp_url_prefix
            elif url_prefix is not None:
                child_options["url_prefix"] = url_prefix
            child_options["name_prefix"] = name
            if isinstance(child.name, _Unknown):
                continue
            self.register_blueprint(child, app, child_options)

    def state_add_rule(self, app: AppValue, state: dict, spec: RouteSpec) -> None:
        """flask.sansio.blueprints.BlueprintSetupState.add_url_rule."""
        rule = spec.rule
        if state["url_prefix"] is not None:
            rule = "/".join((state["url_prefix"].rstrip("/"), rule.lstrip("/"))) if rule else state["url_prefix"]
        options = dict(spec.options)
        options.setdefault("subdomain", state["subdomain"])
        endpoint = spec.endpoint if spec.endpoint is not None else self.endpoint_of(spec.view, spec.location)
        if endpoint is None:
            return
        defaults = state["url_defaults"]
        if "defaults" in options:
            defaults = dict(defaults, **(options.pop("defaults") or {}))
        options["defaults"] = defaults
        full_endpoint = f"{state['name_prefix']}.{state['name']}.{endpoint}".lstrip(".")
        scoped = RouteSpec(rule, full_endpoint, spec.view, options, spec.location, spec.conditional)
        self.add_rule(app, scoped, full_endpoint, spec.view)

    def endpoint_of(self, view, location: str):
        if isinstance(view, FunctionValue):
            return view.name
        if isinstance(view, ViewFunction):
            if isinstance(view.name, str):
                return view.name
            self.note(location, "as_view() name is not a literal: rule not included")
            return None
        if isinstance(view, External):
            return view.name.rpartition(".")[2]
        self.note(location, "neither an endpoint nor a view function feisty can name: rule not included")
        return None

    def view_methods(self, view, location: str):
        """(methods, provide_automatic_options) a view function carries (``View.methods``), or (None, None)."""
        if not isinstance(view, ViewFunction):
            return None, None
        cls = view.cls
        if not isinstance(cls, ClassValue):
            self.note(location, "the class of this as_view() is not defined in the app: methods assumed GET")
            return None, None
        lineage, externals = cls.lineage()
        external_names = {e.name if isinstance(e, External) else "?" for e in externals}
        is_method_view = bool(external_names & _METHODVIEW_NAMES)
        if not external_names <= (_METHODVIEW_NAMES | _VIEW_NAMES):
            self.note(location, f"class view {cls.name} derives from {sorted(external_names)}: methods may differ")
        provide = None
        for klass in lineage:
            if "provide_automatic_options" in klass.attrs:
                provide = klass.attrs["provide_automatic_options"]
                break
        methods = self.class_methods(cls, is_method_view)
        return methods, provide

    def class_methods(self, cls, is_method_view: bool):
        """``View.methods`` as View/MethodView.__init_subclass__ compute it for ``cls``."""
        if not isinstance(cls, ClassValue):
            return None
        if "methods" in cls.attrs:
            value = cls.attrs["methods"]
            return list(value) if isinstance(value, (list, tuple, set)) else None
        if not is_method_view:
            for base in cls.bases:
                inherited = self.class_methods(base, False)
                if inherited:
                    return inherited
            return None
        methods = set()
        for base in cls.bases:
            inherited = self.class_methods(base, True) if isinstance(base, ClassValue) else None
            if inherited:
                methods.update(inherited)
        lineage, _ = cls.lineage()
        for key in _HTTP_METHOD_FUNCS:
            if any(key in klass.functions or key in klass.attrs for klass in lineage):
                methods.add(key.upper())
        return sorted(methods) or None

    def add_rule(self, app: AppValue, spec: RouteSpec, endpoint, view) -> None:
        """flask.sansio.app.App.add_url_rule followed by werkzeug's Rule construction and Map.add/bind."""
        options = dict(spec.options)
        if endpoint is None:
            endpoint = self.endpoint_of(view, spec.location)
            if endpoint is None:
                return
        view_methods, view_provide = self.view_methods(view, spec.location)
        methods = options.pop("methods", None)
        if methods is None:
            methods = view_methods or ("GET",)
        if isinstance(methods, str):
            self.note(spec.location, "methods= is a string (Flask raises TypeError): rule not included")
            return
        methods = {str(m).upper() for m in methods}
        provide = options.pop("provide_automatic_options", None)
        if provide is None:
            provide = view_provide
        if provide is None and "OPTIONS" not in methods:
            methods.add("OPTIONS")
        if "GET" in methods and "HEAD" not in methods:
            methods.add("HEAD")
        if spec.conditional:
            self.note(spec.location, f"rule {spec.rule!r} is declared under a condition feisty cannot evaluate: "
                                     "included")
        settings = app.map_settings
        strict = options.get("strict_slashes")
        merge = options.get("merge_slashes")
        subdomain = options.get("subdomain")
        host = options.get("host")
        defaults = options.get("defaults")
        redirect_to = options.get("redirect_to")
        domain_rule = (host if app.host_matching else subdomain) or ""
        if subdomain is None:
            subdomain = settings["default_subdomain"]
        converters = self.describe_converters(app, domain_rule, spec.rule, spec.location)
        app.rules.append({
            "rule": spec.rule,
            "methods": sorted(methods),
            "endpoint": str(endpoint),
            "strict_slashes": bool(settings["strict_slashes"] if strict is None else strict),
            "merge_slashes": bool(settings["merge_slashes"] if merge is None else merge),
            "defaults": _json_safe(defaults) if defaults else None,
            "redirect_to": redirect_to if isinstance(redirect_to, str) else None,
            "subdomain": subdomain,
            "host": host,
            "converters": converters,
            "alias": bool(options.get("alias", False)),
            "websocket": bool(options.get("websocket", False)),
            "registration_index": len(app.rules),
        })

    def describe_converters(self, app: AppValue, domain_rule: str, rule: str, location: str) -> list:
        found = {}
        for text in (domain_rule, rule):  # werkzeug parses the host/subdomain part first
            for variable, name, arguments in rule_variables(text):
                found[variable] = (name, arguments)  # a repeated variable keeps its first position, last converter
        result = []
        for variable, (name, arguments) in found.items():
            result.append(self.describe_converter(app, variable, name or "default", arguments, location))
        return result

    def describe_converter(self, app: AppValue, variable: str, name: str, arguments, location: str) -> dict:
        try:
            args, kwargs = parse_converter_args(arguments or "")
        except ValueError as error:
            self.note(location, f"<{name}(...):{variable}>: {error}")
            args, kwargs = (), {}
        spelled = name
        if name in app.converters:
            cls, registered_at = app.converters[name]
            described = self.custom_converter(cls, args, kwargs)
            if described is None:
                self.note(location, f"converter {name!r} (registered at {registered_at}) has no literal regex: "
                                    "assumed [^/]+")
                described = ("[^/]+", 100, True)
            regex, weight, isolating = described
            kind = "custom"
        elif name in _BUILTIN_CONVERTERS:
            kind, class_regex, weight, isolating = _BUILTIN_CONVERTERS[name]
            try:
                regex = builtin_converter_regex(kind, class_regex, args, kwargs)
            except (TypeError, ValueError) as error:
                self.note(location, f"<{name}(...):{variable}>: bad converter arguments ({error})")
                regex = class_regex
        else:
            self.note(location, f"converter {name!r} is not registered in a way feisty can see: assumed [^/]+")
            kind, regex, weight, isolating = "custom", "[^/]+", 100, True
        return {"variable": variable, "converter": spelled, "kind": kind, "regex": regex, "weight": weight,
                "part_isolating": isolating}

    def custom_converter(self, cls, args, kwargs):
        """(regex, weight, part_isolating) of an app-defined converter class, or None when it cannot be known."""
        if isinstance(cls, External):
            builtin = _BUILTIN_CLASS_NAMES.get(cls.name.rpartition(".")[2])
            if builtin is None or not cls.name.startswith("werkzeug.routing"):
                return None
            kind, class_regex, weight, isolating = _BUILTIN_CONVERTERS[builtin]
            try:
                return builtin_converter_regex(kind, class_regex, args, kwargs), weight, isolating
            except (TypeError, ValueError):
                return None
        if not isinstance(cls, ClassValue):
            return None
        chain = []  # most derived first, following the first base
        klass = cls
        while isinstance(klass, ClassValue):
            chain.append(klass)
            klass = klass.bases[0] if klass.bases else None
        root = klass
        root_name = root.name.rpartition(".")[2] if isinstance(root, External) else None
        if root_name not in ("BaseConverter", *_BUILTIN_CLASS_NAMES):
            return None
        base_kind = _BUILTIN_CLASS_NAMES.get(root_name)
        if base_kind is not None:
            _, regex, weight, isolating = _BUILTIN_CONVERTERS[base_kind]
        else:
            regex, weight, isolating = "[^/]+", 100, True
        for klass in reversed(chain):  # BaseConverter.__init_subclass__ runs for each class, base first
            if "regex" in klass.attrs:
                regex = klass.attrs["regex"]
                if not isinstance(regex, str):
                    return None
                if "part_isolating" not in klass.attrs:
                    isolating = "/" not in regex
            if "part_isolating" in klass.attrs:
                isolating = klass.attrs["part_isolating"]
            if "weight" in klass.attrs:
                weight = klass.attrs["weight"]
        if not isinstance(weight, int) or not isinstance(isolating, bool):
            return None
        instance_regex = None
        for klass in chain:  # the nearest __init__ that assigns self.regex from an argument
            init = klass.functions.get("__init__")
            if init is None:
                continue
            instance_regex = self.regex_from_init(init, args, kwargs)
            if instance_regex is None and any(
                isinstance(t, ast.Attribute) and t.attr == "regex" for t in ast.walk(init)
            ):
                return None
            break
        if instance_regex is None and base_kind in ("string", "any", "int", "float") and not any(
            "__init__" in k.functions for k in chain
        ):
            try:
                instance_regex = builtin_converter_regex(base_kind, regex, args, kwargs)
            except (TypeError, ValueError):
                return None
        return (instance_regex if instance_regex is not None else regex), weight, isolating

    @staticmethod
    def regex_from_init(init, args, kwargs):
        """``self.regex = items[0]`` / ``self.regex = pattern`` in a converter's __init__, evaluated on args."""
        parameters = [a.arg for a in init.args.args][2:]  # after self, map
        vararg = init.args.vararg.arg if init.args.vararg else None
        for statement in ast.walk(init):
            if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                continue
            target = statement.targets[0]
            if not (isinstance(target, ast.Attribute) and target.attr == "regex"
                    and isinstance(target.value, ast.Name) and target.value.id == "self"):
                continue
            value = statement.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
            if (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id == vararg
                    and isinstance(value.slice, ast.Constant) and isinstance(value.slice.value, int)):
                index = value.slice.value
                return args[index] if index < len(args) and isinstance(args[index], str) else None
            if isinstance(value, ast.Name) and value.id in parameters:
                index = parameters.index(value.id)
                if index < len(args):
                    return args[index] if isinstance(args[index], str) else None
                return kwargs.get(value.id) if isinstance(kwargs.get(value.id), str) else None
            return None
        return None


def _contains_unknown(value) -> bool:
    if isinstance(value, _Unknown):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    return False


# ---------------------------------------------------------------------------------------------------------------
# Route tables: static selection of the app (as flask.cli.find_best_app), app.run detection, assembly
# ---------------------------------------------------------------------------------------------------------------


def select_static_app(analyzer: StaticAnalyzer, module: ModuleValue, app_name):
    """The AppValue Flask would pick in ``module`` (find_best_app / find_app_by_string), or raises no_app."""
    env = module.env
    if app_name is None:
        for name in ("app", "application"):
            if isinstance(env.get(name), AppValue):
                return env[name]
        matches = []
        for value in env.values():
            if isinstance(value, AppValue) and all(value is not m for m in matches):
                matches.append(value)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ProbeError("no_app", f"Detected multiple Flask applications in module '{module.name}'. "
                                       f"Use '{module.name}:name' to specify the correct one.")
        for name in ("create_app", "make_app"):
            factory = env.get(name)
            if isinstance(factory, FunctionValue):
                return _static_factory_result(analyzer, factory, [], {}, f"{module.name}:{name}")
        raise ProbeError("no_app", f"Failed to find Flask application or factory in module '{module.name}'. "
                                   f"Use '{module.name}:name' to specify one. (looked for a Flask instance named "
                                   "'app' or 'application', a single Flask instance, or a 'create_app'/'make_app' "
                                   "factory)")
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except SyntaxError:
        raise ProbeError("no_app", f"Failed to parse {app_name!r} as an attribute name or function call.") from None
    args, kwargs = [], {}
    if isinstance(expr, ast.Call):
        if not isinstance(expr.func, ast.Name):
            raise ProbeError("no_app", f"Function reference must be a simple name: {app_name!r}.")
        try:
            args = [ast.literal_eval(a) for a in expr.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in expr.keywords if k.arg is not None}
        except ValueError:
            raise ProbeError("no_app", f"Failed to parse arguments as literal values: {app_name!r}.") from None
        name = expr.func.id
    elif isinstance(expr, ast.Name):
        name = expr.id
    else:
        raise ProbeError("no_app", f"Failed to parse {app_name!r} as an attribute name or function call.")
    if name not in env:
        raise ProbeError("no_app", f"Failed to find attribute {name!r} in {module.name!r}.")
    value = env[name]
    if isinstance(value, FunctionValue):
        return _static_factory_result(analyzer, value, args, kwargs, f"{module.name}:{app_name}")
    if isinstance(value, AppValue):
        return value
    raise ProbeError("no_app", f"A valid Flask application was not obtained from '{module.name}:{app_name}' "
                               "(as far as static analysis can tell).")


def _static_factory_result(analyzer, factory, args, kwargs, what):
    result = analyzer.call_function(factory, None, factory.closure, factory.module, args=args, kwargs=kwargs)
    if isinstance(result, AppValue):
        return result
    raise ProbeError("no_app", f"the factory {what} does not visibly return a Flask app (static analysis)")


_RUN_UNKNOWN = UNKNOWN
_RUN_MAX_DEPTH = 12


def _imported_constant(node, alias, directory):
    """``from config import PORT`` with ``config.py`` of the app itself (next to the file, or in the folder above
    it for a package's absolute imports): PORT's value when it is a plain constant there, as a Constant node."""
    if directory is None or not node.module and not node.level:
        return None
    parts = (node.module or "").split(".") if node.module else []
    bases = [directory] if node.level == 1 else [] if node.level > 1 else [directory, os.path.dirname(directory)]
    for base in bases:
        target = os.path.join(base, *parts)
        for candidate in (target + ".py", os.path.join(target, "__init__.py")):
            if parts and os.path.isfile(candidate):
                try:
                    with open(candidate, "rb") as handle:
                        tree = ast.parse(handle.read(), filename=candidate)
                except (SyntaxError, ValueError, OSError):
                    return None
                constants = {}
                _assignments_in(tree.body, constants)
                value = _run_value(ast.Name(id=alias.name), constants)
                return None if isinstance(value, _Unknown) else ast.Constant(value=value)
    return None


def _assignments_in(statements, into: dict, before_line=None, directory=None) -> None:
    """Simple ``NAME = value`` assignments of one scope, in source order (into ``if``/``try``/``with``/``for``
    blocks, never into nested functions or classes); with ``before_line``, only those above that line. With
    ``directory`` (the file's folder), ``from module import NAME`` of the app's own module is followed one level."""
    for node in statements:
        if before_line is not None and node.lineno >= before_line:
            continue  # below the call (a block that contains the call starts above it)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    into[target.id] = node.value
                elif isinstance(target, (ast.Tuple, ast.List)):
                    for element in target.elts:  # a, b = ...: not followed
                        if isinstance(element, ast.Name):
                            into[element.id] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            into[node.target.id] = node.value
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            into[node.target.id] = None
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if isinstance(node, ast.ImportFrom) and node.module == "os" and alias.name in ("environ", "getenv"):
                    into[name] = ast.Name(id=f"<os.{alias.name}>")
                elif isinstance(node, ast.ImportFrom) and _imported_constant(node, alias, directory) is not None:
                    into[name] = _imported_constant(node, alias, directory)
                else:
                    into.pop(name, None)
        elif isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While)):
            _assignments_in(node.body, into, before_line, directory)
            _assignments_in(node.orelse, into, before_line, directory)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            _assignments_in(node.body, into, before_line, directory)
            _assignments_in(node.orelse, into, before_line, directory)
            _assignments_in(node.finalbody, into, before_line, directory)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            _assignments_in(node.body, into, before_line, directory)


def _module_constants(tree) -> dict:
    constants = {}
    _assignments_in(tree.body, constants)
    return constants


def _is_environ(node, constants: dict) -> bool:
    """``os.environ`` (or ``environ`` imported from os)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    if isinstance(node, ast.Name):
        bound = constants.get(node.id)
        return isinstance(bound, ast.Name) and bound.id == "<os.environ>" or (node.id == "environ"
                                                                              and node.id not in constants)
    return False


def _is_getenv(func, constants: dict) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"
    if isinstance(func, ast.Name):
        bound = constants.get(func.id)
        return isinstance(bound, ast.Name) and bound.id == "<os.getenv>" or (func.id == "getenv"
                                                                             and func.id not in constants)
    return False


def _run_value(node, constants: dict, depth: int = 0, environ=None):
    """What ``node`` evaluates to when the app runs: a literal, a (module or local) variable assigned one,
    ``int(...)``/``str(...)`` of one, ``a or b``, or an environment lookup (``os.environ.get(NAME, DEFAULT)``,
    ``os.getenv``, ``os.environ[NAME]``) read in the environment feisty itself runs in, the one the app
    inherits: the variable when it is set there, else the default. Anything else is unknown."""
    environ = os.environ if environ is None else environ
    if node is None or depth > _RUN_MAX_DEPTH:
        return _RUN_UNKNOWN
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in constants:
            return _run_value(constants[node.id], constants, depth + 1, environ)
        return _RUN_UNKNOWN
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        value = _RUN_UNKNOWN
        for operand in node.values:
            value = _run_value(operand, constants, depth + 1, environ)
            if isinstance(value, _Unknown) or value:
                return value
        return value
    if isinstance(node, ast.Subscript) and _is_environ(node.value, constants):
        key = _run_value(node.slice, constants, depth + 1, environ)
        return environ[key] if isinstance(key, str) and key in environ else _RUN_UNKNOWN
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("int", "str") and len(node.args) == 1 and not node.keywords:
            inner = _run_value(node.args[0], constants, depth + 1, environ)
            if isinstance(inner, _Unknown) or inner is None:
                return _RUN_UNKNOWN
            try:
                return int(inner) if func.id == "int" else str(inner)
            except (TypeError, ValueError):
                return _RUN_UNKNOWN
        is_environ_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value, constants)
        if is_environ_get or _is_getenv(func, constants):
            key = _run_value(node.args[0], constants, depth + 1, environ) if node.args else next(
                (_run_value(k.value, constants, depth + 1, environ) for k in node.keywords if k.arg == "key"),
                _RUN_UNKNOWN)
            if not isinstance(key, str):
                return _RUN_UNKNOWN
            if key in environ:
                return environ[key]
            default = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "default"), None
            )
            return _run_value(default, constants, depth + 1, environ) if default is not None else None
    return _RUN_UNKNOWN


def _is_socketio_name(name: str, constants: dict) -> bool:
    """Whether module-level ``name`` is assigned ``SocketIO(...)`` (Flask-SocketIO)."""
    value = constants.get(name)
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)) == "SocketIO"


def run_source_file(spec: AppSpec):
    """The file whose ``app.run`` serves: the script ``python3 FILE`` runs, a package's ``__main__.py``
    (``python -m PKG``), else the module's own file."""
    return spec.script or package_main_file(spec) or spec.file


def package_main_file(spec: AppSpec):
    """``PKG/__main__.py`` when APP is a package (``python -m PKG`` runs that file), else None."""
    if spec.script is not None or spec.app_name is not None or not spec.file:
        return None
    if os.path.basename(spec.file) != "__init__.py":
        return None
    main = os.path.join(os.path.dirname(spec.file), "__main__.py")
    return main if os.path.isfile(main) else None


def find_run_call(file) -> dict:
    """Where the ``app.run(...)``/``run_simple(...)`` call in ``file`` serves: ``{"host", "port", "notes",
    "where"}``; ``where`` (``file:line``), host and port are None when there is no such call (Flask then never
    serves by itself; feisty run falls back to 127.0.0.1:5000)."""
    found = {"host": None, "port": None, "notes": [], "where": None}
    if not file or not os.path.isfile(file):
        return found
    try:
        with open(file, "rb") as handle:
            tree = ast.parse(handle.read(), filename=file)
    except (SyntaxError, ValueError, OSError):
        return found
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    directory = os.path.dirname(os.path.abspath(file))
    module_constants = {}
    _assignments_in(tree.body, module_constants, directory=directory)
    main_blocks = [
        n for n in tree.body
        if isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and isinstance(n.test.left, ast.Name)
        and n.test.left.id == "__name__"
    ]
    candidates = []
    for scope in main_blocks + [tree]:
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "run" and isinstance(func.value, ast.Name)
                    and func.value.id not in modules):
                # flask_socketio.SocketIO.run(app, host=None, port=None, **kwargs): the app comes first.
                socketio = _is_socketio_name(func.value.id, module_constants)
                candidates.append((node, ("app", "host", "port") if socketio else ("host", "port")))
            elif (isinstance(func, ast.Name) and func.id == "run_simple") or (
                isinstance(func, ast.Attribute) and func.attr == "run_simple"
            ):
                candidates.append((node, ("hostname", "port")))
        if candidates:
            break
    if not candidates:
        return found
    node, positional = candidates[0]
    # The variables the call sees: the module's, then (when the call is inside a function) that function's
    # parameters (unknown) and its assignments above the call.
    constants = {}
    enclosing = None
    for candidate in ast.walk(tree):
        if isinstance(candidate, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(n is node for n in ast.walk(candidate)):
            if enclosing is None or candidate.lineno > enclosing.lineno:
                enclosing = candidate
    if enclosing is None:
        _assignments_in(tree.body, constants, before_line=node.lineno, directory=directory)
    else:
        constants.update(module_constants)
        arguments = enclosing.args
        for parameter in (list(getattr(arguments, "posonlyargs", [])) + list(arguments.args)
                          + list(arguments.kwonlyargs)):
            constants[parameter.arg] = None
        _assignments_in(enclosing.body, constants, before_line=node.lineno, directory=directory)
    host_name, port_name = positional[-2:]
    where = f"{_display_path(file)}:{node.lineno}"
    args = {name: node.args[i] for i, name in enumerate(positional) if i < len(node.args)}
    args.update({k.arg: k.value for k in node.keywords if k.arg in (host_name, port_name)})
    notes = []
    host, port = None, 5000
    if host_name in args:
        value = _run_value(args[host_name], constants)
        if isinstance(value, _Unknown) or not (value is None or isinstance(value, str)):
            notes.append(f"{where}: the host of {ast.unparse(node.func)}() is not a literal: assumed 127.0.0.1")
        else:
            host = value
    if port_name in args:
        value = _run_value(args[port_name], constants)
        try:
            port = None if value is None else int(value)
            if port is None:
                port = 5000
        except (TypeError, ValueError):
            notes.append(f"{where}: the port of {ast.unparse(node.func)}() is not a literal or environment "
                         "default: unknown")
            port = None
    return {"host": host, "port": port, "notes": notes, "where": where}


def detect_run_call(file):
    """(host, port, notes) of the ``app.run(...)``/``run_simple(...)`` call in ``file`` (see find_run_call)."""
    found = find_run_call(file)
    return found["host"], found["port"], found["notes"]


def runtime_table(app, file, served=None, warn=None) -> dict:
    """The RouteTable of a loaded Flask app (with the app.run call found in ``file``), plus rules for the paths
    the known WSGI middleware around it serves (``served``: the WSGI application the server runs, if not the app).

    Middleware feisty does not know is reported in ``unresolved`` and, when given, through ``warn``."""
    run = find_run_call(file)
    notes = run["notes"]
    table = {"port": run["port"], "host": run["host"], "run_call": run["where"]}
    table.update(describe_url_map(app.url_map, app))
    routes, middleware_notes = find_wsgi_middleware(app, served)
    rules, problems = describe_middleware_routes(app.url_map, bool(getattr(app, "subdomain_matching", False)), routes)
    middleware_notes += problems
    table["rules"] = with_middleware_rules(rules, table["rules"])
    table["unresolved"] = notes + middleware_notes
    if warn is not None:
        for note in middleware_notes:
            warn(note)
    return table


# ---------------------------------------------------------------------------------------------------------------
# The app's own error pages: what it answers to an undeclared URL (404) and to a wrong method (405)
# ---------------------------------------------------------------------------------------------------------------

# One request per kind of client; feisty picks the page by the refused request's Accept (AppErrorPages.swift).
ERROR_PAGE_ACCEPTS = (
    ("html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),  # a browser's navigation
    ("json", "application/json"),  # an API client
    ("any", "*/*"),  # curl, most HTTP libraries
    ("none", None),  # no Accept at all
)
ERROR_PAGE_MAX_BODY = 64 * 1024
# Never part of a prebuilt page: hop-by-hop fields, the framing feisty computes itself, the date of the probe
# request, and Set-Cookie (a session cookie minted for the probe request must not be handed to every client:
# every refused client would share one session).
_ERROR_PAGE_DROPPED = frozenset((
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length", "date", "set-cookie",
))
_PROBE_METHODS = ("DELETE", "PATCH", "PUT", "POST", "GET")


def _probe_token() -> str:
    import secrets

    return "feisty-" + secrets.token_hex(8)


def _route_match(app, path, method="GET"):
    """How the app's url_map answers ``method path`` without running anything: None (a rule matches), or the
    routing exception (NotFound, MethodNotAllowed, RequestRedirect)."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    context = app.test_request_context(path, method=method)
    adapter = context.url_adapter
    if adapter is None:
        from werkzeug.exceptions import NotFound

        return NotFound()
    try:
        adapter.match(return_rule=True)
    except (HTTPException, RequestRedirect) as error:
        return error
    return None


def _render_error_page(app, path, method, accept):
    """One request through Flask's full path (before_request, error handlers, after_request, extensions):
    (status, [[name, value]], body bytes)."""
    headers = {} if accept is None else {"Accept": accept}
    client = app.test_client()
    response = client.open(path, method=method, headers=headers)
    try:
        return response.status_code, [[k, v] for k, v in response.headers.items()], response.get_data()
    finally:
        response.close()


def _page_from_renderings(first, second, markers, allow_from=None, header_markers=()):
    """A page from two renderings of the same refusal (other paths, other moments): headers whose values differ
    between them or name the probe request (``header_markers``) are per request and dropped; a body that differs
    or names it (``markers``) is noted in ``per_request`` (feisty does not serve such a page). ``Allow`` is per
    route: it goes into ``allow_from`` (a list), never into the page."""
    import base64

    status, headers, body = first
    _, second_headers, second_body = second
    second_values = {}
    for name, value in second_headers:
        second_values.setdefault(name.lower(), []).append(value)
    kept, dropped, per_request = [], [], []
    for name, value in headers:
        lower = name.lower()
        if lower in _ERROR_PAGE_DROPPED:
            continue
        if lower == "allow" and allow_from is not None:
            allow_from.append(value)
            continue
        if value not in second_values.get(lower, []) or any(marker in value for marker in header_markers):
            dropped.append(name)
            continue
        kept.append([name, value])
    if body != second_body:
        per_request.append("the body differs from one request to the next")
    text = body.decode("latin-1")
    for marker in markers:
        if marker and marker in text:
            per_request.append(f"the body names the request ({marker})")
            break
    page = {"status": status, "headers": kept, "dropped_headers": sorted(set(dropped)), "per_request": per_request}
    if len(body) > ERROR_PAGE_MAX_BODY:
        page["per_request"] = per_request + [f"the body is larger than {ERROR_PAGE_MAX_BODY} bytes"]
        page["body_base64"] = ""
    else:
        page["body_base64"] = base64.b64encode(body).decode("ascii")
    return page


def _outcome(status: int) -> str:
    if 300 <= status < 400:
        return "redirect"
    if status < 300:
        return "success"
    return "error"


def _render_set(app, requests, markers, allow_from=None, header_markers=()):
    """The pages of one refusal for every kind of client: ``requests`` is two (path, method) pairs."""
    pages = {}
    for kind, accept in ERROR_PAGE_ACCEPTS:
        renderings = [_render_error_page(app, path, method, accept) for path, method in requests]
        pages[kind] = _page_from_renderings(renderings[0], renderings[1], markers, allow_from, header_markers)
    return {"outcome": _outcome(pages["any"]["status"]), "pages": pages}


def _not_found_pages(app) -> dict:
    from werkzeug.exceptions import NotFound

    tokens = [_probe_token(), _probe_token()]
    paths = [f"/{token}/{token[-6:]}.html" for token in tokens]
    for path in paths:
        answer = _route_match(app, path)
        if not isinstance(answer, NotFound):
            return {"rendered": False, "reason": f"a declared rule matches any path ({path}: "
                                                 f"{type(answer).__name__ if answer else 'a rule matches'})"}
    result = _render_set(app, [(paths[0], "GET"), (paths[1], "GET")], tokens, header_markers=tokens)
    result.update({"rendered": True, "probe": f"GET {paths[0]}"})
    return result


def _method_not_allowed_pages(app) -> dict:
    """405 on a declared rule without arguments, with a method no rule of that path allows."""
    from werkzeug.exceptions import MethodNotAllowed

    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.host or rule.subdomain or getattr(rule, "websocket", False) or not rule.methods:
            continue
        path = rule.rule
        for method in _PROBE_METHODS:
            if method in rule.methods:
                continue
            answer = _route_match(app, path, method)
            if not isinstance(answer, MethodNotAllowed):
                continue
            valid = list(answer.valid_methods or [])
            # The path is no marker (a styled page links to "/"); the method or the Allow list in the body is one.
            allows = []
            result = _render_set(app, [(path, method), (path, method)], [method, ", ".join(valid)], allows)
            allow = allows[0] if allows else None
            # The 405 pages are rendered once for one route, but Allow is per route: feisty puts the refused
            # route's methods in its place, joined the way the app joined these.
            separator = ", "
            if allow is not None and ", " not in allow and "," in allow:
                separator = ","
            result.update({"rendered": True, "probe": f"{method} {path}", "allow": allow,
                           "allow_separator": separator, "valid_methods": sorted(valid)})
            return result
    return {"rendered": False, "reason": "no declared rule without arguments refuses a method"}


def render_error_pages(app) -> dict:
    """The app's own answers to what feisty refuses itself, for every kind of client (``error_pages`` of the
    launch report): rendered once, before serving, through Flask's full request path, so error handlers,
    ``after_request`` hooks and extensions (CORS, security headers) apply; no view runs (the routing fails first;
    ``before_request`` hooks do run, as for any request). A failure is reported, never fatal."""
    document = {}
    for key, render in (("not_found", _not_found_pages), ("method_not_allowed", _method_not_allowed_pages)):
        try:
            document[key] = render(app)
        except Exception as error:  # noqa: BLE001 - the app's hooks may raise anything; feisty keeps its own page
            document[key] = {"rendered": False, "reason": "rendering raised " + _describe_exception(error)}
    return document


def static_table(spec: AppSpec) -> dict:
    """The RouteTable read from the source alone (never imports the app)."""
    analyzer = StaticAnalyzer(spec.root)
    module = analyzer.find_local_module(spec.import_name)
    if module is None:
        if spec.file is None:
            raise ProbeError("not_found", f"Could not find the source of {spec.import_name!r}")
        module = analyzer.load_module(spec.import_name, spec.file)
    app = select_static_app(analyzer, module, spec.app_name)
    run = find_run_call(run_source_file(spec))
    notes = run["notes"]
    settings = app.map_settings
    return {
        "port": run["port"],
        "host": run["host"],
        "run_call": run["where"],
        "rules": with_middleware_rules(analyzer.middleware_rules(app), app.rules),
        "host_matching": app.host_matching,
        "subdomain_matching": app.subdomain_matching,
        "server_name": app.server_name if isinstance(app.server_name, str) else None,
        "default_subdomain": settings["default_subdomain"] or "",
        "redirect_defaults": bool(settings["redirect_defaults"]),
        "merge_slashes": bool(settings["merge_slashes"]),
        "source": "static",
        "unresolved": analyzer.unresolved + notes,
        "digit_ranges": digit_ranges(),
    }


# ---------------------------------------------------------------------------------------------------------------
# launch: run the app on feisty's internal address
# ---------------------------------------------------------------------------------------------------------------

DEBUGGER_WARNING = "the Werkzeug debugger is disabled (it is a remote console); pass --allow-debugger to keep it"
RELOADER_WARNING = "the reloader is disabled (it would fork a child feisty cannot supervise)"

# The launcher shares the app's stderr, so its own messages carry a marker the app would not print; feisty's relay
# (LauncherLine.swift) prints such a line as feisty's own (`feisty warning: ...`), not as the app's `app! ` output.
MESSAGE_MARKER = "::feisty::"


def feisty_message(level: str, text: str) -> str:
    """The stderr line that makes feisty print ``text`` as its own message at ``level`` (``warning``, ...)."""
    return f"{MESSAGE_MARKER}{level}::{' '.join(text.split())}"


def _warn(text: str) -> None:
    sys.stderr.write(feisty_message("warning", text) + "\n")
    sys.stderr.flush()


# Startup lines of the servers that name the internal address and how to stop the server: wrong behind feisty,
# which prints the public URL itself (its proxy owns Ctrl+C). Everything else they log passes.
SERVER_BANNER_LINES = {
    "werkzeug": (" * Running on ", "Press CTRL+C to quit"),  # BaseWSGIServer.log_startup, run_simple
    "gunicorn.error": ("Listening at: ",),  # Arbiter.start
    "waitress": ("Serving on ",),  # waitress.serve: print_listen
}
_ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")


class BannerFilter:
    """A ``logging`` filter that drops a server's startup lines naming the internal address (``prefixes``).

    Werkzeug logs its banner as one multi-line record (the development-server warning, then the ``Running on``
    lines), so matching lines are cut out of a record and the rest of it is kept.
    """

    def __init__(self, prefixes) -> None:
        self.prefixes = tuple(prefixes)

    def filter(self, record) -> bool:
        template = record.msg
        # Every request log record passes here: one substring test per prefix on the unformatted template.
        if not isinstance(template, str) or not any(prefix in template for prefix in self.prefixes):
            return True
        lines = template.split("\n")
        kept = [line for line in lines if not _ANSI_STYLE.sub("", line).startswith(self.prefixes)]
        if len(kept) == len(lines):
            return True
        if record.args or not "".join(kept).strip():
            return False  # the args belong to the dropped line (gunicorn's address and pid)
        record.msg = "\n".join(kept)
        return True


def hide_server_banner(server: str) -> None:
    """Installs ``BannerFilter`` on the logger ``server`` (werkzeug, gunicorn, waitress) logs its startup to."""
    import logging

    name = "gunicorn.error" if server == "gunicorn" else server
    logger = logging.getLogger(name)
    if not any(isinstance(existing, BannerFilter) for existing in logger.filters):
        logger.addFilter(BannerFilter(SERVER_BANNER_LINES[name]))


class Address:
    """Where the launcher serves: a Unix domain socket (``unix:PATH``) or ``HOST:PORT``."""

    def __init__(self, host: str = "", port: int = 0, unix: str = "") -> None:
        self.host, self.port, self.unix = host, port, unix

    @classmethod
    def parse(cls, text: str, flag: str) -> "Address":
        if text.startswith("unix:") and len(text) > len("unix:"):
            return cls(unix=text[len("unix:"):])
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ProbeError("usage", f"{flag} expects HOST:PORT or unix:PATH, got {text!r}")
        return cls(host=host.strip("[]"), port=int(port))

    def as_json(self) -> dict:
        return {"unix": self.unix} if self.unix else {"host": self.host, "port": self.port}

    def __str__(self) -> str:
        if self.unix:
            return f"unix:{self.unix}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


# Where feisty listens when neither --listen nor app.run says (Flask's default; LaunchedAppRun.fallbackAddress).
FALLBACK_PUBLIC = Address("127.0.0.1", 5000)


class ForwardedEnviron:
    """WSGI middleware: the environ the app would get serving the public address itself (``python3 app.py``).

    Behind feisty the server's socket peer is feisty and its own address is the internal one. feisty always ends
    ``X-Forwarded-For`` with the socket peer it saw (a client's own value is replaced unless the client is a
    ``--trusted-proxy``), so its right-most entry is the ``REMOTE_ADDR`` the app would have seen; ``SERVER_NAME``
    and ``SERVER_PORT`` become the public address. ``REMOTE_PORT`` stays the internal connection's (0 on a Unix
    socket). Only the environ changes: the app object itself is untouched.
    """

    def __init__(self, application, server_name: str, server_port: int) -> None:
        self.application = application
        self.server_name = server_name
        self.server_port = str(server_port)

    def __call__(self, environ, start_response):
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            environ["REMOTE_ADDR"] = forwarded.rpartition(",")[2].strip()
        elif environ.get("REMOTE_ADDR") in (None, "", "<local>"):
            environ["REMOTE_ADDR"] = "127.0.0.1"  # feisty's readiness probe, from this machine
        environ["SERVER_NAME"] = self.server_name
        environ["SERVER_PORT"] = self.server_port
        return self.application(environ, start_response)


def _write_json_atomically(path: str, document: dict) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    os.replace(temporary, path)


def _terminate_process_group() -> None:
    """feisty is gone: SIGTERM the whole process group, and SIGKILL whatever is left 2 s later."""
    import signal
    import subprocess

    pgid = os.getpgrp()
    if pgid != os.getpid():
        # Not a group leader (not spawned with setsid): the group is someone else's, only this process goes.
        os.kill(os.getpid(), signal.SIGTERM)
        return
    try:
        # The SIGKILL comes from outside the group (own session), so the SIGTERM below cannot stop it.
        subprocess.Popen(
            [sys.executable, "-c",
             "import os,signal,sys,time\ntime.sleep(2)\ntry: os.killpg(int(sys.argv[1]), signal.SIGKILL)\n"
             "except OSError: pass", str(pgid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    except OSError:
        pass
    os.killpg(pgid, signal.SIGTERM)


def start_liveness_watch(cleanup=()) -> bool:
    """Dies with feisty: EOF on the stdin pipe (feisty holds the write end) ends the process group.

    The files in ``cleanup`` (this instance's socket and report) are removed first, and their directory too
    once empty: feisty, which would have removed them, is gone.

    Only when stdin is a pipe or a socket: a TTY (manual run), /dev/null or a file never mean "feisty died".
    PR_SET_PDEATHSIG is deliberately not used: Linux fires it when the parent *thread* that spawned us exits, and
    feisty spawns from a Swift concurrency pool thread that may retire while feisty keeps running.
    """
    import threading

    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    if os.isatty(0) or not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        for path in cleanup:
            if path:
                for leftover in (path, path + ".tmp"):
                    try:
                        os.unlink(leftover)
                    except OSError:
                        pass
                try:
                    os.rmdir(os.path.dirname(path))
                except OSError:
                    pass
        _terminate_process_group()

    threading.Thread(target=watch, name="feisty-liveness", daemon=True).start()
    return True


class _BodyReader:
    """The request body as the app sees it under --http11: at most Content-Length bytes of the connection.

    Werkzeug drains "whatever is left on the socket" after each response, which is right only when the
    connection then closes; bounding the stream makes that drain stop at the end of this request's body,
    so the next request on a kept-alive connection is left alone.
    """

    def __init__(self, stream, length: int) -> None:
        self._stream = stream
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        if not data:
            self._left = 0
        return data

    def readline(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.readline(size)
        self._left -= len(data)
        if not data:
            self._left = 0
        return data

    def readlines(self, hint: int = -1) -> list:
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    @property
    def done(self) -> bool:
        return self._left <= 0

    @property
    def left(self) -> int:
        return self._left

    def close(self) -> None:
        pass


def keep_alive_handler(base=None):
    """A Werkzeug request handler that speaks HTTP/1.1 with keep-alive (``--http11``).

    Werkzeug always answers ``Connection: close`` because http.server cannot tell where an unread request body
    ends. This handler bounds the body to its Content-Length and keeps the connection open when the app has
    read the whole body by the time it starts its response (the usual case), or when what is left is small
    (<= 64 KiB, skipped). Otherwise (an early 413 to a big upload, a chunked request body) it keeps Werkzeug's
    ``Connection: close``. Idle connections close after ``timeout`` seconds.
    """
    from werkzeug.serving import WSGIRequestHandler

    base = base or WSGIRequestHandler

    class KeepAliveRequestHandler(base):
        protocol_version = "HTTP/1.1"
        timeout = 120

        def setup(self) -> None:
            super().setup()
            # Werkzeug writes the head and the body in separate send() calls: on a kept-alive connection Nagle's
            # algorithm holds the body back until the peer's delayed ACK (~40 ms a response, measured with
            # bench/upstream_keepalive.sh). A closing connection flushes on close, so plain Werkzeug never shows it.
            import socket

            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass

        def run_wsgi(self) -> None:
            raw = self.rfile
            self._feisty_body = None
            if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
                try:
                    length = max(0, int(self.headers.get("Content-Length") or 0))
                    self._feisty_body = self.rfile = _BodyReader(raw, length)
                except ValueError:
                    pass
            try:
                super().run_wsgi()
            finally:
                self.rfile = raw
                self._feisty_body = None

        def send_header(self, keyword: str, value: str) -> None:
            body = getattr(self, "_feisty_body", None)
            if keyword.lower() == "connection" and value.lower() == "close" and body is not None:
                if not body.done and body.left <= 65536 and not self.headers.get("Expect"):
                    while body.read(65536):  # a small unread body (a 404 to a POST): skip it, keep the connection
                        pass
                if body.done:
                    return  # the whole request was read: the connection can carry the next one
            super().send_header(keyword, value)

    KeepAliveRequestHandler.__name__ = f"KeepAlive{base.__name__}"
    return KeepAliveRequestHandler


class Launcher:
    """Serves the app on --bind and reports the route table right before binding."""

    def __init__(self, spec: AppSpec, bind: Address, public, server: str, allow_debugger: bool, http11: bool,
                 report: str) -> None:
        self.spec = spec
        self.bind = bind
        self.public = public
        self.server = server
        self.allow_debugger = allow_debugger
        self.http11 = http11
        self.report = report
        self.served = False
        self.original_run_simple = None
        self.loading = False  # run_module is importing the app: app.run() is ignored, as under `flask run`
        self.requested_at_load = None  # what an app.run() ignored while loading asked for

    # --- patches -----------------------------------------------------------------------------------------------

    def install(self) -> None:
        import werkzeug.serving
        from flask import Flask

        self.original_run_simple = werkzeug.serving.run_simple
        launcher = self
        original_flask_run = Flask.run

        def run_simple(hostname, port, application, *args, **kwargs):
            import inspect

            bound = inspect.signature(launcher.original_run_simple).bind(hostname, port, application, *args, **kwargs)
            options = dict(bound.arguments)
            for key in ("hostname", "port", "application"):
                options.pop(key)
            launcher.serve(application, {"host": hostname, "port": port}, options)

        def flask_run(app, host=None, port=None, debug=None, load_dotenv=True, **options):
            if launcher.loading:  # `flask --app X run` ignores an app.run() made while it loads the app
                if launcher.requested_at_load is None:
                    launcher.requested_at_load = {"host": host or "127.0.0.1", "port": int(port or 5000)}
                _warn(f"ignoring app.run() called while {launcher.spec.text} was loaded (as `flask --app "
                      f"{launcher.spec.text} run` does); the loaded app is served once it is loaded")
                return None
            os.environ.pop("FLASK_RUN_FROM_CLI", None)  # Flask.run returns silently under `flask run`
            return original_flask_run(app, host, port, debug, load_dotenv, **options)

        run_simple.__wrapped__ = self.original_run_simple
        werkzeug.serving.run_simple = run_simple
        Flask.run = flask_run

    # --- serving -----------------------------------------------------------------------------------------------

    def serve(self, application, requested, options: dict) -> None:
        from flask import Flask

        if self.served:
            _warn("the app started a second server; only the first one is served")
            return
        self.served = True
        if options.get("use_reloader"):
            _warn(RELOADER_WARNING)
        options["use_reloader"] = False
        if options.get("ssl_context") is not None:
            _warn("the app's ssl_context is ignored (feisty's proxy talks plain HTTP on the internal port)")
            options["ssl_context"] = None
        app = application if isinstance(application, Flask) else self.find_app()
        wants_debugger = bool(options.get("use_debugger")) or _has_debugged_application(app)
        if wants_debugger and not self.allow_debugger:
            _warn(DEBUGGER_WARNING)
            options["use_debugger"] = False
            if app is not None:
                _strip_debugged_application(app)
            application = _strip_debugged_wsgi(application)
        if self.http11:
            options["request_handler"] = keep_alive_handler(options.get("request_handler"))
        public = self.public or (Address(requested["host"], requested["port"]) if requested else FALLBACK_PUBLIC)
        served = application
        application = ForwardedEnviron(application, public.host, public.port)
        self.check_bindable()
        self.write_report(app, requested, served)
        hide_server_banner(self.server)
        try:
            if self.server == "gunicorn":
                self.serve_gunicorn(application)
            elif self.server == "waitress":
                self.serve_waitress(application)
            elif self.bind.unix:
                self.original_run_simple(f"unix://{self.bind.unix}", 0, application, **options)
            else:
                self.original_run_simple(self.bind.host, self.bind.port, application, **options)
        except ProbeError:
            raise
        except OSError as error:
            if "address" in str(error).lower() or getattr(error, "errno", None) in (98, 48, 99, 13):
                raise ProbeError("bind_error", f"cannot bind {self.bind}: {error}") from None
            raise

    def check_bindable(self) -> None:
        """A clear bind_error before any server starts (Werkzeug would print its own text and exit 1)."""
        import socket

        if self.bind.unix:
            directory = os.path.dirname(self.bind.unix) or "."
            if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
                raise ProbeError("bind_error", f"cannot bind {self.bind}: {directory} is not a writable directory")
            try:
                os.unlink(self.bind.unix)  # a previous instance's socket (gunicorn and waitress refuse to reuse it)
            except FileNotFoundError:
                pass
            except OSError as error:
                raise ProbeError("bind_error", f"cannot bind {self.bind}: {error}") from None
            return
        family = socket.AF_INET6 if ":" in self.bind.host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.bind.host, self.bind.port))
        except OSError as error:
            raise ProbeError("bind_error", f"cannot bind {self.bind}: {error}") from None

    def find_app(self):
        from flask import Flask

        main = sys.modules.get("__main__")
        namespace = getattr(main, "__dict__", {})
        for name in ("app", "application"):
            if isinstance(namespace.get(name), Flask):
                return namespace[name]
        apps = [v for v in namespace.values() if isinstance(v, Flask)]
        return apps[0] if len(apps) == 1 else None

    def write_report(self, app, requested, served=None) -> None:
        file = run_source_file(self.spec)
        if app is not None:
            table = runtime_table(app, file, served, warn=_warn)
        else:
            host, port, notes = detect_run_call(file)
            table = {"port": port, "host": host, "rules": [], "host_matching": False, "subdomain_matching": False,
                     "server_name": None, "default_subdomain": "", "redirect_defaults": True, "merge_slashes": True,
                     "source": "runtime",
                     "unresolved": notes + ["the served WSGI application is not a Flask app feisty can find: no rules"]}
        if app is not None:
            table["error_pages"] = render_error_pages(app)
        table["requested"] = requested
        table["bind"] = self.bind.as_json()
        _write_json_atomically(self.report, table)

    def serve_gunicorn(self, application) -> None:
        try:
            from gunicorn.app.base import BaseApplication
        except ImportError as error:
            raise ProbeError("server_missing", f"--server gunicorn: gunicorn is not importable in this "
                                               f"interpreter ({error}); pip install gunicorn") from None
        settings = {"bind": str(self.bind), "workers": 1, "threads": 8, "accesslog": "-",
                    "errorlog": "-"}

        class FeistyGunicorn(BaseApplication):
            def load_config(self):
                for key, value in settings.items():
                    self.cfg.set(key, value)

            def load(self):
                return application

        FeistyGunicorn().run()

    def serve_waitress(self, application) -> None:
        try:
            import waitress
        except ImportError as error:
            raise ProbeError("server_missing", f"--server waitress: waitress is not importable in this "
                                               f"interpreter ({error}); pip install waitress") from None
        import logging

        logger = logging.getLogger("waitress")
        if not logger.handlers and not logging.getLogger().handlers:
            logger.addHandler(logging.StreamHandler(sys.stderr))  # its "Serving on ..." banner, like the others
            logger.setLevel(logging.INFO)
        if self.bind.unix:
            waitress.serve(application, unix_socket=self.bind.unix, unix_socket_perms="600", threads=8)
        else:
            waitress.serve(application, host=self.bind.host, port=self.bind.port, threads=8)

    # --- entry points ------------------------------------------------------------------------------------------

    def run_script(self) -> None:
        """``python3 SCRIPT``: its __main__ block runs, its app.run binds --bind."""
        import runpy

        script = self.spec.script
        sys.argv = [script]
        sys.path[0] = os.path.dirname(script)
        namespace = self.run_main(lambda: runpy.run_path(script, run_name="__main__"), script)
        if not self.served:
            from flask import Flask

            module = type(sys)("__main__")
            module.__dict__.update(namespace)
            try:
                app = find_flask_app(module, None)
            except ProbeError as error:
                raise ProbeError("no_app", f"{_display_path(script)} ended without app.run() and {error.message}") \
                    from None
            if not isinstance(app, Flask):
                raise ProbeError("no_app", f"{_display_path(script)} ended without app.run() and no Flask app")
            self.serve(app, None, {"threaded": True})

    def run_package_main(self) -> None:
        """``python -m PKG`` for a package folder with ``__main__.py``: its app.run binds --bind."""
        import runpy

        main = package_main_file(self.spec)
        sys.argv = [main]
        sys.path[0] = self.spec.root
        namespace = self.run_main(
            lambda: runpy.run_module(self.spec.import_name, run_name="__main__", alter_sys=True), main
        )
        if not self.served:  # __main__.py ended without app.run(): serve the package's app, as `flask --app PKG`
            from flask import Flask

            apps = [namespace.get("app"), namespace.get("application")]
            apps += [v for v in namespace.values() if isinstance(v, Flask)]
            app = next((a for a in apps if isinstance(a, Flask)), None) or self.load_for_run()
            self.serve(app, None, {"threaded": True})

    def run_main(self, run, path):
        """Runs a ``__main__`` (``run()`` returns its namespace), its failures as the probe's errors: a syntax error
        names ``path``'s line; an exception before the app served is an import error, after it an app error."""
        try:
            return run()
        except SyntaxError as error:
            where = f"{_display_path(error.filename or path)}:{error.lineno}"
            raise ProbeError("syntax_error", f"{where}: {error.msg} (SyntaxError)") from None
        except ModuleNotFoundError as error:
            _print_traceback()
            raise ProbeError("import_error", _describe_exception(error)) from None
        except (ProbeError, SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:  # noqa: BLE001
            _print_traceback()
            raise ProbeError("app_error" if self.served else "import_error", _describe_exception(error)) from None

    def load_for_run(self):
        """The app loaded as ``flask --app APP run`` loads it: an app.run() meanwhile is ignored (its address kept)."""
        self.loading = True
        try:
            return load_app(self.spec, "run")
        finally:
            self.loading = False
            os.environ.pop("FLASK_RUN_FROM_CLI", None)

    def run_module(self) -> None:
        """``module:name``, factories, packages: load the app like ``routes`` and serve it."""
        app = self.load_for_run()
        self.serve(app, self.requested_at_load, {"threaded": True})


def _print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


def _has_debugged_application(app) -> bool:
    return app is not None and type(getattr(app, "wsgi_app", None)).__name__ == "DebuggedApplication"


def _strip_debugged_application(app) -> None:
    while type(getattr(app, "wsgi_app", None)).__name__ == "DebuggedApplication":
        app.wsgi_app = app.wsgi_app.app


def _strip_debugged_wsgi(application):
    while type(application).__name__ == "DebuggedApplication":
        application = application.app
    return application


def cmd_launch(options) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    os.environ.pop("WERKZEUG_RUN_MAIN", None)  # we are never a reloader child
    os.environ.pop("WERKZEUG_SERVER_FD", None)
    bind = Address.parse(options.bind, "--bind")
    public = Address.parse(options.public, "--public") if options.public else None
    spec = resolve_spec(options.app)
    start_liveness_watch(cleanup=[bind.unix, options.report])
    import_flask()
    record_registration_order()
    launcher = Launcher(spec, bind, public, options.server, options.allow_debugger, options.http11, options.report)
    launcher.install()
    if spec.script is not None and spec.app_name is None:
        launcher.run_script()
    elif package_main_file(spec) is not None:
        launcher.run_package_main()
    else:
        launcher.run_module()
    return 0


# ---------------------------------------------------------------------------------------------------------------
# match-server: Werkzeug's own verdict for requests reaching custom converters with their own to_python/to_url
# ---------------------------------------------------------------------------------------------------------------


def tagged_value(value):
    """A converted URL argument as the tagged JSON of the match-server protocol (exact ints and floats)."""
    import uuid

    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(int(value))]
    if isinstance(value, float):
        return ["float", repr(float(value))]
    if isinstance(value, str):
        return ["str", str(value)]
    if isinstance(value, (list, tuple)):
        return ["list", [tagged_value(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [[_json_key(key), tagged_value(item)] for key, item in value.items()]]
    if isinstance(value, uuid.UUID):
        return ["str", str(value)]
    return ["str", repr(value)]


def _json_key(key) -> str:
    """The key ``json.dumps`` writes for a dict key."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return repr(key)


def dev_server_environ(method: str, target: str, host: str, websocket: bool):
    """The WSGI environ the Werkzeug dev server builds for this request line (the target's UTF-8 bytes, as a
    client sends them), Host and, for a WebSocket handshake, ``Connection: Upgrade`` and ``Upgrade: websocket``;
    None when the server rejects the request line itself."""
    import io
    from types import SimpleNamespace

    from werkzeug.serving import WSGIRequestHandler

    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.raw_requestline = method.encode("utf-8") + b" " + target.encode("utf-8") + b" HTTP/1.1\r\n"
    fields = "Connection: Upgrade\r\nUpgrade: websocket\r\n" if websocket else ""
    handler.rfile = io.BytesIO(f"Host: {host}\r\n{fields}\r\n".encode("utf-8"))
    handler.wfile = io.BytesIO()
    handler.client_address = ("127.0.0.1", 40000)
    handler.server = SimpleNamespace(
        ssl_context=None, multithread=False, multiprocess=False, server_address=("127.0.0.1", 5000))
    handler.connection = None
    handler.requestline = ""
    handler.request_version = "HTTP/1.1"
    handler.command = None
    handler.close_connection = True
    handler.log_error = lambda *a, **k: None
    handler.log_request = lambda *a, **k: None
    handler.send_error = lambda *a, **k: None
    try:
        if not handler.parse_request():
            return None
        return handler.make_environ()
    except Exception:  # noqa: BLE001 - whatever the server would refuse
        return None


def werkzeug_verdict(app, request: dict) -> dict:
    """What ``MapAdapter.match`` decides for one match-server request (see the protocol above)."""
    import warnings

    from werkzeug.exceptions import BadHost, HTTPException, MethodNotAllowed, NotFound
    from werkzeug.routing import RequestRedirect, WebsocketMismatch

    environ = dev_server_environ(
        str(request["method"]), str(request["target"]), str(request.get("host") or "localhost"),
        bool(request.get("websocket")))
    if environ is None:
        return {"outcome": "unparsed"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            adapter = app.create_url_adapter(app.request_class(environ))
        except BadHost:
            return {"outcome": "bad_host"}
        try:
            rule, args = adapter.match(return_rule=True)
        except RequestRedirect as redirect:
            return {"outcome": "redirect", "location": redirect.new_url}
        except MethodNotAllowed as refused:
            return {"outcome": "method_not_allowed", "allowed": sorted(refused.valid_methods or [])}
        except WebsocketMismatch:
            return {"outcome": "websocket_mismatch"}
        except NotFound:
            return {"outcome": "not_found"}
        except BadHost:
            return {"outcome": "bad_host"}
        except HTTPException as error:
            return {"outcome": "error", "message": repr(error)[:500]}
        except Exception as error:  # noqa: BLE001 - a converter raising: the app answers 500
            return {"outcome": "error", "message": _describe_exception(error)[:500]}
    return {"outcome": "match", "endpoint": str(rule.endpoint),
            "args": [[str(name), tagged_value(value)] for name, value in args.items()]}


def cmd_match_server(options, result_fd: int) -> int:
    """``match-server APP``: one verdict line per request line, until EOF on stdin."""
    app = load_app(resolve_spec(options.app))
    out = os.fdopen(result_fd, "w", encoding="utf-8")
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = werkzeug_verdict(app, json.loads(line))
        except Exception as error:  # noqa: BLE001 - never a dead server: the line gets an error verdict
            answer = {"outcome": "error", "message": "feisty probe: " + _describe_exception(error)}
        _flush()
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def _parser():
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):  # a usage error is a JSON error too, never argparse's exit 2
            raise ProbeError("usage", f"{self.prog}: {message}")

    parser = Parser(prog="feisty_probe", add_help=False)
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    routes = commands.add_parser("routes", add_help=False)
    routes.add_argument("app")
    routes.add_argument("--static", action="store_true")
    routes.add_argument("--dependencies", action="store_true")
    pages = commands.add_parser("error-pages", add_help=False)
    pages.add_argument("app")
    launch = commands.add_parser("launch", add_help=False)
    launch.add_argument("app")
    launch.add_argument("--bind", required=True)
    launch.add_argument("--public")
    launch.add_argument("--server", choices=("werkzeug", "gunicorn", "waitress"), default="werkzeug")
    launch.add_argument("--allow-debugger", action="store_true")
    launch.add_argument("--http11", action="store_true")
    launch.add_argument("--report", required=True)
    server = commands.add_parser("match-server", add_help=False)
    server.add_argument("app")
    return parser


# ---------------------------------------------------------------------------------------------------------------
# routes --dependencies: what a route table was read from, for feisty's route cache (RouteTableCache.swift)
# ---------------------------------------------------------------------------------------------------------------

# Audit events after which the table may depend on more than files: the cache must not keep it.
_UNCACHEABLE_EVENTS = {
    "subprocess.Popen": "started a process",
    "os.system": "started a process",
    "os.exec": "started a program",
    "os.posix_spawn": "started a process",
    "os.spawn": "started a process",
    "os.fork": "forked",
    "socket.connect": "opened a network connection",
    "socket.getaddrinfo": "looked up a host name",
    "sqlite3.connect": "opened a database",
    "urllib.Request": "made a URL request",
}
# Pseudo-files whose stamps say nothing about their content.
_UNSTAMPED_PREFIXES = ("/dev/", "/proc/", "/sys/")


class DependencyWatch:
    """Records, through an audit hook (PEP 578), everything the work after ``start`` reads: files opened for
    reading (missing ones too), directories listed, every module loaded, ``sys.path`` and the interpreter.

    Each path is stamped (size, mtime and ctime in ns, inode, device) when it is first met, before its content is
    read, so a file changed during the import never matches its stamp later. An event that may make routes depend on
    something else (a process, the network, a database) marks the table uncacheable. Not seen: mere existence checks
    (``os.path.exists``), the clock, randomness; ``feisty --no-cache`` is for apps whose routes depend on those.
    """

    def __init__(self) -> None:
        self.stamps = {}
        self.uncacheable = None
        self.active = False

    def start(self) -> None:
        self.active = True
        for entry in sys.path:
            self._stamp(os.path.abspath(entry or "."))
        self._stamp(sys.executable)
        self._stamp(os.path.realpath(sys.executable))
        sys.addaudithook(self)

    def __call__(self, event: str, args) -> None:
        if not self.active:
            return
        try:
            self._observe(event, args)
        except Exception as error:  # noqa: BLE001 - a hook that raises would break the app's own import
            self.uncacheable = f"feisty could not follow {event} ({type(error).__name__})"

    def _observe(self, event: str, args) -> None:
        if event == "open":
            path, mode, flags = args
            reads = ("r" in mode or "+" in mode) if isinstance(mode, str) else (flags & os.O_ACCMODE) != os.O_WRONLY
            if reads and isinstance(path, (str, bytes)):
                self._stamp_file(os.path.abspath(os.fsdecode(path)))
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if path is None or isinstance(path, (str, bytes)):
                self._stamp(os.path.abspath(os.fsdecode(path or ".")))
        elif self.uncacheable is None:
            why = _UNCACHEABLE_EVENTS.get(event)
            if why is not None:
                self.uncacheable = f"importing the app {why} ({event})"

    def _stamp_file(self, path: str) -> None:
        if path not in self.stamps:
            self._stamp(os.path.dirname(path))  # a module or file added beside it may be found instead
            self._stamp(path)

    def _stamp(self, path: str) -> None:
        # Bytecode caches are Python's own output, checked against their sources: stamping them (or their
        # folders) would only make the next `feisty run`, which writes them, look like a change.
        if path in self.stamps or path.startswith(_UNSTAMPED_PREFIXES) or "__pycache__" in path:
            return
        try:
            status = os.stat(path)
        except OSError:
            self.stamps[path] = [path, "absent", 0, 0, 0, 0, 0]
            return
        kind = "directory" if stat.S_ISDIR(status.st_mode) else "file"
        self.stamps[path] = [
            path, kind, status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev,
        ]

    def report(self) -> dict:
        """``{"stamps": [[path, kind, size, mtime_ns, ctime_ns, inode, device], ...], "uncacheable": null | why}``,
        with every loaded module's file and package folder added."""
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str):
                self._stamp_file(os.path.abspath(file))
            for folder in getattr(module, "__path__", None) or ():
                if isinstance(folder, str):
                    self._stamp(os.path.abspath(folder))
        self.active = False
        return {"stamps": list(self.stamps.values()), "uncacheable": self.uncacheable}


def cmd_routes(options) -> dict:
    spec = resolve_spec(options.app)
    if options.command == "error-pages":
        return render_error_pages(load_app(spec, "error-pages"))
    watch = DependencyWatch() if options.dependencies else None
    if watch is not None:
        watch.start()
    if options.static:
        table = static_table(spec)
    else:
        app = load_app(spec)
        table = runtime_table(app, run_source_file(spec))
    if watch is not None:
        table["dependencies"] = watch.report()
    return table


def main(argv) -> int:
    """Runs one command; the result (or error) JSON goes to the original stdout (routes) or stderr (launch)."""
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever the app prints while imported lands on stderr, not in the JSON
    command = argv[0] if argv else None
    try:
        options = _parser().parse_args(argv)
        if options.command is None:
            raise ProbeError("usage", "feisty_probe: a command is required: routes or launch")
        if options.command == "launch":
            os.dup2(result_fd, 1)  # the app's own stdout stays the process's stdout
            status = cmd_launch(options)
            _flush()
            return status
        if options.command == "match-server":
            return cmd_match_server(options, result_fd)
        document, status = cmd_routes(options), 0
    except ProbeError as error:
        document, status = error.as_json(), 1
    except Exception as error:  # noqa: BLE001 - never a traceback-only failure (a bug of this probe)
        document, status = ProbeError("internal_error", "feisty probe: " + _describe_exception(error)).as_json(), 1
    if command == "launch":
        _flush()
        os.dup2(result_fd, 1)
        sys.stderr.write(json.dumps(document) + "\n")
        _flush()
        return status
    _flush()
    dependencies = document.pop("dependencies", None)
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(document) + "\n")
        if dependencies is not None:
            out.write(json.dumps({"dependencies": dependencies}) + "\n")
    return status


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    _status = main(sys.argv[1:])
    _flush()
    os._exit(_status)  # the app may have left non-daemon threads behind: do not wait for them
