"""The template builder's form: what a person types, turned into a rules.Draft."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from provisioning.templates import rules

from ..forms import Form


def _choices(*pairs: tuple[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


CATEGORIES = _choices(
    ("MARKETING", "Marketing"), ("UTILITY", "Utility"), ("AUTHENTICATION", "Authentication")
)
HEADERS = _choices(
    ("", "No header"), ("TEXT", "Text"), ("IMAGE", "Image"), ("VIDEO", "Video"),
    ("DOCUMENT", "Document"), ("LOCATION", "Location"),
)  # fmt: skip
BUTTONS = _choices(
    ("", "No button"), ("QUICK_REPLY", "Quick reply"), ("URL", "Visit website"),
    ("PHONE_NUMBER", "Call phone number"), ("COPY_CODE", "Copy offer code"),
    ("OTP", "One-time password (authentication)"),
)  # fmt: skip
BUTTON_ROWS = 3


class ButtonForm(Form):
    class Meta:
        csrf = False  # part of the builder's form, which carries the token

    type = SelectField("Button", choices=BUTTONS, default="")
    text = StringField("Text")
    value = StringField("URL or phone number")
    example = StringField("Example")


class TemplateForm(Form):
    account = SelectField("WhatsApp account", coerce=int)
    name = StringField("Name", description="Lowercase letters, digits and underscores.")
    language = StringField("Language", default="en_US", description="For example en_US, es, pt_BR.")
    category = SelectField("Category", choices=CATEGORIES, default="UTILITY")
    header_format = SelectField("Header", choices=HEADERS, default="")
    header_text = StringField("Header text", description="At most 60 characters, one variable.")
    header_example = StringField(
        "Header example", description="The variable's example, or a media URL."
    )
    body = TextAreaField("Body", description="Variables are {{1}}, {{2}}... in order.")
    body_examples = TextAreaField(
        "Body examples", description="One example per variable, a line each."
    )
    footer = StringField("Footer", description="At most 60 characters, no variables.")
    buttons = FieldList(FormField(ButtonForm), min_entries=BUTTON_ROWS, max_entries=BUTTON_ROWS)
    parameter_format = SelectField(
        "Variables",
        choices=_choices(("POSITIONAL", "Numbered {{1}}"), ("NAMED", "Named {{first_name}}")),
        default="POSITIONAL",
    )
    allow_category_change = BooleanField(
        "Let Meta pick the category if mine is wrong", default=True
    )
    code_expiration_minutes = IntegerField(
        "Code expires after (minutes)", validators=[Optional(), NumberRange(1, 90)]
    )

    def draft(self) -> rules.Draft:
        """The form as the builder's draft (rules.problems says what is wrong with it)."""
        buttons = []
        for entry in self.buttons:
            button = entry.form
            if not button.type.data:
                continue
            kind, value = button.type.data, (button.value.data or "").strip()
            buttons.append(
                rules.Button(
                    type=kind,
                    text=(button.text.data or "").strip(),
                    url=value if kind == "URL" else "",
                    url_example=(button.example.data or "").strip() if kind == "URL" else "",
                    phone_number=value if kind == "PHONE_NUMBER" else "",
                    example=(button.example.data or "").strip() if kind == "COPY_CODE" else "",
                    otp_type="COPY_CODE" if kind == "OTP" else "",
                )
            )
        examples = [line.strip() for line in (self.body_examples.data or "").splitlines()]
        return rules.Draft(
            name=(self.name.data or "").strip(),
            language=(self.language.data or "").strip(),
            category=self.category.data or "",
            body=(self.body.data or "").strip(),
            body_examples=[line for line in examples if line],
            header_format=self.header_format.data or "",
            header_text=(self.header_text.data or "").strip(),
            header_example=(self.header_example.data or "").strip(),
            footer=(self.footer.data or "").strip(),
            buttons=buttons,
            parameter_format=self.parameter_format.data or "POSITIONAL",
            allow_category_change=bool(self.allow_category_change.data),
            code_expiration_minutes=self.code_expiration_minutes.data,
        )


class LibraryForm(Form):
    """A template from Meta's Template Library: the library item, the business's name for
    it, and the inputs its buttons take."""

    account = SelectField("WhatsApp account", coerce=int)
    library_template_name = StringField("Library template")
    language = StringField("Language")
    category = StringField("Category")
    name = StringField("Name", description="Lowercase letters, digits and underscores.")
    website = StringField(
        "Website", description="For a website button: https://..., may end in {{1}}."
    )
    website_example = StringField(
        "Website example", description="With {{1}}: the whole address with an example value."
    )
    phone_number = StringField("Phone number", description="For a call button: +15550100000.")

    def draft(self) -> rules.Draft:
        buttons = []
        if website := (self.website.data or "").strip():
            example = (self.website_example.data or "").strip()
            buttons.append(rules.Button("URL", "Website", url=website, url_example=example))
        if phone := (self.phone_number.data or "").strip():
            buttons.append(rules.Button("PHONE_NUMBER", "Phone", phone_number=phone))
        return rules.Draft(
            name=(self.name.data or "").strip(),
            language=(self.language.data or "").strip(),
            category=(self.category.data or "").strip(),
            buttons=buttons,
            library_template_name=(self.library_template_name.data or "").strip(),
        )
