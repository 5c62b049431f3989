"""`feisty bans list|add|remove` through the real binary on a real state directory."""
import datetime
import json
import os
import signal
import sqlite3
import subprocess

from .conftest import run_feisty


def bans(feisty, state):
    result = run_feisty(feisty, "bans", "list", "--json", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    return {ban["key"]: ban for ban in json.loads(result.stdout)["bans"]}


def generation(state):
    with sqlite3.connect(state / "bans.sqlite") as db:
        return db.execute("SELECT value FROM generation").fetchone()[0]


def test_add_list_remove(feisty, tmp_path):
    state = tmp_path / "state"
    added = run_feisty(
        feisty, "bans", "add", "192.0.2.7", "--for", "10m", "--reason", "scanner", "--state-dir", str(state)
    )
    assert added.returncode == 0, added.stderr
    assert "192.0.2.7" in added.stdout
    # Any spelling of an IPv6 block is stored as one canonical key.
    assert run_feisty(feisty, "bans", "add", "2001:db8:1:2::99/64", "--state-dir", str(state)).returncode == 0

    listed = bans(feisty, state)
    assert set(listed) == {"192.0.2.7", "2001:db8:1:2:0:0:0:0/64"}
    ban = listed["192.0.2.7"]
    since = datetime.datetime.fromisoformat(ban["since"].replace("Z", "+00:00"))
    until = datetime.datetime.fromisoformat(ban["until"].replace("Z", "+00:00"))
    assert abs((until - since).total_seconds() - 600) <= 1
    assert (ban["reason"], ban["source"], ban["repeat_count"]) == ("scanner", "manual", 0)
    assert listed["2001:db8:1:2:0:0:0:0/64"]["until"] is None

    text = run_feisty(feisty, "bans", "list", "--state-dir", str(state))
    assert "forever" in text.stdout and "scanner" in text.stdout

    removed = run_feisty(feisty, "bans", "remove", "2001:db8:1:2::/64", "--state-dir", str(state))
    assert removed.returncode == 0, removed.stderr
    assert set(bans(feisty, state)) == {"192.0.2.7"}
    again = run_feisty(feisty, "bans", "remove", "2001:db8:1:2::/64", "--state-dir", str(state))
    assert again.returncode != 0 and "no ban" in again.stderr


def test_bad_input_changes_nothing(feisty, tmp_path):
    state = tmp_path / "state"
    assert run_feisty(feisty, "bans", "add", "198.51.100.1", "--state-dir", str(state)).returncode == 0
    before = generation(state)
    for args, message in [
        (["add", "not-an-address"], "invalid ban key"),
        (["add", "10.0.0.0/33"], "invalid ban key"),
        (["add", "10.0.0.1", "--for", "soon"], "invalid ban duration"),
        (["add", "10.0.0.1", "--for", "0"], "invalid ban duration"),
        (["remove", "300.0.0.1"], "invalid ban key"),
    ]:
        result = run_feisty(feisty, "bans", *args, "--state-dir", str(state))
        assert result.returncode != 0, args
        assert message in result.stderr, result.stderr
    assert set(bans(feisty, state)) == {"198.51.100.1"}
    assert generation(state) == before  # no write reached the bans table


def test_unusable_state_dir_and_corrupt_file(feisty, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_feisty(feisty, "bans", "list", "--state-dir", str(blocker))
    assert result.returncode != 0 and "cannot use the state directory" in result.stderr

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "bans.sqlite").write_bytes(b"A" * 8192)
    result = run_feisty(feisty, "bans", "list", "--state-dir", str(corrupt))
    assert result.returncode != 0 and "not a readable SQLite database" in result.stderr


def test_ban_is_on_disk_when_add_returns_even_after_kill_9(feisty, tmp_path):
    """`add` exits only after the commit; the file read by another process (sqlite3, then feisty) has the ban,
    and a SIGKILL right after the command returns leaves nothing to flush."""
    state = tmp_path / "state"
    process = subprocess.Popen(
        [feisty, "bans", "add", "203.0.113.9", "--state-dir", str(state)], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()  # printed after `add` returned
    assert "203.0.113.9" in line
    try:
        os.kill(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    with sqlite3.connect(state / "bans.sqlite") as db:
        assert db.execute("SELECT key, until FROM bans").fetchall() == [("203.0.113.9", None)]
    assert "203.0.113.9" in bans(feisty, state)
