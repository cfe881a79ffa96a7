"""Packaging hook: a wheel carries the top-level ``templates/`` and ``migrations/``.

The source tree keeps both at its top (the layout the product fixes); an installed
portal finds them inside its package (``portal/templates``, ``portal/migrations``), so
they are copied there when a wheel is built. Everything else is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = ("templates", "migrations")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads them from the source tree
        for name in RESOURCES:
            shutil.copytree(
                Path(name),
                Path(self.build_lib, "portal", name),
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )


setup(cmdclass={"build_py": BuildWithResources})
