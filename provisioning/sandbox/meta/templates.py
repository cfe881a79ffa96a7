"""Message templates: a WABA's ``message_templates`` edge, review on the sandbox clock, and
the template webhooks (issue 16).

Shapes follow Meta's references (developers.facebook.com): the edge (graph-api/reference/
whats-app-business-account/message_templates: reading with ``fields``, ``limit`` and cursors,
creation answering ``{id, status, category}``, its error codes 100 and 80008, deletion by
``name`` and ``hsm_id``) and the webhooks (documentation/business-messaging/whatsapp/webhooks/
reference/: message_template_status_update, message_template_quality_update,
message_template_components_update, template_category_update). Limits: template names of
at most 512 lowercase letters, digits and underscores; 100 creations per WABA per hour.

Meta's Template Library is served by :mod:`.library`.

Choices of the simulator's own: a cursor names the template it stops at, so a cursor whose
template was deleted meanwhile is refused (code 100) as Graph refuses a stale one; ``name=``
matches any template whose name contains it, so a caller must not take what it gets for an
exact match; a body input that does not apply to the library item's category, and a URL
example that does not start with the button's fixed part, are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .base import MetaBase
from .errors import invalid_parameter, template_error, throttled
from .fields import select
from .graph import DEFAULT_VERSION, Call
from .library import from_library
from .paging import page_of, paging
from .state import QUALITY_RATINGS, Template, Waba

NODE_TYPE = "WhatsAppBusinessHSM"
NAME_RE = re.compile(r"^[a-z0-9_]+$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
MAX_NAME = 512
MAX_BODY = 1024
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
REJECTION_REASONS = ("ABUSIVE_CONTENT", "INCORRECT_CATEGORY", "INVALID_FORMAT", "PROMOTIONAL",
                     "SCAM", "TAG_CONTENT_MISMATCH")  # fmt: skip
TEMPLATE_QUALITY = tuple(q for q in QUALITY_RATINGS if q != "NA")
DEFAULT_FIELDS = ("name", "parameter_format", "components", "language", "status", "category",
                  "previous_category")  # fmt: skip
CREATION_WINDOW = 3600.0
RECATEGORISE_AFTER = 24 * 3600.0  # Meta applies an announced re-categorisation a day later
PAUSE_HOURS = {1: 3, 2: 6}  # a third pause disables the template
CREATION_CAP_MESSAGE = (
    "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit "
    "and try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
)


class TemplatesMixin(MetaBase):
    """The ``message_templates`` edge, the review timeline and the template webhooks."""

    # -- Graph ----------------------------------------------------------------------------
    def list_templates(self, call: Call, waba: Waba) -> dict[str, Any]:
        """``GET /{waba}/message_templates``: filtered by ``name`` (contained), ``status``,
        ``category``, ``language``; paged by ``limit`` (default 25) and cursors."""
        ids = [t for t in waba.template_ids if _matches(self.templates[t], call.params)]
        page, start, limit = page_of(ids, call.params)
        body: dict[str, Any] = {
            "data": [self.template_fields(call, self.templates[t]) for t in page]
        }
        if page:
            edge = f"{self.base_url('graph')}/{call.version or DEFAULT_VERSION}/{waba.id}"
            body["paging"] = paging(call, f"{edge}/message_templates", page, start, len(ids), limit)
        return body

    def template_fields(self, call: Call, template: Template) -> dict[str, Any]:
        """The template with the fields asked for (a malformed one is served as it is)."""
        if template.raw is not None:
            return dict(template.raw)
        node = {
            "id": template.id,
            "name": template.name,
            "language": template.language,
            "status": template.status,
            "category": template.category,
            "components": template.components,
            "parameter_format": template.parameter_format,
            "rejected_reason": template.rejected_reason,
            "quality_score": {"score": template.quality_score, "date": int(template.quality_date)},
            "previous_category": template.previous_category,
            "correct_category": template.correct_category,
            "library_template_name": template.library_template_name,
            "sub_category": None,
            "message_send_ttl_seconds": None,
        }
        return select(node, call.params.get("fields"), NODE_TYPE, DEFAULT_FIELDS, call.version)

    def create_template(self, call: Call, waba: Waba) -> dict[str, Any]:
        """``POST /{waba}/message_templates``: validated as Meta does, at most
        ``template_hourly_cap`` creations per WABA per hour (code 80008 past it), PENDING
        until reviewed."""
        now = self.clock.time()
        recent = [t for t in self.template_creations.get(waba.id, []) if t > now - CREATION_WINDOW]
        self.template_creations[waba.id] = recent
        if self.template_hourly_cap is not None and len(recent) >= self.template_hourly_cap:
            error = throttled(80008)
            error.message = CREATION_CAP_MESSAGE
            raise error
        if call.params.get("library_template_name") is not None:
            name, language = _name_and_language(call.params)
            _category(call.params)  # required as in any creation; the library item's wins
            fields = from_library(call.params, name, language)
        else:
            fields = validated(call.params)
        for other in (self.templates[t] for t in waba.template_ids):
            if (other.name, other.language) == (fields["name"], fields["language"]):
                raise template_error(
                    "Message template already exists",
                    f"There is already {fields['language']} content for the template "
                    f"{fields['name']}: create a template with another name and try again.",
                    2388024,
                )
        template = self.new_template(waba, **fields)
        recent.append(now)
        self.template_reviews[template.id] = now + self.template_review_seconds
        return {"id": template.id, "status": template.status, "category": template.category}

    def delete_templates(self, call: Call, waba: Waba) -> dict[str, Any]:
        """``DELETE /{waba}/message_templates?name=``: every language of the name, or only
        the template ``hsm_id`` names."""
        name = str(call.params.get("name") or "")
        if not name:
            raise invalid_parameter("The parameter name is required")
        hsm_id = str(call.params.get("hsm_id") or "")
        doomed = [
            t
            for t in waba.template_ids
            if self.templates[t].name == name and (not hsm_id or t == hsm_id)
        ]
        if not doomed:
            raise template_error("Message template not found", f"No template named {name}.")
        for template_id in doomed:
            waba.template_ids.remove(template_id)
            del self.templates[template_id]
            self.template_reviews.pop(template_id, None)
            self.template_recategorisations.pop(template_id, None)
        return {"success": True}

    # -- state ----------------------------------------------------------------------------
    def new_template(
        self, waba: Waba, name: str, language: str, template_id: str | None = None, **fields: Any
    ) -> Template:
        if "created" not in fields:
            fields["created"] = fields["quality_date"] = self.clock.time()
        fields.setdefault("category", "UTILITY")
        fields.setdefault("components", [])
        template = Template(
            template_id or self.sandbox.ids.digits(16), waba.id, name, language, **fields
        )
        self.templates[template.id] = template
        waba.template_ids.append(template.id)
        return template

    def find_template(
        self,
        template_id: str | None = None,
        *,
        waba_id: str | None = None,
        name: str | None = None,
        language: str | None = None,
    ) -> Template:
        """A template by id, or by WABA and name (and language, when it has several)."""
        if template_id:
            return self.templates[template_id]
        if not (waba_id and name):
            raise ValueError("give template_id, or waba_id and name")
        found = [
            self.templates[t]
            for t in self.wabas[waba_id].template_ids
            if self.templates[t].name == name
            and (language is None or self.templates[t].language == language)
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} templates named {name} ({language or 'any language'})")
        return found[0]

    # -- the review timeline --------------------------------------------------------------
    def tick_templates(self) -> None:
        """Decide every review that is due, and apply announced re-categorisations.

        Sending a webhook lets go of the sandbox lock: work from snapshots, and take each
        item out before acting on it, so a concurrent tick does not act twice."""
        now = self.clock.time()
        for at, template_id in sorted((at, t) for t, at in self.template_reviews.items()):
            if at > now:
                break
            if self.template_reviews.pop(template_id, None) is None:
                continue
            template = self.templates.get(template_id)
            if template is not None and template.status == "PENDING":
                reason = self.template_rejections.pop(template.name, None)
                self.review_template(template, "REJECTED" if reason else "APPROVED", reason)
        due = [(at, t) for t, at in self.template_recategorisations.items() if at <= now]
        for _, template_id in sorted(due):
            template = self.templates.get(template_id)
            applied = self.template_recategorisations.pop(template_id, None)
            if applied and template is not None and template.correct_category:
                self.recategorise_template(template, template.correct_category, complete=True)

    def review_template(
        self, template: Template, decision: str, reason: str | None = None
    ) -> list[dict[str, Any]]:
        """APPROVED, or REJECTED with a reason; message_template_status_update either way
        (``rejection_info`` only for INVALID_FORMAT, as Meta documents it)."""
        if decision not in ("APPROVED", "REJECTED"):
            raise ValueError("decision must be APPROVED or REJECTED")
        reason = (reason or "INVALID_FORMAT") if decision == "REJECTED" else "NONE"
        if reason not in (*REJECTION_REASONS, "NONE"):
            raise ValueError(f"reason must be one of {', '.join(REJECTION_REASONS)}")
        self.template_reviews.pop(template.id, None)
        template.status, template.rejected_reason = decision, reason
        value = self._status_value(template, decision, reason)
        if reason == "INVALID_FORMAT":
            value["rejection_info"] = {
                "reason": "The template's variables or formatting are not valid.",
                "recommendation": "Give an example for every variable and check the "
                "template's formatting, then submit it again.",
            }
        return self.emit_webhook(template.waba_id, "message_template_status_update", value)

    def set_template_quality(self, template: Template, score: str) -> list[dict[str, Any]]:
        """message_template_quality_update with the previous and the new score."""
        if score not in TEMPLATE_QUALITY:
            raise ValueError(f"score must be one of {', '.join(TEMPLATE_QUALITY)}")
        previous = template.quality_score
        template.quality_score, template.quality_date = score, self.clock.time()
        value = {
            "previous_quality_score": previous,
            "new_quality_score": score,
            **_identity(template),
        }
        return self.emit_webhook(template.waba_id, "message_template_quality_update", value)

    def pause_template(self, template: Template) -> list[dict[str, Any]]:
        """Low quality: the score turns RED, then the template is PAUSED for 3 hours (6 the
        second time; a third time disables it), ``other_info`` saying which pause it is."""
        sent = self.set_template_quality(template, "RED")
        template.pauses += 1
        hours = PAUSE_HOURS.get(template.pauses)
        if hours is None:
            return sent + self.disable_template(template)
        template.status = "PAUSED"
        value = self._status_value(template, "PAUSED", "NONE")
        value["other_info"] = {
            "title": "FIRST_PAUSE" if template.pauses == 1 else "SECOND_PAUSE",
            "description": f"The template is paused for {hours} hours because of its low "
            "quality: people blocked or reported the messages sent with it.",
        }
        return sent + self.emit_webhook(template.waba_id, "message_template_status_update", value)

    def disable_template(self, template: Template) -> list[dict[str, Any]]:
        """DISABLED for good, with ``disable_info.disable_date``."""
        template.status = "DISABLED"
        value = self._status_value(template, "DISABLED", "NONE")
        value["disable_info"] = {"disable_date": int(self.clock.time())}
        return self.emit_webhook(template.waba_id, "message_template_status_update", value)

    def recategorise_template(
        self, template: Template, category: str, *, complete: bool
    ) -> list[dict[str, Any]]:
        """template_category_update: announced (``correct_category`` the coming category,
        ``new_category`` the current one, ``category_update_timestamp`` when), or applied
        (``previous_category``, ``new_category``; the listing then shows both)."""
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        value = _identity(template)
        if complete:
            self.template_recategorisations.pop(template.id, None)
            value["previous_category"], value["new_category"] = template.category, category
            template.previous_category, template.category = template.category, category
            template.correct_category = None
        else:
            at = self.clock.time() + RECATEGORISE_AFTER
            self.template_recategorisations[template.id] = at
            template.correct_category = category
            value.update(correct_category=category, new_category=template.category,
                         category_update_timestamp=int(at))  # fmt: skip
        return self.emit_webhook(template.waba_id, "template_category_update", value)

    def update_template_components(
        self, template: Template, components: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """New content, told with message_template_components_update: the body text, the
        text header, the footer, and the URL and phone number buttons."""
        template.components = validated_components(components)
        value = _identity(template)
        value.update(components_update(template.components))
        return self.emit_webhook(template.waba_id, "message_template_components_update", value)

    def _status_value(self, template: Template, event: str, reason: str) -> dict[str, Any]:
        return {
            "event": event,
            **_identity(template),
            "reason": reason,
            "message_template_category": template.category,
        }


def validated(params: dict[str, Any]) -> dict[str, Any]:
    """The creation payload as the simulator keeps it, or Meta's refusal."""
    name, language = _name_and_language(params)
    category = _category(params)
    parameter_format = str(params.get("parameter_format") or "POSITIONAL").upper()
    if parameter_format not in PARAMETER_FORMATS:
        raise invalid_parameter("Param parameter_format must be one of {POSITIONAL, NAMED}")
    return {
        "name": name,
        "language": language,
        "category": category,
        "components": validated_components(params.get("components")),
        "parameter_format": parameter_format,
    }


