"""A number's WhatsApp business profile and Graph's Resumable Upload API (issue 17 item 3).

What Meta documents (developers.facebook.com), and what is followed here:

- The business profile (documentation/business-messaging/whatsapp/business-phone-numbers/
  business-profiles; docs/whatsapp/cloud-api/reference/business-profiles):
  ``GET /{PN}/whatsapp_business_profile?fields=...`` answers ``{"data": [{..., "messaging_
  product": "whatsapp"}]}`` (the vendored OpenAPI description nests the fields under
  ``business_profile``; the reference pages and pywa do not, and neither does this).
  ``POST`` takes ``messaging_product`` (required, ``whatsapp``) and any of ``about`` (1 to
  139 characters, never empty), ``address`` (at most 256), ``description`` (at most 512 in
  the reference; the vendored spec says 256), ``email`` (a valid address, at most 128),
  ``websites`` (at most 2, each at most 256 characters with ``http://`` or ``https://``;
  Meta's own example sends the list as a JSON string, accepted too), ``vertical`` (empty or
  one of Meta's values) and ``profile_picture_handle`` (a handle from the Resumable Upload
  API); it answers ``{"success": true}``. A parameter the endpoint does not know is error 100.
- The Resumable Upload API (docs/graph-api/guides/upload, docs/graph-api/resumable-upload-
  api): ``POST /{app-id}/uploads?file_name&file_length&file_type`` starts a session
  (``{"id": "upload:<id>"}``; types application/pdf, image/jpeg, image/jpg, image/png,
  video/mp4); ``POST /upload:<id>`` with ``Authorization: OAuth <token>``, the header
  ``file_offset`` and the bytes answers ``{"h": "<handle>"}``; ``GET /upload:<id>`` answers
  ``{"id", "file_offset"}``, where an interrupted upload resumes.

Simulator choices, not Meta's documented behaviour: a ``file_offset`` other than the bytes
received so far is error 100; bytes that leave the file short answer with the session's
``{"id", "file_offset"}`` (no handle yet); more bytes than ``file_length`` are refused; a
request without the ``file_offset`` header continues where the session is (Werkzeug's
server drops headers with underscores, so the demo's real HTTP server never sees it); a
profile picture handle must be an image (JPEG or PNG) uploaded with the same app; a profile
nobody set answers its ``vertical`` only (``UNDEFINED``), and an empty ``vertical`` is kept
as ``UNDEFINED``; the picture's URL is a made-up ``pps.whatsapp.net`` address.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import invalid_parameter, permission_error, unknown_object
from .fields import select
from .graph import Call, GraphMixin, split_version

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from ..core import Sandbox

PROFILE_FIELDS = ("about", "address", "description", "email", "profile_picture_url", "websites",
                  "vertical", "messaging_product")  # fmt: skip
PROFILE_DEFAULT = PROFILE_FIELDS
WRITABLE = ("about", "address", "description", "email", "websites", "vertical",
            "profile_picture_handle")  # fmt: skip
IGNORED = ("messaging_product", "access_token")
LIMITS = {"about": 139, "address": 256, "description": 512, "email": 128}
WEBSITE_LIMIT, MAX_WEBSITES = 256, 2
# The reference's values, then the ones the vendored spec adds.
VERTICALS = ("UNDEFINED", "OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN",
             "FINANCE", "GROCERY", "GOVT", "HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES",
             "RETAIL", "TRAVEL", "RESTAURANT", "NOT_A_BIZ", "ALCOHOL", "ONLINE_GAMBLING",
             "PHYSICAL_GAMBLING", "OTC_DRUGS")  # fmt: skip
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")
PICTURE_TYPES = ("image/jpeg", "image/jpg", "image/png")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class UploadSession:
    """One Resumable Upload API session and the bytes it received."""

    id: str
    app_id: str
    user_id: str
    file_name: str
    file_length: int
    file_type: str
    data: bytearray = field(default_factory=bytearray)
    handle: str | None = None


class ProfileMixin(GraphMixin):
    """Business profiles by phone number id, upload sessions and the handles they made."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.profiles: dict[str, dict[str, Any]] = {}  # phone id -> fields as Meta keeps them
        self.uploads: dict[str, UploadSession] = {}  # "upload:<id>" -> session
        self.file_handles: dict[str, UploadSession] = {}  # handle -> the finished upload
        self.upload_request: tuple[bytes, str | None] | None = None  # the raw POST being served

    def graph(self, request: Request, rest: str = "") -> Response:
        """Keep a ``POST /upload:<id>``'s raw bytes and ``file_offset`` for its handler:
        Graph parameters carry neither."""
        _, segments = split_version(rest)
        if request.method == "POST" and len(segments) == 1 and segments[0].startswith("upload:"):
            offset = request.headers.get("file_offset") or request.headers.get("file-offset")
            self.upload_request = (request.get_data(), offset)
        try:
            return super().graph(request, rest)
        finally:
            self.upload_request = None

    # -- the business profile -------------------------------------------------------------
    def business_profile(self, call: Call, phone_id: str) -> dict[str, Any]:
        """``GET`` reads the profile (the fields asked for), ``POST`` changes the fields given."""
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        profile = self.profiles.setdefault(phone.id, {"vertical": "UNDEFINED"})
        if call.method == "POST":
            if token.kind == "APP":
                raise permission_error()
            profile.update(self._profile_changes(call.params, token.app_id))
            return {"success": True}
        node = {name: profile.get(name) for name in PROFILE_FIELDS}
        node["messaging_product"] = "whatsapp"
        fields = call.params.get("fields")
        selected = select(node, fields, "WhatsAppBusinessProfile", PROFILE_DEFAULT, call.version)
        selected["messaging_product"] = "whatsapp"
        return {"data": [selected]}

    def _profile_changes(self, params: dict[str, Any], app_id: str) -> dict[str, Any]:
        """The checked new values; nothing is kept when one of them is refused."""
        if params.get("messaging_product") != "whatsapp":
            raise invalid_parameter("The parameter messaging_product is required.")
        unknown = sorted(set(params) - set(WRITABLE) - set(IGNORED))
        if unknown:
            raise invalid_parameter(
                f"Param {unknown[0]} is not a parameter of WhatsAppBusinessProfile"
            )
        changes: dict[str, Any] = {}
        for name in ("about", "address", "description", "email"):
            if name in params:
                changes[name] = _text(params[name], name)
        if "about" in changes and not changes["about"]:
            raise invalid_parameter("Param about must be 1 to 139 characters long")
        email = changes.get("email")
        if email and not EMAIL_RE.match(email):
            raise invalid_parameter("Param email must be a valid email address")
        if "websites" in params:
            changes["websites"] = _websites(params["websites"])
        if "vertical" in params:
            vertical = _text(params["vertical"], "vertical") or "UNDEFINED"
            if vertical not in VERTICALS:
                raise invalid_parameter(f"Param vertical must be one of {{{', '.join(VERTICALS)}}}")
            changes["vertical"] = vertical
        if "profile_picture_handle" in params:
            changes["profile_picture_url"] = self._picture_url(
                str(params["profile_picture_handle"] or ""), app_id
            )
        return {k: (v if v not in ("", []) else None) for k, v in changes.items()}

    def _picture_url(self, handle: str, app_id: str) -> str:
        upload = self.file_handles.get(handle)
        if upload is None or upload.app_id != app_id:
            raise invalid_parameter("Param profile_picture_handle is not a valid file handle")
        if upload.file_type not in PICTURE_TYPES:
            raise invalid_parameter("The profile picture must be a JPEG or PNG image")
        ext = "png" if upload.file_type == "image/png" else "jpg"
        ids = self.sandbox.ids
        return f"https://pps.whatsapp.net/v/t61.24694-24/{ids.digits(9)}_{ids.digits(16)}_n.{ext}"

    # -- the Resumable Upload API -----------------------------------------------------------
    def start_upload(self, call: Call, app_id: str) -> dict[str, Any]:
        """``POST /{app-id}/uploads``: a session for one file of the app."""
        token = self.authenticate(call)
        if app_id not in self.apps or token.app_id != app_id:
            raise unknown_object(app_id, call.method)
        if token.kind == "APP":
            raise permission_error()
        params = call.params
        try:
            length = int(str(params.get("file_length", "")))
        except ValueError:
            raise invalid_parameter("The parameter file_length is required") from None
        if length <= 0:
            raise invalid_parameter("Param file_length must be a positive integer")
        file_type = str(params.get("file_type") or "")
        if file_type not in UPLOAD_TYPES:
            raise invalid_parameter(f"Param file_type must be one of {{{', '.join(UPLOAD_TYPES)}}}")
        name = str(params.get("file_name") or "")
        if not name:
            raise invalid_parameter("The parameter file_name is required")
        raw = f"1:{name}:{file_type}:{self.sandbox.ids.hex(16)}".encode()
        upload_id = "upload:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self.uploads[upload_id] = UploadSession(upload_id, app_id, token.user_id, name, length,
                                                file_type)  # fmt: skip
        return {"id": upload_id}

    def upload_data(self, call: Call, upload_id: str) -> dict[str, Any]:
        """``GET /upload:<id>`` tells the offset to resume from; ``POST`` adds the bytes at
        ``file_offset`` and answers the handle once the file is whole."""
        token = self.authenticate(call)
        upload = self.uploads.get(upload_id)
        if upload is None or upload.app_id != token.app_id:
            raise unknown_object(upload_id, call.method)
        if call.method == "GET":
            return {"id": upload.id, "file_offset": len(upload.data)}
        body, offset_header = self.upload_request or (b"", None)
        offset = len(upload.data)
        if offset_header is not None:
            try:
                offset = int(offset_header)
            except ValueError:
                raise invalid_parameter("The header file_offset must be an integer") from None
        if offset != len(upload.data):
            raise invalid_parameter(
                f"file_offset {offset} does not match the {len(upload.data)} bytes received: "
                "read the session's file_offset and resume from there"
            )
        if offset + len(body) > upload.file_length:
            raise invalid_parameter("The file is longer than its file_length")
        upload.data.extend(body)
        if len(upload.data) < upload.file_length:
            return {"id": upload.id, "file_offset": len(upload.data)}
        if upload.handle is None:
            upload.handle = self._handle(upload)
            self.file_handles[upload.handle] = upload
        return {"h": upload.handle}

    def _handle(self, upload: UploadSession) -> str:
        """Shaped as Meta's: ``4:<name>:<type>:<opaque>:e:<expiry>:<app>:<user>:<opaque>``."""
        ids = self.sandbox.ids
        name = base64.b64encode(upload.file_name.encode()).decode()
        kind = base64.b64encode(upload.file_type.encode()).decode()
        expiry = int(self.clock.time()) + 30 * 86400
        return (f"4:{name}:{kind}:AR{ids.token(60)}:e:{expiry}:{upload.app_id}:"
                f"{upload.user_id}:AR{ids.token(20)}")  # fmt: skip

    # -- control ------------------------------------------------------------------------------
    def control_business_profile(self, *, phone_number_id: str) -> dict[str, Any]:
        """The number's business profile as the sandbox keeps it."""
        if phone_number_id not in self.phones:
            raise LookupError(f"no phone number {phone_number_id}")
        profile = self.profiles.get(phone_number_id, {"vertical": "UNDEFINED"})
        return {"phone_number_id": phone_number_id, **profile}


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str | int | float):
        raise invalid_parameter(f"Param {name} must be a string")
    text = str(value)
    limit = LIMITS.get(name)
    if limit is not None and len(text) > limit:
        raise invalid_parameter(f"Param {name} must be at most {limit} characters long")
    return text


def _websites(value: Any) -> list[str]:
    """At most two http(s) URLs, given as a list or as a JSON string of one."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise invalid_parameter("Param websites must be an array of URLs") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_parameter("Param websites must be an array of URLs")
    if len(value) > MAX_WEBSITES:
        raise invalid_parameter(f"Param websites must have at most {MAX_WEBSITES} items")
    for url in value:
        if len(url) > WEBSITE_LIMIT:
            raise invalid_parameter(f"Each website must be at most {WEBSITE_LIMIT} characters long")
        if not re.match(r"^https?://\S+$", url):
            raise invalid_parameter("Each website must start with http:// or https://")
    return list(value)
