"""No Twilio SDK call can skip the error mapping of ``provisioning.twilio.api``.

Read from the source: SDK exceptions are named in ``api.py`` only, the portal makes no
SDK call, and in ``provisioning/twilio`` a call of an SDK resource method (``create``,
``list``, ``fetch``...) sits in a lambda or a local function, the form handed to
``api.call`` or ``api.create_or_find`` (which run it and map what it raises).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TWILIO = ROOT / "provisioning" / "twilio"
WRAPPERS = {"api.py", "sdk.py"}  # the mapping itself, and the HTTP client under the SDK
SDK_EXCEPTIONS = {"TwilioException", "TwilioRestException", "TwilioServiceException"}
SDK_METHODS = {"create", "list", "fetch", "update", "delete", "page", "next_page", "stream"}


def sources(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def test_sdk_exceptions_are_named_in_the_api_module_only():
    named = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sources(ROOT / "provisioning", ROOT / "portal")
        if path.name != "api.py" or path.parent != TWILIO
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Name | ast.alias | ast.Attribute)
        and (
            getattr(node, "id", None) or getattr(node, "name", None) or getattr(node, "attr", None)
        )
        in SDK_EXCEPTIONS
    ]
    assert named == []


def bare_sdk_calls(tree: ast.AST) -> list[int]:
    """Lines of SDK method calls made directly in a module-level function's body."""
    found: list[int] = []

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner = depth + isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Lambda):
                continue  # handed to api.call / create_or_find
            if (
                depth == 1
                and isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr in SDK_METHODS
            ):
                found.append(child.lineno)
            visit(child, inner)

    visit(tree, 0)
    return found


def test_every_sdk_call_in_the_twilio_package_goes_through_the_api_wrapper():
    bare = {
        path.name: lines
        for path in sources(TWILIO)
        if path.name not in WRAPPERS and (lines := bare_sdk_calls(ast.parse(path.read_text())))
    }
    assert bare == {}, "wrap these calls: api.call(lambda: ...)"


def test_the_portal_makes_no_sdk_call():
    """Views call provisioning services; the only client they build is handed over."""
    calls = {
        str(path.relative_to(ROOT)): lines
        for path in sources(ROOT / "portal")
        if "provisioning.twilio" in path.read_text()
        and (lines := bare_sdk_calls(ast.parse(path.read_text())))
    }
    assert calls == {}
