"""Fixtures for the command-line tests: the built feisty binary and the repository root."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def feisty() -> str:
    """Path of the feisty binary (FEISTY_BIN, else the debug build that scripts/test makes)."""
    path = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")
    if not os.access(path, os.X_OK):
        pytest.fail(f"feisty binary not found at {path}: run `swift build` first (scripts/test does)")
    return path


def run_feisty(feisty: str, *args: str, cwd=REPO, stdin: str | None = None, timeout: float = 60):
    return subprocess.run(
        [feisty, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout
    )
