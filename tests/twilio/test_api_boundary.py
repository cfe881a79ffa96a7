"""Only ``provisioning/twilio/api.py`` calls Twilio: the SDK is imported nowhere else.

Read from the source, so that no module can reach Twilio without the error mapping and
the named operations of ``TwilioApi``. The one exception is the webhook signature check
(``twilio.request_validator``), which computes an HMAC and calls nobody.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "provisioning" / "twilio" / "api.py"
SIGNATURES = "twilio.request_validator"


def twilio_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found += [n for n in names if n == "twilio" or n.startswith("twilio.")]
    return found


def test_the_twilio_sdk_is_imported_by_the_api_module_only():
    imports = {
        str(path.relative_to(ROOT)): names
        for folder in ("provisioning", "portal")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != API
        and "sandbox" not in path.parts
        and (names := [n for n in twilio_imports(path) if n != SIGNATURES])
    }
    assert imports == {}


def test_the_api_module_does_import_it():
    assert "twilio.rest" in twilio_imports(API)
