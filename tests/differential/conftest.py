"""Fixtures shared by the differential tests (feisty's CLI against Werkzeug)."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def feisty() -> str:
    """The feisty binary under test: FEISTY_BIN, or the debug build."""
    path = os.environ.get("FEISTY_BIN") or str(REPO / ".build" / "debug" / "feisty")
    if not os.access(path, os.X_OK):
        pytest.fail(f"feisty binary not found at {path}: run `swift build` first")
    return path
