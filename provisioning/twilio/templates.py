"""Twilio's WhatsApp templates: Content API items with a WhatsApp approval request, one
subaccount at a time, read into and written from the platform's (Meta's) vocabulary.

A Content item holds one or more content types (``twilio/text``, ``twilio/media``,
``twilio/quick-reply``, ``twilio/call-to-action``, ``twilio/card``, ``whatsapp/card``,
``whatsapp/authentication``...); WhatsApp reviews the one its approval request names
(``content_type``). Placeholders stay as Twilio writes them (``{{1}}``): Twilio numbers
variables across the whole item, and its ``variables`` hold their samples, which become
Meta's ``example`` values. Approval statuses are Twilio's lowercase words ("Message
template approvals and statuses", twilio.com/docs/whatsapp/tutorial/...): received and
pending are PENDING, unsubmitted is DRAFT.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import Rejected
from ..templates.core import Listing, Malformed, RemoteTemplate
from .api import TwilioApi

STATUSES = {
    "unsubmitted": "DRAFT",
    "received": "PENDING",
    "pending": "PENDING",
    "approved": "APPROVED",
    "rejected": "REJECTED",
    "paused": "PAUSED",
    "disabled": "DISABLED",
}
# Meta's categories before its 2023 migration still show on old items (the spec's own
# example says TRANSACTIONAL): each as the category Meta moved it to.
LEGACY_UTILITY = (
    "TRANSACTIONAL", "ACCOUNT_UPDATE", "ALERT_UPDATE", "APPOINTMENT_UPDATE", "AUTO_REPLY",
    "ISSUE_RESOLUTION", "PAYMENT_UPDATE", "PERSONAL_FINANCE_UPDATE", "RESERVATION_UPDATE",
    "SHIPPING_UPDATE", "TICKET_UPDATE", "TRANSPORTATION_UPDATE",
)  # fmt: skip
CATEGORIES = {
    "MARKETING": "MARKETING",
    "UTILITY": "UTILITY",
    "AUTHENTICATION": "AUTHENTICATION",
    "OTP": "AUTHENTICATION",
    **dict.fromkeys(LEGACY_UTILITY, "UTILITY"),
}
# What WhatsApp is shown when an item holds several types and its approval names none.
RICHEST_FIRST = (
    "whatsapp/authentication",
    "whatsapp/card",
    "twilio/card",
    "twilio/call-to-action",
    "twilio/quick-reply",
    "twilio/media",
    "twilio/text",
)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
REASON_CODE = re.compile(r"^[A-Z][A-Z_]{2,}\b")
REASON_MAX = 60  # message_templates.rejected_reason
UNSUBMITTED = (None, "", "unsubmitted")
Spec = dict[str, Any]  # one content type's fields, or one Meta component
Samples = dict[str, str]  # Twilio's variables: placeholder -> sample


# -- reading: a ContentAndApprovals item -> RemoteTemplate ---------------------------------
def parse(raw: dict[str, Any]) -> RemoteTemplate:
    """One ``ContentAndApprovals`` item (wire JSON) as a template in Meta's vocabulary;
    :class:`Malformed` says why when it cannot be read."""
    if not isinstance(raw, dict):
        raise Malformed("a content item is a JSON object")
    sid = _text(raw, "sid")
    if not sid.startswith("HX"):
        raise Malformed(f"{sid!r} is not a content SID")
    language = _text(raw, "language")
    approval = _approval(raw.get("approval_requests"))
    name = approval.get("name") or raw.get("friendly_name")
    if not isinstance(name, str) or not name:
        raise Malformed("the content has neither a WhatsApp name nor a friendly_name")
    status = _status(approval.get("status"))
    types = raw.get("types")
    if not isinstance(types, dict) or not types:
        raise Malformed("the content has no content types")
    variables = raw.get("variables") or {}
    if not isinstance(variables, dict):
        raise Malformed("variables is not an object")
    kind = _reviewed_type(types, approval.get("content_type"))
    samples = {str(k): str(v) for k, v in variables.items()}
    components = components_of(kind, types[kind], samples)
    return RemoteTemplate(
        provider_template_id=sid,
        name=name,
        language=language,
        category=_category(approval.get("category"), kind),
        status=status,
        components=components,
        parameter_format=_parameter_format(components),
        rejected_reason=_reason(approval.get("rejection_reason")) if status == "REJECTED" else None,
    )


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"the content has no {key}")
    return value


def _approval(value: Any) -> dict[str, Any]:
    """The WhatsApp approval: flat (ContentAndApprovals) or under ``whatsapp`` (a fetch)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed("approval_requests is not an object")
    whatsapp = value.get("whatsapp")
    return whatsapp if isinstance(whatsapp, dict) else value