def _name_and_language(params: dict[str, Any]) -> tuple[str, str]:
    name, language = params.get("name"), params.get("language")
    if not isinstance(name, str) or not name:
        raise invalid_parameter("The parameter name is required")
    if len(name) > MAX_NAME or not NAME_RE.match(name):
        raise template_error(
            "Invalid template name",
            f"A template name has at most {MAX_NAME} characters: lowercase letters, digits "
            "and underscores.",
        )
    if not isinstance(language, str) or not language:
        raise invalid_parameter("The parameter language is required")
    if not LANGUAGE_RE.match(language):
        raise template_error("Invalid language", f"{language} is not a supported language code.")
    return name, language


def _category(params: dict[str, Any]) -> str:
    category = str(params.get("category") or "").upper()
    if category not in CATEGORIES:
        raise invalid_parameter(
            f"Param category must be one of {{{', '.join(CATEGORIES)}}} - got {category!r}."
        )
    return category


def validated_components(components: Any) -> list[dict[str, Any]]:
    """A non-empty list of component objects with exactly one BODY; types in upper case as
    Meta lists them (a form post carries the list as a JSON string)."""
    if isinstance(components, str):
        try:
            components = json.loads(components)
        except ValueError:
            raise invalid_parameter("Param components must be an array") from None
    if not isinstance(components, list) or not components:
        raise invalid_parameter("The parameter components is required")
    kept = []
    for component in components:
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise invalid_parameter("Each component must be an object with a type")
        kept.append({**component, "type": component["type"].upper()})
    bodies = [c for c in kept if c["type"] == "BODY"]
    if len(bodies) != 1:
        raise template_error(
            "Invalid template components", "A template has exactly one BODY component."
        )
    if len(str(bodies[0].get("text") or "")) > MAX_BODY:
        raise template_error(
            "Body text too long", f"The body text has at most {MAX_BODY} characters."
        )
    return kept


