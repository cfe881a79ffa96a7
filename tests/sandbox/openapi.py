"""OpenAPI conformance checks for the responses the sandbox recorded.

``Sandbox(record=True)`` appends one dict per request to ``sandbox.exchanges``::

    {"provider": "meta", "method": "GET", "path": "/graph/v21.0/1234/phone_numbers",
     "status": 200, "content_type": "application/json", "body": b"..."}

``validate_exchange`` finds the operation of the providers' own OpenAPI descriptions
(vendored in ``tests/specs``) that the exchange is for and validates the body against that
operation's response schema; ``assert_conforms`` does it for a whole list and fails once,
listing every failure.

Matching rules, in order:

* The path's host alias picks the spec (``/graph/`` -> ``meta``; ``/api/2010-04-01/``,
  ``/messaging/v1/``, ``/messaging/v2/``, ``/trusthub/v1/``, ``/events/v1/`` -> the Twilio
  specs). Anything else (360dialog, Meta's ``/www`` pages) is for no operation: ``None``.
* Templates match segment by segment (query string dropped, segments percent-decoded);
  a path parameter's value must satisfy its schema's ``pattern``/length limits. The Meta
  spec leaves most ``*-ID`` parameters unconstrained, so a Meta ``...ID``/``..._id``
  parameter without a pattern must be numeric (Graph object ids are; ``group_id`` must be
  a long base64-ish token, ``Media-URL`` an http(s) URL), which keeps
  ``/v21.0/debug_token`` or ``/v21.0/oauth/access_token`` from posing as
  ``/{Version}/{Media-ID}``; a hint naming the parameter lifts that heuristic.
* ``hints`` (a mapping ``{"1234": "Phone-Number-ID"}`` or a callable ``segment -> name |
  None``) drop the templates that put a hinted segment under another parameter name; when
  they would drop every candidate they are ignored (the spec may name the same id
  differently, e.g. ``WABA-ID`` and ``WhatsApp-Business-Account-ID``).
* Among what is left, the templates with the most literal segments win. Equally specific
  candidates (``/{Version}/{Business-ID}`` vs ``/{Version}/{WABA-ID}``) are tried in spec
  order: the exchange passes when its body validates against any of them, and the first
  that accepts it is the operation key reported.
* The status matches a response exactly, then as ``2XX``, then ``default``. An undocumented
  success status fails (a 200 where the spec says 201 is a wire difference); an
  undocumented error status (>= 400: the Twilio specs document none) is checked against
  the provider's error envelope (``openapi_rules.ERROR_ENVELOPES``: Meta's own
  ``GraphAPIError``; Twilio's envelopes from the fact sheet).
* The response content is picked by media type (parameters dropped). A response with no
  content needs no body; a 204 must have an empty one. JSON bodies are validated with
  jsonschema: Draft 2020-12 for OpenAPI 3.1 (Meta), Draft 4 for OpenAPI 3.0 (Twilio), with
  3.0's ``nullable: true`` rewritten to allow ``null``. The formats ``date-time``
  (RFC 3339 with an offset; Graph's ``+0000`` is accepted), ``date`` and Twilio's
  ``date-time-rfc-2822`` are checked; other formats are annotations. No strictness is
  added: ``additionalProperties`` stays whatever the spec says.

The specs are vendored in ``tests/specs`` (trimmed by ``tests/specs/trim.py`` to the paths the
simulators serve, with the providers' MIT license files); nothing else is read, so a fresh
clone validates everything and a missing file fails the test instead of skipping it.

Known disagreements between a spec and the providers' live behaviour are patched in
``openapi_rules.SPEC_PATCHES`` (each with its reason), so the sandbox can follow the fact
sheets; ``validate_request_body`` checks a JSON request body (e.g. the webhooks Meta sends,
``POST /whatsapp/webhooks``) against its operation's request schema.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from tests.sandbox.openapi_rules import ERROR_ENVELOPES, FORMATS, SPEC_PATCHES

SPECS_DIR = Path(__file__).resolve().parents[1] / "specs"

# spec name -> file name glob (the Meta file carries its Graph version in its name)
SPEC_FILES = {
    "meta": "meta_business-messaging-api_v*.json",
    "twilio_api_v2010": "twilio_api_v2010.json",
    "twilio_messaging_v1": "twilio_messaging_v1.json",
    "twilio_messaging_v2": "twilio_messaging_v2.json",
    "twilio_trusthub_v1": "twilio_trusthub_v1.json",
    "twilio_events_v1": "twilio_events_v1.json",
    "twilio_content_v1": "twilio_content_v1.json",
    "twilio_numbers_v2": "twilio_numbers_v2.json",
}

# (provider, path prefix under the provider, spec name, prefix to strip before matching)
ROUTES = (
    ("meta", "/graph/", "meta", "/graph"),
    ("twilio", "/api/2010-04-01/", "twilio_api_v2010", "/api"),
    ("twilio", "/messaging/v1/", "twilio_messaging_v1", "/messaging"),
    ("twilio", "/messaging/v2/", "twilio_messaging_v2", "/messaging"),
    ("twilio", "/trusthub/v1/", "twilio_trusthub_v1", "/trusthub"),
    ("twilio", "/events/v1/", "twilio_events_v1", "/events"),
    ("twilio", "/content/v1/", "twilio_content_v1", "/content"),
    ("twilio", "/numbers/v2/", "twilio_numbers_v2", "/numbers"),
    # numbers-upload.twilio.com: CreateSupportingDocument with the file (multipart)
    ("twilio", "/numbers-upload/v2/", "twilio_numbers_v2", "/numbers-upload"),
)


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_META_ID_PARAM = re.compile(r"(?i)(^|[-_])id$")
_NUMERIC = re.compile(r"^[0-9]+$")
# WhatsApp group ids are opaque base64-ish strings (the spec's webhook examples), not numbers
_META_GROUP_ID = re.compile(r"^[A-Za-z0-9+/=]{16,}$")
_MAX_ERRORS = 5

Hints = Mapping[str, str] | Callable[[str], str | None] | None


class SpecsMissing(LookupError):
    """The vendored specs directory (or one spec file) is absent."""


# -- the specs --------------------------------------------------------------------------------
def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _resolve_local(doc: dict, node: Any, pointer: str) -> tuple[Any, str]:
    """Follow local ``$ref`` chains (for parameter and response objects)."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            break
        seen.add(ref)
        pointer = ref[1:]
        node = doc
        for token in pointer[1:].split("/"):
            node = node[unquote(token).replace("~1", "/").replace("~0", "~")]
    return node, pointer


