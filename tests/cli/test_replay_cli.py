"""`feisty replay` through the real binary on the seed app, with a small log in each format it reads."""
import datetime
import json

import pytest

from .conftest import run_feisty

SEED = "examples/seed/app.py"
START = datetime.datetime(2026, 11, 30, 21, 28, 0, tzinfo=datetime.timezone.utc)

# (client, seconds after START, method, target, status)
REQUESTS = [
    ("192.0.2.1", 0, "GET", "/", 200),
    ("192.0.2.1", 1, "GET", "/favicon.ico", 404),
    ("198.51.100.7", 2, "GET", "/admin", 404),
    ("192.0.2.1", 3, "GET", "/user/bob", 500),
    ("198.51.100.7", 4, "GET", "/login", 404),
    ("203.0.113.5", 5, "GET", "/.env", 404),
    ("198.51.100.7", 6, "POST", "/", 405),
    ("198.51.100.7", 7, "GET", "/backup", 404),
    ("192.0.2.1", 8, "GET", "/2024", 200),
    ("198.51.100.7", 9, "GET", "/admin", 404),
    ("198.51.100.7", 10, "GET", "/old-api", 404),
    ("2001:db8:1:2::1", 11, "GET", "/a", 404),
    ("2001:db8:1:2::2", 12, "GET", "/b", 404),
    ("192.0.2.1", 13, "GET", "/gone?page=2", 404),
    ("192.0.2.1", 600, "GET", "/gone", 404),
]


def line(fmt: str, client: str, offset: int, method: str, target: str, status: int) -> str:
    when = START + datetime.timedelta(seconds=offset)
    request = f'"{method} {target} HTTP/1.1" {status}'
    if fmt == "werkzeug":
        return f"{client} - - [{when:%d/%b/%Y %H:%M:%S}] {request} -"
    common = f"{client} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] {request} 612"
    return common if fmt == "common" else f'{common} "-" "Mozilla/5.0 (X11; Linux x86_64)"'


@pytest.mark.parametrize("fmt", ["common", "combined", "werkzeug"])
def test_replay_json_judges_the_log(feisty, tmp_path, fmt):
    lines = [line(fmt, *request) for request in REQUESTS]
    noise = [" * Running on http://127.0.0.1:5000", "not a request at all"]
    log = tmp_path / "access.log"
    log.write_text("\n".join(noise[:1] + lines[:7] + noise[1:] + lines[7:]) + "\n")

    result = run_feisty(feisty, "replay", SEED, str(log), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    clients = {c["client"]: c for c in report["clients"]}

    canary = clients["203.0.113.5"]
    assert (canary["requests"], canary["strikes"]) == (1, 1)
    assert canary["banned_at"].startswith("30/Nov/2026") and canary["evidence"] == [lines[5]]

    # Five distinct undeclared paths (the 405 counts, /admin twice is one): banned at the fifth.
    walker = clients["198.51.100.7"]
    assert (walker["requests"], walker["strikes"]) == (6, 5)
    assert "21:28:10" in walker["banned_at"]
    assert walker["evidence"] == [lines[2], lines[4], lines[6], lines[7], lines[10]]

    # Declared routes, a browser's favicon and one stale URL asked twice: one strike, never banned.
    user = clients["192.0.2.1"]
    assert (user["requests"], user["strikes"], user["banned_at"], user["evidence"]) == (6, 1, None, [])

    # Two addresses of one /64 are one client.
    v6 = clients["2001:db8:1:2:0:0:0:0/64"]
    assert (v6["requests"], v6["strikes"], v6["banned_at"]) == (2, 2, None)

    assert report["clients"][0]["client"] == "203.0.113.5"  # banned first, earliest ban first
    undeclared = {u["path"]: u["count"] for u in report["undeclared"]}
    assert undeclared["/admin"] == 2 and undeclared["/gone"] == 2 and undeclared["/.env"] == 1
    assert "/user/bob" not in undeclared and "/" in undeclared  # POST / is a 405
    assert report["unparsed"] == {"count": 2, "examples": noise}


def test_replay_flags_change_the_verdict(feisty, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(line("common", *request) for request in REQUESTS) + "\n")
    result = run_feisty(feisty, "replay", SEED, str(log), "--json", "--strike-405", "0", "--max-strikes", "6")
    assert result.returncode == 0, result.stderr
    clients = {c["client"]: c for c in json.loads(result.stdout)["clients"]}
    assert clients["198.51.100.7"]["strikes"] == 4 and clients["198.51.100.7"]["banned_at"] is None
    assert clients["203.0.113.5"]["banned_at"] is not None  # a canary weighs --max-strikes, whatever it is


def test_replay_text_report(feisty, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(line("combined", *request) for request in REQUESTS) + "\n")
    result = run_feisty(feisty, "replay", SEED, str(log))
    assert result.returncode == 0, result.stderr
    assert "4 clients, 15 requests; 2 would be banned" in result.stdout
    assert "Most requested undeclared URLs:" in result.stdout


def test_replay_canary_file(feisty, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line("common", "192.0.2.50", 0, "GET", "/internal-dump", 404) + "\n")
    canaries = tmp_path / "canaries.txt"
    canaries.write_text("# ours\n/internal-*\n")
    result = run_feisty(feisty, "replay", SEED, str(log), "--json", "--canary-file", str(canaries))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["clients"][0]["banned_at"] is not None

    canaries.write_text("/ok\nnot-a-path\n")
    result = run_feisty(feisty, "replay", SEED, str(log), "--canary-file", str(canaries))
    assert result.returncode == 1
    assert f"{canaries}:2: not a canary pattern" in result.stderr


def test_replay_missing_log_is_a_clear_error(feisty, tmp_path):
    result = run_feisty(feisty, "replay", SEED, str(tmp_path / "nope.log"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"feisty: cannot read {tmp_path / 'nope.log'}: no such file"