def _status(value: Any) -> str:
    word = str(value or "unsubmitted").lower()
    if word not in STATUSES:
        raise Malformed(f"unknown approval status {value!r}")
    return STATUSES[word]


def _category(value: Any, kind: str) -> str:
    if not value:  # never submitted: what WhatsApp would be asked for
        return "AUTHENTICATION" if kind == "whatsapp/authentication" else "UTILITY"
    category = CATEGORIES.get(str(value).upper())
    if category is None:
        raise Malformed(f"unknown template category {value!r}")
    return category


def _reason(value: Any) -> str | None:
    """Twilio's rejection reason: Meta's code when it leads the text (``INVALID_FORMAT.
    Facebook is not able to...``), else the text, cut to what the row holds."""
    text = str(value or "").strip()
    if not text:
        return None
    code = REASON_CODE.match(text)
    return code.group(0) if code else text[:REASON_MAX]


def _reviewed_type(types: dict[str, Any], named: Any) -> str:
    if isinstance(named, str) and named in types:
        return named
    return next((t for t in RICHEST_FIRST if t in types), sorted(types)[0])


def components_of(kind: str, spec: Any, variables: dict[str, str]) -> list[dict[str, Any]]:
    """Meta's components (HEADER, BODY, FOOTER, BUTTONS) of one content type."""
    if not isinstance(spec, dict):
        raise Malformed(f"{kind} is not an object")
    build = READERS.get(kind)
    if build is None:
        return [_body(_other_text(kind, spec), variables)]
    return [c for c in build(spec, variables) if c]


def _need(spec: dict[str, Any], key: str, kind: str) -> Any:
    value = spec.get(key)
    if value in (None, "", []):
        raise Malformed(f"{kind} has no {key}")
    return value


def _other_text(kind: str, spec: dict[str, Any]) -> str:
    """A type this platform does not model (list pickers, carousels, flows...): its text."""
    text = spec.get("body") or spec.get("title")
    if not isinstance(text, str) or not text:
        raise Malformed(f"{kind} has no text this platform can show")
    return text


def _read_text(spec: Spec, variables: Samples) -> list[Any]:
    return [_body(_need(spec, "body", "twilio/text"), variables)]


def _read_media(spec: Spec, variables: Samples) -> list[Any]:
    media = _need(spec, "media", "twilio/media")
    return [_media_header(media, variables, "twilio/media"), _optional_body(spec, variables)]


def _read_quick_reply(spec: Spec, variables: Samples) -> list[Any]:
    body = _body(_need(spec, "body", "twilio/quick-reply"), variables)
    return [body, _buttons(_need(spec, "actions", "twilio/quick-reply"), variables, "QUICK_REPLY")]


def _read_call_to_action(spec: Spec, variables: Samples) -> list[Any]:
    body = _body(_need(spec, "body", "twilio/call-to-action"), variables)
    return [body, _buttons(_need(spec, "actions", "twilio/call-to-action"), variables, "URL")]


def _read_twilio_card(spec: Spec, variables: Samples) -> list[Any]:
    """twilio/card: the title is the message, the subtitle its footer."""
    title = _need(spec, "title", "twilio/card")
    header = _media_header(spec["media"], variables, "twilio/card") if spec.get("media") else None
    return [
        header,
        _body(title, variables),
        _footer(spec.get("subtitle")),
        _buttons(spec.get("actions") or [], variables, "QUICK_REPLY"),
    ]


def _read_whatsapp_card(spec: Spec, variables: Samples) -> list[Any]:
    if spec.get("media"):
        header = _media_header(spec["media"], variables, "whatsapp/card")
    elif spec.get("header_text"):
        header = _text_header(str(spec["header_text"]), variables)
    else:
        header = None
    return [
        header,
        _body(_need(spec, "body", "whatsapp/card"), variables),
        _footer(spec.get("footer")),
        _buttons(spec.get("actions") or [], variables, "QUICK_REPLY"),
    ]