def _allow_null(doc: Any) -> None:
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema that accepts ``null`` (in place)."""
    if isinstance(doc, list):
        for item in doc:
            _allow_null(item)
        return
    if not isinstance(doc, dict):
        return
    for value in doc.values():
        _allow_null(value)
    if doc.get("nullable") is not True:
        return
    del doc["nullable"]
    if isinstance(doc.get("type"), str):
        doc["type"] = [doc["type"], "null"]
    if isinstance(doc.get("enum"), list) and None not in doc["enum"]:
        doc["enum"] = [*doc["enum"], None]
    if "type" not in doc and "enum" not in doc:
        # $ref or a combinator: 3.0 ignores $ref siblings, but "nullable" beside one is
        # the author's intent to allow null, so honour it rather than reject null.
        inner = {k: doc.pop(k) for k in list(doc) if k in ("$ref", "allOf", "oneOf", "anyOf")}
        if inner:
            doc["anyOf"] = [inner, {"type": "null"}]


@dataclass
class Operation:
    """One method on one path template of a spec."""

    spec: str
    method: str
    template: str
    pointer: str  # JSON pointer of the operation object in the spec
    segments: tuple[str | re.Pattern[str], ...]
    names: tuple[tuple[str, ...], ...]  # parameter names per segment
    params: dict[str, dict]  # path parameter name -> schema
    responses: dict[str, Any]
    request_body: Any
    literal_count: int

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, segments: list[str]) -> dict[str, str] | None:
        values: dict[str, str] = {}
        for want, names, got in zip(self.segments, self.names, segments, strict=True):
            if isinstance(want, str):
                if want != got:
                    return None
                continue
            found = want.fullmatch(got)
            if found is None:
                return None
            values.update(zip(names, found.groups(), strict=True))
        return values


def _compile_segment(segment: str) -> tuple[str | re.Pattern[str], tuple[str, ...]]:
    names = tuple(re.findall(r"\{([^}]+)\}", segment))
    if not names:
        return segment, ()
    parts = re.split(r"\{[^}]+\}", segment)
    regex = "(.+?)".join(re.escape(p) for p in parts)
    return re.compile(regex), names


class Spec:
    """A loaded OpenAPI document: its operations and cached response validators."""

    def __init__(self, name: str, doc: dict) -> None:
        self.name = name
        self.doc = doc
        self.openapi = str(doc.get("openapi", ""))
        self.uri = f"urn:sandbox-openapi:{name}"
        # 3.1 has no "nullable", but Meta's document still uses it (once, on a phone
        # number's username, with null meant): honour it in both versions.
        self._schema_doc = copy.deepcopy(doc)
        _allow_null(self._schema_doc)
        if self.openapi.startswith("3.0"):
            self._validator_cls: type = jsonschema.Draft4Validator
            specification = DRAFT4
        else:
            self._validator_cls = jsonschema.Draft202012Validator
            specification = DRAFT202012
        resource = Resource(contents=self._schema_doc, specification=specification)
        self._registry = Registry().with_resource(self.uri, resource)
        self._validators: dict[str, Any] = {}
        self.operations = list(self._operations())
        self._by_shape: dict[tuple[str, int], list[Operation]] = {}
        for op in self.operations:
            self._by_shape.setdefault((op.method, len(op.segments)), []).append(op)

    def __repr__(self) -> str:
        return f"<Spec {self.name} (OpenAPI {self.openapi}, {len(self.operations)} operations)>"

    def _operations(self) -> Iterable[Operation]:
        for template, item in self.doc.get("paths", {}).items():
            item_pointer = f"/paths/{_escape(template)}"
            shared = self._path_params(item.get("parameters", []))
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                params = shared | self._path_params(op.get("parameters", []))
                compiled = [_compile_segment(s) for s in template.split("/")[1:]]
                yield Operation(
                    spec=self.name,
                    method=method.upper(),
                    template=template,
                    pointer=f"{item_pointer}/{method}",
                    segments=tuple(c[0] for c in compiled),
                    names=tuple(c[1] for c in compiled),
                    params=params,
                    # YAML reads an unquoted 200 as an int: response keys are strings here
                    responses={str(k): v for k, v in (op.get("responses") or {}).items()},
                    request_body=op.get("requestBody"),
                    literal_count=sum(isinstance(c[0], str) for c in compiled),
                )

    def _path_params(self, parameters: list) -> dict[str, dict]:
        found = {}
        for raw in parameters:
            param, _ = _resolve_local(self.doc, raw, "")
            if isinstance(param, dict) and param.get("in") == "path":
                found[param["name"]] = param.get("schema") or {}
        return found

    # -- matching ---------------------------------------------------------------------------
    def candidates(self, method: str, path: str, hints: Hints = None) -> list[Operation]:
        """The operations ``method path`` may be for, best first (see the module doc)."""
        path = path.split("?", 1)[0].split("#", 1)[0]
        if len(path) > 1:
            path = path.rstrip("/")
        segments = [unquote(s) for s in path.split("/")[1:]]
        hint = _hint_function(hints)
        plain, hinted = [], []
        for op in self._by_shape.get((method.upper(), len(segments)), []):
            if self.name == "meta" and not op.template.startswith("/{Version}/"):
                continue  # e.g. /whatsapp/webhooks: sent by Meta, not served by Graph
            values = op.match(segments)
            if values is None:
                continue
            consistent = True
            acceptable = True
            for name, value in values.items():
                named = hint(value)
                if named is not None and named != name:
                    consistent = False
                if not self._param_ok(name, value, op.params.get(name, {}), named == name):
                    acceptable = False
            if acceptable:
                plain.append(op)
                if consistent:
                    hinted.append(op)
        pool = hinted or plain
        if not pool:
            return []
        best = max(op.literal_count for op in pool)
        return [op for op in pool if op.literal_count == best]

    def _param_ok(self, name: str, value: str, schema: dict, hinted: bool) -> bool:
        if not value:
            return False
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, value):
            return False
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get(
            "maxLength", len(value)
        ):
            return False
        if self.name == "meta" and not hinted and pattern is None:
            if name == "Version":
                return re.fullmatch(r"v[0-9]+\.[0-9]+", value) is not None
            if name == "group_id":
                return _META_GROUP_ID.match(value) is not None
            if _META_ID_PARAM.search(name):
                return _NUMERIC.match(value) is not None
            if name == "Media-URL":
                return value.startswith(("http://", "https://"))
        return True

    # -- validation -------------------------------------------------------------------------
    def check(self, op: Operation, status: int, content_type: str, body: bytes) -> list[str]:
        """Reasons the response does not conform (empty when it does).

        Raises ``LookupError`` when ``status`` is an error status the operation does not
        document (nothing to check against).
        """
        status_key = next(
            (
                k
                for k in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default")
                if k in op.responses
            ),
            None,
        )
        if status_key is None:
            if status < 400:
                return [f"status {status} is not documented (documented: {sorted(op.responses)})"]
            return self._check_error_envelope(op, status, content_type, body)
        response, pointer = _resolve_local(
            self.doc, op.responses[status_key], f"{op.pointer}/responses/{_escape(status_key)}"
        )
        content = (response or {}).get("content") or {}
        if not content:
            if status == 204 and body.strip():
                return [f"a 204 must have an empty body, got {len(body)} bytes"]
            return []
        return self._check_content(content, pointer, content_type, body)

    def _check_error_envelope(
        self, op: Operation, status: int, content_type: str, body: bytes
    ) -> list[str]:
        envelope = ERROR_ENVELOPES.get(self.name)
        if envelope is None:
            raise LookupError(f"{status} not documented for {op.key}")
        if _pick_media({"application/json": {}}, content_type) is None:
            return [f"content type {content_type!r} is not JSON (error envelope)"]
        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [f"body is not JSON ({exc}): {body[:200]!r}"]
        if isinstance(envelope, str):  # a schema of the spec itself
            return _errors(self.validator(envelope), instance)
        key = f"error-envelope:{self.name}"
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft4Validator(envelope)
        return _errors(self._validators[key], instance)

    def check_request(self, op: Operation, content_type: str, body: bytes) -> list[str]:
        """Reasons a request body does not conform to ``op``'s request body (empty if it does)."""
        request, pointer = (
            _resolve_local(self.doc, op.request_body, f"{op.pointer}/requestBody")
            if op.request_body is not None
            else ({}, "")
        )
        content = (request or {}).get("content") or {}
        if not content:
            return [] if not body else [f"{op.key} documents no request body"]
        return self._check_content(content, pointer, content_type, body)

    def _check_content(
        self, content: dict, pointer: str, content_type: str, body: bytes
    ) -> list[str]:
        media = _pick_media(content, content_type)
        if not body:
            return [f"empty body, but the spec documents {sorted(content)}"]
        if media is None:
            return [f"content type {content_type!r} is not documented ({sorted(content)})"]
        if not _is_json(media):
            return []
        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [f"body is not JSON ({exc}): {body[:200]!r}"]
        if not isinstance(content[media], dict) or content[media].get("schema") is None:
            return []
        return _errors(self.validator(f"{pointer}/content/{_escape(media)}/schema"), instance)

    def validator(self, pointer: str) -> Any:
        """A jsonschema validator for the schema at ``pointer`` (cached)."""
        validator = self._validators.get(pointer)
        if validator is None:
            ref = f"{self.uri}#{quote(pointer, safe='/~')}"
            validator = self._validator_cls(
                {"$ref": ref}, registry=self._registry, format_checker=FORMATS
            )
            self._validators[pointer] = validator
        return validator


