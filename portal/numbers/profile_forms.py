"""The forms of a number's profile page. They bound what is read; Meta's own rules (lengths,
e-mail, websites, picture type and size) are checked by :mod:`provisioning.meta.
number_profile` before anything is sent, so the portal and scripts share one set."""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from provisioning.meta.number_profile import VERTICALS

from ..forms import Form

TEXT = [Length(max=1000, message="At most 1,000 characters.")]


class DisplayNameForm(Form):
    name = StringField(
        "New display name",
        validators=[DataRequired(message="Type the new display name."), Length(max=200)],
        description="3 to 75 characters, the business's name as it brands itself: no emoji, "
        "no web address. Meta reviews it.",
    )


class ProfileForm(Form):
    about = StringField("About", validators=TEXT, description="Up to 139 characters.")
    description = TextAreaField("Description", validators=TEXT,
                                description="Up to 512 characters.")  # fmt: skip
    address = StringField("Address", validators=TEXT)
    email = StringField("E-mail", validators=TEXT)
    website1 = StringField("Website", validators=TEXT, description="With http:// or https://.")
    website2 = StringField("Second website", validators=TEXT)
    vertical = SelectField(
        "Category", choices=[SelectChoice(code, label) for code, label in VERTICALS.items()]
    )

    def fill(self, profile: Any) -> None:
        """Show what Meta holds."""
        for name in ("about", "description", "address", "email"):
            getattr(self, name).data = getattr(profile, name) or ""
        websites = [*profile.websites, "", ""]
        self.website1.data, self.website2.data = websites[0], websites[1]
        vertical = profile.vertical if profile.vertical in VERTICALS else ""
        self.vertical.data = vertical

    def changes(self) -> dict[str, Any]:
        """Every field as typed ("" clears it), but an empty About, which Meta never clears."""
        values: dict[str, Any] = {
            name: (getattr(self, name).data or "").strip()
            for name in ("about", "description", "address", "email", "vertical")
        }
        if not values["about"]:
            del values["about"]
        values["websites"] = [
            w for w in ((self.website1.data or "").strip(), (self.website2.data or "").strip()) if w
        ]
        return values


class PictureForm(Form):
    picture = FileField(
        "Profile picture",
        validators=[FileRequired(message="Choose a picture to upload.")],
        description="A JPEG or PNG image, at most 5 MB (square, 640 by 640 pixels shows best).",
    )


class ObaForm(Form):
    website = StringField(
        "Business website",
        validators=[Regexp(r"^https?://\S+$", message="The website starts with http:// or https://."),
                    Length(max=500)],
    )  # fmt: skip
    country = StringField(
        "Main country of operation",
        validators=[Regexp(r"^[A-Za-z]{2}$", message="A two-letter country code, e.g. US.")],
    )
    language = StringField(
        "Main language",
        default="en_US",
        validators=[Regexp(r"^[a-z]{2,3}(_[A-Z]{2})?$", message="A language code, e.g. en_US.")],
    )
    parent_brand = StringField("Parent business or brand (if any)", validators=[Length(max=200)])
    links = TextAreaField(
        "Supporting links", validators=TEXT,
        description="Articles about the business from well-known news sources, one per line.",
    )  # fmt: skip
    information = TextAreaField("Anything else Meta should know", validators=TEXT)

    def link_list(self) -> list[str]:
        return [line.strip() for line in (self.links.data or "").splitlines() if line.strip()]