def _read_authentication(spec: Spec, _variables: Samples) -> list[Any]:
    actions = _need(spec, "actions", "whatsapp/authentication")
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise Malformed("whatsapp/authentication actions is not a list of objects")
    copy = next((a for a in actions if str(a.get("type", "")).upper() == "COPY_CODE"), None)
    if copy is None or not copy.get("copy_code_text"):
        raise Malformed("whatsapp/authentication has no COPY_CODE action with its text")
    body: dict[str, Any] = {"type": "BODY"}
    if "add_security_recommendation" in spec:
        body["add_security_recommendation"] = bool(spec["add_security_recommendation"])
    footer = None
    if spec.get("code_expiration_minutes") is not None:
        footer = {"type": "FOOTER", "code_expiration_minutes": spec["code_expiration_minutes"]}
    button = {"type": "OTP", "otp_type": "COPY_CODE", "text": str(copy["copy_code_text"])}
    return [body, footer, {"type": "BUTTONS", "buttons": [button]}]


READERS: dict[str, Callable[[Spec, Samples], list[Any]]] = {
    "twilio/text": _read_text,
    "twilio/media": _read_media,
    "twilio/quick-reply": _read_quick_reply,
    "twilio/call-to-action": _read_call_to_action,
    "twilio/card": _read_twilio_card,
    "whatsapp/card": _read_whatsapp_card,
    "whatsapp/authentication": _read_authentication,
}


def _body(text: Any, variables: dict[str, str]) -> dict[str, Any]:
    if not isinstance(text, str):
        raise Malformed("a message text is not a string")
    return {"type": "BODY", "text": text, **_example(text, variables, "body_text")}


def _optional_body(spec: dict[str, Any], variables: dict[str, str]) -> dict[str, Any] | None:
    return _body(spec["body"], variables) if spec.get("body") else None


def _footer(text: Any) -> dict[str, Any] | None:
    return {"type": "FOOTER", "text": str(text)} if text else None


def _text_header(text: str, variables: dict[str, str]) -> dict[str, Any]:
    example = _example(text, variables, "header_text")
    return {"type": "HEADER", "format": "TEXT", "text": text, **example}


def _media_header(media: Any, variables: dict[str, str], kind: str) -> dict[str, Any]:
    if not isinstance(media, list) or not media or not isinstance(media[0], str):
        raise Malformed(f"{kind} media is not a list of URLs")
    url = _fill(media[0], variables)
    return {"type": "HEADER", "format": media_format(url), "example": {"header_handle": [url]}}


def media_format(url: str) -> str:
    """IMAGE, VIDEO or DOCUMENT, as WhatsApp classifies a sample by its file type."""
    guessed = mimetypes.guess_type(urlsplit(url).path)[0] or ""
    if guessed.startswith("image/"):
        return "IMAGE"
    if guessed.startswith("video/"):
        return "VIDEO"
    return "DOCUMENT"


def _buttons(actions: Any, variables: dict[str, str], default: str) -> dict[str, Any] | None:
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise Malformed("actions is not a list of objects")
    if not actions:
        return None
    return {"type": "BUTTONS", "buttons": [_button(a, variables, default) for a in actions]}


def _button(action: dict[str, Any], variables: dict[str, str], default: str) -> dict[str, Any]:
    kind = str(action.get("type") or default).upper()
    title = action.get("title")
    if kind == "COPY_CODE":
        return {"type": "COPY_CODE", "example": str(action.get("code") or "")}
    if not isinstance(title, str) or not title:
        raise Malformed(f"a {kind} button has no title")
    if kind == "URL":
        url = action.get("url")
        if not isinstance(url, str) or not url:
            raise Malformed(f"the URL button {title!r} has no url")
        button: dict[str, Any] = {"type": "URL", "text": title, "url": url}
        if PLACEHOLDER.search(url) and _has_samples(url, variables):
            button["example"] = [_fill(url, variables)]
        return button
    if kind == "PHONE_NUMBER":
        if not action.get("phone"):
            raise Malformed(f"the phone button {title!r} has no phone")
        return {"type": "PHONE_NUMBER", "text": title, "phone_number": str(action["phone"])}
    return {"type": kind, "text": title}


