from wtforms import EmailField, PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from provisioning import password_policy

from ..forms import Form

CURRENT_PASSWORD = {"autocomplete": "current-password"}  # browsers fill in the saved one


class LoginForm(Form):
    # No format check here: a login only has to match an existing account.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=200)], render_kw=CURRENT_PASSWORD
    )


def acceptable_password(form: Form, field: PasswordField) -> None:
    """Long enough, not a common password, not the e-mail (``form.account_email``)."""
    problem = password_policy.problem(field.data or "", getattr(form, "account_email", ""))
    if problem:
        raise ValidationError(problem)


class SetPasswordForm(Form):
    """A new password, typed twice; set ``account_email`` before validating."""

    account_email = ""
    password = PasswordField("New password", validators=[DataRequired(), acceptable_password])
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password", "Must match.")]
    )


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=200)], render_kw=CURRENT_PASSWORD
    )


class ForgotPasswordForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class EndSessionsForm(Form):
    """Other sessions to end (their ids), confirmed with the current password."""

    sessions = SelectMultipleField(
        "Sessions", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    password = PasswordField(
        "Your password", validators=[DataRequired(), Length(max=200)], render_kw=CURRENT_PASSWORD
    )
