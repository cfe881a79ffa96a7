from wtforms import BooleanField, SelectField, StringField
from wtforms.fields import Field
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp, ValidationError

from provisioning import phones

from ..forms import Form

TYPES = [SelectChoice("local", "Local"), SelectChoice("toll_free", "Toll-free"),
         SelectChoice("mobile", "Mobile")]  # fmt: skip


class SearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    country = StringField(
        "Country", default="US",
        validators=[DataRequired(), Regexp(r"^[A-Za-z]{2}$", message="Two letters, like US.")],
    )  # fmt: skip
    number_type = SelectField("Type", choices=TYPES, default="local")
    area_code = StringField(
        "Area code", validators=[Optional(), Regexp(r"^[0-9]{3}$", message="Three digits.")]
    )
    contains = StringField(
        "Contains",
        validators=[Optional(), Regexp(r"^[0-9*A-Za-z]{2,16}$", message="2 to 16 digits or *.")],
    )
    sms = BooleanField("SMS", default=True)
    mms = BooleanField("MMS")
    voice = BooleanField("Voice")


def e164_number(form: Form, field: Field) -> None:
    """The number read by :mod:`provisioning.phones`, and kept in E.164."""
    try:
        field.data = phones.e164(field.data or "")
    except phones.InvalidPhoneNumber as exc:
        raise ValidationError(str(exc)) from exc


class BuyForm(Form):
    phone_number = StringField(
        "Number",
        validators=[DataRequired(), e164_number],
    )
    # which regulation (and so which regulatory bundle) applies outside the US
    number_type = SelectField("Type", choices=TYPES, default="local")


class WebhooksForm(Form):
    sms_url = StringField("Incoming SMS URL", validators=[Optional(), URL(), Length(max=500)])
    status_callback = StringField(
        "Status callback URL", validators=[Optional(), URL(), Length(max=500)]
    )


class TypedConfirmForm(Form):
    """An action that cannot be undone: the person types the word shown."""

    confirmation = StringField("Type the confirmation", validators=[DataRequired()])