def _keys(text: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def _has_samples(text: str, variables: dict[str, str]) -> bool:
    return all(key in variables for key in _keys(text))


def _fill(text: str, variables: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _example(text: str, variables: dict[str, str], field: str) -> dict[str, Any]:
    """Meta's ``example`` of a text's placeholders, from the item's variables."""
    keys = _keys(text)
    if not keys or not _has_samples(text, variables):
        return {}
    if all(k.isdigit() for k in keys):
        samples = [variables[k] for k in sorted(keys, key=int)]
        return {"example": {field: [samples] if field == "body_text" else samples}}
    named = [{"param_name": k, "example": variables[k]} for k in keys]
    return {"example": {f"{field}_named_params": named}}


def _parameter_format(components: list[dict[str, Any]]) -> str:
    texts = [c.get("text") or "" for c in components]
    texts += [b.get("url") or "" for c in components for b in c.get("buttons", [])]
    keys = [k for text in texts for k in PLACEHOLDER.findall(text)]
    return "NAMED" if any(not k.isdigit() for k in keys) else "POSITIONAL"


# -- listing -------------------------------------------------------------------------------
def list_templates(api: TwilioApi, *, page_size: int = 500) -> Listing:
    """Every WhatsApp template of the account, every page read; an item that cannot be
    read is kept in ``skipped`` and the others still come."""
    listing = Listing()
    for page in api.content_pages(page_size):
        for raw in page:
            listing.add(raw, parse)
    return listing


# -- writing: Meta's draft -> Content types, variables -------------------------------------
def submit(api: TwilioApi, payload: dict[str, Any], *, resume: bool = False) -> RemoteTemplate:
    """Create the Content item of a draft (``name``, ``language``, ``category``,
    ``components``) and submit it to WhatsApp; the template as Twilio answered.

    Nothing is recorded here: the caller records its intent. The item is named after the
    template (friendly_name = name), so a create whose answer was lost is found again by
    name and language instead of made twice; the approval request likewise. ``resume``
    looks for an item an earlier attempt made before creating one (then only its
    approval is asked for, when it never was). When WhatsApp's request is refused, the
    item is deleted again and the refusal raised.
    """
    name, language, category = payload["name"], payload["language"], payload["category"]
    types, variables = content_of(payload)
    creation = api.content(name, language, types, variables)
    content = (creation.looked_up() if resume else None) or creation.run()
    approval = _approval(content.get("approval_requests"))
    if approval.get("status") in UNSUBMITTED:
        try:
            approval = api.whatsapp_approval(content["sid"], name, category).run()
        except Rejected:
            api.delete_content(content["sid"])  # refused: no half-made template stays
            raise
    return parse({**content, "approval_requests": approval})


def content_of(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The Content ``types`` and ``variables`` (placeholder samples) of a Meta draft."""
    parts = _parts(payload.get("components"))
    if payload.get("category") == "AUTHENTICATION":
        return {"whatsapp/authentication": _authentication(parts)}, {}
    body = (parts.get("BODY") or {}).get("text")
    if not isinstance(body, str) or not body:
        raise Malformed("the template has no body text")
    header, footer = parts.get("HEADER"), (parts.get("FOOTER") or {}).get("text")
    buttons = (parts.get("BUTTONS") or {}).get("buttons") or []
    media = _header_media(header)
    kinds = {str(b.get("type", "")).upper() for b in buttons}
    if header is None and not footer:
        if not buttons:
            types: dict[str, Any] = {"twilio/text": {"body": body}}
        elif kinds == {"QUICK_REPLY"}:
            actions = [_action(b) for b in buttons]
            types = {"twilio/quick-reply": {"body": body, "actions": actions}}
        elif "QUICK_REPLY" not in kinds:
            actions = [_action(b) for b in buttons]
            types = {"twilio/call-to-action": {"body": body, "actions": actions}}
        else:
            types = {"whatsapp/card": _card(body, header, media, footer, buttons)}
    elif media and not footer and not buttons:
        types = {"twilio/media": {"body": body, "media": [media]}}
    else:
        types = {"whatsapp/card": _card(body, header, media, footer, buttons)}
    return types, _samples(parts)


def _parts(components: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise Malformed("components is not a list of objects")
    return {str(c.get("type", "")).upper(): c for c in components}


def _header_media(header: dict[str, Any] | None) -> str | None:
    if header is None or str(header.get("format", "TEXT")).upper() == "TEXT":
        return None
    if str(header["format"]).upper() not in ("IMAGE", "VIDEO", "DOCUMENT"):
        raise Malformed(f"a {header['format']} header cannot be sent through Twilio content")
    handles = (header.get("example") or {}).get("header_handle") or []
    url = handles[0] if handles else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise Malformed("a media header needs the public URL of its sample for Twilio")
    return url


def _card(
    body: str, header: Spec | None, media: str | None, footer: str | None, buttons: list[Spec]
) -> dict[str, Any]:
    card: dict[str, Any] = {"body": body}
    if media:
        card["media"] = [media]
    elif header is not None and header.get("text"):
        card["header_text"] = header["text"]
    if footer:
        card["footer"] = footer
    if buttons:
        card["actions"] = [_action(b) for b in buttons]
    return card


def _action(button: dict[str, Any]) -> dict[str, Any]:
    kind = str(button.get("type", "")).upper()
    text = button.get("text")
    match kind:
        case "QUICK_REPLY" | "VOICE_CALL":
            return {"type": kind, "title": text}
        case "URL":
            return {"type": "URL", "title": text, "url": button.get("url")}
        case "PHONE_NUMBER":
            return {"type": "PHONE_NUMBER", "title": text, "phone": button.get("phone_number")}
        case "COPY_CODE":
            return {
                "type": "COPY_CODE",
                "title": text or "Copy code",
                "code": button.get("example"),
            }
    raise Malformed(f"{kind or 'untyped'} buttons cannot be sent through Twilio content")


def _authentication(parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    buttons = (parts.get("BUTTONS") or {}).get("buttons") or []
    otp: dict[str, Any] = next((b for b in buttons if str(b.get("type", "")).upper() == "OTP"), {})
    spec: dict[str, Any] = {
        "actions": [{"type": "COPY_CODE", "copy_code_text": otp.get("text") or "Copy code"}]
    }
    body, footer = parts.get("BODY") or {}, parts.get("FOOTER") or {}
    if "add_security_recommendation" in body:
        spec["add_security_recommendation"] = bool(body["add_security_recommendation"])
    if footer.get("code_expiration_minutes") is not None:
        spec["code_expiration_minutes"] = footer["code_expiration_minutes"]
    return spec


def _samples(parts: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Twilio's ``variables``: each placeholder's sample from Meta's examples. Twilio
    numbers placeholders across the item, so where the header or a button uses a number
    the body uses too, they are one variable and the body's sample is kept."""
    variables: dict[str, str] = {}
    body = parts.get("BODY") or {}
    _take(variables, body.get("text") or "", body.get("example") or {}, "body_text")
    header = parts.get("HEADER") or {}
    if str(header.get("format", "")).upper() == "TEXT":
        _take(variables, header.get("text") or "", header.get("example") or {}, "header_text")
    for button in (parts.get("BUTTONS") or {}).get("buttons") or []:
        url, example = button.get("url"), button.get("example")
        if isinstance(url, str) and isinstance(example, list) and example:
            match = PLACEHOLDER.search(url)
            if match:
                prefix, suffix = url[: match.start()], url[match.end() :]
                sample = str(example[0]).removeprefix(prefix)
                sample = sample[: len(sample) - len(suffix)] if suffix else sample
                variables.setdefault(match.group(1), sample)
    return variables


def _take(variables: dict[str, str], text: str, example: dict[str, Any], field: str) -> None:
    keys = _keys(text)
    positional = example.get(field) or []
    if positional and field == "body_text":
        positional = positional[0] or []
    numbered = sorted((k for k in keys if k.isdigit()), key=int)
    for key, value in zip(numbered, positional, strict=False):
        variables.setdefault(key, str(value))
    for param in example.get(f"{field}_named_params") or []:
        if isinstance(param, dict) and param.get("param_name"):
            variables.setdefault(str(param["param_name"]), str(param.get("example", "")))