def components_update(components: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The fields of message_template_components_update that the components fill."""
    value: dict[str, Any] = {}
    buttons = []
    for component in components:
        kind = component["type"]
        if kind == "BODY":
            value["message_template_element"] = component.get("text", "")
        elif kind == "HEADER" and str(component.get("format", "")).upper() == "TEXT":
            value["message_template_title"] = component.get("text", "")
        elif kind == "FOOTER" and component.get("text"):
            value["message_template_footer"] = component["text"]
        elif kind == "BUTTONS":
            buttons += [_button(b) for b in component.get("buttons", []) if _linked(b)]
    if buttons:
        value["message_template_buttons"] = buttons
    return value


def _linked(button: Any) -> bool:
    return isinstance(button, dict) and str(button.get("type")).upper() in ("URL", "PHONE_NUMBER")


def _button(button: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "message_template_button_type": str(button["type"]).upper(),
        "message_template_button_text": button.get("text", ""),
    }
    if button.get("url"):
        entry["message_template_button_url"] = button["url"]
    if button.get("phone_number"):
        entry["message_template_button_phone_number"] = button["phone_number"]
    return entry


def _identity(template: Template) -> dict[str, Any]:
    """How every template webhook names the template (the id is a number there)."""
    return {
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
    }


def _matches(template: Template, params: dict[str, Any]) -> bool:
    raw = template.raw or {}
    name = str(raw.get("name", template.name))
    status = str(raw.get("status", template.status))
    if params.get("name") and str(params["name"]) not in name:
        return False
    if params.get("status") and status not in _listed(params["status"]):
        return False
    if params.get("category") and template.category not in _listed(params["category"]):
        return False
    return not params.get("language") or template.language == params["language"]


def _listed(value: Any) -> set[str]:
    return {v.strip().upper() for v in str(value).split(",") if v.strip()}
