"""A real `pip install -e` (setuptools' `__editable__` import-hook finder, no sys.path entry) in a throwaway venv."""
import pathlib
import subprocess
import sys
import textwrap

import pytest

EDITABLE_APP = "edapp"


def make_editable_venv(base: pathlib.Path) -> pathlib.Path:
    """Installs package `edapp` (source in `base/project/code`, mapped by `package-dir`, so setuptools must use its
    MetaPathFinder, not a path .pth) editable into a venv that sees this interpreter's packages (Flask). Offline:
    no build isolation, no index. Returns the venv's python; skips when this interpreter cannot build it."""
    for needed in ("setuptools", "wheel"):
        try:
            __import__(needed)
        except ImportError:
            pytest.skip(f"`pip install -e` offline needs {needed} in {sys.executable}")
    project = base / "project"
    (project / "code").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{EDITABLE_APP}"
        version = "0.1"
        [tool.setuptools]
        packages = ["{EDITABLE_APP}"]
        package-dir = {{"{EDITABLE_APP}" = "code"}}
        """))
    (project / "code" / "__init__.py").write_text(textwrap.dedent("""\
        from flask import Flask

        print("edapp imported")
        app = Flask(__name__)


        @app.get("/editable/<int:n>")
        def editable(n):
            return f"editable {n}"


        app.run(port=5099)  # no __main__ guard
        """))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index", "--no-deps", "-e",
         str(project)],
        capture_output=True, text=True, timeout=300, cwd=base,
    )
    if installed.returncode != 0:
        pytest.skip(f"pip install -e failed here: {installed.stderr[-2000:]}")
    site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    finders = list(pathlib.Path(site).glob("__editable___*finder.py"))
    assert finders, f"setuptools made no import-hook finder in {site}: {sorted(p.name for p in pathlib.Path(site).iterdir())}"
    return python
