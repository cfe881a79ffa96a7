"""The build puts the top-level templates/ and migrations/ inside the portal package, and
the portal reads them from the source tree when it runs from one.

``.ci/wheel-check`` goes further: it installs the wheel into a fresh venv and serves pages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import portal

ROOT = Path(__file__).resolve().parent.parent


def _files(top: Path) -> set[str]:
    return {
        str(path.relative_to(top))
        for path in top.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_build_ships_templates_migrations_and_static_files_in_the_package(tmp_path):
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    built = tmp_path / "portal"
    assert _files(built / "templates") == _files(ROOT / "templates")
    assert _files(built / "migrations") == _files(ROOT / "migrations")
    assert _files(built / "static") == _files(ROOT / "portal" / "static")


def test_a_source_tree_serves_its_own_templates_and_migrations(app):
    assert not portal.INSTALLED
    assert Path(app.template_folder) == ROOT / "templates"
    assert Path(app.extensions["migrate"].directory) == ROOT / "migrations"