def _hint_function(hints: Hints) -> Callable[[str], str | None]:
    if hints is None:
        return lambda _value: None
    if callable(hints):
        return hints
    return hints.get


def _pick_media(content: dict, content_type: str) -> str | None:
    wanted = content_type.split(";", 1)[0].strip().lower()
    by_lower = {k.lower(): k for k in content}
    major = wanted.split("/", 1)[0]
    for option in (wanted, f"{major}/*", "*/*"):
        if option in by_lower:
            return by_lower[option]
    return None


def _is_json(media: str) -> bool:
    media = media.lower()
    return media in ("application/json", "*/*", "application/*") or media.endswith("+json")


def _errors(validator: Any, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=jsonschema.exceptions.relevance)
    return [_describe(e) for e in errors[:_MAX_ERRORS]] + (
        [f"... and {len(errors) - _MAX_ERRORS} more"] if len(errors) > _MAX_ERRORS else []
    )


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/" + "/".join(_escape(str(p)) for p in error.absolute_path)
    keyword = error.validator
    if keyword in ("oneOf", "anyOf"):
        # the default message repeats the whole instance; name the closest branch instead
        if error.context:
            best = jsonschema.exceptions.best_match(error.context)
            inner = "/" + "/".join(_escape(str(p)) for p in best.absolute_path)
            message = f"no {keyword} branch matches [closest: at {inner}: {_clip(best.message)}]"
        else:
            message = "more than one oneOf branch matches"
    else:
        message = _clip(error.message)
    return f"at {where}: {message} ({keyword})"


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@functools.cache
def _load_doc(name: str) -> dict:
    if name not in SPEC_FILES:
        raise KeyError(f"unknown spec {name!r}; known: {sorted(SPEC_FILES)}")
    if not SPECS_DIR.is_dir():
        raise SpecsMissing(f"the provider specs directory {SPECS_DIR} is absent")
    matches = sorted(SPECS_DIR.glob(SPEC_FILES[name]))
    if not matches:
        raise SpecsMissing(f"no {SPEC_FILES[name]} in {SPECS_DIR}")
    path = matches[-1]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        doc = json.loads(text)
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(text, Loader=loader)
    for pointer, patch, _reason in SPEC_PATCHES.get(name, []):
        parent, _ = _resolve_local(doc, {"$ref": "#" + pointer.rsplit("/", 1)[0]}, "")
        last = pointer.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
        parent[last] = patch(parent[last])
    return doc


