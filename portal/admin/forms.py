"""Admin forms. The partner-configuration form is built from the provider's field list."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    Field,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from provisioning.partners import Environment, ProviderSpec
from provisioning.tenancy import Role

from ..forms import Form

ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]
ENV_CHOICES = [SelectChoice(e.value, e.value.capitalize()) for e in Environment]


class CompanyForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        "Address (slug)",
        validators=[
            Optional(),
            Length(max=60),
            Regexp(r"^[a-z0-9-]+$", message="Lower-case letters, digits and '-' only."),
        ],
        description="Used in the company's URLs. Leave blank to derive it from the name.",
    )
    is_active = BooleanField("Active", default=True)


class NewUserForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    is_platform_admin = BooleanField("Platform admin")


class EditUserForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    is_platform_admin = BooleanField("Platform admin")


class AddMemberForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name (for a new user)", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value)


class RoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ConfirmForm(Form):
    """A POST-only action: the form carries nothing but the CSRF token."""


def partner_form(spec: ProviderSpec, *, editing: bool) -> type[Form]:
    """A form class with one field per provider setting; secrets never show their value."""

    class PartnerForm(Form):
        name = StringField("Name", validators=[Optional(), Length(max=120)])
        environment = SelectField("Environment", choices=ENV_CHOICES)

    for field in spec.fields:
        # Required fields and formats are checked by the domain (partners.Field.check),
        # so every error shows at once, with the same words in the UI and the CLI.
        kwargs = {"validators": [Optional(), Length(max=2000)], "description": field.help}
        form_field: Field
        if field.secret:
            # The value is never rendered back: blank keeps the stored secret.
            form_field = PasswordField(field.label, **kwargs)
        else:
            form_field = StringField(field.label, default=field.default or None, **kwargs)
        setattr(PartnerForm, field.name, form_field)
        if field.secret and editing:
            setattr(PartnerForm, f"clear_{field.name}", BooleanField(f"Remove {field.label}"))
    return PartnerForm
