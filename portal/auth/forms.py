from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from provisioning.accounts import MIN_PASSWORD_LENGTH

from ..forms import Form


class LoginForm(Form):
    # No format check here: a login only has to match an existing account.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SetPasswordForm(Form):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password", "Must match.")]
    )
