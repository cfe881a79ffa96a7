from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from provisioning.accounts import MIN_PASSWORD_LENGTH

from ..admin.forms import ROLE_CHOICES
from ..forms import Form


class InviteForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="member")


class NewAccountForm(Form):
    name = StringField("Your name", validators=[Optional(), Length(max=200)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password", "Must match.")]
    )
