"""The base of every form of the portal."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm


class Form(FlaskForm):
    """A form posted from a page. Flask-WTF would also take a JSON body as the form's data,
    where a number, a list or a bare ``true`` in place of text breaks the validators (a
    500): the portal's forms read form posts only, so a JSON body fills no field."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if request and request.is_json and not hasattr(formdata, "getlist"):
                return None
            return super().wrap_formdata(form, formdata)


def form_errors(form: FlaskForm) -> str:
    """Every message of an invalid form, on one line (for a flash after a redirect)."""
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)
