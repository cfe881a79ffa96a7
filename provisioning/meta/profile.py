"""A number's WhatsApp business profile and its picture, through Graph (issue 17 item 3).

Thin functions over :class:`~provisioning.meta.api.GraphClient`, whose error mapping they
keep. Meta's pages (developers.facebook.com): business profiles (documentation/business-
messaging/whatsapp/business-phone-numbers/business-profiles; docs/whatsapp/cloud-api/
reference/business-profiles): ``GET|POST /{PN}/whatsapp_business_profile``, the fields and
their limits; the Resumable Upload API (docs/graph-api/guides/upload, docs/graph-api/
resumable-upload-api): ``POST /{app-id}/uploads`` starts a session, ``POST /upload:<id>``
with ``Authorization: OAuth`` and ``file_offset`` sends the bytes and answers the file
handle (``h``), ``GET /upload:<id>`` tells the offset an interrupted upload resumes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Retryable, Unreachable
from .api import GraphClient, bearer

PROFILE_FIELDS = "about,address,description,email,profile_picture_url,websites,vertical"
EDITABLE = ("about", "address", "description", "email", "websites", "vertical")
PICTURE_TYPES = ("image/jpeg", "image/png")
MAX_RESUMES = 2  # lost answers an upload survives before it gives up


@dataclass(frozen=True)
class BusinessProfile:
    """The profile as Graph answers it (fields nobody set are None)."""

    about: str | None = None
    address: str | None = None
    description: str | None = None
    email: str | None = None
    profile_picture_url: str | None = None
    websites: tuple[str, ...] = ()
    vertical: str | None = None

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> BusinessProfile:
        # The vendored OpenAPI description nests the fields under ``business_profile``;
        # the reference pages do not: both are read.
        inner = data.get("business_profile")
        data = inner if isinstance(inner, dict) else data
        websites = data.get("websites")
        return cls(
            about=_text(data.get("about")),
            address=_text(data.get("address")),
            description=_text(data.get("description")),
            email=_text(data.get("email")),
            profile_picture_url=_text(data.get("profile_picture_url")),
            websites=tuple(w for w in websites if isinstance(w, str))
            if isinstance(websites, list)
            else (),
            vertical=_text(data.get("vertical")),
        )


def get_profile(graph: GraphClient, phone_id: str, token: str) -> BusinessProfile:
    body = graph.get(f"/{phone_id}/whatsapp_business_profile", token, fields=PROFILE_FIELDS)
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    return BusinessProfile.from_graph(first)


def update_profile(graph: GraphClient, phone_id: str, token: str, **fields: Any) -> None:
    """Change only the fields given (None leaves a field as it is, "" clears it); the
    picture is ``profile_picture_handle`` from :func:`upload_picture`. Sending the same
    values again is harmless, so this one may be retried."""
    unknown = set(fields) - {*EDITABLE, "profile_picture_handle"}
    if unknown:
        raise TypeError(f"not business profile fields: {', '.join(sorted(unknown))}")
    body: dict[str, Any] = {"messaging_product": "whatsapp"}
    body.update({name: value for name, value in fields.items() if value is not None})
    graph.request("POST", f"/{phone_id}/whatsapp_business_profile", headers=bearer(token),
                  json=body, idempotent=True)  # fmt: skip


def start_upload(
    graph: GraphClient, app_id: str, token: str, *, file_name: str, file_length: int,
    file_type: str,
) -> str:  # fmt: skip
    """A Resumable Upload API session of the app (``upload:<id>``). A session a lost answer
    leaves behind is never used, so the call may be retried."""
    params = {"file_name": file_name, "file_length": file_length, "file_type": file_type}
    answer = graph.request("POST", f"/{app_id}/uploads", params=params, headers=bearer(token),
                           idempotent=True)  # fmt: skip
    return str(answer.json()["id"])


def upload_offset(graph: GraphClient, session_id: str, token: str) -> int:
    """How many bytes of the file Meta holds: where an interrupted upload resumes."""
    answer = graph.request("GET", f"/{session_id}", headers=_oauth(token)).json()
    return int(answer.get("file_offset") or 0)


def send_bytes(
    graph: GraphClient, session_id: str, token: str, content: bytes, offset: int
) -> dict[str, Any]:
    """The file's bytes from ``offset``: ``{"h": handle}`` once Meta holds the whole file.
    Not retried here: :func:`upload_picture` asks for the offset first."""
    headers = {**_oauth(token), "file_offset": str(offset),
               "Content-Type": "application/octet-stream"}  # fmt: skip
    answer = graph.request("POST", f"/{session_id}", headers=headers, content=content[offset:],
                           idempotent=False)  # fmt: skip
    return answer.json()


def upload_picture(
    graph: GraphClient, app_id: str, token: str, content: bytes, file_type: str,
    file_name: str = "profile-picture",
) -> str:  # fmt: skip
    """Upload a picture with the Resumable Upload API and return its handle. After a lost
    or failed answer the session's offset is read and the rest is sent from there, so no
    byte goes twice and the same session ends with one handle."""
    if file_type not in PICTURE_TYPES:
        raise ValueError("a profile picture is a JPEG or PNG image")
    session_id = start_upload(graph, app_id, token, file_name=file_name,
                              file_length=len(content), file_type=file_type)  # fmt: skip
    offset, resumes = 0, 0
    while True:
        try:
            answer = send_bytes(graph, session_id, token, content, offset)
        except Retryable:
            if resumes == MAX_RESUMES:
                raise
            resumes += 1
            offset = upload_offset(graph, session_id, token)
            continue
        handle = answer.get("h")
        if handle:
            return str(handle)
        held = int(answer.get("file_offset") or 0)
        if held <= offset or resumes == MAX_RESUMES:
            raise Unreachable("meta", "Meta did not take the whole picture: try again.")
        offset = held


def _oauth(token: str) -> dict[str, str]:
    """The upload endpoints take the token as ``Authorization: OAuth`` (the guide's form)."""
    return {"Authorization": f"OAuth {token}"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
