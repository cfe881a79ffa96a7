"""Vendor the providers' OpenAPI descriptions into tests/specs, trimmed to what the suite uses.

    python tests/specs/trim.py SOURCE_DIR

SOURCE_DIR holds the unmodified specs (Meta's facebook/openapi YAML and twilio/twilio-oai
JSON files, with their MIT license files). For each spec this keeps the paths the
simulators serve (``KEEP``; every Meta Graph path is kept, since Graph ids make its
templates compete with each other) and every component those paths reach through
``$ref``, including what ``SPEC_PATCHES`` and ``ERROR_ENVELOPES`` name after patching. Text
is otherwise untouched: descriptions, examples and enums stay as the providers wrote them.
The output is JSON (fast to load), and the license files are copied beside it.

tests/sandbox/test_spec_vendoring.py proves that every route the Twilio simulator serves
finds its operation in the trimmed copies, so trimming cannot silently drop a check.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.sandbox.openapi_rules import ERROR_ENVELOPES, SPEC_PATCHES  # noqa: E402

# spec name -> (source file, vendored file, path templates to keep)
SOURCES = {
    "meta": (
        "meta_business-messaging-api_v23.0.yaml",
        "meta_business-messaging-api_v23.0.json",
        r".*",
    ),
    "twilio_api_v2010": (
        "twilio_api_v2010.json",
        "twilio_api_v2010.json",
        r"/2010-04-01/Accounts(\.json|/\{Sid\}\.json|/\{AccountSid\}/"
        r"(Keys|Addresses|AvailablePhoneNumbers|IncomingPhoneNumbers|Messages)\b.*)",
    ),
    "twilio_messaging_v1": (
        "twilio_messaging_v1.json",
        "twilio_messaging_v1.json",
        r"/v1/(Services(/\{Sid\})?|Services/\{\w+\}/(PhoneNumbers|Compliance)\b.*"
        r"|a2p/BrandRegistrations\b.*|Tollfree/Verifications\b.*)",
    ),
    "twilio_messaging_v2": ("twilio_messaging_v2.json", "twilio_messaging_v2.json", r".*"),
    "twilio_trusthub_v1": (
        "twilio_trusthub_v1.json",
        "twilio_trusthub_v1.json",
        r"/v1/(CustomerProfiles|TrustProducts|EndUsers|SupportingDocuments)\b.*",
    ),
    "twilio_events_v1": ("twilio_events_v1.json", "twilio_events_v1.json", r".*"),
    "twilio_numbers_v2": (
        "twilio_numbers_v2.json",
        "twilio_numbers_v2.json",
        r"/v2/RegulatoryCompliance/.+",
    ),
    "twilio_content_v1": (
        "twilio_content_v1.json",
        "twilio_content_v1.json",
        r"/v1/(Content|ContentAndApprovals)\b.*",
    ),
}
LICENSES = ("LICENSE.meta-openapi", "LICENSE.twilio-oai")
REF_PREFIX = "#/components/"


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _refs(node: Any) -> set[str]:
    """Every local component reference under ``node`` ("schemas/Name" form)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                found.add(ref[len(REF_PREFIX) :])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _component(doc: dict[str, Any], name: str) -> Any:
    kind, _, key = name.partition("/")
    key = key.replace("~1", "/").replace("~0", "~")
    return (doc.get("components") or {}).get(kind, {}).get(key)


def _patched(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the validator sees it (patches applied), to follow their refs too."""
    doc = copy.deepcopy(doc)
    for pointer, patch, _reason in SPEC_PATCHES.get(name, []):
        node = doc
        *parents, last = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
        for token in parents:
            node = node[token]
        node[last] = patch(node[last])
    return doc


def trim(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    _source, _target, keep = SOURCES[name]
    wanted = re.compile(keep)
    paths = {t: item for t, item in doc["paths"].items() if wanted.fullmatch(t)}
    patched = _patched(name, doc)
    roots: list[Any] = [patched["paths"][t] for t in paths]
    for pointer, _patch, _reason in SPEC_PATCHES.get(name, []):
        if pointer.startswith("/components/") and pointer.count("/") >= 3:
            roots.append({"$ref": "#" + "/".join(pointer.split("/")[:4])})
    envelope = ERROR_ENVELOPES.get(name)
    if isinstance(envelope, str):
        roots.append({"$ref": "#" + envelope})
    if any(p == "/components/schemas" for p, _f, _r in SPEC_PATCHES.get(name, [])):
        roots.append({"$ref": "#/components/schemas/IncomingMessage"})
    keep_components: set[str] = set()
    pending = set().union(*(_refs(r) for r in roots)) if roots else set()
    while pending:
        ref = pending.pop()
        if ref in keep_components:
            continue
        keep_components.add(ref)
        pending |= _refs(_component(patched, ref)) - keep_components
    components: dict[str, dict[str, Any]] = {}
    for kind, items in (doc.get("components") or {}).items():
        if kind == "securitySchemes":
            components[kind] = items
            continue
        kept = {k: v for k, v in items.items() if f"{kind}/{_escape(k)}" in keep_components}
        if kept:
            components[kind] = kept
    out = {k: v for k, v in doc.items() if k not in ("paths", "components")}
    out["paths"] = paths
    out["components"] = components
    return out


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _plain(value: Any) -> Any:
    """JSON has no dates: YAML's unquoted dates become the ISO strings they were written as."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def main(source: Path, target: Path = HERE) -> None:
    for name, (source_file, target_file, _keep) in SOURCES.items():
        doc = _load(source / source_file)
        trimmed = trim(name, doc)
        text = json.dumps(trimmed, indent=1, ensure_ascii=False, default=_plain) + "\n"
        (target / target_file).write_text(text, encoding="utf-8")
        print(f"{target_file}: {len(trimmed['paths'])}/{len(doc['paths'])} paths")
    for license_file in LICENSES:
        shutil.copyfile(source / license_file, target / license_file)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
