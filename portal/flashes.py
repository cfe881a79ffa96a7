"""Messages shown once after a redirect."""

from flask import flash

from .links import public_url


def flash_invitation(token: str | None) -> None:
    """Show a new invitation link once (it is stored only as a hash)."""
    if token:
        flash_invitation_link(public_url("auth.accept_invitation", token=token))


def flash_invitation_link(link: str) -> None:
    flash(f"Invitation link (shown once; send it to the person): {link}", "invite")
