/// TEMPORARY placeholder until scripts/embed-python lands.
public enum EmbeddedPython {
    /// The probe.
    public static let probe: String = #"""
"""feisty's probe: the Python that runs inside the app's own interpreter.

Embedded in the feisty binary (see scripts/embed-python); also importable by tests.
This file is the single home of every line of Python feisty runs.
"""
from __future__ import annotations

import json
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


def describe_rule(rule) -> dict:
    """One werkzeug Rule as the RouteRule JSON object of the RouteTable contract."""
    converters = []
    for variable, conv in rule._converters.items():
        converters.append(
            {
                "variable": variable,
                "converter": _converter_name(rule, variable),
                "kind": _converter_kind(conv),
                "regex": conv.regex,
                "weight": conv.weight,
                "part_isolating": bool(conv.part_isolating),
            }
        )
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
    }


def _converter_name(rule, variable: str) -> str:
    """The converter name written in the rule (or host/subdomain) string for `variable`."""
    import re

    pattern = re.compile(r"<(?:([a-zA-Z_][a-zA-Z0-9_]*)(?:\((.*?)\))?:)?" + re.escape(variable) + r">")
    for text in (rule.rule, rule.host or "", rule.subdomain or ""):
        m = pattern.search(text)
        if m:
            return m.group(1) or "default"
    return "default"


def describe_url_map(url_map, app=None) -> dict:
    """The whole RouteTable contract for a werkzeug Map (and the Flask app owning it, if any)."""
    config = getattr(app, "config", {}) if app is not None else {}
    return {
        "rules": [describe_rule(r) for r in url_map.iter_rules()],
        "host_matching": bool(url_map.host_matching),
        "subdomain_matching": bool(getattr(app, "subdomain_matching", False)),
        "server_name": config.get("SERVER_NAME") if config else None,
        "default_subdomain": url_map.default_subdomain or "",
        "redirect_defaults": bool(url_map.redirect_defaults),
        "source": "runtime",
        "unresolved": [],
    }


if __name__ == "__main__":
    print(json.dumps({"error": {"kind": "usage", "message": "feisty_probe: no command"}}))
    sys.exit(2)
"""#
}
