"""Messages shown once after a redirect."""

from flask import flash, url_for


def flash_invitation(token: str | None) -> None:
    """Show a new invitation link once (it is stored only as a hash)."""
    if token:
        flash_invitation_link(url_for("auth.accept_invitation", token=token, _external=True))


def flash_invitation_link(link: str) -> None:
    flash(f"Invitation link (shown once; send it to the person): {link}", "invite")
