"""The forms of a number's life after onboarding."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from provisioning.phones import digits_of

from ..forms import Form

METHODS = [SelectChoice("SMS", "By SMS"), SelectChoice("VOICE", "By a voice call")]


class AddNumberForm(Form):
    account = SelectField("WhatsApp account", coerce=int)
    cc = StringField(
        "Country code",
        validators=[
            Regexp(r"^\+?[0-9]{1,3}$", message="A country code is 1 to 3 digits, e.g. 1 or 44.")
        ],
    )
    phone_number = StringField(
        "Number",
        validators=[Regexp(r"^[0-9 ()-]{4,20}$", message="Digits only, without the country code.")],
    )
    verified_name = StringField(
        "Display name", validators=[Length(max=200)],
        description="The name customers see; Meta reviews it.",
    )  # fmt: skip
    code_method = SelectField("Send the code", choices=METHODS, default="SMS")
    migrate = BooleanField("Move it here from another provider or WhatsApp account")

    def number(self) -> dict[str, str]:
        """The number as Meta's ``POST /{waba}/phone_numbers`` takes it."""
        return {
            "cc": (self.cc.data or "").lstrip("+"),
            "phone_number": digits_of(self.phone_number.data or ""),
            "verified_name": (self.verified_name.data or "").strip(),
        }


class RegisterForm(Form):
    code_method = SelectField("Send the code", choices=METHODS, default="SMS")


class CodeForm(Form):
    code = StringField("Code", validators=[DataRequired(message="Type the code Meta sent.")])


class PinForm(Form):
    pin = PasswordField(
        "New PIN", validators=[Regexp(r"^[0-9]{6}$", message="A PIN is six digits.")]
    )
