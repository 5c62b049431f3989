"""`feisty match` against Werkzeug itself on the rules fuzzing found quadratic (docs/PERFORMANCE.md, "Route
fuzzing"): two converters that can each span several segments, on 16 KiB targets that make both backtrack.

feisty's native walk remembers the cursors a lazy ``path`` already failed at, and the custom converter's ICU regex
backtracks as Python's ``re`` does; either way the verdict, and the arguments of a match, must stay Werkzeug's. (The
proxy's gate walks with a work budget and forwards what exceeds it; the Swift tests, `RouteWorkBoundTests`, hold it
to that.)
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_issue11_cli import agreement, load  # noqa: E402

APP = r'''
from flask import Flask
from werkzeug.routing import BaseConverter


class SlugPathConverter(BaseConverter):
    regex = r"[a-z]+(?:/[a-z]+)*"  # spans segments: the rest of the rule is one part, matched by ICU


app = Flask(__name__)
app.url_map.converters["slugpath"] = SlugPathConverter


def view(**kwargs):
    return "ok"


app.add_url_rule("/<path:v0>/<slugpath:v2>/edit", "icu", view)
app.add_url_rule("//<path:v0>.txt/item/<int:v2>/<path:v4>.txt//edit", "native", view)
app.add_url_rule("/s/<path:v0>.txt/item/<int:v2>/<path:v4>.txt/edit", "single", view)
'''

SIZE = 16 * 1024
NATIVE = "//x.txt.txt/item/100/a//b.txt//editx"
SINGLE = "/x.txt.txt/item/100/a/b.txt/editx"
TARGETS = [
    "/w%scanon/" + "a/" * (SIZE // 2),  # ICU backtracks over every split: 404
    "/w/" + "a/" * (SIZE // 2) + "edit",  # the same rule, matching
    NATIVE * (SIZE // len(NATIVE)),  # two lazy paths: 404
    NATIVE * (SIZE // len(NATIVE)) + "//y.txt/item/7/z.txt//edit",  # matching, after merging slashes: a redirect
    "/s" + SINGLE * (SIZE // len(SINGLE)),  # 404
    "/s" + SINGLE * (SIZE // len(SINGLE)) + "/y.txt/item/7/z.txt/edit",  # a match, its arguments 16 KiB long
]


def test_long_backtracking_targets_agree_with_werkzeug(feisty, tmp_path_factory):
    app_file, flask_app = load(tmp_path_factory, "backtracking", APP)
    requests = [("GET", target, "localhost", False) for target in TARGETS]
    disagreements, outcomes = agreement(feisty, app_file, flask_app, requests)
    assert not disagreements, "\n".join(d[:300] for d in disagreements)
    assert outcomes == ["not_found", "match", "not_found", "redirect", "not_found", "match"]
