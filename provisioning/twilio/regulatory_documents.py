"""Supporting documents for regulatory bundles: what the platform accepts as a file, and
how the file is kept (encrypted at rest, read back only to upload it to Twilio).

The limits are the platform's own: Twilio reviews scans and photos of documents, so a
PDF, JPEG or PNG of at most :data:`MAX_BYTES` is taken, and the bytes must be what the
name says (a renamed executable is refused before anything is stored). The limit stays
under the portal's request limit (``MAX_CONTENT_LENGTH``, 1 MiB by default), which
refuses a larger body with 413 before it is read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .models import RegulatoryDocument

MAX_BYTES = 900 * 1024
# mime type -> (the extensions it goes by, the bytes such a file starts with)
ACCEPTED = {
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
}
NAME_LENGTH = 255


@dataclass(frozen=True)
class Upload:
    """A file a person uploaded: its name, its bytes, the type its bytes show."""

    file_name: str
    content: bytes
    mime_type: str

    @property
    def size(self) -> int:
        return len(self.content)


def mime_type_of(file_name: str, content: bytes) -> str | None:
    """The accepted type a file is (by its name *and* its first bytes), or None."""
    lowered = file_name.lower()
    for mime, (extensions, magics) in ACCEPTED.items():
        if lowered.endswith(extensions) and content.startswith(magics):
            return mime
    return None


def upload_problem(file_name: str, content: bytes) -> str | None:
    """Why a file cannot be a supporting document (None: it can), in plain words."""
    if not file_name or not content:
        return "Choose a file to upload."
    if len(file_name) > NAME_LENGTH:
        return f"The file name is too long (at most {NAME_LENGTH} characters)."
    if len(content) > MAX_BYTES:
        return f"The file is {len(content) // 1024} KB; at most {MAX_BYTES // 1024} KB is accepted."
    if mime_type_of(file_name, content) is None:
        return "Upload a PDF, JPEG or PNG file (its content must match its name)."
    return None


def read_upload(file_name: str, content: bytes) -> Upload:
    """The upload, checked; ``ValueError`` with the plain reason otherwise."""
    problem = upload_problem(file_name, content)
    if problem:
        raise ValueError(problem)
    mime = mime_type_of(file_name, content)
    assert mime is not None
    return Upload(file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], content, mime)


def keep(document: RegulatoryDocument, upload: Upload) -> None:
    """Store the file on the document row (the column is encrypted)."""
    document.file_name, document.mime_type = upload.file_name, upload.mime_type
    document.size = upload.size
    document.content_b64 = base64.b64encode(upload.content).decode()


def file_of(document: RegulatoryDocument) -> tuple[str, bytes, str] | None:
    """The stored file as (name, bytes, mime type) for the upload, or None."""
    if not document.content_b64 or not document.file_name or not document.mime_type:
        return None
    return document.file_name, base64.b64decode(document.content_b64), document.mime_type