@functools.cache
def _load_spec(name: str) -> Spec:
    return Spec(name, _load_doc(name))


def load_spec(name: str) -> Spec:
    """The parsed spec ``name`` (one of ``SPEC_FILES``), loaded once per process.

    ``Spec.doc`` is the raw document. A missing vendored file raises :class:`SpecsMissing`
    (the suite carries its specs: nothing is skipped).
    """
    return _load_spec(name)


def route(exchange: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(spec name, path to match)`` for an exchange, or None when no spec covers it."""
    path = str(exchange.get("path", ""))
    provider = exchange.get("provider")
    for prov, prefix, spec, strip in ROUTES:
        if provider == prov and path.startswith(prefix):
            return spec, path[len(strip) :]
    return None


def validate_exchange(exchange: Mapping[str, Any], hints: Hints = None) -> str | None:
    """Validate one recorded exchange; return the operation key it validated against.

    None when the exchange is for no operation of the specs (another provider, an endpoint
    or method the spec lacks). Raises
    ``AssertionError`` naming the operation, status, JSON pointer and reason otherwise.
    """
    routed = route(exchange)
    if routed is None:
        return None
    spec = load_spec(routed[0])
    method = str(exchange.get("method", "GET")).upper()
    candidates = spec.candidates(method, routed[1], hints)
    status = int(exchange.get("status", 0))
    body = exchange.get("body") or b""
    if isinstance(body, str):
        body = body.encode()
    content_type = str(exchange.get("content_type") or "")
    failures: list[tuple[Operation, list[str]]] = []
    for op in candidates:
        try:
            reasons = spec.check(op, status, content_type, body)
        except LookupError:
            continue
        if not reasons:
            return op.key
        failures.append((op, reasons))
    if not failures:
        return None
    head = f"{exchange.get('provider')} {method} {exchange.get('path')} -> {status}"
    lines = [head + (" matches none of its candidate operations" if len(failures) > 1 else "")]
    for op, reasons in failures:
        lines.append(f"  against {spec.name} {op.key} response {status}:")
        lines.extend(f"    {reason}" for reason in reasons)
    raise AssertionError("\n".join(lines))


def validate_request_body(
    spec_name: str, key: str, body: bytes | str | Any, content_type: str = "application/json"
) -> None:
    """Validate a request body against operation ``key`` (e.g. ``"POST /whatsapp/webhooks"``).

    ``body`` may be bytes, text or an already-decoded JSON value. Raises ``AssertionError``
    with the reasons, ``KeyError`` when the spec has no such operation. Meta's webhook
    schema covers the ``messages`` and group fields only (no ``account_update`` & co.).
    """
    spec = load_spec(spec_name)
    matches = [op for op in spec.operations if op.key == key]
    if not matches:
        raise KeyError(f"no operation {key!r} in {spec_name}")
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    reasons = spec.check_request(matches[0], content_type, body)
    if reasons:
        lines = [f"request body for {spec_name} {key} does not conform:"]
        raise AssertionError("\n".join(lines + [f"    {r}" for r in reasons]))


def assert_conforms(exchanges: Iterable[Mapping[str, Any]], hints: Hints = None) -> set[str]:
    """Validate every exchange; fail once listing all failures. Returns the covered keys."""
    covered: set[str] = set()
    failures: list[str] = []
    for index, exchange in enumerate(exchanges):
        try:
            key = validate_exchange(exchange, hints)
        except AssertionError as exc:
            failures.append(f"[{index}] {exc}")
            continue
        if key is not None:
            covered.add(key)
    if failures:
        raise AssertionError(
            f"{len(failures)} response(s) do not conform to the OpenAPI specs:\n"
            + "\n".join(failures)
        )
    return covered


__all__ = [
    "SPECS_DIR",
    "SPEC_FILES",
    "SPEC_PATCHES",
    "Operation",
    "Spec",
    "SpecsMissing",
    "assert_conforms",
    "load_spec",
    "route",
    "validate_exchange",
    "validate_request_body",
]
