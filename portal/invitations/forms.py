from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from ..admin.forms import ROLE_CHOICES
from ..auth.forms import SetPasswordForm
from ..forms import Form


class InviteForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="member")


class NewAccountForm(SetPasswordForm):
    """The invitee's new account: a name and a password (set ``account_email`` first)."""

    name = StringField("Your name", validators=[Optional(), Length(max=200)])
