"""Fixtures for the command-line tests: the repository root and running feisty (the binary: tests/conftest.py)."""
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


def run_feisty(feisty: str, *args: str, cwd=REPO, stdin: str | None = None, timeout: float = 60):
    return subprocess.run(
        [feisty, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout
    )
