"""The sandbox could ship as its own package: it imports nothing from the product."""

from __future__ import annotations

import subprocess
import sys

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
import provisioning.sandbox as sandbox
for module in pkgutil.walk_packages(sandbox.__path__, "provisioning.sandbox."):
    importlib.import_module(module.name)
print("\\n".join(sorted(sys.modules)))
"""


def test_every_sandbox_module_imports_nothing_from_the_product():
    loaded = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "provisioning.sandbox.twilio.simulator" in loaded  # the walk reached the packages
    product = [
        name
        for name in loaded
        if name.split(".")[0] == "portal"
        or (name.startswith("provisioning.") and not name.startswith("provisioning.sandbox"))
    ]
    assert product == []
